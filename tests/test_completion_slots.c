/* Stopping an evaluation between layers, and the completion engine's two KV caches.
 * - engine_ctx_set_stop: asked between layers; a stop leaves n_past at the last finished chunk,
 *   no logits, engine_eval_stopped true; evaluating again resumes the stopped pass and gives the
 *   logits of an evaluation that was never stopped. A stop that always says stop still finishes
 *   in n_layer calls; other tokens, or a sequence cut below the stop, resume nothing.
 * - The prompt budget (max_prompt_ms): a far jump gets shrunk windows in the quick cache; a
 *   prefill of the whole prompt cut short by the next keystroke leaves the small prompt there,
 *   so that keystroke evaluates a few tokens (with one cache the cut build had evicted it); a
 *   prefill left to finish builds the whole prompt beside it, and the next request takes the
 *   whole prompt again, with the suggestion a fresh engine without a budget gives.
 * - A new line's prefill cut short by the next request keeps the moved suffix held.
 * - The generation time cap (max_gen_ms): generation stops, and the suggestion is the part that
 *   was certain by then, a prefix of the uncapped one.
 *
 * usage: test_completion_slots REFERENCE_VOCAB_DIR TMP_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "completion.h"
#include "engine.h"
#include "test.h"
#include "completion_fixtures.h"

static const char *vocab_dir, *tmp_dir;

/* ---- engine_ctx_set_stop ---- */

typedef struct {
    int calls, stop_at; /* stop on this call (1-based); 0 = never */
} stopper;

static bool stop_after(void *user) {
    stopper *s = user;
    return ++s->calls == s->stop_at;
}

static engine_ctx *context(const engine_model *m) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params p = engine_ctx_default_params();
    p.n_ctx = 256;
    p.n_threads = 2;
    engine_ctx *c = engine_ctx_new(m, &p, err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    return c;
}

static bool cancel_after(void *user);

/* The last logits of a and b agree (up to the rounding of other batch splits). */
static void same_logits(const engine_model *m, engine_ctx *a_ctx, engine_ctx *b_ctx,
                        const char *what) {
    const float *a = engine_logits(a_ctx, -1), *b = engine_logits(b_ctx, -1);
    double diff = 0, big = 0;
    for (int i = 0; a && b && i < engine_model_get_info(m)->n_vocab; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        big = fmax(big, fabs((double)b[i]));
    }
    CHECKF(a && b && diff <= 1e-4 * big, "%s: logits differ by %g of %g", what, diff, big);
}

static void test_stop(const engine_model *m) {
    int n_layer = engine_model_get_info(m)->n_layer;
    int32_t ids[140];
    for (int i = 0; i < 140; i++) ids[i] = (int32_t)((i * 53 + 5) % 250);
    char err[ENGINE_ERR_LEN];
    engine_ctx *c = context(m), *whole = context(m);
    if (!c || !whole) goto out;
    CHECKF(engine_eval(c, ids, 100, false, err, sizeof err), "%s", err);
    /* never stopping: asked between every two layers */
    stopper never = {0, 0};
    engine_ctx_set_stop(c, stop_after, &never);
    CHECKF(engine_eval(c, ids + 100, 10, false, err, sizeof err), "%s", err);
    CHECKF(never.calls == n_layer - 1, "%d calls for %d layers", never.calls, n_layer);
    CHECK(!engine_eval_stopped(c) && engine_n_past(c) == 110);
    /* stopped before the last layer of the next 30 tokens */
    stopper two = {0, n_layer - 1};
    engine_ctx_set_stop(c, stop_after, &two);
    CHECK(!engine_eval(c, ids + 110, 30, false, err, sizeof err));
    CHECKF(engine_eval_stopped(c) && two.calls == n_layer - 1, "stopped %d calls %d",
           engine_eval_stopped(c), two.calls);
    CHECKF(engine_n_past(c) == 110, "n_past %d", engine_n_past(c));
    CHECK(engine_logits(c, -1) == NULL);
    /* again without a stop: the logits of the same chunks never stopped */
    engine_ctx_set_stop(c, NULL, NULL);
    CHECKF(engine_eval(c, ids + 110, 30, false, err, sizeof err), "%s", err);
    CHECK(!engine_eval_stopped(c));
    CHECKF(engine_eval(whole, ids, 100, false, err, sizeof err) &&
               engine_eval(whole, ids + 100, 10, false, err, sizeof err) &&
               engine_eval(whole, ids + 110, 30, false, err, sizeof err),
           "%s", err);
    CHECKF(engine_eval_resumed(c) == 30, "resumed %d of 30", engine_eval_resumed(c));
    same_logits(m, c, whole, "stopped, then resumed");
out:
    engine_ctx_free(c);
    engine_ctx_free(whole);
}

