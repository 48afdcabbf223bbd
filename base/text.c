/* UTF-8 boundaries and stop strings for streamed text (engine/generate.c, serve/sched.c). */
#include <string.h>

#include "base.h"

size_t base_utf8_incomplete_tail(const char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* a continuation byte: look further back */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

long base_stop_find(const char *text, size_t len, size_t from, const char *const *stops, int n) {
    long best = -1;
    for (int i = 0; i < n; i++) {
        size_t sl = strlen(stops[i]);
        for (size_t at = from; sl && at + sl <= len; at++)
            if (!memcmp(text + at, stops[i], sl)) {
                if (best < 0 || (long)at < best) best = (long)at;
                break;
            }
    }
    return best;
}

size_t base_stop_holdback(const char *text, size_t len, const char *const *stops, int n) {
    size_t hold = 0;
    for (int i = 0; i < n; i++) {
        size_t sl = strlen(stops[i]);
        for (size_t k = sl ? sl - 1 : 0; k > hold; k--)
            if (k <= len && !memcmp(text + len - k, stops[i], k)) {
                hold = k;
                break;
            }
    }
    size_t tail = base_utf8_incomplete_tail(text, len);
    return tail > hold ? tail : hold;
}
