/* engine/: one thread pool per process. Contexts asking 1, 2 and 3 threads share one set of
 * workers (sized to the largest request), and two contexts evaluated from two threads at once
 * give bit for bit the logits each gives alone (their pool rounds take turns). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "test.h"

#define N_TOK  24
#define ROUNDS 12

typedef struct {
    engine_ctx *ctx;
    const float *want; /* n_vocab logits of the last token when run alone */
    int32_t n_vocab;
    int mismatches, failures;
} runner;

static const int32_t *prompt(void) {
    static int32_t ids[N_TOK];
    for (int i = 0; i < N_TOK; i++) ids[i] = 1 + (i * 37) % 200;
    return ids;
}

static bool eval_once(engine_ctx *c, float *out, int32_t n_vocab) {
    char err[ENGINE_ERR_LEN];
    engine_kv_keep(c, 0);
    if (!engine_eval(c, prompt(), N_TOK, false, err, sizeof err)) return false;
    memcpy(out, engine_logits(c, -1), (size_t)n_vocab * sizeof(float));
    return true;
}

static void *run_many(void *arg) {
    runner *r = arg;
    float *got = malloc((size_t)r->n_vocab * sizeof(float));
    for (int i = 0; got && i < ROUNDS; i++) {
        if (!eval_once(r->ctx, got, r->n_vocab))
            r->failures++;
        else if (memcmp(got, r->want, (size_t)r->n_vocab * sizeof(float)))
            r->mismatches++;
    }
    free(got);
    return NULL;
}

static engine_ctx *ctx_with(const engine_model *m, int threads) {
    engine_ctx_params p = engine_ctx_default_params();
    p.n_ctx = 64;
    p.n_threads = threads;
    char err[ENGINE_ERR_LEN];
    engine_ctx *c = engine_ctx_new(m, &p, err, sizeof err);
    CHECKF(c, "%s", err);
    return c;
}

int main(void) {
    const char *ref = getenv("HEARTH_REF_DIR");
    char path[4096], err[ENGINE_ERR_LEN];
    snprintf(path, sizeof path, "%s/models/tiny-qwen2-peaked-Q8_0.gguf",
             ref ? ref : "../shared/reference");
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "skipped: no %s\n", path);
        return 77;
    }
    engine_model *m = engine_model_load(path, err, sizeof err);
    CHECKF(m, "%s", err);
    if (!m) return test_summary("test_engine_pool");
    int32_t nv = engine_model_get_info(m)->n_vocab;
    CHECK(engine_pool_workers() == 0);
    engine_ctx *one = ctx_with(m, 1), *a = ctx_with(m, 3), *b = ctx_with(m, 2);
    CHECK(engine_pool_workers() == 0 + 2); /* the largest request less the caller, not 1 + 2 */
    if (!one || !a || !b) return test_summary("test_engine_pool");
    float *want_a = malloc((size_t)nv * sizeof(float)), *want_b = malloc((size_t)nv * 4);
    float *want_1 = malloc((size_t)nv * sizeof(float));
    CHECK(eval_once(a, want_a, nv) && eval_once(b, want_b, nv) && eval_once(one, want_1, nv));
    runner ra = {a, want_a, nv, 0, 0}, rb = {b, want_b, nv, 0, 0}, r1 = {one, want_1, nv, 0, 0};
    pthread_t ta, tb, t1;
    pthread_create(&ta, NULL, run_many, &ra);
    pthread_create(&tb, NULL, run_many, &rb);
    pthread_create(&t1, NULL, run_many, &r1);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_join(t1, NULL);
    CHECKF(!ra.failures && !rb.failures && !r1.failures, "%d %d %d evaluations failed", ra.failures,
           rb.failures, r1.failures);
    CHECKF(!ra.mismatches && !rb.mismatches && !r1.mismatches,
           "logits changed when run alongside another context: %d %d %d", ra.mismatches,
           rb.mismatches, r1.mismatches);
    engine_ctx_free(a);
    engine_ctx *c4 = ctx_with(m, 4); /* a larger request grows the pool once more */
    CHECK(engine_pool_workers() == 3);
    engine_ctx_free(c4);
    engine_ctx_free(b);
    engine_ctx_free(one);
    CHECK(engine_pool_workers() == 3); /* the workers stay for the next context */
    free(want_a);
    free(want_b);
    free(want_1);
    engine_model_free(m);
    return test_summary("test_engine_pool");
}
