/* Streaming detokenizer: holds back a trailing UTF-8 sequence until it is complete. */
#include <string.h>

#include "../tokenizer.h"
#include "unicode.h"

int utf8_stream_push(utf8_stream *s, const char *piece, int len, char *out, int outlen) {
    if (len < 0 || s->n_pending < 0 || s->n_pending > 4) return -1;
    int total = s->n_pending + len;
    if (!out || outlen < total) return -1;
    memcpy(out, s->pending, (size_t)s->n_pending);
    if (len) memcpy(out + s->n_pending, piece, (size_t)len);
    s->n_pending = 0;
    /* Find the last lead byte within the final 3 bytes; hold it back if its sequence is cut. */
    for (int back = 1; back <= 3 && back <= total; back++) {
        unsigned char c = (unsigned char)out[total - back];
        if ((c & 0xC0) == 0x80) continue;
        int need = ucd_seq_len(c);
        if (need > back) {
            memcpy(s->pending, out + total - back, (size_t)back);
            s->n_pending = back;
            return total - back;
        }
        break;
    }
    return total;
}

int utf8_stream_flush(utf8_stream *s, char *out, int outlen) {
    int n = s->n_pending;
    if (n < 0 || n > 4 || !out || outlen < n) return -1;
    memcpy(out, s->pending, (size_t)n);
    s->n_pending = 0;
    return n;
}
