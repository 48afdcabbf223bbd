/* Draft-model speculative decoding (engine_generate_draft): greedy output token for token and
 * byte for byte that of engine_generate, with drafts that always agree (the target as its own
 * draft), mostly agree (its Q8_0 quantization) and often disagree (a Q4_0 quantization made
 * here), for several draft lengths, over two turns of one conversation (the contexts stay in
 * step), and at the limits (n_predict 1, a full context, a stop string). Also: vocabulary
 * compatibility, and bad draft setups refused with a message.
 * A K-quant model as its own draft must have every proposal accepted: verification batches
 * compute exactly what one-token decoding does.
 * usage: test_speculative TARGET_F16 TARGET_Q8_0 FOREIGN_VOCAB_MODEL KQUANT_MODEL THREADS */
#include "test.h"

#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *target_path, *q8_path, *foreign_path, *kq_path;
static int threads;
static char err[ENGINE_ERR_LEN];

typedef struct {
    char text[8192];
    size_t len;
} sink;

static bool collect(const char *s, size_t n, void *user) {
    sink *k = user;
    if (k->len + n < sizeof k->text) memcpy(k->text + k->len, s, n), k->len += n;
    return true;
}

static engine_ctx *new_ctx(const engine_model *m, int n_ctx) {
    engine_ctx_params p = engine_ctx_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = threads;
    engine_ctx *c = engine_ctx_new(m, &p, err, sizeof err);
    CHECKF(c != NULL, "context: %s", err);
    return c;
}

typedef struct {
    int32_t ids[256];
    sink out;
    engine_gen_stats st;
    bool ok;
} run;

/* One generation of n_predict tokens after `prompt` (draft d or none). */
static void gen(const engine_model *m, engine_ctx *c, const engine_draft *d, const char *prompt,
                int n_predict, const char *stop, run *r) {
    int32_t toks[512];
    int64_t n = engine_tokenize(m, prompt, strlen(prompt), engine_n_past(c) == 0, false, toks, 512,
                                err, sizeof err);
    CHECKF(n > 0, "tokenize: %s", err);
    memset(r, 0, sizeof *r);
    const char *stops[1] = {stop};
    engine_gen_request req = {.prompt = toks,
                              .n_prompt = n,
                              .n_predict = n_predict,
                              .sampling = engine_sampler_default_params(),
                              .stops = stops,
                              .n_stops = stop ? 1 : 0,
                              .emit = collect,
                              .user = &r->out,
                              .out_ids = r->ids,
                              .out_cap = 256};
    req.sampling.temperature = 0.0f;
    r->ok = d ? engine_generate_draft(m, c, d, &req, &r->st, err, sizeof err)
              : engine_generate(m, c, &req, &r->st, err, sizeof err);
    CHECKF(r->ok, "generate: %s", err);
}

static void same_output(const run *a, const run *b, const char *what) {
    CHECKF(a->st.n_generated == b->st.n_generated, "%s: %d vs %d tokens", what, a->st.n_generated,
           b->st.n_generated);
    CHECKF(a->st.stop == b->st.stop, "%s: stop reason %d vs %d", what, a->st.stop, b->st.stop);
    int n = a->st.n_generated < 256 ? a->st.n_generated : 256;
    CHECKF(memcmp(a->ids, b->ids, sizeof(int32_t) * (size_t)n) == 0, "%s: tokens differ", what);
    CHECKF(a->out.len == b->out.len && memcmp(a->out.text, b->out.text, a->out.len) == 0,
           "%s: text differs", what);
}

static const char *turn1 = "def fibonacci(n):\n    if n < 2:\n        return n\n";
static const char *turn2 = "\n# and now the iterative version\ndef fib_iter(n):";

