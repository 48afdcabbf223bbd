/* The completion engine: one (borrowed) model + one KV cache, reused across requests by keeping the
 * longest common token prefix of the previous prompt and the new one. The prompt is evaluated in
 * chunks (a superseded request stops between them); generation is greedy and stops at
 * end-of-generation tokens, the token limit, the line limit or the caller's cancel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "completion.h"
#include "fim.h"
#include "shift.h"
#include "trim.h"

#define CHUNK_TOKENS 64 /* prompt tokens per forward pass between cancel checks */
#define MAX_SHRINK   4  /* halvings of the windows tried to meet max_prompt_ms */
/* Shortest run of prompt tokens moved within the KV cache rather than evaluated again: a moved
 * entry keeps what its token saw at its old place, so only long runs (whose tokens mostly see
 * each other) are worth it. */
#define SHIFT_MIN_RUN  32
#define REFRESH_TOKENS 16 /* stale entries re-evaluated per pass: a request waits at most this */
#define NO_STALE       INT64_MAX

struct completion_engine {
    completion_params p;
    engine_model *model;
    engine_ctx *ctx;
    fim_template fim;
    fim_prompt prompt;
    int32_t *cached; /* tokens whose KV entries are in ctx, in order */
    int64_t n_cached, cap_cached;
    /* Entries from here on were moved (kv_shift) or computed after moved ones: approximations
     * until completion_prefill re-evaluates them. NO_STALE: every entry is exact. */
    int64_t stale_from;
    double tokens_per_ms; /* measured prompt throughput (0 until measured) */
    completion_cache cache;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

void completion_params_init(completion_params *p) {
    memset(p, 0, sizeof *p);
    p->kv_reuse = true;
    p->kv_shift = true;
    p->line_in_middle = true;
    p->lookup_draft = 6;
}

static void apply_defaults(completion_params *p) {
    if (p->n_ctx <= 0) p->n_ctx = 4096;
    if (p->prefix_tokens <= 0) p->prefix_tokens = 1024;
    if (p->suffix_tokens <= 0) p->suffix_tokens = 256;
    if (p->context_tokens == 0) p->context_tokens = 512;
    if (p->context_tokens < 0) p->context_tokens = 0;
    if (p->max_tokens <= 0) p->max_tokens = 64;
    if (p->max_lines <= 0) p->max_lines = 8;
    if (p->lookup_draft < 0) p->lookup_draft = 0;
    if (p->max_prompt_ms < 0) p->max_prompt_ms = 0;
    /* Prompt + generation must fit the context: shrink the windows, never fail on settings. */
    int room = p->n_ctx - p->max_tokens - 16;
    if (room < 32) room = 32;
    if (p->context_tokens > room / 4) p->context_tokens = room / 4;
    room -= p->context_tokens;
    if (p->prefix_tokens + p->suffix_tokens > room) {
        p->suffix_tokens = room / 4;
        p->prefix_tokens = room - p->suffix_tokens;
    }
}

completion_engine *completion_new(engine_model *model, const completion_params *params, char *err,
                                  size_t errlen) {
    completion_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->p = *params;
    apply_defaults(&e->p);
    e->model = model; /* borrowed */
    e->stale_from = NO_STALE;
    if (!completion_fim_template_find(e->model, &e->fim, err, errlen)) {
        completion_free(e);
        return NULL;
    }
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = e->p.n_ctx;
    cp.n_threads = e->p.n_threads;
    e->ctx = engine_ctx_new(e->model, &cp, err, errlen);
    if (!e->ctx) {
        completion_free(e);
        return NULL;
    }
    return e;
}

void completion_set_params(completion_engine *e, const completion_params *p) {
    completion_params q = *p;
    q.n_threads = e->p.n_threads;
    q.n_ctx = e->p.n_ctx;
    apply_defaults(&q);
    e->p = q;
}

void completion_free(completion_engine *e) {
    if (!e) return;
    engine_ctx_free(e->ctx); /* the model is the caller's */
    free(e->prompt.ids);
    free(e->cached);
    completion_cache_free(&e->cache);
    free(e);
}

void completion_result_free(completion_result *r) {
    free(r->text);
    r->text = NULL;
}

/* Tokens at the start of the KV cache that the new prompt shares, leaving at least one prompt
 * token to evaluate (generation needs the logits of the last one). */
static int32_t reusable(const completion_engine *e, const int32_t *ids, int64_t n) {
    if (!e->p.kv_reuse) return 0;
    int64_t k = 0, lim = e->n_cached < n ? e->n_cached : n;
    while (k < lim && e->cached[k] == ids[k]) k++;
    if (k >= n) k = n - 1;
    if (k > engine_n_past(e->ctx)) k = engine_n_past(e->ctx);
    return (int32_t)k;
}

static bool remember(completion_engine *e, const int32_t *ids, int64_t n) {
    if (n > e->cap_cached) {
        int32_t *c = realloc(e->cached, (size_t)n * sizeof *c);
        if (!c) return false;
        e->cached = c;
        e->cap_cached = n;
    }
    if (n > 0) memcpy(e->cached, ids, (size_t)n * sizeof *ids); /* cached may still be NULL */
    e->n_cached = n;
    return true;
}

/* Positions whose tokens the cache holds (the prompt's: generated tokens lie beyond them). */
static int64_t held_tokens(const completion_engine *e) {
    return e->n_cached < engine_n_past(e->ctx) ? e->n_cached : engine_n_past(e->ctx);
}

/* Prompt tokens after keep that kv_shift would move into place rather than evaluate. */
static int64_t shiftable(const completion_engine *e, int32_t keep) {
    if (!e->p.kv_reuse || !e->p.kv_shift) return 0;
    shift_run runs[SHIFT_MAX_RUNS];
    int64_t held = held_tokens(e), n = 0;
    int k = completion_shift_plan(e->cached, held, e->prompt.ids, e->prompt.n, keep, SHIFT_MIN_RUN,
                                  runs, SHIFT_MAX_RUNS);
    for (int i = 0; i < k; i++) n += runs[i].n;
    return n;
}

/* Builds the prompt, halving the windows while the measured throughput says evaluating what the
 * cache lacks (neither kept nor moved) would overrun max_prompt_ms. Returns the reusable token
 * count. */
static bool build_prompt(completion_engine *e, const completion_request *r, bool fit, int32_t *keep,
                         int32_t *shrink, char *err, size_t errlen) {
    fim_input in = {r->prefix,     r->prefix_len, r->suffix,
                    r->suffix_len, r->path,       (const fim_chunk *)r->chunks,
                    r->n_chunks};
    for (int s = 0;; s++) {
        fim_budget b = {e->p.prefix_tokens >> s, e->p.suffix_tokens >> s, e->p.context_tokens >> s,
                        e->p.line_in_middle};
        if (!completion_fim_prompt_build(e->model, &e->fim, &b, &in, &e->prompt, err, errlen))
            return false;
        *keep = reusable(e, e->prompt.ids, e->prompt.n);
        *shrink = s;
        if (!fit || !e->p.max_prompt_ms || e->tokens_per_ms <= 0 || s == MAX_SHRINK) return true;
        double est = (double)(e->prompt.n - *keep - shiftable(e, *keep)) / e->tokens_per_ms;
        if (est <= e->p.max_prompt_ms) return true;
    }
}

bool completion_fim_supported(const engine_model *m, char *err, size_t errlen) {
    fim_template t;
    return completion_fim_template_find(m, &t, err, errlen);
}

bool completion_prompt_tokens(const engine_model *m, const completion_params *p,
                              const completion_request *r, int32_t **ids, int64_t *n_ids, char *err,
                              size_t errlen) {
    fim_template t;
    fim_input in = {r->prefix,     r->prefix_len, r->suffix,
                    r->suffix_len, r->path,       (const fim_chunk *)r->chunks,
                    r->n_chunks};
    fim_budget b = {p->prefix_tokens > 0 ? p->prefix_tokens : 1024,
                    p->suffix_tokens > 0 ? p->suffix_tokens : 256,
                    p->context_tokens == 0  ? 512
                    : p->context_tokens < 0 ? 0
                                            : p->context_tokens,
                    p->line_in_middle};
    fim_prompt out = {0};
    if (!completion_fim_template_find(m, &t, err, errlen) ||
        !completion_fim_prompt_build(m, &t, &b, &in, &out, err, errlen)) {
        free(out.ids);
        return false;
    }
    *ids = out.ids;
    *n_ids = out.n;
    return true;
}

static void measure(completion_engine *e, int64_t n, double ms) {
    if (n < 16 || ms <= 0) return; /* small batches say little about prefill speed */
    double rate = n / ms;
    e->tokens_per_ms = e->tokens_per_ms > 0 ? 0.7 * e->tokens_per_ms + 0.3 * rate : rate;
}

/* Evaluates prompt tokens [from, to) in chunks, checking for cancellation between them. */
static bool eval_chunks(completion_engine *e, const completion_request *r, int64_t from, int64_t to,
                        bool *cancelled, char *err, size_t errlen) {
    for (int64_t at = from; at < to; at += CHUNK_TOKENS) {
        if (r->cancelled && r->cancelled(r->user)) {
            *cancelled = true;
            return true;
        }
        int32_t n = (int32_t)(to - at < CHUNK_TOKENS ? to - at : CHUNK_TOKENS);
        double t0 = now_ms();
        if (!engine_eval(e->ctx, e->prompt.ids + at, n, false, err, errlen)) return false;
        measure(e, n, now_ms() - t0);
    }
    return true;
}

/* The runs of the prompt after keep that the cache holds at other positions, moved into place:
 * runs moving left in ascending order, then those moving right in descending order, so no move
 * overwrites a source still to be read. Returns how many are in place (0 when a move fails: the
 * gaps are then evaluated whole, which is always correct). */
static int place_runs(completion_engine *e, int32_t keep, shift_run *runs) {
    if (!e->p.kv_reuse || !e->p.kv_shift) return 0;
    int64_t held = held_tokens(e);
    int n = completion_shift_plan(e->cached, held, e->prompt.ids, e->prompt.n, keep, SHIFT_MIN_RUN,
                                  runs, SHIFT_MAX_RUNS);
    char err[ENGINE_ERR_LEN];
    for (int i = 0; i < n; i++)
        if (runs[i].to < runs[i].from &&
            !engine_kv_move(e->ctx, runs[i].from, runs[i].to, runs[i].n, err, sizeof err))
            return 0;
    for (int i = n - 1; i >= 0; i--)
        if (runs[i].to > runs[i].from &&
            !engine_kv_move(e->ctx, runs[i].from, runs[i].to, runs[i].n, err, sizeof err))
            return 0;
    return n;
}

/* Puts prompt tokens [0, end) into the cache: the first keep are there, placed runs move in and
 * the gaps between them are evaluated. *shifted counts the moved tokens now held. */
static bool fill_prompt(completion_engine *e, const completion_request *r, int32_t keep,
                        int64_t end, int32_t *shifted, bool *cancelled, char *err, size_t errlen) {
    shift_run runs[SHIFT_MAX_RUNS];
    int n_runs = place_runs(e, keep, runs);
    if (e->stale_from >= keep) e->stale_from = NO_STALE; /* all after keep is rebuilt */
    if (n_runs > 0 && runs[0].to < e->stale_from) e->stale_from = runs[0].to;
    engine_kv_keep(e->ctx, keep);
    *shifted = 0;
    int64_t at = keep;
    for (int i = 0; i <= n_runs; i++) {
        int64_t gap_end = i < n_runs ? runs[i].to : end;
        if (!eval_chunks(e, r, at, gap_end, cancelled, err, errlen)) return false;
        if (*cancelled || i == n_runs) break;
        engine_kv_extend(e->ctx, runs[i].to + runs[i].n);
        *shifted += runs[i].n;
        at = runs[i].to + runs[i].n;
    }
    return true;
}

typedef struct {
    const completion_request *req;
    trim_context trim;
    completion_syntax *syntax; /* the trim oracle (NULL without a grammar) */
    char *text;
    size_t len, cap;
    double first_ms; /* when the first piece arrived; 0 = none yet */
    bool cancelled, oom;
    trim_stream stream; /* what req->partial was handed */
} collector;

static trim_result trim_collected(collector *c, const char *text, bool final) {
    return completion_trim_syntax(&c->trim, completion_syntax_oracle(c->syntax), text, c->len,
                                  final);
}

/* Streaming: hands on the suggestion so far when its certain part grew. */
static void stream_partial(collector *c) {
    size_t n = completion_trim_stream(&c->stream, &c->trim, completion_syntax_oracle(c->syntax),
                                      c->text, c->len);
    if (n) c->req->partial(c->text, n, c->req->user);
}

/* Gathers generated text; asks to stop on cancel or once the suggestion's end is known. */
static bool collect(const char *text, size_t len, void *user) {
    collector *c = user;
    if (c->first_ms == 0) c->first_ms = now_ms();
    if (c->req->cancelled && c->req->cancelled(c->req->user)) {
        c->cancelled = true;
        return false;
    }
    if (c->len + len + 1 > c->cap) {
        size_t cap = (c->len + len + 1) * 2;
        char *t = realloc(c->text, cap);
        if (!t) {
            c->oom = true;
            return false;
        }
        c->text = t;
        c->cap = cap;
    }
    memcpy(c->text + c->len, text, len);
    c->len += len;
    c->text[c->len] = '\0';
    bool done = trim_collected(c, c->text, false).done;
    if (!done && c->req->partial) stream_partial(c);
    return !done;
}

static void init_collector(collector *c, const completion_request *r, int max_lines) {
    memset(c, 0, sizeof *c);
    c->req = r;
    size_t ls = r->prefix_len;
    while (ls > 0 && r->prefix[ls - 1] != '\n') ls--;
    c->syntax =
        completion_syntax_new(r->language_id, r->prefix, r->prefix_len, r->suffix, r->suffix_len);
    c->trim =
        (trim_context){r->prefix + ls, r->prefix_len - ls, r->suffix, r->suffix_len, max_lines};
}

/* The context's keys: the suffix side (suffix window, cross-file chunks) and the whole context
 * (with the prefix window and the settings that change suggestions). Windows are hashed with
 * room to spare over what the prompt takes from them. */
static void context_keys(const completion_engine *e, const completion_request *r,
                         uint64_t *suffix_key, uint64_t *key) {
    size_t sn = (size_t)e->p.suffix_tokens * 8, pn = (size_t)e->p.prefix_tokens * 8;
    if (sn > r->suffix_len) sn = r->suffix_len;
    if (pn > r->prefix_len) pn = r->prefix_len;
    uint64_t h = completion_cache_hash(cache_hash_init, r->suffix, sn);
    for (int i = 0; i < r->n_chunks; i++) {
        h = completion_cache_hash(h, r->chunks[i].text, r->chunks[i].len);
        if (r->chunks[i].path)
            h = completion_cache_hash(h, r->chunks[i].path, strlen(r->chunks[i].path));
    }
    *suffix_key = h;
    int settings[] = {e->p.max_tokens,    e->p.max_lines,     e->p.line_in_middle,
                      e->p.prefix_tokens, e->p.suffix_tokens, e->p.context_tokens};
    h = completion_cache_hash(h, settings, sizeof settings);
    *key = completion_cache_hash(h, r->prefix + r->prefix_len - pn, pn);
}

/* A suggestion without a model call: type-through of the one shown, or the cache. */
static bool serve_cached(completion_engine *e, const completion_request *r, uint64_t suffix_key,
                         uint64_t key, completion_result *out, double t0) {
    char *text = completion_cache_type_through(&e->cache, r->prefix, r->prefix_len, suffix_key);
    if (text && !text[0]) {
        free(text);
        text = NULL;
    }
    if (!text) {
        const char *hit = completion_cache_get(&e->cache, key);
        if (!hit || !(text = strdup(hit))) return false;
    }
    out->text = text;
    out->cached = true;
    out->first_token_ms = out->total_ms = now_ms() - t0;
    completion_cache_shown(&e->cache, r->prefix, r->prefix_len, suffix_key, text);
    return true;
}

bool completion_run(completion_engine *e, const completion_request *r, completion_result *out,
                    char *err, size_t errlen) {
    double t0 = now_ms();
    memset(out, 0, sizeof *out);
    uint64_t suffix_key, key;
    context_keys(e, r, &suffix_key, &key);
    if (e->p.kv_reuse && serve_cached(e, r, suffix_key, key, out, t0)) return true;
    int32_t keep = 0, shrink = 0;
    if (!build_prompt(e, r, true, &keep, &shrink, err, errlen)) return false;
    const int32_t *ids = e->prompt.ids;
    int64_t n = e->prompt.n;
    collector c;
    init_collector(&c, r, e->p.max_lines);
    int32_t shifted = 0;
    bool ok = fill_prompt(e, r, keep, n - 1, &shifted, &c.cancelled, err, errlen);
    double t_chunks = now_ms();
    engine_gen_stats st = {0};
    if (ok && !c.cancelled) {
        engine_gen_request g = {
            .prompt = ids + n - 1, /* the last token's logits start generation */
            .n_prompt = 1,
            .n_predict = e->p.max_tokens,
            .sampling = engine_sampler_default_params(),
            .emit = collect,
            .user = &c,
            .lookup_draft = e->p.lookup_draft,
            .lookup_source = ids, /* in the cache already: lookup may copy from all of it */
            .n_lookup_source = n - 1,
        };
        g.sampling.temperature = 0; /* greedy: the same context gives the same suggestion */
        g.sampling.repeat_penalty = 1;
        ok = engine_generate(e->model, e->ctx, &g, &st, err, errlen);
    }
    /* What the cache now holds of this prompt (all of it unless evaluation stopped early). */
    int64_t held = engine_n_past(e->ctx) < n ? engine_n_past(e->ctx) : n;
    if (!remember(e, ids, held)) e->n_cached = 0;
    if (ok && c.oom) ok = (snprintf(err, errlen, "out of memory"), false);
    if (!ok) {
        completion_syntax_free(c.syntax);
        free(c.text);
        return false;
    }
    out->text = c.text ? c.text : calloc(1, 1);
    if (out->text && c.cancelled)
        out->text[0] = '\0';
    else if (out->text)
        out->text[trim_collected(&c, out->text, true).keep] = '\0';
    completion_syntax_free(c.syntax);
    double t_end = now_ms();
    out->n_prompt = (int32_t)n;
    out->n_reused = keep + shifted;
    out->n_shifted = shifted;
    out->n_evaluated = (int32_t)(held - keep - shifted);
    out->stale = e->stale_from < e->n_cached;
    out->n_generated = st.n_generated;
    out->n_drafted = st.n_drafted;
    out->n_draft_accepted = st.n_draft_accepted;
    out->prompt_ms = t_chunks - t0 + st.prompt_s * 1e3;
    out->gen_ms = st.gen_s * 1e3;
    out->first_token_ms = (c.first_ms > 0 ? c.first_ms : t_end) - t0;
    out->total_ms = t_end - t0;
    out->n_chunks = e->prompt.n_chunks;
    out->shrink = shrink;
    out->cancelled = c.cancelled;
    if (out->text && !c.cancelled) {
        completion_cache_put(&e->cache, key, out->text);
        completion_cache_shown(&e->cache, r->prefix, r->prefix_len, suffix_key, out->text);
    }
    return out->text != NULL;
}

/* Re-evaluates the stale entries in place, oldest first, REFRESH_TOKENS at a time: each pass
 * overwrites its rows and keeps the ones after it, so a cancel between passes leaves a cache as
 * complete as before, only less of it approximate. */
static bool refresh_stale(completion_engine *e, const completion_request *r, int32_t *refreshed,
                          bool *cancelled, char *err, size_t errlen) {
    int64_t held = held_tokens(e);
    while (e->stale_from < held) {
        if (r->cancelled && r->cancelled(r->user)) {
            *cancelled = true;
            return true;
        }
        int64_t at = e->stale_from, n = held - at < REFRESH_TOKENS ? held - at : REFRESH_TOKENS;
        engine_kv_keep(e->ctx, (int32_t)at);
        if (!engine_eval(e->ctx, e->cached + at, (int32_t)n, false, err, errlen)) {
            e->n_cached = at; /* what the failed pass wrote is unknown */
            e->stale_from = NO_STALE;
            return false;
        }
        engine_kv_extend(e->ctx, (int32_t)held);
        e->stale_from = at + n;
        *refreshed += (int32_t)n;
    }
    e->stale_from = NO_STALE;
    return true;
}

/* Work ahead of the request: the prompt completion_run would build for r goes into the KV cache
 * (all but its last token, which the request evaluates for its logits), nothing is generated.
 * The windows shrink for max_prompt_ms as a request's would (a prefill just ahead of a request
 * builds what the request will); with max_prompt_ms 0 the whole prompt is built, after which a
 * request has nothing to shrink for. A cancelled prefill leaves
 * what it evaluated remembered, so the request keeps that common prefix like any other. */
bool completion_prefill(completion_engine *e, const completion_request *r, completion_result *out,
                        char *err, size_t errlen) {
    double t0 = now_ms();
    memset(out, 0, sizeof *out);
    if (!e->p.kv_reuse) return true; /* the request would evaluate everything anyway */
    int32_t keep = 0, shrink = 0;
    if (!build_prompt(e, r, true, &keep, &shrink, err, errlen)) return false;
    int64_t n = e->prompt.n;
    int32_t shifted = 0;
    bool ok = fill_prompt(e, r, keep, n - 1, &shifted, &out->cancelled, err, errlen);
    int64_t held = engine_n_past(e->ctx) < n ? engine_n_past(e->ctx) : n;
    if (!remember(e, e->prompt.ids, held)) e->n_cached = 0;
    if (ok && !out->cancelled)
        ok = refresh_stale(e, r, &out->n_refreshed, &out->cancelled, err, errlen);
    out->stale = e->stale_from < e->n_cached;
    out->n_prompt = (int32_t)n;
    out->n_reused = keep + shifted;
    out->n_shifted = shifted;
    out->n_evaluated = (int32_t)(held - keep - shifted);
    out->n_chunks = e->prompt.n_chunks;
    out->shrink = shrink;
    out->prompt_ms = out->total_ms = now_ms() - t0;
    return ok;
}