/* A context holding ids[0, 100) and then, with a stop that always says stop, ids[100, 100 + n)
 * evaluated again and again until done: every pass runs one layer more (the first: layer 0), so
 * it takes exactly n_layer calls. */
static engine_ctx *always_stopped(const engine_model *m, const int32_t *ids, int32_t n) {
    char err[ENGINE_ERR_LEN];
    engine_ctx *c = context(m);
    if (!c) return NULL;
    CHECKF(engine_eval(c, ids, 100, false, err, sizeof err), "%s", err);
    stopper always = {0, 1};
    engine_ctx_set_stop(c, cancel_after, &always);
    int calls = 0, n_layer = engine_model_get_info(m)->n_layer;
    while (calls < 2 * n_layer) {
        calls++;
        if (engine_eval(c, ids + 100, n, false, err, sizeof err)) break;
        CHECKF(engine_eval_stopped(c) && engine_n_past(c) == 100, "call %d: %s", calls, err);
    }
    engine_ctx_set_stop(c, NULL, NULL);
    CHECKF(calls == n_layer, "%d calls for %d layers", calls, n_layer);
    CHECKF(engine_n_past(c) == 100 + n, "n_past %d", engine_n_past(c));
    return c;
}

/* c cut back to 100 positions, then ids[0, n) evaluated there and stopped before layer 1. */
static void stopped_at_100(engine_ctx *c, const int32_t *ids, int32_t n) {
    char err[ENGINE_ERR_LEN];
    stopper first = {0, 1};
    engine_kv_keep(c, 100);
    engine_ctx_set_stop(c, stop_after, &first);
    CHECK(!engine_eval(c, ids, n, false, err, sizeof err) && engine_eval_stopped(c));
    engine_ctx_set_stop(c, NULL, NULL);
}

/* A stopped pass resumes for the same tokens at the same place (a longer or shorter run of them
 * too), and is forgotten when the tokens or the place differ. */
static void test_resume(const engine_model *m) {
    int32_t ids[140], other[40];
    for (int i = 0; i < 140; i++) ids[i] = (int32_t)((i * 53 + 5) % 250);
    for (int i = 0; i < 40; i++) other[i] = (int32_t)((i * 31 + 7) % 250);
    char err[ENGINE_ERR_LEN];
    engine_ctx *c = always_stopped(m, ids, 40), *whole = context(m);
    if (!c || !whole) goto out;
    CHECKF(engine_eval(whole, ids, 100, false, err, sizeof err) &&
               engine_eval(whole, ids + 100, 40, false, err, sizeof err),
           "%s", err);
    same_logits(m, c, whole, "stopped before every layer");
    /* stopped on 20 tokens, then 40 starting with them: 20 resume, 20 are new */
    stopped_at_100(c, ids + 100, 20);
    CHECKF(engine_eval(c, ids + 100, 40, false, err, sizeof err), "%s", err);
    CHECKF(engine_eval_resumed(c) == 20, "resumed %d of 20", engine_eval_resumed(c));
    same_logits(m, c, whole, "a longer run resumed");
    /* other tokens at the stopped place: nothing resumes */
    stopped_at_100(c, ids + 100, 40);
    CHECKF(engine_eval(c, other, 40, false, err, sizeof err), "%s", err);
    CHECKF(engine_eval_resumed(c) == 0, "resumed %d", engine_eval_resumed(c));
    engine_kv_keep(whole, 100);
    CHECKF(engine_eval(whole, other, 40, false, err, sizeof err), "%s", err);
    same_logits(m, c, whole, "other tokens");
    /* the same tokens after the sequence was cut below the stopped place: nothing resumes */
    stopped_at_100(c, ids + 100, 40);
    engine_kv_keep(c, 90);
    CHECKF(engine_eval(c, ids + 90, 50, false, err, sizeof err), "%s", err);
    CHECKF(engine_eval_resumed(c) == 0, "resumed %d", engine_eval_resumed(c));
    engine_kv_keep(whole, 100);
    CHECKF(engine_eval(whole, ids + 100, 40, false, err, sizeof err), "%s", err);
    same_logits(m, c, whole, "cut below the stop");
out:
    engine_ctx_free(c);
    engine_ctx_free(whole);
}

