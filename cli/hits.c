#include "hits.h"

#include <string.h>

/* One line of repository text, made safe for a terminal. */
static void print_safe(FILE *f, const char *s, size_t n) {
    size_t cut = n > 200 ? 200 : n;
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c == '\t' || (c >= 0x20 && c != 0x7f) ? c : '?', f);
    }
    if (cut < n) fputs(" ...", f);
}

void cli_print_hit_code(FILE *f, const index_hit *h, int max_lines) {
    const char *s = h->text ? h->text : "";
    int width = snprintf(NULL, 0, "%d", h->end_line > 0 ? h->end_line : 1);
    for (int line = 0; *s && line < max_lines; line++) {
        size_t n = strcspn(s, "\n");
        fprintf(f, "  %*d | ", width, h->start_line + line);
        print_safe(f, s, n > 0 && s[n - 1] == '\r' ? n - 1 : n);
        fputc('\n', f);
        s += n + (s[n] == '\n');
    }
    if (*s) fprintf(f, "  %*s | ...\n", width, "");
}
