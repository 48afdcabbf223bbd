/* Content-Length framing of LSP messages. The framer never trusts the peer: header sections and
 * bodies are bounded, and after garbage it skips to the next "Content-Length" so one bad frame
 * costs one error, not the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lsp_internal.h"

static const char LENGTH_NAME[] = "Content-Length";
#define LENGTH_NAME_LEN (sizeof LENGTH_NAME - 1)

bool lsp_framer_push(lsp_framer *f, const char *data, size_t n) {
    if (n == 0) return true;
    if (f->pos > 0) { /* consumed bytes go first, so the buffer only holds what is pending */
        memmove(f->buf, f->buf + f->pos, f->len - f->pos);
        f->len -= f->pos;
        f->pos = 0;
    }
    if (n > f->cap - f->len) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap - f->len < n) cap *= 2;
        char *b = realloc(f->buf, cap);
        if (!b) return false;
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, data, n);
    f->len += n;
    return true;
}

void lsp_framer_free(lsp_framer *f) {
    free(f->buf);
    memset(f, 0, sizeof *f);
}

static const char *find_ci(const char *p, size_t n, const char *needle, size_t nl) {
    for (size_t i = 0; i + nl <= n; i++)
        if (!strncasecmp(p + i, needle, nl)) return p + i;
    return NULL;
}

static const char *find_bytes(const char *p, size_t n, const char *needle, size_t nl) {
    for (size_t i = 0; i + nl <= n; i++)
        if (!memcmp(p + i, needle, nl)) return p + i;
    return NULL;
}

/* Drops bytes up to the next "Content-Length"; false (keeping a possible partial name) if none
 * is in the buffer yet. */
static bool resync(lsp_framer *f) {
    const char *p = f->buf + f->pos;
    size_t n = f->len - f->pos;
    const char *hit = find_ci(p, n, LENGTH_NAME, LENGTH_NAME_LEN);
    if (hit) {
        f->pos += (size_t)(hit - p);
        f->resync = false;
        return true;
    }
    if (n >= LENGTH_NAME_LEN) f->pos = f->len - (LENGTH_NAME_LEN - 1);
    return false;
}

/* Parses one "Name: value" line; only Content-Length matters (Content-Type is optional). */
static bool header_line(const char *p, size_t n, long long *length, char *err, size_t errlen) {
    const char *colon = memchr(p, ':', n);
    if (!colon) {
        snprintf(err, errlen, "header line without ':'");
        return false;
    }
    size_t name_len = (size_t)(colon - p);
    if (name_len != LENGTH_NAME_LEN || strncasecmp(p, LENGTH_NAME, name_len)) return true;
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    long long x = 0;
    const char *digits = v;
    while (v < end && *v >= '0' && *v <= '9') {
        if (x > (long long)LSP_MAX_BODY)
            x = (long long)LSP_MAX_BODY + 1; /* saturate */
        else
            x = x * 10 + (*v - '0');
        v++;
    }
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    if (v == digits || v != end) {
        snprintf(err, errlen, "Content-Length is not a number");
        return false;
    }
    if (*length >= 0 && *length != x) {
        snprintf(err, errlen, "conflicting Content-Length headers");
        return false;
    }
    *length = x;
    return true;
}

static bool parse_headers(const char *p, size_t n, long long *length, char *err, size_t errlen) {
    *length = -1;
    while (n > 0) {
        const char *eol = find_bytes(p, n, "\r\n", 2);
        size_t line = eol ? (size_t)(eol - p) : n;
        if (!header_line(p, line, length, err, errlen)) return false;
        size_t step = eol ? line + 2 : line;
        p += step;
        n -= step;
    }
    if (*length < 0) {
        snprintf(err, errlen, "missing Content-Length header");
        return false;
    }
    if (*length > (long long)LSP_MAX_BODY) {
        snprintf(err, errlen, "Content-Length over the %u-byte limit", (unsigned)LSP_MAX_BODY);
        return false;
    }
    return true;
}