/* Two turns, each with and without the draft, the draft context following the target's. */
static void check_draft(const engine_model *t, const engine_model *dm, int n_draft, int n_ctx,
                        int n_predict, const char *stop, const char *name, double min_accept) {
    engine_ctx *c0 = new_ctx(t, n_ctx), *c1 = new_ctx(t, n_ctx), *dc = new_ctx(dm, n_ctx);
    if (!c0 || !c1 || !dc) goto out;
    engine_draft d = {dm, dc, n_draft};
    run plain, spec;
    char what[128];
    long drafted = 0, accepted = 0;
    for (int turn = 0; turn < 2; turn++) {
        const char *p = turn ? turn2 : turn1;
        gen(t, c0, NULL, p, n_predict, stop, &plain);
        gen(t, c1, &d, p, n_predict, stop, &spec);
        snprintf(what, sizeof what, "%s k=%d n_ctx=%d turn %d", name, n_draft, n_ctx, turn);
        same_output(&plain, &spec, what);
        CHECKF(engine_n_past(dc) == engine_n_past(c1), "%s: draft %d vs target %d positions", what,
               engine_n_past(dc), engine_n_past(c1));
        CHECKF(engine_n_past(c0) == engine_n_past(c1), "%s: caches %d vs %d", what,
               engine_n_past(c0), engine_n_past(c1));
        CHECKF(spec.st.n_draft_accepted <= spec.st.n_drafted, "%s", what);
        drafted += spec.st.n_drafted, accepted += spec.st.n_draft_accepted;
        if (plain.st.stop == ENGINE_STOP_CONTEXT) break; /* no room for a second turn */
    }
    printf("%-16s k=%-2d n_ctx=%-4d: %ld of %ld drafted tokens accepted\n", name, n_draft, n_ctx,
           accepted, drafted);
    CHECKF(drafted == 0 || accepted >= min_accept * drafted, "%s k=%d: acceptance %ld/%ld", name,
           n_draft, accepted, drafted);
out:
    engine_ctx_free(c0), engine_ctx_free(c1), engine_ctx_free(dc);
}

/* What verification relies on: a batch of up to 7 tokens (1 + MAX_VERIFY_DRAFTS) gives each
 * token the logits one-token decoding gives it, bit for bit. */
static void check_batch_equals_single(const engine_model *m) {
    const int32_t nv = engine_model_get_info(m)->n_vocab;
    engine_ctx *one = new_ctx(m, 64), *batch = new_ctx(m, 64);
    int32_t ids[12];
    for (int i = 0; i < 12; i++) ids[i] = (i * 37 + 5) % nv;
    float *l1 = malloc(sizeof(float) * (size_t)nv * 7);
    bool ok = one && batch && l1 && engine_eval(batch, ids, 5, false, err, sizeof err) &&
              engine_eval(batch, ids + 5, 7, true, err, sizeof err);
    for (int i = 0; ok && i < 12; i++) {
        ok = engine_eval(one, ids + i, 1, false, err, sizeof err);
        if (ok && i >= 5)
            memcpy(l1 + (size_t)(i - 5) * nv, engine_logits(one, -1), sizeof(float) * nv);
    }
    CHECKF(ok, "eval: %s", err);
    for (int i = 0; ok && i < 7; i++)
        CHECKF(memcmp(l1 + (size_t)i * nv, engine_logits(batch, i), sizeof(float) * nv) == 0,
               "batch position %d: logits differ from one-token decoding", i);
    free(l1);
    engine_ctx_free(one), engine_ctx_free(batch);
}

/* Prompt lookup from tokens already in the cache (engine_gen_request.lookup_source, as FIM
 * completion uses it): the source holds prompt P, P's greedy continuation G, then P again, so
 * lookup proposes G's tokens at once; the output must be that of plain decoding. */
static void check_lookup_source(const engine_model *m) {
    engine_ctx *a = new_ctx(m, 512), *b = new_ctx(m, 512), *g = new_ctx(m, 512);
    int32_t src[400];
    run cont, plain, spec;
    int64_t n = a && b && g ? engine_tokenize(m, turn1, strlen(turn1), true, false, src, 100, err,
                                              sizeof err)
                            : 0;
    CHECKF(n > 4, "tokenize: %s", err);
    if (n <= 4) goto out;
    gen(m, g, NULL, turn1, 48, NULL, &cont); /* G */
    int64_t len = n;
    memcpy(src + len, cont.ids, sizeof(int32_t) * (size_t)cont.st.n_generated);
    len += cont.st.n_generated;
    memcpy(src + len, src + 1, sizeof(int32_t) * (size_t)(n - 1)); /* P again, without BOS */
    len += n - 1;
    engine_gen_request req = {.prompt = src + len - 1,
                              .n_prompt = 1,
                              .n_predict = 40,
                              .sampling = engine_sampler_default_params()};
    req.sampling.temperature = 0.0f;
    req.emit = collect;
    run *runs[2] = {&plain, &spec};
    engine_ctx *ctxs[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        memset(runs[k], 0, sizeof *runs[k]);
        req.user = &runs[k]->out, req.out_ids = runs[k]->ids, req.out_cap = 256;
        req.lookup_draft = k ? 6 : 0;
        req.lookup_source = k ? src : NULL, req.n_lookup_source = k ? len - 1 : 0;
        runs[k]->ok = engine_eval(ctxs[k], src, (int32_t)(len - 1), false, err, sizeof err) &&
                      engine_generate(m, ctxs[k], &req, &runs[k]->st, err, sizeof err);
        CHECKF(runs[k]->ok, "lookup source run %d: %s", k, err);
    }
    same_output(&plain, &spec, "lookup source");
    CHECKF(spec.st.n_drafted > 0, "lookup found nothing to draft in its source");
    printf("lookup source    : %d of %d drafted tokens accepted\n", spec.st.n_draft_accepted,
           spec.st.n_drafted);
out:
    engine_ctx_free(a), engine_ctx_free(b), engine_ctx_free(g);
}

