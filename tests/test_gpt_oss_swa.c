/* gpt-oss's sliding-window layers keep a bounded KV cache (engine/context.c's ring, batch.c's
 * second block pool), and it changes no result: on a tiny gpt-oss (window 16, every other layer
 * sliding) over prompts of 12+ windows evaluated in chunks of 8 tokens, the logits of the ring
 * equal those of an unbounded cache bit for bit, through decoding and through prefix reuse after
 * edits (engine_kv_keep keeps exactly what the ring still holds and drops to 0 otherwise) and
 * speculative lookup dropping its rejected drafts, and back to a checkpoint (engine_generate's, at
 * its prompt's end: a conversation's next turn); a ring
 * one row short changes them; the paged path with its second pool gives the unbounded logits
 * and returns every block; the memory reported is the bounded size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "engine.h"
#include "test.h"

enum { WINDOW = 16, N_VOCAB = 512, N_CTX = 256, N_BATCH = 8, N_PROMPT = 200, N_SWA_LAYERS = 2 };
enum { RING = WINDOW - 1 + N_BATCH }; /* the rows a chunk of N_BATCH tokens needs */

static char path[128];

static void prompt_ids(int32_t *ids, int n, unsigned seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        ids[i] = (int32_t)((seed >> 8) % 256);
    }
}

static engine_ctx_params params(engine_kv_type kv) {
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = N_CTX;
    cp.n_batch = N_BATCH;
    cp.n_threads = 2;
    cp.kv_type = kv;
    return cp;
}

/* A one-sequence context with swa_rows rows in sliding-window layers (0: the engine's ring). */
static engine_ctx *seq_ctx(const engine_model *m, engine_kv_type kv, int32_t swa_rows) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = params(kv);
    engine_ctx *c = ctx_seq_new(m, &cp, swa_rows, err, sizeof err);
    if (!c) fprintf(stderr, "context: %s\n", err);
    return c;
}

/* Evaluates ids continuing c; every position's logits to out (n x N_VOCAB). */
static bool eval(engine_ctx *c, const int32_t *ids, int n, float *out) {
    char err[ENGINE_ERR_LEN];
    if (!c || !engine_eval(c, ids, n, true, err, sizeof err)) {
        fprintf(stderr, "eval: %s\n", c ? err : "no context");
        return false;
    }
    for (int t = 0; t < n; t++)
        memcpy(out + (size_t)t * N_VOCAB, engine_logits(c, t), N_VOCAB * sizeof(float));
    return true;
}

/* Logits of positions [from, n) of ids in a fresh unbounded cache. */
static bool reference(const engine_model *m, engine_kv_type kv, const int32_t *ids, int n, int from,
                      float *out) {
    static float all[(N_PROMPT + 64) * N_VOCAB];
    engine_ctx *c = seq_ctx(m, kv, N_CTX);
    bool ok = eval(c, ids, n, all);
    if (ok) memcpy(out, all + (size_t)from * N_VOCAB, (size_t)(n - from) * N_VOCAB * 4);
    engine_ctx_free(c);
    return ok;
}

static size_t kv_row_bytes(const engine_model *m, engine_kv_type kv) {
    const engine_model_info *in = engine_model_get_info(m);
    return kv_bytes_of(kv, (size_t)in->n_head_kv * (size_t)in->head_dim);
}

/* The ring's logits equal the unbounded cache's over the prompt and 24 decoded tokens, and the
 * context is smaller by exactly the rows the ring leaves out. */
