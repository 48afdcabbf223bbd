/* base64 (RFC 4648 section 4: the standard alphabet, '=' padding). */
#include <stdint.h>

#include "base.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base_base64_len(size_t n) {
    return (n + 2) / 3 * 4;
}

void base_base64_encode(const void *data, size_t n, char *out) {
    const unsigned char *d = data;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) { /* 3 bytes -> 4 characters of 6 bits */
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        for (int k = 0; k < 4; k++) *out++ = ALPHABET[(v >> (18 - 6 * k)) & 63];
    }
    if (i < n) { /* 1 or 2 bytes left: 2 or 3 characters, then padding */
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
        *out++ = ALPHABET[v >> 18];
        *out++ = ALPHABET[(v >> 12) & 63];
        *out++ = i + 1 < n ? ALPHABET[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = 0;
}
