/* The completion cache: a small LRU table of suggestions by context hash, plus the last shown
 * suggestion for type-through. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

uint64_t completion_cache_hash(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

const char *completion_cache_get(completion_cache *c, uint64_t key) {
    for (int i = 0; i < CACHE_ENTRIES; i++)
        if (c->e[i].text && c->e[i].key == key) {
            c->e[i].stamp = ++c->clock;
            return c->e[i].text;
        }
    return NULL;
}

void completion_cache_put(completion_cache *c, uint64_t key, const char *text) {
    int slot = -1;
    for (int i = 0; i < CACHE_ENTRIES && slot < 0; i++)
        if (c->e[i].text && c->e[i].key == key) slot = i;
    for (int i = 0; i < CACHE_ENTRIES && slot < 0; i++)
        if (!c->e[i].text) slot = i;
    if (slot < 0) { /* full: the least recently used goes */
        slot = 0;
        for (int i = 1; i < CACHE_ENTRIES; i++)
            if (c->e[i].stamp < c->e[slot].stamp) slot = i;
    }
    char *copy = strdup(text);
    if (!copy) return;
    free(c->e[slot].text);
    c->e[slot] = (cache_entry){key, ++c->clock, copy};
}

void completion_cache_shown(completion_cache *c, const char *prefix, size_t prefix_len,
                            uint64_t suffix_key, const char *text) {
    free(c->shown);
    c->shown = text[0] ? strdup(text) : NULL;
    c->tail_len = prefix_len < CACHE_TAIL ? prefix_len : CACHE_TAIL;
    memcpy(c->tail, prefix + prefix_len - c->tail_len, c->tail_len);
    c->suffix_key = suffix_key;
}

char *completion_cache_type_through(const completion_cache *c, const char *prefix,
                                    size_t prefix_len, uint64_t suffix_key) {
    if (!c->shown || suffix_key != c->suffix_key) return NULL;
    size_t n = strlen(c->shown);
    for (size_t k = 1; k < n && k + c->tail_len <= prefix_len; k++) {
        const char *typed = prefix + prefix_len - k;
        if (memcmp(typed, c->shown, k) == 0 &&
            memcmp(typed - c->tail_len, c->tail, c->tail_len) == 0)
            return strdup(c->shown + k);
    }
    return NULL;
}

void completion_cache_free(completion_cache *c) {
    for (int i = 0; i < CACHE_ENTRIES; i++) free(c->e[i].text);
    free(c->shown);
    memset(c, 0, sizeof *c);
}