/* ---- the quick cache ---- */

/* text with s inserted at byte at (malloc'd) */
static char *typed(const char *text, size_t at, const char *s) {
    size_t len = strlen(text), n = strlen(s);
    char *t = malloc(len + n + 1);
    memcpy(t, text, at);
    memcpy(t + at, s, n);
    memcpy(t + at + n, text + at, len - at + 1);
    return t;
}

static completion_engine *engine(engine_model *m, int budget_ms) {
    completion_params p;
    fixture_params(&p, 8);
    p.max_prompt_ms = budget_ms;
    return fixture_engine(m, &p);
}

/* The settings of engine() with the budget and the speed it assumes (0: measured). */
static void set_budget(completion_engine *e, int budget_ms, double tokens_per_ms) {
    completion_params p;
    fixture_params(&p, 8);
    p.max_prompt_ms = budget_ms, p.assumed_tokens_per_ms = tokens_per_ms;
    completion_set_params(e, &p);
}

static bool cancel_after(void *user) {
    stopper *s = user;
    return ++s->calls >= s->stop_at;
}

static void test_quick(engine_model *m) {
    char *text = fixture_numbered_file(200), err[256];
    completion_engine *e = engine(m, 0);
    completion_result r;
    size_t top = fixture_line_start(text, 30) + 4, far = fixture_line_start(text, 170) + 4;
    if (!e || !fixture_run(e, text, top, &r)) goto out;
    completion_result_free(&r);
    /* 1 token a ms, 32 ms: a far jump lacks ~1000 tokens, a keystroke at a built place ~3 */
    set_budget(e, 32, 1);
    if (!fixture_run(e, text, far, &r)) goto out;
    CHECKF(r.shrink > 0, "far jump: shrink %d, %d of %d evaluated", r.shrink, r.n_evaluated,
           r.n_prompt);
    int small = r.n_prompt;
    completion_result_free(&r);
    /* a prefill at a pause, cut short by the next keystroke a few chunks into the whole prompt */
    completion_request q = fixture_request(text, far);
    stopper soon = {0, 6};
    q.cancelled = cancel_after, q.user = &soon;
    CHECKF(completion_prefill(e, &q, &r, err, sizeof err), "%s", err);
    CHECKF(r.cancelled && r.n_prompt > 2 * small, "cancelled %d, prompt %d (small %d)", r.cancelled,
           r.n_prompt, small);
    char *t1 = typed(text, far, "x"), *t2 = typed(t1, far + 1, "y");
    if (!fixture_run(e, t1, far + 1, &r)) goto out;
    CHECKF(r.shrink > 0 && !r.cached && r.n_evaluated <= 4,
           "after a cut prefill: shrink %d, %d of %d evaluated", r.shrink, r.n_evaluated,
           r.n_prompt);
    completion_result_free(&r);
    /* a prefill left to finish: the whole prompt, taken by the next request */
    q = fixture_request(t1, far + 1);
    CHECKF(completion_prefill(e, &q, &r, err, sizeof err), "%s", err);
    CHECK(!r.cancelled && r.n_prompt > 2 * small);
    completion_result got, fresh;
    if (!fixture_run(e, t2, far + 2, &got)) goto out;
    CHECKF(got.shrink == 0 && !got.cached && got.n_prompt > 2 * small && got.n_evaluated <= 4,
           "after the whole prefill: shrink %d, %d of %d evaluated", got.shrink, got.n_evaluated,
           got.n_prompt);
    completion_engine *f = engine(m, 0);
    if (f && fixture_run(f, t2, far + 2, &fresh)) {
        CHECKF(!strcmp(got.text, fresh.text), "'%s' vs fresh '%s'", got.text, fresh.text);
        completion_result_free(&fresh);
    }
    completion_free(f);
    completion_result_free(&got);
    free(t1);
    free(t2);
    /* a first prefill on a fresh engine, no speed measured yet: the smallest prompt first (it
     * measures the speed and serves a keystroke soon), then the whole one */
    completion_engine *g = engine(m, 32);
    q = fixture_request(text, far);
    if (g && completion_prefill(g, &q, &r, err, sizeof err)) {
        CHECKF(r.shrink == 4 && r.n_prompt > 2 * small && !r.cancelled,
               "first prefill: quick shrink %d, prompt %d", r.shrink, r.n_prompt);
        if (fixture_run(g, text, far, &r)) {
            CHECKF(r.shrink == 0 && r.n_evaluated <= 2, "then: shrink %d, %d evaluated", r.shrink,
                   r.n_evaluated);
            completion_result_free(&r);
        }
    }
    completion_free(g);
out:
    completion_free(e);
    free(text);
}

