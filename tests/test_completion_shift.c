/* Reusing cached K/V entries at other positions (engine_kv_move, completion/shift.c).
 * - The run plan: runs found in order, the last prompt token never in a run, short runs left out,
 *   repetitive text bounded.
 * - The engine: a moved key equals the key computed at the new position in the first layer (its
 *   key depends on the token alone), for F16, F32 and Q8_0 caches, moving right and left; values
 *   move as they are. With a one-layer model every entry is a function of its token, so a prompt
 *   rebuilt from moved runs gives the logits of evaluating it whole.
 * - completion_run after a new line and after a jump: the runs move (n_shifted), far fewer tokens
 *   are evaluated, and the suggestion is the one a fresh engine gives (one-layer model); a
 *   prefill at the same place then evaluates the moved entries again (n_refreshed).
 *
 * usage: test_completion_shift REFERENCE_VOCAB_DIR TMP_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "completion.h"
#include "context.h"
#include "engine.h"
#include "shift.h"
#include "test.h"
#include "completion_fixtures.h"

static const char *vocab_dir, *tmp_dir;

/* ---- the plan ---- */

static void fill(int32_t *t, int n, int32_t first) {
    for (int i = 0; i < n; i++) t[i] = first + i;
}

static void test_plan(void) {
    int32_t old[200], fresh[220];
    shift_run r[SHIFT_MAX_RUNS];
    /* A(40) B(100) C(5) -> A(40) X(7) B(100) D(3): B moves right by 7 */
    fill(old, 40, 0), fill(old + 40, 100, 1000), fill(old + 140, 5, 5000);
    fill(fresh, 40, 0), fill(fresh + 40, 7, 7000), fill(fresh + 47, 100, 1000),
        fill(fresh + 147, 3, 9000);
    int n = completion_shift_plan(old, 145, fresh, 150, 40, 32, r, SHIFT_MAX_RUNS);
    CHECKF(n == 1 && r[0].from == 40 && r[0].to == 47 && r[0].n == 100, "n %d from %d to %d n %d",
           n, n ? r[0].from : -1, n ? r[0].to : -1, n ? r[0].n : -1);
    /* the prompt's last token is never in a run: B ends the prompt */
    n = completion_shift_plan(old, 145, fresh, 147, 40, 32, r, SHIFT_MAX_RUNS);
    CHECKF(n == 1 && r[0].n == 99, "n %d len %d", n, n ? r[0].n : -1);
    /* shorter than min_run: nothing */
    CHECK(completion_shift_plan(old, 145, fresh, 150, 40, 101, r, SHIFT_MAX_RUNS) == 0);
    /* two runs swapped: only the first found (runs keep their order in both) */
    fill(old, 50, 100), fill(old + 50, 50, 200);
    fill(fresh, 50, 200), fill(fresh + 50, 50, 100), fresh[100] = 1;
    n = completion_shift_plan(old, 100, fresh, 101, 0, 32, r, SHIFT_MAX_RUNS);
    CHECKF(n == 1 && r[0].from == 50 && r[0].to == 0 && r[0].n == 50, "n %d", n);
    /* a left move: the head lost 20 tokens */
    fill(old, 200, 0), fill(fresh, 180, 20), fresh[180] = -5;
    n = completion_shift_plan(old, 200, fresh, 181, 0, 32, r, SHIFT_MAX_RUNS);
    CHECKF(n == 1 && r[0].from == 20 && r[0].to == 0 && r[0].n == 180, "n %d", n);
    /* text that repeats itself: found, and bounded */
    for (int i = 0; i < 200; i++) old[i] = 7;
    for (int i = 0; i < 220; i++) fresh[i] = 7;
    n = completion_shift_plan(old, 200, fresh, 220, 10, 32, r, SHIFT_MAX_RUNS);
    CHECKF(n == 1 && r[0].from == 10 && r[0].to == 10 && r[0].n == 190, "n %d len %d", n,
           n ? r[0].n : -1);
}

/* ---- the engine ---- */

static engine_ctx *context(const engine_model *m, engine_kv_type kv) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params p = engine_ctx_default_params();
    p.n_ctx = 512;
    p.n_threads = 2;
    p.kv_type = kv;
    engine_ctx *c = engine_ctx_new(m, &p, err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    return c;
}

static void eval(engine_ctx *c, const int32_t *ids, int n) {
    char err[ENGINE_ERR_LEN];
    CHECKF(engine_eval(c, ids, n, false, err, sizeof err), "%s", err);
}

/* Largest difference between rows [at, at+n) of one layer's K (or V) in a and b, relative to the
 * largest value. */
