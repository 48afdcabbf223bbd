/* The index's embedding model: one way to open it (so the index build, its search and the LSP
 * get the same model id for the same file) and the model an index was built with. Embedding
 * itself (prompts, truncation, batching) is embed/'s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

embed_service *index_embed_new(engine_model *model, const char *model_path, int32_t n_threads,
                               char *err, size_t errlen) {
    const char *base = strrchr(model_path, '/');
    embed_params p = embed_default_params();
    p.n_threads = n_threads;
    p.name = base ? base + 1 : model_path; /* max_tokens: embed/'s default, as everywhere */
    char why[ENGINE_ERR_LEN];
    embed_service *e = embed_new_local(model, &p, why, sizeof why);
    if (!e) snprintf(err, errlen, "embedding model %s: %s", model_path, why);
    return e;
}

embed_service *index_embed_open(const char *model_path, int32_t n_threads, engine_model **model,
                                char *err, size_t errlen) {
    char why[ENGINE_ERR_LEN];
    *model = engine_model_load(model_path, why, sizeof why);
    if (!*model) {
        snprintf(err, errlen, "embedding model %s: %s", model_path, why);
        return NULL;
    }
    embed_service *e = index_embed_new(*model, model_path, n_threads, err, errlen);
    if (!e) {
        engine_model_free(*model);
        *model = NULL;
    }
    return e;
}

char *index_embed_model(const char *root) {
    index_store s;
    char err[INDEX_ERR_LEN];
    if (!index_store_open(&s, root, false, err, sizeof err)) return NULL;
    char *path = index_store_meta_get(&s, "embed_model");
    index_store_close(&s);
    return path;
}