/* While the quick cache holds a prompt that is ready, a request takes the whole prompt only when
 * what it lacks takes at most 100 ms (keys come every 150-300 ms), not anywhere within the
 * budget; the suggestion cache keeps no suggestion of the quick cache, so the same place asked
 * again gets the whole prompt's. */
static void test_quick_ready(engine_model *m) {
    char *text = fixture_numbered_file(200), err[256];
    size_t top = fixture_line_start(text, 30) + 4, far = fixture_line_start(text, 170) + 4;
    char *t1 = typed(text, far, "x"), *t2 = typed(t1, far + 1, "y");
    completion_engine *e = engine(m, 0);
    completion_result r;
    if (!e || !fixture_run(e, text, top, &r)) goto out;
    completion_result_free(&r);
    set_budget(e, 32, 1);
    if (!fixture_run(e, text, far, &r)) goto out;
    CHECKF(r.shrink > 0, "far jump: shrink %d", r.shrink);
    completion_result_free(&r);
    completion_request q = fixture_request(text, far);
    stopper soon = {0, 6};
    q.cancelled = cancel_after, q.user = &soon;
    CHECKF(completion_prefill(e, &q, &r, err, sizeof err), "%s", err);
    int lacking = r.n_prompt - r.n_reused - r.n_evaluated; /* the quick prompt was built before */
    CHECKF(r.cancelled && lacking > 20, "cut prefill: %d of %d lacking", lacking, r.n_prompt);
    /* the whole prompt ready in ~300 ms, within a 1000 ms budget: the quick one answers */
    set_budget(e, 1000, lacking / 300.0);
    if (!fixture_run(e, t1, far + 1, &r)) goto out;
    CHECKF(r.shrink > 0 && r.n_evaluated <= 4, "300 ms: shrink %d, %d evaluated", r.shrink,
           r.n_evaluated);
    completion_result_free(&r);
    /* ready in ~30 ms: the whole one */
    set_budget(e, 1000, lacking / 30.0);
    if (!fixture_run(e, t2, far + 2, &r)) goto out;
    CHECKF(r.shrink == 0 && r.n_evaluated >= lacking, "30 ms: shrink %d, %d evaluated", r.shrink,
           r.n_evaluated);
    completion_result_free(&r);
    /* the place the quick cache answered, again: not from the suggestion cache */
    if (!fixture_run(e, t1, far + 1, &r)) goto out;
    CHECKF(!r.cached && r.shrink == 0, "again: cached %d, shrink %d", r.cached, r.shrink);
    completion_result_free(&r);
out:
    completion_free(e);
    free(text);
    free(t1);
    free(t2);
}

