/* Private to completion/: suggestions remembered by context (backspace-and-retype is instant)
 * and the last suggestion shown (typing its first characters serves the rest: type-through). */
#ifndef HEARTH_COMPLETION_CACHE_H
#define HEARTH_COMPLETION_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_ENTRIES 64
#define CACHE_TAIL    64 /* bytes before the cursor that identify where a suggestion was shown */

typedef struct {
    uint64_t key, stamp;
    char *text;
} cache_entry;

typedef struct {
    cache_entry e[CACHE_ENTRIES];
    uint64_t clock;
    /* the last suggestion shown, the text before its cursor (its end) and the suffix's key */
    char *shown;
    char tail[CACHE_TAIL];
    size_t tail_len;
    uint64_t suffix_key;
} completion_cache;

/* 64-bit FNV-1a of bytes, chained from h (start with cache_hash_init). */
#define cache_hash_init 1469598103934665603ull
uint64_t completion_cache_hash(uint64_t h, const void *data, size_t n);
/* The suggestion stored under key, or NULL. */
const char *completion_cache_get(completion_cache *c, uint64_t key);
/* Stores a copy of text under key (the least recently used entry makes room). */
void completion_cache_put(completion_cache *c, uint64_t key, const char *text);
/* Records the suggestion shown at a cursor (prefix = text before it). */
void completion_cache_shown(completion_cache *c, const char *prefix, size_t prefix_len,
                            uint64_t suffix_key, const char *text);
/* When the text before the cursor is the last shown cursor's text plus the first k (>= 1) bytes of
 * its suggestion, and the suffix is the same, the rest of the suggestion (malloc'd); else NULL. */
char *completion_cache_type_through(const completion_cache *c, const char *prefix,
                                    size_t prefix_len, uint64_t suffix_key);
void completion_cache_free(completion_cache *c);

#endif
