/* The in-memory vector cache: a fixed number of entries, a chained hash table over them and a
 * doubly linked list in order of use; a full cache reuses its least recently used entry.
 * Keys are two independent 64-bit hashes of (model id, kind, content), so a false hit needs a
 * 128-bit collision. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
    uint64_t key[2];
    int32_t prev, next; /* use order: head = most recent */
    int32_t chain;      /* next entry in the same bucket */
} entry;

struct embed_cache {
    int32_t cap, dim, n, head, tail, n_buckets;
    entry *e;
    int32_t *bucket;
    float *vecs; /* cap x dim */
};

embed_cache *embed_cache_new(int32_t cap, int32_t dim) {
    if (cap <= 0 || dim <= 0) return NULL;
    embed_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cap = cap;
    c->dim = dim;
    c->n_buckets = cap * 2;
    c->head = c->tail = -1;
    c->e = calloc((size_t)cap, sizeof *c->e);
    c->bucket = malloc((size_t)c->n_buckets * sizeof *c->bucket);
    c->vecs = malloc((size_t)cap * (size_t)dim * sizeof *c->vecs);
    if (!c->e || !c->bucket || !c->vecs) {
        embed_cache_free(c);
        return NULL;
    }
    for (int32_t i = 0; i < c->n_buckets; i++) c->bucket[i] = -1;
    return c;
}

void embed_cache_free(embed_cache *c) {
    if (!c) return;
    free(c->e);
    free(c->bucket);
    free(c->vecs);
    free(c);
}

static int32_t *bucket_of(embed_cache *c, const uint64_t key[2]) {
    return &c->bucket[key[0] % (uint64_t)c->n_buckets];
}

static int32_t find(embed_cache *c, const uint64_t key[2]) {
    for (int32_t i = *bucket_of(c, key); i >= 0; i = c->e[i].chain)
        if (c->e[i].key[0] == key[0] && c->e[i].key[1] == key[1]) return i;
    return -1;
}

static void unlink_use(embed_cache *c, int32_t i) {
    entry *x = &c->e[i];
    if (x->prev >= 0) c->e[x->prev].next = x->next;
    if (x->next >= 0) c->e[x->next].prev = x->prev;
    if (c->head == i) c->head = x->next;
    if (c->tail == i) c->tail = x->prev;
}

static void push_front(embed_cache *c, int32_t i) {
    c->e[i].prev = -1;
    c->e[i].next = c->head;
    if (c->head >= 0) c->e[c->head].prev = i;
    c->head = i;
    if (c->tail < 0) c->tail = i;
}

static void unlink_bucket(embed_cache *c, int32_t i) {
    for (int32_t *p = bucket_of(c, c->e[i].key); *p >= 0; p = &c->e[*p].chain)
        if (*p == i) {
            *p = c->e[i].chain;
            return;
        }
}

bool embed_cache_get(embed_cache *c, const uint64_t key[2], float *out) {
    int32_t i = c ? find(c, key) : -1;
    if (i < 0) return false;
    memcpy(out, c->vecs + (size_t)i * (size_t)c->dim, (size_t)c->dim * sizeof *out);
    unlink_use(c, i);
    push_front(c, i);
    return true;
}

void embed_cache_put(embed_cache *c, const uint64_t key[2], const float *vec) {
    if (!c || find(c, key) >= 0) return;
    int32_t i;
    if (c->n < c->cap) {
        i = c->n++;
    } else { /* reuse the least recently used entry */
        i = c->tail;
        unlink_use(c, i);
        unlink_bucket(c, i);
    }
    entry *x = &c->e[i];
    x->key[0] = key[0];
    x->key[1] = key[1];
    int32_t *b = bucket_of(c, key);
    x->chain = *b;
    *b = i;
    push_front(c, i);
    memcpy(c->vecs + (size_t)i * (size_t)c->dim, vec, (size_t)c->dim * sizeof *vec);
}