static void test_ring_equals_unbounded(const engine_model *m, engine_kv_type kv) {
    static float got[(N_PROMPT + 24) * N_VOCAB], want[(N_PROMPT + 24) * N_VOCAB];
    int32_t ids[N_PROMPT + 24];
    prompt_ids(ids, N_PROMPT, 3);
    engine_ctx *ring = seq_ctx(m, kv, 0), *full = seq_ctx(m, kv, N_CTX);
    CHECK(ring && full && ring->core.swa_rows == RING && full->core.swa_rows == N_CTX);
    if (!ring || !full) return;
    uint64_t saved = engine_ctx_memory(full) - engine_ctx_memory(ring);
    /* the ring's rows, less the window engine_kv_checkpoint keeps a copy of */
    CHECKF(saved ==
               2 * N_SWA_LAYERS * (uint64_t)(N_CTX - RING - (WINDOW - 1)) * kv_row_bytes(m, kv),
           "memory saved %llu", (unsigned long long)saved);
    bool ok = eval(ring, ids, N_PROMPT, got) && eval(full, ids, N_PROMPT, want);
    for (int i = N_PROMPT; ok && i < N_PROMPT + 24; i++) { /* greedy, one token at a time */
        const float *l = engine_logits(full, -1);
        int best = 0;
        for (int v = 1; v < N_VOCAB; v++) best = l[v] > l[best] ? v : best;
        ids[i] = best;
        ok = eval(ring, ids + i, 1, got + (size_t)i * N_VOCAB) &&
             eval(full, ids + i, 1, want + (size_t)i * N_VOCAB);
    }
    CHECK(ok);
    size_t all = (size_t)(N_PROMPT + 24) * N_VOCAB;
    CHECKF(ok && !memcmp(got, want, all * sizeof(float)), "kv type %d: ring vs unbounded %g",
           (int)kv, test_max_diff(got, want, all));
    engine_ctx_free(ring);
    engine_ctx_free(full);
}

/* One row fewer and the first token of a chunk reads a position its chunk's last token
 * overwrote: the logits move. */
static void test_ring_one_row_short(const engine_model *m) {
    static float got[N_PROMPT * N_VOCAB], want[N_PROMPT * N_VOCAB];
    int32_t ids[N_PROMPT];
    prompt_ids(ids, N_PROMPT, 3);
    engine_ctx *c = seq_ctx(m, ENGINE_KV_F32, RING - 1);
    CHECK(eval(c, ids, N_PROMPT, got) && reference(m, ENGINE_KV_F32, ids, N_PROMPT, 0, want));
    float d = test_max_diff(got, want, (size_t)N_PROMPT * N_VOCAB);
    CHECKF(d > 1e-3f, "a ring of %d rows still matched (%g)", RING - 1, d);
    engine_ctx_free(c);
}

/* keep(k) then the edited tail: n_past must be `expect`, and the logits of what is evaluated
 * from there equal a fresh unbounded evaluation of the edited prompt. */
static void keep_and_check(const engine_model *m, engine_ctx *c, int32_t *ids, int n, int k,
                           int expect) {
    static float got[(N_PROMPT + 64) * N_VOCAB], want[(N_PROMPT + 64) * N_VOCAB];
    for (int i = k; i < n; i++) ids[i] = (ids[i] + 17 + i) % 256; /* the edit */
    engine_kv_keep(c, k);
    int kept = engine_n_past(c);
    CHECKF(kept == expect, "keep(%d) after %d held: kept %d, want %d", k, n, kept, expect);
    bool ok = eval(c, ids + kept, n - kept, got) && reference(m, ENGINE_KV_F32, ids, n, kept, want);
    size_t count = (size_t)(n - kept) * N_VOCAB;
    CHECKF(ok && !memcmp(got, want, count * sizeof(float)), "keep(%d): %g from the reference", k,
           test_max_diff(got, want, count));
}

static void test_prefix_reuse(const engine_model *m) {
    int32_t ids[N_PROMPT + 64];
    static float scratch[(N_PROMPT + 64) * N_VOCAB];
    prompt_ids(ids, N_PROMPT + 64, 7);
    engine_ctx *c = seq_ctx(m, ENGINE_KV_F32, 0);
    CHECK(eval(c, ids, N_PROMPT, scratch));
    /* 200 held in chunks of 8: the ring holds positions [177, 200); the next token at k reads
     * [k - 15, k) */
    keep_and_check(m, c, ids, N_PROMPT + 12, N_PROMPT - N_BATCH, N_PROMPT - N_BATCH);
    int held = N_PROMPT + 12; /* ring: [189, 212) */
    keep_and_check(m, c, ids, held, held - N_BATCH, held - N_BATCH);
    keep_and_check(m, c, ids, held, held - N_BATCH - 1, 0); /* one further: start over */
    keep_and_check(m, c, ids, held + 40, 100, 0);           /* an edit far back */
    engine_ctx_free(c);
    /* before the ring wraps, every prefix stays */
    c = seq_ctx(m, ENGINE_KV_F32, 0);
    CHECK(eval(c, ids, 20, scratch));
    keep_and_check(m, c, ids, 22, 3, 3);
    engine_ctx_free(c);
    /* a checkpoint: keep(k) from far past it comes back to it, not to 0, until it is dropped */
    prompt_ids(ids, N_PROMPT + 64, 8);
    c = seq_ctx(m, ENGINE_KV_F32, 0);
    CHECK(eval(c, ids, 120, scratch));
    engine_kv_checkpoint(c);
    CHECK(eval(c, ids + 120, 60, scratch));
    keep_and_check(m, c, ids, 190, 150, 120);
    keep_and_check(m, c, ids, 190, 120, 120); /* exactly there */
    keep_and_check(m, c, ids, 200, 100, 0);   /* before it */
    keep_and_check(m, c, ids, 200, 160, 0);   /* dropped with the positions before it */
    engine_ctx_free(c);
}