static double rows_diff(engine_ctx *a, engine_ctx *b, int layer, bool keys, int at, int n) {
    const ctx_core *ca = &a->core, *cb = &b->core;
    size_t kv = (size_t)ca->m->info.n_head_kv * ca->m->info.head_dim;
    size_t row = kv_bytes_of(ca->kv_type, kv);
    float *x = malloc(kv * sizeof *x), *y = malloc(kv * sizeof *y);
    double diff = 0, big = 0;
    for (int r = at; r < at + n; r++) {
        const uint8_t *ra = (keys ? ca->k : ca->v)[layer] + (size_t)r * row;
        const uint8_t *rb = (keys ? cb->k : cb->v)[layer] + (size_t)r * row;
        if (ca->kv_type == ENGINE_KV_F32)
            memcpy(x, ra, kv * 4), memcpy(y, rb, kv * 4);
        else if (ca->kv_type == ENGINE_KV_Q8_0)
            ca->attn_k->widen_q8_0(x, ra, (int)kv), ca->attn_k->widen_q8_0(y, rb, (int)kv);
        else
            ca->attn_k->widen_f16(x, ra, (int)kv), ca->attn_k->widen_f16(y, rb, (int)kv);
        for (size_t i = 0; i < kv; i++) {
            diff = fmax(diff, fabs((double)x[i] - y[i]));
            big = fmax(big, fabs((double)y[i]));
        }
    }
    free(x);
    free(y);
    return big > 0 ? diff / big : diff;
}

/* P(20) S(40) with S moved to 20+gap, against P X(gap) S evaluated whole (gap < 0: P Y S with Y
 * of -gap tokens, S moved left over Y, against P S). Layer 0 must agree. */
