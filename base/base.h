/* base: small pieces every module needs, written once. This header is the only door into base/.
 *
 * - base_buf: a growable byte buffer, always NUL-terminated once anything was added.
 * - UTF-8: where streamed text may be cut without splitting a character.
 * - stop strings: where the earliest one starts, and how much of a text's end must be held back
 *   because it may still become one (or complete a UTF-8 sequence).
 * - file kinds: what a path that is not a regular file is, in words.
 * - base64 (RFC 4648, with padding).
 *
 * Nothing here allocates except base_buf, prints, or keeps state between calls. */
#ifndef HEARTH_BASE_H
#define HEARTH_BASE_H

#include <stdbool.h>
#include <stddef.h>

/* ---- growable byte buffer ---- */

typedef struct {
    char *data; /* NULL until the first byte; then data[len] == '\0' */
    size_t len, cap;
} base_buf;

/* Room for extra more bytes (and the terminating NUL). False when out of memory (b unchanged). */
bool base_buf_reserve(base_buf *b, size_t extra);
/* Appends n bytes. False when out of memory (b unchanged). */
bool base_buf_append(base_buf *b, const void *p, size_t n);
bool base_buf_append_str(base_buf *b, const char *s);
/* Drops bytes [0, n) from the front (n <= len). */
void base_buf_consume(base_buf *b, size_t n);
/* The bytes as a malloc'd string the caller owns ("" when empty; NULL when out of memory); b is
 * left empty. */
char *base_buf_take(base_buf *b);
void base_buf_free(base_buf *b);

/* ---- UTF-8 ---- */

/* Bytes at the end of s[0..n) that start a UTF-8 sequence not complete yet (0..3). */
size_t base_utf8_incomplete_tail(const char *s, size_t n);

/* ---- stop strings ---- */

/* Where the earliest of the n stop strings starts in text[from..len), or -1. Empty stop strings
 * never match. */
long base_stop_find(const char *text, size_t len, size_t from, const char *const *stops, int n);
/* Bytes at the end of text[0..len) that must not be shown yet: the longest end that is a proper
 * prefix of a stop string, or an incomplete UTF-8 sequence, whichever is longer. */
size_t base_stop_holdback(const char *text, size_t len, const char *const *stops, int n);

/* ---- file kinds ---- */

/* "a directory", "a fifo", "a character device", ... for a stat st_mode. */
const char *base_file_kind(unsigned mode);

/* ---- base64 ---- */

/* Characters base64 of n bytes takes (without a terminating NUL). */
size_t base_base64_len(size_t n);
/* Writes base64 of data[0..n) and a NUL to out (base_base64_len(n) + 1 bytes). */
void base_base64_encode(const void *data, size_t n, char *out);

#endif