/* A conversation's next turn: engine_generate checkpoints the end of its prompt, so keeping the
 * history up to a point in the answer (as hearth chat does for a new turn) keeps the prompt. */
static bool ignore_text(const char *text, size_t len, void *user);
static void test_next_turn(const engine_model *m) {
    enum { PROMPT = 100, GEN = 40 };
    int32_t ids[PROMPT + 64];
    prompt_ids(ids, PROMPT + 64, 9);
    engine_gen_request r = {.prompt = ids,
                            .n_prompt = PROMPT,
                            .n_predict = GEN,
                            .sampling = engine_sampler_default_params(),
                            .emit = ignore_text,
                            .out_ids = ids + PROMPT,
                            .out_cap = GEN};
    r.sampling.temperature = 0.0f;
    char err[ENGINE_ERR_LEN];
    engine_gen_stats st;
    engine_ctx *c = seq_ctx(m, ENGINE_KV_F32, 0);
    CHECKF(c && engine_generate(m, c, &r, &st, err, sizeof err), "%s", err);
    CHECK(engine_n_past(c) == PROMPT + GEN - 1);
    keep_and_check(m, c, ids, PROMPT + 50, PROMPT + 1, PROMPT);
    engine_ctx_free(c);
}

static bool ignore_text(const char *text, size_t len, void *user) {
    (void)text, (void)len, (void)user;
    return true;
}

/* Greedy generation with prompt lookup drops rejected drafts again (engine_kv_keep a few
 * positions back): in the ring it gives the tokens plain greedy decoding gives in an unbounded
 * cache. */
static void test_lookup_generation(const engine_model *m) {
    enum { PATTERN = 40, REPEATS = 4, GEN = 60 };
    int32_t prompt[PATTERN * REPEATS], with[GEN], without[GEN];
    prompt_ids(prompt, PATTERN, 5);
    for (int i = PATTERN; i < PATTERN * REPEATS; i++) prompt[i] = prompt[i - PATTERN];
    engine_gen_request r = {.prompt = prompt,
                            .n_prompt = PATTERN * REPEATS,
                            .n_predict = GEN,
                            .sampling = engine_sampler_default_params(),
                            .emit = ignore_text,
                            .out_ids = with,
                            .out_cap = GEN,
                            .lookup_draft = 6};
    r.sampling.temperature = 0.0f;
    char err[ENGINE_ERR_LEN];
    engine_gen_stats st_with, st_without;
    engine_ctx *ring = seq_ctx(m, ENGINE_KV_F32, 0), *full = seq_ctx(m, ENGINE_KV_F32, N_CTX);
    bool ok = ring && engine_generate(m, ring, &r, &st_with, err, sizeof err);
    r.lookup_draft = 0;
    r.out_ids = without;
    ok = ok && full && engine_generate(m, full, &r, &st_without, err, sizeof err);
    CHECKF(ok, "generate: %s", err);
    CHECKF(ok && st_with.n_generated == GEN && st_without.n_generated == GEN &&
               !memcmp(with, without, sizeof with),
           "lookup in the ring: %d tokens, plain: %d", st_with.n_generated, st_without.n_generated);
    CHECKF(st_with.n_drafted > st_with.n_draft_accepted, "drafts %d, accepted %d",
           st_with.n_drafted, st_with.n_draft_accepted); /* some were dropped again */
    engine_ctx_free(ring);
    engine_ctx_free(full);
}

/* Two sequences interleaved in one paged context (8-row blocks, 8-token chunks), then decoded
 * together: every logit equals the unbounded one-sequence cache's, the sliding-window pool is
 * smaller than the other layers', a sequence at rest holds only its window's blocks, and all of
 * them come back. */