/* A new line's prefill cut short by the request right after it: the few new tokens before the
 * moved suffix are evaluated whole (not stopped between layers), so the suffix stays held and the
 * request does not evaluate it again. */
static void test_cut_newline(engine_model *m) {
    char *text = fixture_numbered_file(60), err[256];
    size_t at = fixture_line_start(text, 30) + 4, eol = (size_t)(strchr(text + at, '\n') - text);
    completion_engine *e = engine(m, 0);
    completion_result r;
    if (!e || !fixture_run(e, text, eol, &r)) goto out;
    completion_result_free(&r);
    char *typed_nl = typed(text, eol, "\n    ");
    completion_request q = fixture_request(typed_nl, eol + 5);
    stopper soon = {0, 2}; /* the check before the gap passes, the one inside it says stop */
    q.cancelled = cancel_after, q.user = &soon;
    CHECKF(completion_prefill(e, &q, &r, err, sizeof err), "%s", err);
    CHECKF(r.cancelled && r.n_shifted > 32, "cut prefill: cancelled %d, %d moved", r.cancelled,
           r.n_shifted);
    if (fixture_run(e, typed_nl, eol + 5, &r)) {
        CHECKF(r.n_evaluated <= 4, "the request after it: %d of %d evaluated", r.n_evaluated,
               r.n_prompt);
        completion_result_free(&r);
    }
    free(typed_nl);
out:
    completion_free(e);
    free(text);
}

/* ---- the generation time cap ---- */

static bool slow_piece(void *user) { /* each generated piece takes 5 ms longer */
    (void)user;
    struct timespec ms5 = {0, 5 * 1000 * 1000};
    nanosleep(&ms5, NULL);
    return false;
}

static void test_cap(engine_model *m) {
    char *text = fixture_numbered_file(40);
    size_t at = fixture_line_start(text, 20) + 4;
    completion_engine *free_run = engine(m, 0), *capped = engine(m, 0);
    completion_params p;
    fixture_params(&p, 24);
    p.max_gen_ms = 12;
    completion_result whole = {0}, cut = {0};
    if (!free_run || !capped) goto out;
    completion_set_params(capped, &p);
    p.max_gen_ms = 0;
    completion_set_params(free_run, &p);
    char err[256];
    completion_request r = fixture_request(text, at);
    r.cancelled = slow_piece;
    CHECKF(completion_run(free_run, &r, &whole, err, sizeof err), "%s", err);
    CHECKF(completion_run(capped, &r, &cut, err, sizeof err), "%s", err);
    if (!whole.text || !cut.text) goto out;
    /* 12 ms at 5+ ms a piece: a few pieces, what was certain of them, a prefix of the whole */
    CHECKF(!whole.capped && whole.n_generated > 8, "free run: %d tokens", whole.n_generated);
    CHECKF(cut.capped && cut.n_generated <= 4, "capped: %d tokens, capped %d", cut.n_generated,
           cut.capped);
    CHECKF(strlen(cut.text) < strlen(whole.text) &&
               !strncmp(cut.text, whole.text, strlen(cut.text)),
           "'%s' is not a shorter prefix of '%s'", cut.text, whole.text);
out:
    completion_result_free(&whole);
    completion_result_free(&cut);
    completion_free(free_run);
    completion_free(capped);
    free(text);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s REFERENCE_VOCAB_DIR TMP_DIR\n", argv[0]);
        return 2;
    }
    vocab_dir = argv[1];
    tmp_dir = argv[2];
    engine_model *plain = fixture_model(tmp_dir, vocab_dir, "slots-plain.gguf", NULL, 0, 11);
    if (plain) {
        test_stop(plain);
        test_resume(plain);
        engine_model_free(plain);
    }
    engine_model *fim =
        fixture_model(tmp_dir, vocab_dir, "slots-fim.gguf", "qwen2.5-coder.gguf", 2, 11);
    if (fim) {
        test_quick(fim);
        test_quick_ready(fim);
        test_cap(fim);
        test_cut_newline(fim);
        engine_model_free(fim);
    }
    return test_summary("test_completion_slots");
}
