/* Texts to vectors: prompt, tokens and truncation (embed_prepare), then cache, batch and engine
 * (embed_run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int32_t *embed_tokenize_text(const embed_service *e, const char *text, size_t len, bool special,
                             int32_t *n_out, char *err, size_t errlen) {
    char why[ENGINE_ERR_LEN];
    if (len > EMBED_MAX_TEXT + 4096) {
        snprintf(err, errlen, "text too long");
        return NULL;
    }
    int64_t cap = (int64_t)len + 16;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    int64_t n =
        ids ? engine_tokenize(e->model, text, len, special, false, ids, cap, why, sizeof why) : -1;
    if (n > cap) { /* more tokens than bytes: not for our tokenizers, but stay correct */
        int32_t *more = realloc(ids, (size_t)n * sizeof *ids);
        if (more) ids = more;
        cap = more ? n : cap;
        n = more ? engine_tokenize(e->model, text, len, special, false, ids, cap, why, sizeof why)
                 : -1;
    }
    if (!ids) snprintf(why, sizeof why, "out of memory");
    if (n < 0 || n > cap || n > INT32_MAX) {
        snprintf(err, errlen, "tokenizer: %s", n < 0 || !ids ? why : "text too long");
        free(ids);
        return NULL;
    }
    *n_out = (int32_t)n;
    return ids;
}

int32_t embed_count_tokens(const embed_service *e, const char *text, size_t len) {
    if (len == 0) return 0;
    if (e->remote) return (int32_t)(len / 4 + 1); /* no tokenizer at hand: about 4 bytes each */
    /* The tokenizer returns the whole count whatever room it gets: nothing to allocate. */
    int32_t ids[64];
    char why[8];
    int64_t n = engine_tokenize(e->model, text, len, false, false, ids, 64, why, sizeof why);
    return n >= 0 && n <= INT32_MAX ? (int32_t)n : (int32_t)(len / 4 + 1);
}

int32_t embed_overhead_tokens(const embed_service *e, embed_kind kind) {
    const char *pre = embed_prompt(e, kind);
    return embed_count_tokens(e, pre, strlen(pre)) + e->lead + e->trail;
}

/* The key of a text's vector: two hashes of what the model sees, seeded by the model id (its
 * prompts included) and the kind. */
static void item_key(const embed_service *e, embed_item *it, const void *data, size_t len) {
    uint64_t seed = e->id_hash ^ ((uint64_t)it->kind + 1) * 0x9e3779b97f4a7c15ull;
    it->key[0] = embed_hash(data, len, seed);
    it->key[1] = embed_hash(data, len, ~seed * 0xff51afd7ed558ccdull);
}

/* A document over the limit keeps its first tokens and the tokenizer's closing ones ([SEP],
 * EOS); a query over it is refused. */
static bool apply_limit(const embed_service *e, embed_item *it, char *err, size_t errlen) {
    int32_t n = it->n_ids, max = e->max_tokens;
    it->n_original = n;
    if (n <= max) return true;
    if (it->kind == EMBED_QUERY)
        return !snprintf(err, errlen,
                         "query is %d tokens (with its prompt), the embedding model takes at "
                         "most %d",
                         n, max);
    int32_t keep_end = e->trail < max ? e->trail : 0;
    memmove(it->ids + max - keep_end, it->ids + n - keep_end, (size_t)keep_end * sizeof *it->ids);
    it->n_ids = max;
    it->truncated = true;
    return true;
}

bool embed_prepare(const embed_service *e, embed_kind kind, const char *text, size_t len,
                   embed_item *it, char *err, size_t errlen) {
    memset(it, 0, sizeof *it);
    it->kind = kind;
    if (len == 0) return !snprintf(err, errlen, "empty text");
    if (len > EMBED_MAX_TEXT)
        return !snprintf(err, errlen, "text of %zu bytes is over the limit of %u", len,
                         EMBED_MAX_TEXT);
    char *s = embed_format(e, kind, text, len);
    if (!s) return !snprintf(err, errlen, "embedding: out of memory");
    if (e->remote) {
        it->text = s;
        item_key(e, it, s, strlen(s));
        return true;
    }
    it->ids = embed_tokenize_text(e, s, strlen(s), true, &it->n_ids, err, errlen);
    free(s);
    bool ok = it->ids && apply_limit(e, it, err, errlen);
    if (ok) item_key(e, it, it->ids, (size_t)it->n_ids * sizeof *it->ids);
    if (!ok) embed_item_clear(it);
    return ok;
}

void embed_item_clear(embed_item *it) {
    free(it->ids);
    free(it->text);
    memset(it, 0, sizeof *it);
}

/* The items not in the cache go to the engine in one batch call; vectors land in out. */
static bool run_local(embed_service *e, const embed_item *items, const int32_t *miss, int32_t n,
                      float *out, char *err, size_t errlen) {
    const int32_t **ids = calloc((size_t)n, sizeof *ids);
    int32_t *lens = calloc((size_t)n, sizeof *lens);
    float *v = malloc((size_t)n * (size_t)e->dim * sizeof *v);
    char why[ENGINE_ERR_LEN] = "out of memory";
    bool ok = ids && lens && v;
    for (int32_t i = 0; ok && i < n; i++) {
        ids[i] = items[miss[i]].ids;
        lens[i] = items[miss[i]].n_ids;
    }
    ok = ok && engine_embed_batch(e->ctx, ids, lens, n, e->pooling, v, why, sizeof why);
    for (int32_t i = 0; ok && i < n; i++)
        memcpy(out + (size_t)miss[i] * (size_t)e->dim, v + (size_t)i * (size_t)e->dim,
               (size_t)e->dim * sizeof *v);
    if (!ok) snprintf(err, errlen, "embedding: %s", why);
    free(ids);
    free(lens);
    free(v);
    return ok;
}