static void test_paged(const engine_model *m) {
    enum { B = 8, BLOCKS = 64, A_LEN = N_PROMPT, B_LEN = 150, STEPS = 8 };
    /* (2 * (16 + 8 - 3) + 8) / 8 + 2: batch.c's bound for 2 sequences */
    enum { POOL = 8 };
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = params(ENGINE_KV_F32);
    engine_paged_params pp = {.n_seq_max = 2, .n_blocks = BLOCKS, .block_size = B};
    engine_ctx *c = engine_ctx_new_paged(m, &cp, &pp, err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    if (!c) return;
    CHECK(c->core.kv_rows == BLOCKS * B && c->core.swa_rows == POOL * B);
    CHECK(batch_swa_blocks_free(c) == POOL);
    int32_t sa = engine_seq_new(c, err, sizeof err), sb = engine_seq_new(c, err, sizeof err);
    int32_t a[A_LEN + STEPS], b[B_LEN + STEPS];
    prompt_ids(a, A_LEN + STEPS, 21);
    prompt_ids(b, B_LEN + STEPS, 22);
    static engine_seq_token toks[A_LEN + B_LEN];
    static float got_a[(A_LEN + STEPS) * N_VOCAB], got_b[(B_LEN + STEPS) * N_VOCAB];
    int n = 0, ia = 0, ib = 0;
    while (ia < A_LEN || ib < B_LEN) { /* a, b, a, b, ... then the rest of a */
        if (ia < A_LEN) toks[n++] = (engine_seq_token){sa, a[ia++], true};
        if (ib < B_LEN) toks[n++] = (engine_seq_token){sb, b[ib++], true};
    }
    bool ok = engine_eval_seqs(c, toks, n, err, sizeof err);
    CHECKF(ok, "%s", err);
    for (int i = 0, ja = 0, jb = 0; ok && i < n; i++) {
        float *dst =
            toks[i].seq == sa ? got_a + (size_t)ja++ * N_VOCAB : got_b + (size_t)jb++ * N_VOCAB;
        memcpy(dst, engine_seq_logits(c, i), N_VOCAB * sizeof(float));
    }
    /* at rest each holds the blocks of its last 15 positions: a's 185..199 in 2 blocks, b's
     * 135..149 in 3 */
    CHECKF(batch_swa_blocks_free(c) == POOL - 5, "%d sliding-window blocks free",
           batch_swa_blocks_free(c));
    for (int s = 0; ok && s < STEPS; s++) { /* both decode a token per step */
        engine_seq_token two[2] = {{sa, a[A_LEN + s], true}, {sb, b[B_LEN + s], true}};
        ok = engine_eval_seqs(c, two, 2, err, sizeof err);
        CHECKF(ok, "%s", err);
        for (int i = 0; ok && i < 2; i++)
            memcpy(
                (i ? got_b + (size_t)(B_LEN + s) * N_VOCAB : got_a + (size_t)(A_LEN + s) * N_VOCAB),
                engine_seq_logits(c, i), N_VOCAB * sizeof(float));
    }
    static float want[(A_LEN + STEPS) * N_VOCAB];
    CHECK(ok && reference(m, ENGINE_KV_F32, a, A_LEN + STEPS, 0, want));
    float da = test_max_diff(got_a, want, (size_t)(A_LEN + STEPS) * N_VOCAB);
    CHECK(ok && reference(m, ENGINE_KV_F32, b, B_LEN + STEPS, 0, want));
    float db = test_max_diff(got_b, want, (size_t)(B_LEN + STEPS) * N_VOCAB);
    CHECKF(da <= 1e-4f && db <= 1e-4f, "paged vs unbounded: %g, %g", da, db);
    engine_seq_free(c, sa);
    engine_seq_free(c, sb);
    CHECK(batch_swa_blocks_free(c) == POOL && engine_kv_blocks_free(c) == BLOCKS);
    engine_ctx_free(c);
}

/* The second pool's size is a bound, never an estimate: three sequences of random lengths fed
 * in random interleavings (calls of up to 30 tokens, so chunks end anywhere in 4-row blocks),
 * freed and started again, never find it empty, and every block comes back. */
static void test_paged_pool_bound(const engine_model *m) {
    enum { B = 4, SEQS = 3, ROUNDS = 60 };
    enum { POOL = (SEQS * (WINDOW + B - 3) + N_BATCH) / B + SEQS }; /* batch.c's bound: 17 */
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = params(ENGINE_KV_F16);
    cp.n_threads = 1;
    engine_paged_params pp = {.n_seq_max = SEQS, .n_blocks = 200, .block_size = B};
    engine_ctx *c = engine_ctx_new_paged(m, &cp, &pp, err, sizeof err);
    CHECKF(c && c->core.swa_rows == POOL * B, "%s", c ? "pool size" : err);
    if (!c) return;
    int32_t seq[SEQS];
    for (int s = 0; s < SEQS; s++) seq[s] = engine_seq_new(c, err, sizeof err);
    unsigned r = 12345;
    bool ok = true;
    int least = POOL;
    for (int round = 0; ok && round < ROUNDS; round++) {
        engine_seq_token toks[30];
        int n = 0;
        for (int i = 0; i < 30; i++) {
            r = r * 1664525u + 1013904223u;
            int s = (int)(r >> 16) % SEQS;
            if ((r >> 8) % 4 && engine_seq_n_past(c, seq[s]) + 30 < 180)
                toks[n++] = (engine_seq_token){seq[s], (int32_t)((r >> 4) % 256), false};
        }
        if (n > 0) ok = engine_eval_seqs(c, toks, n, err, sizeof err);
        CHECKF(ok, "round %d: %s", round, err);
        least = batch_swa_blocks_free(c) < least ? batch_swa_blocks_free(c) : least;
        int s = (int)(r >> 20) % SEQS; /* now and then one ends and another starts */
        if (round % 7 == 6 || engine_seq_n_past(c, seq[s]) > 140) {
            engine_seq_free(c, seq[s]);
            seq[s] = engine_seq_new(c, err, sizeof err);
        }
    }
    CHECKF(least >= 0, "the sliding-window pool ran dry (%d)", least);
    for (int s = 0; s < SEQS; s++) engine_seq_free(c, seq[s]);
    CHECK(batch_swa_blocks_free(c) == POOL && engine_kv_blocks_free(c) == 200);
    engine_ctx_free(c);
}

/* What hearth info and the fit check report: the bounded size. */
static void test_reported_memory(const engine_model *m) {
    int32_t ring = WINDOW - 1 + 512; /* the default n_batch */
    CHECK(engine_kv_swa_rows(m, 4096) == ring && engine_kv_swa_rows(m, 300) == 300);
    uint64_t row = kv_row_bytes(m, ENGINE_KV_F16);
    CHECK(engine_kv_bytes(m, 4096, ENGINE_KV_F16) ==
          2 * row * (2 * 4096 + 2 * (uint64_t)(ring + WINDOW - 1)));
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = 4096;
    cp.n_threads = 1;
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    engine_ctx *full = ctx_seq_new(m, &cp, 4096, err, sizeof err);
    CHECK(c && full &&
          engine_ctx_memory(full) - engine_ctx_memory(c) ==
              2 * 2 * row * (4096 - ring - (WINDOW - 1)));
    engine_ctx_free(c);
    engine_ctx_free(full);
}

int main(void) {
    char dir[64], err[ENGINE_ERR_LEN];
    snprintf(dir, sizeof dir, "/tmp/hearth-swa-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    snprintf(path, sizeof path, "%s/tiny-gpt-oss.gguf", dir);
    engine_synth_params p = {.like = "tiny-gpt-oss", .type = "F32", .seed = 4};
    engine_model *m =
        engine_synth(&p, path, err, sizeof err) ? engine_model_load(path, err, sizeof err) : NULL;
    CHECKF(m != NULL, "%s", err);
    if (m) {
        const engine_model_info *in = engine_model_get_info(m);
        CHECK(in->n_swa == WINDOW && in->n_swa_layers == N_SWA_LAYERS);
        test_ring_equals_unbounded(m, ENGINE_KV_F32);
        test_ring_equals_unbounded(m, ENGINE_KV_F16);
        test_ring_one_row_short(m);
        test_prefix_reuse(m);
        test_lookup_generation(m);
        test_next_turn(m);
        test_paged(m);
        test_paged_pool_bound(m);
        test_reported_memory(m);
        engine_model_free(m);
    }
    unlink(path);
    rmdir(dir);
    return test_summary("test_gpt_oss_swa");
}
