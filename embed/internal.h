/* Private pieces of embed/ shared by its files (not part of its interface). */
#ifndef HEARTH_EMBED_INTERNAL_H
#define HEARTH_EMBED_INTERNAL_H

#include <pthread.h>

#include "embed.h"

/* ---- prompt.c: the prompt families ---- */

typedef struct {
    const char *name;     /* embed_family() */
    const char *query;    /* prefix of queries ("" = none) */
    const char *document; /* prefix of documents */
} embed_family_def;

/* The family a model's metadata names (architecture, general.name, pooling); "none" if no
 * known family matches. */
const embed_family_def *embed_family_of(const engine_model *m);
/* The family of a remote model: none. */
const embed_family_def *embed_family_none(void);

/* ---- cache.c: a bounded LRU of vectors keyed by two 64-bit hashes ---- */

typedef struct embed_cache embed_cache;

/* NULL when cap <= 0 or out of memory (then nothing is cached). */
embed_cache *embed_cache_new(int32_t cap, int32_t dim);
void embed_cache_free(embed_cache *c);
/* Copies the vector of key into out and makes it the most recent; false when absent. */
bool embed_cache_get(embed_cache *c, const uint64_t key[2], float *out);
/* Stores a vector (evicting the least recently used entry when full). */
void embed_cache_put(embed_cache *c, const uint64_t key[2], const float *vec);

/* ---- service.c ---- */

struct embed_service {
    engine_model *model;          /* local: borrowed */
    engine_ctx *ctx;              /* local: our own */
    const models_backend *remote; /* remote: borrowed */
    models_remote_stats remote_stats;
    const embed_family_def *family;
    char *prompt[2]; /* [EMBED_DOCUMENT], [EMBED_QUERY] */
    char *name, *id;
    uint64_t id_hash;
    int32_t dim, max_tokens, cache_entries;
    engine_pooling pooling;
    int32_t lead, trail; /* special tokens the tokenizer puts before / after a text */
    embed_cache *cache;
    pthread_mutex_t mu;
};

/* Tokens of text as the model gets them (specials added, never parsed from the text); *n gets
 * the count. malloc'd; NULL on failure (err says why). */
int32_t *embed_tokenize_text(const embed_service *e, const char *text, size_t len, bool special,
                             int32_t *n, char *err, size_t errlen);

/* Remote: records the dimension of the first answer (and the id that names it); false when a
 * later answer disagrees. Called with e->mu held. */
bool embed_remote_learn_dim(embed_service *e, int32_t dim, char *err, size_t errlen);

#endif