lsp_frame_status lsp_framer_next(lsp_framer *f, const char **body, size_t *len, char *err,
                                 size_t errlen) {
    if (!f->buf || (f->resync && !resync(f))) return LSP_FRAME_MORE;
    const char *p = f->buf + f->pos;
    size_t n = f->len - f->pos;
    const char *end = find_bytes(p, n < LSP_MAX_HEADER + 4 ? n : LSP_MAX_HEADER + 4, "\r\n\r\n", 4);
    if (!end) {
        if (n <= LSP_MAX_HEADER + 4) return LSP_FRAME_MORE;
        snprintf(err, errlen, "header section longer than %d bytes", LSP_MAX_HEADER);
        f->pos += 1; /* past this header's start, so resync finds the next one */
        f->resync = true;
        return LSP_FRAME_BAD;
    }
    size_t hlen = (size_t)(end - p);
    long long length;
    if (!parse_headers(p, hlen, &length, err, errlen)) {
        /* Junk glued before a real header (the tail of a frame whose Content-Length was short)
         * hides that header inside this section: skip only the junk, so the frame is served. */
        const char *next =
            length < 0 && hlen > 1 ? find_ci(p + 1, hlen - 1, LENGTH_NAME, LENGTH_NAME_LEN) : NULL;
        if (next) {
            f->pos += (size_t)(next - p);
            return LSP_FRAME_BAD;
        }
        /* The body (if any) is unknown: drop the header and look for the next frame. */
        f->pos += hlen + 4;
        f->resync = true;
        return LSP_FRAME_BAD;
    }
    if (n - hlen - 4 < (size_t)length) return LSP_FRAME_MORE;
    *body = p + hlen + 4;
    *len = (size_t)length;
    f->pos += hlen + 4 + (size_t)length;
    return LSP_FRAME_BODY;
}

static int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Counts the \uXXXX escapes in the JSON text b[0..n) that are lone surrogates (walking its
 * strings, so an escaped backslash is not taken for one), overwriting each with \uFFFD at the
 * same offset in fix (a copy of b) when fix is given. */
static size_t lone_surrogates(const char *b, size_t n, char *fix) {
    size_t count = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '"') {
            in_string = !in_string;
        } else if (in_string && b[i] == '\\' && i + 1 < n) {
            int u = b[i + 1] == 'u' && i + 6 <= n ? hex4(b + i + 2) : -1;
            bool high = u >= 0xD800 && u <= 0xDBFF, low = u >= 0xDC00 && u <= 0xDFFF;
            int next =
                high && i + 12 <= n && b[i + 6] == '\\' && b[i + 7] == 'u' ? hex4(b + i + 8) : -1;
            if (high && next >= 0xDC00 && next <= 0xDFFF) {
                i += 11; /* a pair: one character */
            } else if (high || low) {
                if (fix) memcpy(fix + i, "\\uFFFD", 6);
                count++;
                i += 5;
            } else {
                i++; /* any other escape: its second character is not a quote */
            }
        }
    }
    return count;
}

json_t *lsp_json_parse(const char *body, size_t len, json_error_t *je) {
    if (!lone_surrogates(body, len, NULL)) return json_loadb(body, len, JSON_ALLOW_NUL, je);
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        snprintf(je->text, sizeof je->text, "out of memory");
        je->line = je->column = 0;
        return NULL;
    }
    memcpy(copy, body, len);
    lone_surrogates(body, len, copy);
    json_t *v = json_loadb(copy, len, JSON_ALLOW_NUL, je);
    free(copy);
    return v;
}

char *lsp_frame_encode(const char *body, size_t len, size_t *out_len) {
    char head[64];
    int h = snprintf(head, sizeof head, "Content-Length: %zu\r\n\r\n", len);
    char *out = malloc((size_t)h + len);
    if (!out) return NULL;
    memcpy(out, head, (size_t)h);
    memcpy(out + h, body, len);
    *out_len = (size_t)h + len;
    return out;
}