static bool run_remote(embed_service *e, const embed_item *items, const int32_t *miss, int32_t n,
                       float *out, char *err, size_t errlen) {
    const char **texts = malloc((size_t)n * sizeof *texts);
    float *v = NULL;
    int32_t dim = 0;
    bool ok = texts != NULL;
    if (!ok) snprintf(err, errlen, "embedding: out of memory");
    for (int32_t i = 0; ok && i < n; i++) texts[i] = items[miss[i]].text;
    ok = ok && models_remote_embed(e->remote, texts, n, &v, &dim, &e->remote_stats, err, errlen);
    ok = ok && embed_remote_learn_dim(e, dim, err, errlen);
    for (int32_t i = 0; ok && i < n; i++)
        memcpy(out + (size_t)miss[i] * (size_t)dim, v + (size_t)i * (size_t)dim,
               (size_t)dim * sizeof *v);
    free(texts);
    free(v);
    return ok;
}

/* A remote service's first call: every item goes to the server, whose answer says the
 * dimension; *out is that answer. */
static bool run_first_remote(embed_service *e, const embed_item *items, int32_t n, float **out,
                             char *err, size_t errlen) {
    const char **texts = malloc((size_t)n * sizeof *texts);
    int32_t dim = 0;
    bool ok = texts != NULL;
    if (!ok) snprintf(err, errlen, "embedding: out of memory");
    for (int32_t i = 0; ok && i < n; i++) texts[i] = items[i].text;
    ok = ok && models_remote_embed(e->remote, texts, n, out, &dim, &e->remote_stats, err, errlen);
    ok = ok && embed_remote_learn_dim(e, dim, err, errlen);
    for (int32_t i = 0; ok && i < n; i++)
        embed_cache_put(e->cache, items[i].key, *out + (size_t)i * (size_t)dim);
    free(texts);
    return ok;
}

/* Cached vectors are copied; the rest are computed in one call. Called with e->mu held. */
static bool run_locked(embed_service *e, const embed_item *items, int32_t n, float *out,
                       int32_t *miss, int32_t *n_cached, char *err, size_t errlen) {
    int32_t n_miss = 0;
    for (int32_t i = 0; i < n; i++)
        if (!e->cache || !embed_cache_get(e->cache, items[i].key, out + (size_t)i * e->dim))
            miss[n_miss++] = i;
    bool ok = n_miss == 0 || (e->remote ? run_remote(e, items, miss, n_miss, out, err, errlen)
                                        : run_local(e, items, miss, n_miss, out, err, errlen));
    for (int32_t i = 0; ok && i < n_miss; i++)
        embed_cache_put(e->cache, items[miss[i]].key, out + (size_t)miss[i] * e->dim);
    if (n_cached) *n_cached = n - n_miss;
    return ok;
}

bool embed_run(embed_service *e, const embed_item *items, int32_t n, float **out, int32_t *n_cached,
               char *err, size_t errlen) {
    *out = NULL;
    if (n_cached) *n_cached = 0;
    if (n <= 0) return !snprintf(err, errlen, "embedding: no texts");
    pthread_mutex_lock(&e->mu);
    bool ok;
    if (!e->dim) {
        ok = run_first_remote(e, items, n, out, err, errlen);
    } else {
        int32_t *miss = malloc((size_t)n * sizeof *miss);
        *out = malloc((size_t)n * (size_t)e->dim * sizeof **out);
        ok = miss && *out;
        if (!ok) snprintf(err, errlen, "embedding: out of memory");
        ok = ok && run_locked(e, items, n, *out, miss, n_cached, err, errlen);
        free(miss);
    }
    pthread_mutex_unlock(&e->mu);
    if (!ok) {
        free(*out);
        *out = NULL;
    }
    return ok;
}

static bool embed_kind_texts(embed_service *e, embed_kind kind, const char *const *texts,
                             const size_t *lens, int32_t n, float **out, embed_info *info,
                             char *err, size_t errlen) {
    embed_item *items = calloc((size_t)n + 1, sizeof *items);
    bool ok = items != NULL;
    *out = NULL;
    if (!ok) snprintf(err, errlen, "embedding: out of memory");
    char why[EMBED_ERR_LEN];
    for (int32_t i = 0; ok && i < n; i++) {
        size_t len = lens ? lens[i] : strlen(texts[i]);
        ok = embed_prepare(e, kind, texts[i], len, &items[i], why, sizeof why);
        if (!ok) snprintf(err, errlen, "%s %d: %s", kind == EMBED_QUERY ? "query" : "text", i, why);
    }
    ok = ok && embed_run(e, items, n, out, NULL, err, errlen);
    for (int32_t i = 0; ok && info && i < n; i++)
        info[i] = (embed_info){items[i].n_ids, items[i].n_original, items[i].truncated};
    for (int32_t i = 0; items && i < n; i++) embed_item_clear(&items[i]);
    free(items);
    return ok;
}

bool embed_queries(embed_service *e, const char *const *texts, const size_t *lens, int32_t n,
                   float **out, embed_info *info, char *err, size_t errlen) {
    return embed_kind_texts(e, EMBED_QUERY, texts, lens, n, out, info, err, errlen);
}

bool embed_documents(embed_service *e, const char *const *texts, const size_t *lens, int32_t n,
                     float **out, embed_info *info, char *err, size_t errlen) {
    return embed_kind_texts(e, EMBED_DOCUMENT, texts, lens, n, out, info, err, errlen);
}
