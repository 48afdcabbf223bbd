/* Embeddings against the reference kit: exact token ids (add_special), cosine with the reference
 * >= the type's minimum (0.99999 F32/F16, 0.9998 quantized), unit norm.
 *
 * usage: test_embed REF_DIR MODEL_STEM THREADS */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "test.h"

static void check_text(engine_ctx *c, const engine_model *m, json_t *t, size_t i, double cos_min,
                       double *worst) {
    json_t *jtext = json_object_get(t, "text"), *rids = json_object_get(t, "ids");
    json_t *remb = json_object_get(t, "embedding");
    char err[ENGINE_ERR_LEN];
    int32_t ids[4096];
    int64_t n = engine_tokenize(m, json_string_value(jtext), json_string_length(jtext), true, true,
                                ids, 4096, err, sizeof err);
    bool same = n == (int64_t)json_array_size(rids);
    for (int64_t k = 0; same && k < n; k++)
        same = ids[k] == (int32_t)json_integer_value(json_array_get(rids, (size_t)k));
    CHECKF(same, "text %zu: token ids differ (%lld vs %zu tokens)", i, (long long)n,
           json_array_size(rids));
    if (!same) return;
    int e = engine_model_get_info(m)->n_embd;
    float *out = malloc((size_t)e * sizeof(float));
    bool ok = engine_embed(c, ids, (int32_t)n, ENGINE_POOL_DEFAULT, out, err, sizeof err);
    CHECKF(ok, "text %zu: %s", i, err);
    double dot = 0.0, norm = 0.0;
    for (int k = 0; ok && k < e; k++) {
        dot += out[k] * json_number_value(json_array_get(remb, (size_t)k));
        norm += (double)out[k] * out[k];
    }
    if (ok) {
        CHECKF(dot >= cos_min, "text %zu: cosine %.9f < %g", i, dot, cos_min);
        CHECKF(fabs(sqrt(norm) - 1.0) < 1e-5, "text %zu: norm %.7f", i, sqrt(norm));
        *worst = dot < *worst ? dot : *worst;
    }
    free(out);
}

/* All texts in one engine_embed_batch call (packed, attention masked per text) must give the same
 * vectors as one call per text. */
static void check_batch_equals_single(engine_ctx *c, const engine_model *m, json_t *texts) {
    size_t n = json_array_size(texts);
    int e = engine_model_get_info(m)->n_embd;
    int32_t **ids = calloc(n, sizeof *ids), *lens = calloc(n, sizeof *lens);
    float *batch = malloc(n * e * sizeof(float)), *one = malloc((size_t)e * sizeof(float));
    char err[ENGINE_ERR_LEN];
    for (size_t i = 0; i < n; i++) {
        json_t *jt = json_object_get(json_array_get(texts, i), "text");
        ids[i] = malloc(4096 * sizeof(int32_t));
        lens[i] = (int32_t)engine_tokenize(m, json_string_value(jt), json_string_length(jt), true,
                                           true, ids[i], 4096, err, sizeof err);
    }
    bool ok = engine_embed_batch(c, (const int32_t *const *)ids, lens, (int32_t)n,
                                 ENGINE_POOL_DEFAULT, batch, err, sizeof err);
    CHECKF(ok, "batch: %s", err);
    for (size_t i = 0; ok && i < n; i++) {
        CHECK(engine_embed(c, ids[i], lens[i], ENGINE_POOL_DEFAULT, one, err, sizeof err));
        double dot = 0.0;
        for (int k = 0; k < e; k++) dot += (double)one[k] * batch[i * e + k];
        CHECKF(dot > 0.999999, "text %zu: packed batch vs single cosine %.9f", i, dot);
    }
    for (size_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
    free(lens);
    free(batch);
    free(one);
}

/* Calls a context cannot serve fail with a message instead of crashing: an encoder gives no
 * logits (engine_eval used to run the decoder pass on BERT weights), a paged context makes no
 * embeddings. */
static void test_unservable_calls_fail(const engine_model *m, const engine_ctx_params *cp) {
    char err[ENGINE_ERR_LEN] = "";
    int32_t id = 1;
    float *v = malloc((size_t)engine_model_get_info(m)->n_embd * sizeof(float));
    if (!strcmp(engine_model_get_info(m)->arch, "bert")) {
        engine_ctx *c = engine_ctx_new(m, cp, err, sizeof err);
        CHECKF(c != NULL, "context: %s", err);
        err[0] = 0;
        CHECK(c && !engine_eval(c, &id, 1, false, err, sizeof err) && err[0]);
        CHECK(c && engine_embed(c, &id, 1, ENGINE_POOL_DEFAULT, v, err, sizeof err));
        engine_ctx_free(c);
    } else {
        engine_paged_params pp = {.n_seq_max = 2, .n_blocks = 4, .block_size = 16};
        engine_ctx *c = engine_ctx_new_paged(m, cp, &pp, err, sizeof err);
        CHECKF(c != NULL, "paged context: %s", err);
        err[0] = 0;
        CHECK(c && !engine_embed(c, &id, 1, ENGINE_POOL_DEFAULT, v, err, sizeof err) && err[0]);
        engine_ctx_free(c);
    }
    free(v);
}

int main(int argc, char **argv) {
    if (argc < 4) return fprintf(stderr, "usage: test_embed REF_DIR MODEL_STEM THREADS\n"), 2;
    char path[1024], err[ENGINE_ERR_LEN];
    snprintf(path, sizeof path, "%s/outputs/%s.embeddings.json", argv[1], argv[2]);
    json_error_t je;
    json_t *R = json_load_file(path, JSON_ALLOW_NUL, &je);
    if (!R) return fprintf(stderr, "%s: %s\n", path, je.text), 2;
    snprintf(path, sizeof path, "%s/models/%s.gguf", argv[1], argv[2]);
    engine_model *m = engine_model_load(path, err, sizeof err);
    CHECKF(m != NULL, "%s: %s", path, err);
    bool exact = strstr(argv[2], "F32") || strstr(argv[2], "F16");
    double cos_min = exact ? 0.99999 : 0.9998, worst = 1.0;
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = atoi(argv[3]);
    engine_ctx *c = m ? engine_ctx_new(m, &cp, err, sizeof err) : NULL;
    json_t *texts = json_object_get(R, "texts");
    for (size_t i = 0; c && i < json_array_size(texts); i++)
        check_text(c, m, json_array_get(texts, i), i, cos_min, &worst);
    if (c) check_batch_equals_single(c, m, texts);
    if (m) test_unservable_calls_fail(m, &cp);
    printf("%s: %zu texts, min cosine %.9f (min allowed %g)\n", argv[2], json_array_size(texts),
           worst, cos_min);
    engine_ctx_free(c);
    engine_model_free(m);
    json_decref(R);
    return test_summary("test_embed");
}
