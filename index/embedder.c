/* Texts to vectors through the engine. engine_embed_batch already packs many sequences into one
 * forward pass, pools and L2-normalises, so this is only tokenization, truncation to what the
 * model can take, and bookkeeping; it lives inside index/ (not a separate embed/ module) until
 * a second user needs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

bool index_embedder_open(index_embedder *e, const char *path, int32_t n_threads, char *err,
                         size_t errlen) {
    memset(e, 0, sizeof *e);
    char why[ENGINE_ERR_LEN];
    e->model = engine_model_load(path, why, sizeof why);
    if (!e->model) {
        snprintf(err, errlen, "embedding model %s: %s", path, why);
        return false;
    }
    const engine_model_info *info = engine_model_get_info(e->model);
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = n_threads;
    cp.n_batch = 512;
    /* A BERT has a position table as long as its training context: never embed past it. */
    e->max_tokens =
        info->n_ctx_train > 0 && info->n_ctx_train < cp.n_batch ? info->n_ctx_train : cp.n_batch;
    cp.n_ctx = cp.n_batch;
    e->ctx = engine_ctx_new(e->model, &cp, why, sizeof why);
    e->dim = info->n_embd;
    const char *base = strrchr(path, '/');
    size_t n = strlen(path) + strlen(info->arch) + 64;
    e->id = malloc(n);
    if (!e->ctx || !e->id) {
        snprintf(err, errlen, "embedding model %s: %s", path, e->ctx ? "out of memory" : why);
        index_embedder_close(e);
        return false;
    }
    /* Vectors of another model are not comparable: the id says which model made them. */
    snprintf(e->id, n, "%s|%s|%d|%llu", base ? base + 1 : path, info->arch, e->dim,
             (unsigned long long)info->n_params);
    return true;
}

void index_embedder_close(index_embedder *e) {
    engine_ctx_free(e->ctx);
    engine_model_free(e->model);
    free(e->id);
    memset(e, 0, sizeof *e);
}

/* Tokens of a text for embedding, special tokens as the model adds them but never parsed from
 * the (hostile) text, cut to max_tokens keeping the final token (BERT's [SEP]). */
static int32_t *tokens_of(index_embedder *e, const char *text, size_t len, int32_t *n_out) {
    char why[ENGINE_ERR_LEN];
    int64_t cap = (int64_t)len + 8;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) return NULL;
    int64_t n = engine_tokenize(e->model, text, len, true, false, ids, cap, why, sizeof why);
    if (n > cap) { /* more tokens than bytes: not for our tokenizers, but stay correct */
        int32_t *more = realloc(ids, (size_t)n * sizeof *ids);
        if (more) ids = more;
        cap = more ? n : cap;
        n = more ? engine_tokenize(e->model, text, len, true, false, ids, cap, why, sizeof why)
                 : -1;
    }
    if (n < 0 || n > cap) {
        free(ids);
        return NULL;
    }
    if (n > e->max_tokens) {
        ids[e->max_tokens - 1] = ids[n - 1];
        n = e->max_tokens;
    }
    *n_out = (int32_t)n;
    return ids;
}

int32_t index_embedder_count(const char *text, size_t len, void *user) {
    index_embedder *e = user;
    int32_t n = 0;
    int32_t *ids = tokens_of(e, text, len, &n);
    free(ids);
    return ids ? n : index_count_estimate(text, len, NULL);
}

bool index_embedder_run(index_embedder *e, const char *const *texts, int32_t n, float *out,
                        int64_t *tokens, char *err, size_t errlen) {
    int32_t **ids = calloc((size_t)n, sizeof *ids), *lens = calloc((size_t)n, sizeof *lens);
    bool ok = ids && lens;
    int64_t total = 0;
    for (int32_t i = 0; ok && i < n; i++) {
        ids[i] = tokens_of(e, texts[i], strlen(texts[i]), &lens[i]);
        ok = ids[i] != NULL;
        total += lens[i];
    }
    char why[ENGINE_ERR_LEN] = "out of memory or tokenizer failure";
    if (ok)
        ok = engine_embed_batch(e->ctx, (const int32_t *const *)ids, lens, n, ENGINE_POOL_DEFAULT,
                                out, why, sizeof why);
    if (!ok) snprintf(err, errlen, "embedding: %s", why);
    for (int32_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(lens);
    if (ok) *tokens = total;
    return ok;
}
