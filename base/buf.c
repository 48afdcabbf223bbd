/* The growable byte buffer. Doubling keeps appends amortised O(1). */
#include <stdlib.h>
#include <string.h>

#include "base.h"

bool base_buf_reserve(base_buf *b, size_t extra) {
    if (extra > (size_t)-1 / 2 - b->len) return false;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return false;
    b->data = d;
    b->cap = cap;
    return true;
}

bool base_buf_append(base_buf *b, const void *p, size_t n) {
    if (!base_buf_reserve(b, n)) return false;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool base_buf_append_str(base_buf *b, const char *s) {
    return base_buf_append(b, s, strlen(s));
}

void base_buf_consume(base_buf *b, size_t n) {
    if (n > b->len) n = b->len;
    if (!n) return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *base_buf_take(base_buf *b) {
    char *s = b->data ? b->data : calloc(1, 1);
    *b = (base_buf){0};
    return s;
}

void base_buf_free(base_buf *b) {
    free(b->data);
    *b = (base_buf){0};
}
