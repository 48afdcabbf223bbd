/* The completion engine: one model + one KV cache, reused across requests by keeping the longest
 * common token prefix of the previous prompt and the new one; generation is greedy and stops at
 * end-of-generation tokens, the token limit, the line limit or the caller's cancel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "completion.h"
#include "fim.h"

struct completion_engine {
    completion_params p;
    engine_model *model;
    engine_ctx *ctx;
    fim_template fim;
    fim_prompt prompt;
    int32_t *cached; /* tokens whose KV entries are in ctx, in order */
    int64_t n_cached, cap_cached;
};

void completion_params_init(completion_params *p) {
    memset(p, 0, sizeof *p);
}

static void apply_defaults(completion_params *p) {
    if (p->n_ctx <= 0) p->n_ctx = 4096;
    if (p->prefix_tokens <= 0) p->prefix_tokens = 1024;
    if (p->suffix_tokens <= 0) p->suffix_tokens = 256;
    if (p->max_tokens <= 0) p->max_tokens = 64;
    if (p->max_lines <= 0) p->max_lines = 8;
    /* Prompt + generation must fit the context: shrink the windows, never fail on settings. */
    int room = p->n_ctx - p->max_tokens - 8;
    if (room < 32) room = 32;
    if (p->prefix_tokens + p->suffix_tokens > room) {
        p->suffix_tokens = room / 4;
        p->prefix_tokens = room - p->suffix_tokens;
    }
}

completion_engine *completion_new(const completion_params *params, char *err, size_t errlen) {
    completion_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->p = *params;
    e->p.model_path = NULL; /* not kept: the caller owns the string */
    apply_defaults(&e->p);
    e->model = engine_model_load(params->model_path, err, errlen);
    if (!e->model || !fim_template_find(e->model, &e->fim, err, errlen)) {
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

void completion_free(completion_engine *e) {
    if (!e) return;
    engine_ctx_free(e->ctx);
    engine_model_free(e->model);
    free(e->prompt.ids);
    free(e->cached);
    free(e);
}

void completion_result_free(completion_result *r) {
    free(r->text);
    r->text = NULL;
}

/* Tokens at the start of the KV cache that the new prompt shares, leaving at least one prompt
 * token to evaluate (generation needs the logits of the last one). */
static int32_t reusable(const completion_engine *e, const int32_t *ids, int64_t n) {
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
    memcpy(e->cached, ids, (size_t)n * sizeof *ids);
    e->n_cached = n;
    return true;
}

typedef struct {
    const completion_request *req;
    char *text;
    size_t len, cap;
    int lines, max_lines;
    bool cancelled, oom;
} collector;

/* Keeps generated text up to the line limit; asks to stop at it or on cancel. */
static bool collect(const char *text, size_t len, void *user) {
    collector *c = user;
    if (c->req->cancelled && c->req->cancelled(c->req->user)) {
        c->cancelled = true;
        return false;
    }
    size_t take = len;
    bool more = true;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' && ++c->lines >= c->max_lines) {
            take = i; /* the line limit: stop before its newline */
            more = false;
            break;
        }
    if (c->len + take + 1 > c->cap) {
        size_t cap = (c->len + take + 1) * 2;
        char *t = realloc(c->text, cap);
        if (!t) {
            c->oom = true;
            return false;
        }
        c->text = t;
        c->cap = cap;
    }
    memcpy(c->text + c->len, text, take);
    c->len += take;
    c->text[c->len] = '\0';
    return more;
}

static bool only_space(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
    return true;
}

bool completion_run(completion_engine *e, const completion_request *r, completion_result *out,
                    char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    fim_budget b = {e->p.prefix_tokens, e->p.suffix_tokens};
    if (!fim_prompt_build(e->model, &e->fim, &b, r->prefix, r->prefix_len, r->suffix, r->suffix_len,
                          &e->prompt, err, errlen))
        return false;
    const int32_t *ids = e->prompt.ids;
    int64_t n = e->prompt.n;
    int32_t keep = reusable(e, ids, n);
    engine_kv_keep(e->ctx, keep);
    collector c = {.req = r, .max_lines = e->p.max_lines};
    engine_gen_request g = {
        .prompt = ids + keep,
        .n_prompt = n - keep,
        .n_predict = e->p.max_tokens,
        .sampling = engine_sampler_default_params(),
        .emit = collect,
        .user = &c,
    };
    g.sampling.temperature = 0; /* greedy: the same context gives the same suggestion */
    engine_gen_stats st;
    bool ok = engine_generate(e->model, e->ctx, &g, &st, err, errlen);
    /* What the cache now holds of this prompt (all of it unless evaluation failed). */
    int64_t held = engine_n_past(e->ctx) < n ? engine_n_past(e->ctx) : n;
    if (!remember(e, ids, held)) e->n_cached = 0;
    if (ok && c.oom) ok = (snprintf(err, errlen, "out of memory"), false);
    if (!ok) {
        free(c.text);
        return false;
    }
    out->text = c.text ? c.text : calloc(1, 1);
    if (out->text && only_space(out->text)) out->text[0] = '\0'; /* never offer only blanks */
    out->n_prompt = (int32_t)n;
    out->n_reused = keep;
    out->n_evaluated = (int32_t)(n - keep);
    out->n_generated = st.n_generated;
    out->prompt_ms = st.prompt_s * 1e3;
    out->gen_ms = st.gen_s * 1e3;
    out->cancelled = c.cancelled;
    return out->text != NULL;
}
