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
#include "slot.h"
#include "trim.h"

#define MAX_SHRINK 4 /* halvings of the windows tried to meet max_prompt_ms */
/* With a budget, a request leaves a quick-cache prompt that is ready for the whole prompt only
 * when what the whole one lacks takes at most this long: keys come every 150-300 ms, and a
 * request that spends longer catching the whole prompt up shows nothing before the next key
 * (the whole prompt catches up at pauses instead, see completion_prefill). */
#define WHOLE_STEP_MS 100

/* The two KV slots. The whole slot holds whole prompts; the quick one, made when a prompt
 * budget first needs it, holds prompts on windows shrunk to meet it, so a request that cannot
 * wait for the whole prompt (a jump, a file just opened) gets a suggestion from a small one
 * while the whole one is built at pauses without evicting the small one. */
enum { SLOT_WHOLE, SLOT_QUICK, N_SLOTS };

struct completion_engine {
    completion_params p;
    engine_model *model;
    completion_slot slot[N_SLOTS];
    int quick_n_ctx;  /* positions of the quick slot */
    int quick_shrink; /* the halvings of the prompt the quick slot holds (0: none yet) */
    fim_template fim;
    fim_prompt prompt;
    double tokens_per_ms; /* measured prompt throughput (0 until measured) */
    bool speed_pinned;    /* assumed_tokens_per_ms: tokens_per_ms is not measured */
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
    p->lookup_draft = COMPLETION_LOOKUP_DRAFT;
    p->max_prompt_ms = COMPLETION_MAX_PROMPT_MS;
    p->max_gen_ms = COMPLETION_MAX_GEN_MS;
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
    if (p->max_gen_ms < 0) p->max_gen_ms = 0;
    if (!(p->assumed_tokens_per_ms > 0)) p->assumed_tokens_per_ms = 0; /* NaN and negatives too */
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

static void pin_speed(completion_engine *e) {
    bool pin = e->p.assumed_tokens_per_ms > 0;
    if (pin)
        e->tokens_per_ms = e->p.assumed_tokens_per_ms;
    else if (e->speed_pinned)
        e->tokens_per_ms = 0; /* measured again from now on */
    e->speed_pinned = pin;
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
    pin_speed(e);
    /* Shrunk windows take at most half the whole ones; generation needs room after them. */
    e->quick_n_ctx = e->p.n_ctx / 2 + 128 < e->p.n_ctx ? e->p.n_ctx / 2 + 128 : e->p.n_ctx;
    if (!completion_fim_template_find(e->model, &e->fim, err, errlen) ||
        !completion_slot_init(&e->slot[SLOT_WHOLE], model, e->p.n_ctx, e->p.n_threads, err,
                              errlen)) {
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
    pin_speed(e);
}

void completion_free(completion_engine *e) {
    if (!e) return;
    for (int i = 0; i < N_SLOTS; i++) completion_slot_free(&e->slot[i]); /* the model stays */
    free(e->prompt.ids);
    completion_cache_free(&e->cache);
    free(e);
}

void completion_result_free(completion_result *r) {
    free(r->text);
    r->text = NULL;
}

static int32_t reusable(const completion_engine *e, const completion_slot *s) {
    if (!e->p.kv_reuse || !s->ctx) return 0;
    return completion_slot_reusable(s, e->prompt.ids, e->prompt.n);
}

/* Prompt tokens a fill of s would neither keep nor move: what it must evaluate. */
static int64_t lacking(const completion_engine *e, const completion_slot *s, int32_t keep) {
    int64_t n = e->prompt.n - keep;
    if (e->p.kv_reuse && e->p.kv_shift && s->ctx)
        n -= completion_slot_movable(s, e->prompt.ids, e->prompt.n, keep);
    return n;
}

/* The quick slot, made on first use; NULL (the whole slot then serves) when it cannot be. */
static completion_slot *quick_slot(completion_engine *e) {
    completion_slot *q = &e->slot[SLOT_QUICK];
    char err[ENGINE_ERR_LEN];
    if (!q->ctx &&
        !completion_slot_init(q, e->model, e->quick_n_ctx, e->p.n_threads, err, sizeof err))
        return NULL;
    return q;
}

typedef struct {
    completion_slot *slot; /* where the prompt goes */
    int32_t keep;          /* its tokens the slot holds already */
    int32_t shrink;        /* windows halved this many times */
} prompt_plan;

static bool build_at(completion_engine *e, const completion_request *r, int shrink, char *err,
                     size_t errlen) {
    fim_input in = {r->prefix,     r->prefix_len, r->suffix,
                    r->suffix_len, r->path,       (const fim_chunk *)r->chunks,
                    r->n_chunks};
    fim_budget b = {e->p.prefix_tokens >> shrink, e->p.suffix_tokens >> shrink,
                    e->p.context_tokens >> shrink, e->p.line_in_middle};
    return completion_fim_prompt_build(e->model, &e->fim, &b, &in, &e->prompt, err, errlen);
}

typedef enum {
    FIT_NONE,    /* the whole prompt */
    FIT_REQUEST, /* within the budget at the measured speed (none measured yet: whole) */
    FIT_PREFILL, /* the same; none measured yet: the smallest, which measures it */
} fit_mode;

/* Builds the prompt on windows halved s times and plans it into its slot (s > 0: the quick one,
 * or the whole one when the quick one cannot be made). */
static bool plan_at(completion_engine *e, const completion_request *r, int s, prompt_plan *plan,
                    char *err, size_t errlen) {
    if (!build_at(e, r, s, err, errlen)) return false;
    completion_slot *q = s > 0 ? quick_slot(e) : NULL;
    plan->slot = q ? q : &e->slot[SLOT_WHOLE];
    plan->keep = reusable(e, plan->slot);
    plan->shrink = s;
    return true;
}

/* Whether the planned prompt can be ready within ms (and leaves room to generate). */
static bool plan_fits(const completion_engine *e, const prompt_plan *plan, double ms) {
    if (plan->slot == &e->slot[SLOT_QUICK] && e->prompt.n + e->p.max_tokens + 1 > e->quick_n_ctx)
        return false;
    return (double)lacking(e, plan->slot, plan->keep) / e->tokens_per_ms <= ms;
}

/* What a request with a budget does with the whole prompt (planned in plan, but for WHOLE_NOT). */
typedef enum {
    WHOLE_FAILED, /* building a prompt failed (err says why) */
    WHOLE_TAKEN,  /* ready within WHOLE_STEP_MS, or within the budget with no quick prompt ready */
    WHOLE_NOT,    /* not ready within the budget */
    QUICK_READY,  /* within the budget, but the quick slot's prompt is ready now: that one */
} whole_choice;

static whole_choice choose_whole(completion_engine *e, const completion_request *r,
                                 prompt_plan *plan, char *err, size_t errlen) {
    if (!plan_at(e, r, 0, plan, err, errlen)) return WHOLE_FAILED;
    if (plan_fits(e, plan, WHOLE_STEP_MS)) return WHOLE_TAKEN;
    if (!plan_fits(e, plan, e->p.max_prompt_ms)) return WHOLE_NOT;
    if (e->quick_shrink == 0) return WHOLE_TAKEN;
    prompt_plan quick;
    if (!plan_at(e, r, e->quick_shrink, &quick, err, errlen)) return WHOLE_FAILED;
    if (plan_fits(e, &quick, WHOLE_STEP_MS)) {
        *plan = quick; /* the whole prompt catches up at a pause */
        return QUICK_READY;
    }
    return plan_at(e, r, 0, plan, err, errlen) ? WHOLE_TAKEN : WHOLE_FAILED; /* rebuilt */
}

/* Builds the prompt and picks its slot. With a budget (max_prompt_ms) and a measured speed: the
 * whole prompt in the whole slot when what that slot lacks can be evaluated within the budget
 * (within WHOLE_STEP_MS when the quick slot holds a prompt that is ready); else the quick slot
 * at the level it holds when that still fits — so the small prompt does not flip between sizes
 * as the speed estimate moves, the whole slot being the way up — else the windows halve until
 * what the quick slot lacks fits (or MAX_SHRINK). With FIT_NONE or no budget: the whole prompt
 * in the whole slot. */
static bool build_prompt(completion_engine *e, const completion_request *r, fit_mode fit,
                         prompt_plan *plan, char *err, size_t errlen) {
    bool budget = fit != FIT_NONE && e->p.max_prompt_ms && e->p.kv_reuse;
    if (budget && e->tokens_per_ms <= 0) /* nothing measured: a prefill measures on the least */
        return plan_at(e, r, fit == FIT_PREFILL ? MAX_SHRINK : 0, plan, err, errlen);
    if (!budget) return plan_at(e, r, 0, plan, err, errlen);
    whole_choice whole = choose_whole(e, r, plan, err, errlen);
    if (whole != WHOLE_NOT) return whole != WHOLE_FAILED;
    int held = e->quick_shrink;
    if (held > 0) {
        if (!plan_at(e, r, held, plan, err, errlen)) return false;
        if (plan_fits(e, plan, e->p.max_prompt_ms)) return true;
    }
    for (int s = 1; s <= MAX_SHRINK; s++) {
        if (s == held && s < MAX_SHRINK) continue; /* just tried */
        if (!plan_at(e, r, s, plan, err, errlen)) return false;
        if (s == MAX_SHRINK || plan_fits(e, plan, e->p.max_prompt_ms)) return true;
    }
    return true;
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

/* Puts the built prompt's tokens [0, end) into plan's slot (remember_held then records them). */
static bool fill_plan(completion_engine *e, const completion_request *r, const prompt_plan *plan,
                      int64_t end, int32_t *shifted, bool *cancelled, char *err, size_t errlen) {
    slot_fill_how how = {r->cancelled, r->user, e->p.kv_reuse && e->p.kv_shift,
                         e->speed_pinned ? NULL : &e->tokens_per_ms};
    if (plan->slot == &e->slot[SLOT_QUICK]) e->quick_shrink = plan->shrink;
    return completion_slot_fill(plan->slot, e->prompt.ids, e->prompt.n, plan->keep, end, &how,
                                shifted, cancelled, err, errlen);
}

/* Remembers the prompt tokens the slot's cache holds (all unless evaluation stopped early). */
static int64_t remember_held(completion_engine *e, completion_slot *s) {
    int64_t n = e->prompt.n, past = engine_n_past(s->ctx), held = past < n ? past : n;
    completion_slot_remember(s, e->prompt.ids, held);
    return held;
}

typedef struct {
    const completion_request *req;
    trim_context trim;
    completion_syntax *syntax; /* the trim oracle (NULL without a grammar) */
    char *text;
    size_t len, cap;
    double first_ms; /* when the first piece arrived; 0 = none yet */
    double deadline; /* max_gen_ms: generation stops at this time; 0 = none */
    bool cancelled, oom, capped;
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
    if (!done && c->deadline > 0 && now_ms() >= c->deadline) c->capped = done = true;
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
    prompt_plan plan;
    if (!build_prompt(e, r, FIT_REQUEST, &plan, err, errlen)) return false;
    const int32_t *ids = e->prompt.ids;
    int64_t n = e->prompt.n;
    /* A suggestion from the quick slot's small prompt is one line, generated for at most the
     * budget: it shows now, and the time after it goes to the whole prompt (completion_prefill),
     * whose suggestions are worth more than the rest of a block guessed on little context. */
    bool quick = plan.slot == &e->slot[SLOT_QUICK];
    int gen_ms = e->p.max_gen_ms;
    if (quick && (gen_ms == 0 || gen_ms > e->p.max_prompt_ms)) gen_ms = e->p.max_prompt_ms;
    collector c;
    init_collector(&c, r, quick ? 1 : e->p.max_lines);
    int32_t shifted = 0;
    bool ok = fill_plan(e, r, &plan, n - 1, &shifted, &c.cancelled, err, errlen);
    double t_chunks = now_ms();
    engine_gen_stats st = {0};
    if (ok && !c.cancelled) {
        if (gen_ms > 0) c.deadline = now_ms() + gen_ms;
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
        ok = engine_generate(e->model, plan.slot->ctx, &g, &st, err, errlen);
    }
    int64_t held = remember_held(e, plan.slot);
    if (ok && c.oom) ok = (snprintf(err, errlen, "out of memory"), false);
    if (!ok) {
        completion_syntax_free(c.syntax);
        free(c.text);
        return false;
    }
    out->text = c.text ? c.text : calloc(1, 1);
    if (out->text && c.cancelled)
        out->text[0] = '\0';
    else if (out->text && c.capped) /* what was certain when time ran out */
        out->text[completion_trim_stable(&c.trim, completion_syntax_oracle(c.syntax),
                                         &c.stream.stable, out->text, c.len)] = '\0';
    else if (out->text)
        out->text[trim_collected(&c, out->text, true).keep] = '\0';
    completion_syntax_free(c.syntax);
    double t_end = now_ms();
    out->n_prompt = (int32_t)n;
    out->n_reused = plan.keep + shifted;
    out->n_shifted = shifted;
    out->n_evaluated = (int32_t)(held - plan.keep - shifted);
    out->stale = completion_slot_stale(plan.slot);
    out->n_generated = st.n_generated;
    out->n_drafted = st.n_drafted;
    out->n_draft_accepted = st.n_draft_accepted;
    out->prompt_ms = t_chunks - t0 + st.prompt_s * 1e3;
    out->gen_ms = st.gen_s * 1e3;
    out->first_token_ms = (c.first_ms > 0 ? c.first_ms : t_end) - t0;
    out->total_ms = t_end - t0;
    out->n_chunks = e->prompt.n_chunks;
    out->shrink = plan.shrink;
    out->cancelled = c.cancelled;
    out->capped = c.capped;
    if (out->text && !c.cancelled) {
        if (!quick) completion_cache_put(&e->cache, key, out->text); /* asked again: the whole */
        completion_cache_shown(&e->cache, r->prefix, r->prefix_len, suffix_key, out->text);
    }
    return out->text != NULL;
}

/* Fills plan's slot with the built prompt (all but its last token) and refreshes what it holds
 * stale, adding to out's figures. */
static bool prefill_slot(completion_engine *e, const completion_request *r, const prompt_plan *plan,
                         completion_result *out, char *err, size_t errlen) {
    int32_t shifted = 0;
    bool ok = fill_plan(e, r, plan, e->prompt.n - 1, &shifted, &out->cancelled, err, errlen);
    int64_t held = remember_held(e, plan->slot);
    slot_fill_how how = {r->cancelled, r->user, false, e->speed_pinned ? NULL : &e->tokens_per_ms};
    if (ok && !out->cancelled)
        ok = completion_slot_refresh(plan->slot, &how, &out->n_refreshed, &out->cancelled, err,
                                     errlen);
    out->n_prompt = (int32_t)e->prompt.n;
    out->n_reused = plan->keep + shifted;
    out->n_shifted = shifted;
    out->n_evaluated += (int32_t)(held - plan->keep - shifted);
    out->n_chunks = e->prompt.n_chunks;
    out->stale = completion_slot_stale(plan->slot);
    return ok;
}

/* Work ahead of the request: the prompt completion_run would build for r goes into the KV cache
 * (all but its last token, which the request evaluates for its logits), nothing is generated.
 * When a request now would take the quick slot (the whole prompt cannot be ready within the
 * budget), that small prompt is built first, so a keystroke soon gets a suggestion; then the
 * whole prompt goes into the whole slot, which later requests take once it holds enough. A
 * cancelled prefill leaves what it evaluated remembered, so the request keeps that common prefix
 * like any other. The figures in out are the last slot's (n_evaluated: both). */
bool completion_prefill(completion_engine *e, const completion_request *r, completion_result *out,
                        char *err, size_t errlen) {
    double t0 = now_ms();
    memset(out, 0, sizeof *out);
    if (!e->p.kv_reuse) return true; /* the request would evaluate everything anyway */
    prompt_plan plan;
    if (!build_prompt(e, r, FIT_PREFILL, &plan, err, errlen)) return false;
    bool ok = true;
    if (plan.slot == &e->slot[SLOT_QUICK]) {
        ok = prefill_slot(e, r, &plan, out, err, errlen);
        out->shrink = plan.shrink;
        if (ok && !out->cancelled) ok = build_prompt(e, r, FIT_NONE, &plan, err, errlen);
    }
    if (ok && !out->cancelled) ok = prefill_slot(e, r, &plan, out, err, errlen);
    out->prompt_ms = out->total_ms = now_ms() - t0;
    return ok;
}