static void test_move_layer0(const engine_model *m, engine_kv_type kv, int gap) {
    int32_t ids[128];
    for (int i = 0; i < 128; i++) ids[i] = (int32_t)((i * 37 + 11) % 500);
    const int32_t *P = ids, *S = ids + 60, *X = ids + 100;
    int a = 20, s = 40, g = gap < 0 ? -gap : gap;
    engine_ctx *moved = context(m, kv), *whole = context(m, kv);
    char err[ENGINE_ERR_LEN];
    eval(moved, P, a);
    if (gap < 0) eval(moved, X, g);
    eval(moved, S, s);
    int from = gap < 0 ? a + g : a, to = gap < 0 ? a : a + g;
    CHECKF(engine_kv_move(moved, from, to, s, err, sizeof err), "%s", err);
    eval(whole, P, a);
    if (gap > 0) eval(whole, X, g);
    eval(whole, S, s);
    double tol = kv == ENGINE_KV_F32 ? 1e-5 : kv == ENGINE_KV_F16 ? 2e-3 : 2e-2;
    double dk = rows_diff(moved, whole, 0, true, to, s),
           dv = rows_diff(moved, whole, 0, false, to, s);
    CHECKF(dk < tol && dv < tol, "kv type %d gap %d: layer 0 keys differ by %g, values by %g", kv,
           gap, dk, dv);
    /* deeper layers saw other tokens before them: they are expected to differ */
    if (m->info.n_layer > 1 && gap > 0)
        CHECKF(rows_diff(moved, whole, 1, true, to, s) > tol, "layer 1 should differ (gap %d)",
               gap);
    /* ranges outside the cache are refused */
    CHECK(!engine_kv_move(moved, 0, 500, s, err, sizeof err) && strstr(err, "cannot move"));
    engine_ctx_free(moved);
    engine_ctx_free(whole);
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* One layer: P S T rebuilt after inserting X before S equals P X S T evaluated whole. */
static void test_rebuilt_logits(const engine_model *m) {
    int32_t ids[160];
    for (int i = 0; i < 160; i++) ids[i] = (int32_t)((i * 53 + 3) % 500);
    const int32_t *P = ids, *S = ids + 30, *X = ids + 100, *T = ids + 120;
    int a = 30, s = 60, g = 9, t = 5;
    engine_ctx *re = context(m, ENGINE_KV_F16), *whole = context(m, ENGINE_KV_F16);
    char err[ENGINE_ERR_LEN];
    eval(re, P, a);
    eval(re, S, s);
    CHECKF(engine_kv_move(re, a, a + g, s, err, sizeof err), "%s", err);
    engine_kv_keep(re, a);
    eval(re, X, g);
    engine_kv_extend(re, a + g + s);
    CHECK(engine_n_past(re) == a + g + s);
    eval(re, T, t);
    eval(whole, P, a);
    eval(whole, X, g);
    eval(whole, S, s);
    eval(whole, T, t);
    const float *lr = engine_logits(re, -1), *lw = engine_logits(whole, -1);
    int nv = m->info.n_vocab;
    double diff = 0, big = 0;
    for (int i = 0; i < nv; i++) {
        diff = fmax(diff, fabs((double)lr[i] - lw[i]));
        big = fmax(big, fabs((double)lw[i]));
    }
    CHECKF(diff < 1e-2 * big, "logits differ by %g (largest %g)", diff, big);
    CHECK(argmax(lr, nv) == argmax(lw, nv));
    engine_ctx_free(re);
    engine_ctx_free(whole);
}

/* ---- completion_run ---- */

static completion_engine *engine(engine_model *m, bool shift) {
    completion_params p;
    fixture_params(&p, 12);
    p.kv_shift = shift;
    return fixture_engine(m, &p);
}

/* The same request on an engine that moved runs and on a fresh one: same suggestion. */
static void same_as_fresh(engine_model *m, completion_engine *e, const char *text, size_t at,
                          const char *what, int max_evaluated) {
    completion_result got, fresh;
    if (!fixture_run(e, text, at, &got)) return;
    completion_engine *f = engine(m, false);
    if (fixture_run(f, text, at, &fresh)) {
        CHECKF(got.n_shifted > 0, "%s: nothing moved (reused %d of %d)", what, got.n_reused,
               got.n_prompt);
        CHECKF(got.n_evaluated <= max_evaluated, "%s: %d of %d evaluated", what, got.n_evaluated,
               got.n_prompt);
        CHECKF(!strcmp(got.text, fresh.text) && got.n_generated == fresh.n_generated,
               "%s: '%s' (%d tokens) vs fresh '%s' (%d)", what, got.text, got.n_generated,
               fresh.text, fresh.n_generated);
        completion_result_free(&fresh);
    }
    completion_result_free(&got);
    completion_free(f);
}

static void test_completion(engine_model *m) {
    char *text = fixture_numbered_file(120);
    completion_engine *e = engine(m, true);
    completion_result r;
    size_t at = fixture_line_start(text, 60) + 4; /* inside "    return ..." */
    if (fixture_run(e, text, at, &r)) completion_result_free(&r);
    /* a new line typed at the cursor's line end: the suffix moves right */
    size_t eol = (size_t)(strchr(text + at, '\n') - text), len = strlen(text);
    char *typed = malloc(len + 16);
    memcpy(typed, text, eol);
    memcpy(typed + eol, "\n    ", 5);
    memcpy(typed + eol + 5, text + eol, len - eol + 1);
    same_as_fresh(m, e, typed, eol + 5, "new line", 40);
    /* a jump 23 lines down: the head's start moves, the rest of it and the old suffix move left */
    same_as_fresh(m, e, typed, fixture_line_start(typed, 84) + 4, "jump", 260);
    /* a prefill at the same place adds nothing and evaluates the moved entries again */
    completion_request q = {0};
    size_t jat = fixture_line_start(typed, 84) + 4;
    q.prefix = typed, q.prefix_len = jat, q.suffix = typed + jat,
    q.suffix_len = strlen(typed) - jat;
    q.path = "steps.py";
    char err[256];
    CHECKF(completion_prefill(e, &q, &r, err, sizeof err), "%s", err);
    CHECKF(r.n_evaluated == 0 && r.n_refreshed > 100 && !r.stale, "evaluated %d refreshed %d",
           r.n_evaluated, r.n_refreshed);
    /* off: only the common prefix */
    completion_engine *off = engine(m, false);
    if (fixture_run(off, text, at, &r)) completion_result_free(&r);
    if (fixture_run(off, typed, eol + 5, &r)) {
        CHECK(r.n_shifted == 0 && r.n_evaluated > 100);
        completion_result_free(&r);
    }
    completion_free(off);
    completion_free(e);
    free(typed);
    free(text);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s REFERENCE_VOCAB_DIR TMP_DIR\n", argv[0]);
        return 2;
    }
    vocab_dir = argv[1];
    tmp_dir = argv[2];
    test_plan();
    engine_model *two = fixture_model(tmp_dir, vocab_dir, "shift-two-layers.gguf", NULL, 2, 7);
    if (two) {
        engine_kv_type types[] = {ENGINE_KV_F16, ENGINE_KV_F32, ENGINE_KV_Q8_0};
        for (int i = 0; i < 3; i++) {
            test_move_layer0(two, types[i], 9);
            test_move_layer0(two, types[i], -9);
        }
        engine_model_free(two);
    }
    engine_model *one = fixture_model(tmp_dir, vocab_dir, "shift-one-layer.gguf", NULL, 1, 7);
    if (one) {
        test_rebuilt_logits(one);
        engine_model_free(one);
    }
    engine_model *fim =
        fixture_model(tmp_dir, vocab_dir, "shift-fim.gguf", "qwen2.5-coder.gguf", 1, 7);
    if (fim) {
        test_completion(fim);
        engine_model_free(fim);
    }
    return test_summary("test_completion_shift");
}
