/* Open documents: their text and the mapping between LSP positions (line + UTF-16 or UTF-8 code
 * units) and byte offsets. Lines end at "\n", "\r\n" or "\r", as the spec says. */
#include <stdlib.h>
#include <string.h>

#include "lsp_internal.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static bool reserve(lsp_doc *d, size_t need) {
    if (need + 1 <= d->cap) return true;
    size_t cap = d->cap ? d->cap : 256;
    while (cap < need + 1) cap *= 2;
    char *t = realloc(d->text, cap);
    if (!t) return false;
    d->text = t;
    d->cap = cap;
    return true;
}

lsp_doc *lsp_doc_new(const char *uri, const char *language_id, int64_t version, const char *text,
                     size_t len) {
    lsp_doc *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->uri = dup_str(uri);
    d->language_id = dup_str(language_id);
    d->version = version;
    d->touched = uv_hrtime();
    if (!d->uri || !d->language_id || !lsp_doc_set_text(d, text, len)) {
        lsp_doc_free(d);
        return NULL;
    }
    return d;
}

void lsp_doc_free(lsp_doc *d) {
    if (!d) return;
    lsp_syntax_free(d->syntax);
    free(d->uri);
    free(d->language_id);
    free(d->text);
    free(d);
}

bool lsp_doc_set_text(lsp_doc *d, const char *text, size_t len) {
    if (!reserve(d, len)) return false;
    memmove(d->text, text, len);
    d->text[len] = '\0';
    d->len = len;
    if (d->last_edit > len) d->last_edit = len;
    d->touched = uv_hrtime();
    return true;
}

bool lsp_doc_replace(lsp_doc *d, const lsp_edit *e, const char *text, size_t len) {
    size_t start = e->start, end = e->old_end, tail = d->len - end;
    if (!reserve(d, start + len + tail)) return false;
    memmove(d->text + start + len, d->text + end, tail);
    memcpy(d->text + start, text, len);
    d->len = start + len + tail;
    d->text[d->len] = '\0';
    d->last_edit = start;
    d->touched = uv_hrtime();
    return true;
}

/* Length of the UTF-8 sequence led by byte c (text is valid UTF-8; stray bytes count as one). */
static size_t utf8_len(unsigned char c) {
    if (c < 0xC0) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    return 4;
}

static size_t units_of(size_t bytes, lsp_encoding enc) {
    if (enc == LSP_ENC_UTF8) return bytes;
    return bytes == 4 ? 2 : 1; /* a code point above U+FFFF is a UTF-16 surrogate pair */
}

static size_t line_start(const char *t, size_t n, int64_t line) {
    size_t i = 0;
    while (line > 0 && i < n) {
        char c = t[i++];
        if (c == '\r' && i < n && t[i] == '\n') i++;
        if (c == '\r' || c == '\n') line--;
    }
    return line > 0 ? n : i;
}

size_t lsp_doc_offset(const lsp_doc *d, int64_t line, int64_t character, lsp_encoding enc) {
    const char *t = d->text;
    size_t n = d->len, i = line_start(t, n, line < 0 ? 0 : line);
    int64_t u = 0;
    while (i < n && t[i] != '\n' && t[i] != '\r') {
        size_t b = utf8_len((unsigned char)t[i]);
        if (b > n - i) b = n - i;
        int64_t step = (int64_t)units_of(b, enc);
        if (u + step > character) break;
        u += step;
        i += b;
    }
    return i;
}

void lsp_doc_position(const lsp_doc *d, size_t off, lsp_encoding enc, int64_t *line,
                      int64_t *character) {
    const char *t = d->text;
    if (off > d->len) off = d->len;
    int64_t l = 0;
    size_t start = 0;
    for (size_t i = 0; i < off; i++) {
        bool crlf = t[i] == '\r' && i + 1 < d->len && t[i + 1] == '\n';
        if (t[i] == '\n' || (t[i] == '\r' && !crlf)) {
            l++;
            start = i + 1;
        }
    }
    int64_t u = 0;
    for (size_t i = start; i < off;) {
        size_t b = utf8_len((unsigned char)t[i]);
        if (b > off - i) b = off - i;
        u += (int64_t)units_of(b, enc);
        i += b;
    }
    *line = l;
    *character = u;
}