static void check_refusals(const engine_model *t, const engine_model *foreign) {
    CHECK(engine_draft_compatible(t, t, err, sizeof err));
    CHECKF(!engine_draft_compatible(t, foreign, err, sizeof err), "foreign vocabulary accepted");
    CHECKF(strstr(err, "vocabulary") != NULL, "message: %s", err);
    engine_ctx *c = new_ctx(t, 256), *small = new_ctx(t, 128);
    if (!c || !small) goto out;
    run r;
    engine_draft d = {t, small, 4};
    int32_t one = 1;
    engine_gen_request req = {.prompt = &one, .n_prompt = 1, .n_predict = 4};
    engine_gen_stats st;
    CHECK(!engine_generate_draft(t, c, &d, &req, &st, err, sizeof err)); /* smaller context */
    CHECKF(strstr(err, "smaller") != NULL, "message: %s", err);
    engine_ctx_free(small);
    small = new_ctx(t, 256);
    d.ctx = small;
    gen(t, c, NULL, turn1, 4, NULL, &r); /* the target moves on alone: out of step */
    CHECK(!engine_generate_draft(t, c, &d, &req, &st, err, sizeof err));
    CHECKF(strstr(err, "in step") != NULL, "message: %s", err);
    d.n_draft = 0;
    CHECK(!engine_generate_draft(t, c, &d, &req, &st, err, sizeof err));
out:
    engine_ctx_free(c), engine_ctx_free(small);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: test_speculative TARGET_F16 TARGET_Q8_0 FOREIGN KQUANT THREADS\n");
        return 2;
    }
    target_path = argv[1], q8_path = argv[2], foreign_path = argv[3], kq_path = argv[4];
    threads = atoi(argv[5]);
    char q4_path[] = "/tmp/test_speculative_XXXXXX";
    int fd = mkstemp(q4_path);
    if (fd >= 0) close(fd);
    engine_model *t = engine_model_load(target_path, err, sizeof err);
    engine_model *q8 = engine_model_load(q8_path, err, sizeof err);
    engine_model *foreign = engine_model_load(foreign_path, err, sizeof err);
    bool quantized = fd >= 0 && engine_quantize(target_path, q4_path, "Q4_0", err, sizeof err);
    CHECKF(quantized, "quantize: %s", err);
    engine_model *q4 = quantized ? engine_model_load(q4_path, err, sizeof err) : NULL;
    if (fd >= 0) unlink(q4_path);
    if (!t || !q8 || !foreign || !q4) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    CHECK(engine_draft_compatible(t, q8, err, sizeof err));
    CHECK(engine_draft_compatible(t, q4, err, sizeof err));
    const int ks[] = {1, 3, 8};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        check_draft(t, t, ks[i], 512, 48, NULL, "self", 0.95);
        check_draft(t, q8, ks[i], 512, 48, NULL, "Q8_0 draft", 0.0);
        check_draft(t, q4, ks[i], 512, 48, NULL, "Q4_0 draft", 0.0);
    }
    /* a K-quant target (prefill runs the tile kernels; verification must not) as its own draft:
     * every proposal is accepted, and the output is that of plain decoding */
    engine_model *kq = engine_model_load(kq_path, err, sizeof err);
    CHECKF(kq != NULL, "%s: %s", kq_path, err);
    if (kq) check_draft(kq, kq, 8, 512, 48, NULL, "K-quant self", 1.0);
    if (kq) check_batch_equals_single(kq);
    check_lookup_source(t);
    check_batch_equals_single(q8);
    engine_model_free(kq);
    /* limits: one token, a context that fills up mid-draft, a stop string */
    check_draft(t, q8, 8, 512, 1, NULL, "n_predict 1", 0.0);
    check_draft(t, t, 8, 64, 200, NULL, "full context", 0.0);
    check_draft(t, q4, 5, 64, 200, NULL, "full context", 0.0);
    check_draft(t, t, 6, 512, 64, "(", "stop string", 0.0);
    check_refusals(t, foreign);
    engine_model_free(t), engine_model_free(q8), engine_model_free(q4), engine_model_free(foreign);
    return test_summary("test_speculative");
}
