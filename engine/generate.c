/* The generation loop: prompt, then sample -> emit -> evaluate, with stop strings held back until
 * they can no longer match, and output cut only at UTF-8 character boundaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base.h"
#include "engine.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    base_buf buf; /* generated text not yet emitted */
    const engine_gen_request *req;
    bool stopped_by_caller;
} text_out;

static void emit(text_out *o, size_t n) {
    if (n == 0) return;
    if (!o->req->emit(o->buf.data, n, o->req->user)) o->stopped_by_caller = true;
    base_buf_consume(&o->buf, n);
}

/* Emits what can no longer be part of a stop string or a UTF-8 sequence; true if a stop string
 * was found (the text from it on is dropped). */
static bool flush_ready(text_out *o, bool final) {
    const engine_gen_request *r = o->req;
    long at = base_stop_find(o->buf.data, o->buf.len, 0, r->stops, r->n_stops);
    if (at >= 0) {
        emit(o, (size_t)at);
        base_buf_consume(&o->buf, o->buf.len);
        return true;
    }
    size_t keep = final ? 0 : base_stop_holdback(o->buf.data, o->buf.len, r->stops, r->n_stops);
    emit(o, o->buf.len - keep);
    return false;
}

/* Generation state shared by the plain and the speculative loops. */
typedef struct {
    const engine_model *m;
    engine_ctx *c;
    const engine_gen_request *req;
    engine_gen_stats *st;
    engine_sampler *s;
    text_out o;
    int32_t *hist; /* prompt + generated tokens, for prompt lookup and the draft model */
    int64_t n_hist;
    int64_t n_source; /* req->lookup_source, copied just before hist (lookup searches both) */
    bool done, ok;
    char *err;
    size_t errlen;
    const engine_draft *draft; /* NULL: no draft model */
    int32_t base;              /* cache position of hist[0] (in both contexts) */
    int draft_k;               /* the draft model's next proposal length (adapts) */
} gen_state;

/* Takes a chosen token: records it, stops at end of generation, emits its text, applies stop
 * strings and limits. Sets g->done when generation ends. */
static void accept_token(gen_state *g, int32_t id) {
    engine_gen_stats *st = g->st;
    const engine_gen_request *req = g->req;
    engine_sampler_accept(g->s, id);
    if (req->out_ids && st->n_generated < req->out_cap) req->out_ids[st->n_generated] = id;
    st->n_generated++;
    g->hist[g->n_hist++] = id;
    if (engine_token_is_eog(g->m, id)) {
        st->stop = ENGINE_STOP_EOG;
        g->done = true;
        return;
    }
    char piece[256];
    int n = engine_token_piece(g->m, id, false, piece, sizeof piece);
    if (n > (int)sizeof piece) n = 0; /* no real token is that long */
    if (n > 0 && !base_buf_append(&g->o.buf, piece, (size_t)n)) {
        snprintf(g->err, g->errlen, "out of memory");
        g->ok = false;
        g->done = true;
        return;
    }
    if (flush_ready(&g->o, false))
        st->stop = ENGINE_STOP_STRING, g->done = true;
    else if (g->o.stopped_by_caller)
        st->stop = ENGINE_STOP_CALLER, g->done = true;
    else if (st->n_generated >= req->n_predict)
        g->done = true;
}

/* Prompt lookup: the tokens that followed the most recent earlier occurrence of the history's
 * last n tokens (n from 4 down to 2). Code completions often repeat what the prompt holds. */
static int lookup_draft(const gen_state *g, int32_t *draft, int max) {
    const int32_t *h = g->hist - g->n_source;
    int64_t len = g->n_source + g->n_hist;
    for (int n = 4; n >= 2; n--) {
        if (len <= n) continue;
        for (int64_t p = len - n - 1; p >= 0; p--) {
            if (memcmp(h + p, h + len - n, (size_t)n * sizeof(int32_t)) != 0) continue;
            int k = 0;
            while (k < max && p + n + k < len) draft[k] = h[p + n + k], k++;
            return k;
        }
    }
    return 0;
}

static int32_t argmax_id(const float *l, int32_t n) {
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static bool failed(gen_state *g) {
    g->ok = false;
    g->done = true;
    return false;
}

/* Brings the draft context to hold hist[0..upto) (it always holds a prefix of hist): evaluates
 * what it lacks, or drops what it has beyond. */
static bool draft_sync(gen_state *g, int64_t upto) {
    engine_ctx *dc = g->draft->ctx;
    int64_t have = engine_n_past(dc) - g->base;
    if (have > upto) engine_kv_keep(dc, (int32_t)(g->base + upto));
    have = engine_n_past(dc) - g->base; /* a sliding-window draft may have kept less */
    if (have >= upto) return true;
    if (have < 0) {
        snprintf(g->err, g->errlen, "the draft model's cache lost the prompt (sliding window)");
        return failed(g);
    }
    if (!engine_eval(dc, g->hist + have, (int32_t)(upto - have), false, g->err, g->errlen))
        return failed(g);
    return true;
}

/* The draft's greedy continuation of the history (whose last token the target has not yet
 * evaluated either): up to max tokens into out, stopping at an id the target does not have.
 * The draft evaluates all of them but the last. Returns the count, -1 on failure. */
static int draft_propose(gen_state *g, int32_t *out, int max) {
    engine_ctx *dc = g->draft->ctx;
    const int32_t nv_draft = engine_model_get_info(g->draft->model)->n_vocab;
    const int32_t nv_target = engine_model_get_info(g->m)->n_vocab;
    if (!draft_sync(g, g->n_hist)) return -1;
    int k = 0;
    while (k < max) {
        const int32_t t = argmax_id(engine_logits(dc, -1), nv_draft);
        if (t >= nv_target) break;
        out[k++] = t;
        if (k < max && !engine_eval(dc, &t, 1, false, g->err, g->errlen)) return failed(g), -1;
    }
    return k;
}

/* Verification batches (the accepted token + the drafts) stay below op_matmul's tile-kernel
 * threshold (GEMM_MIN_TOKENS = 8 in ops.c): there each token's products use the same vec_dot as
 * one-token decoding, so its logits are bit for bit those of plain decoding. The tile kernels
 * sum in another order, and a last-bit difference can flip a near-tie argmax (seen on a 1.5B
 * random-weight model: 13 % of a self-draft's tokens rejected, output changed). */
#define MAX_VERIFY_DRAFTS 6

/* One step: id was just accepted and is not yet in the cache. Evaluates it, with drafted tokens
 * after it when lookup finds some, keeps the drafts the model agrees with, and returns the next
 * token (greedy) — identical to evaluating one token at a time. */
static int32_t step(gen_state *g, int32_t id, int max_draft) {
    engine_ctx *c = g->c;
    int32_t n_vocab = engine_model_get_info(g->m)->n_vocab, batch[65];
    int max = max_draft < MAX_VERIFY_DRAFTS ? max_draft : MAX_VERIFY_DRAFTS;
    const int32_t room = engine_ctx_n_ctx(c) - engine_n_past(c) - 1;
    if (max > room) max = room > 0 ? room : 0;
    if (max > g->req->n_predict - g->st->n_generated) max = g->req->n_predict - g->st->n_generated;
    if (g->draft && max > g->draft_k) max = g->draft_k;
    int k = max <= 0   ? 0
            : g->draft ? draft_propose(g, batch + 1, max)
                       : lookup_draft(g, batch + 1, max);
    if (k < 0) return -1;
    const int64_t n_hist = g->n_hist; /* id included */
    batch[0] = id;
    int32_t past = engine_n_past(c);
    if (!engine_eval(c, batch, k + 1, k > 0, g->err, g->errlen)) return failed(g), -1;
    if (k == 0) return engine_sample(g->s, engine_logits(c, -1));
    g->st->n_drafted += k;
    int j = 0;
    while (j < k && !g->done && argmax_id(engine_logits(c, j), n_vocab) == batch[j + 1]) {
        accept_token(g, batch[j + 1]);
        g->st->n_draft_accepted++;
        j++;
    }
    engine_kv_keep(c, past + 1 + j); /* drop the rejected drafts */
    /* the draft evaluated all its proposals but the last: keep those the target accepted */
    if (g->draft) draft_sync(g, n_hist + (j < k - 1 ? j : k - 1));
    /* A draft that keeps missing costs a draft evaluation per proposed token: propose one more
     * than it got right last time, double after a full hit (up to n_draft). */
    if (g->draft)
        g->draft_k = j == k ? (2 * k < g->draft->n_draft ? 2 * k : g->draft->n_draft) : j + 1;
    return argmax_id(engine_logits(c, j), n_vocab);
}

static bool generate(const engine_model *m, engine_ctx *c, const engine_draft *d,
                     const engine_gen_request *req, engine_gen_stats *st, char *err,
                     size_t errlen) {
    memset(st, 0, sizeof *st);
    gen_state g = {
        .m = m, .c = c, .req = req, .st = st, .ok = true, .err = err, .errlen = errlen, .draft = d};
    g.base = engine_n_past(c);
    g.draft_k = d ? d->n_draft : 0;
    g.o.req = req;
    g.s = engine_sampler_new(&req->sampling, engine_model_get_info(m)->n_vocab);
    g.n_source = req->lookup_source && req->lookup_draft > 0 ? req->n_lookup_source : 0;
    int32_t *hist_all =
        malloc((size_t)(g.n_source + req->n_prompt + req->n_predict + 1) * sizeof(int32_t));
    if (!g.s || !hist_all) {
        engine_sampler_free(g.s);
        free(hist_all);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    if (g.n_source > 0) memcpy(hist_all, req->lookup_source, (size_t)g.n_source * sizeof(int32_t));
    g.hist = hist_all + g.n_source;
    for (int64_t i = 0; i < req->n_prompt; i++) engine_sampler_accept(g.s, req->prompt[i]);
    if (req->n_prompt > 0) memcpy(g.hist, req->prompt, (size_t)req->n_prompt * sizeof(int32_t));
    g.n_hist = req->n_prompt;
    /* speculation keeps greedy output identical only without sampling or penalties */
    const bool greedy = req->sampling.temperature <= 0.0f && req->sampling.repeat_penalty == 1.0f;
    const int max_draft = !greedy ? 0 : d ? d->n_draft : req->lookup_draft;
    double t0 = now_s();
    g.ok = req->n_prompt <= 0 ||
           engine_eval(c, req->prompt, (int32_t)req->n_prompt, false, err, errlen);
    if (g.ok && req->n_prompt > 0) engine_kv_checkpoint(c);   /* a next turn may start here */
    if (g.ok && d && max_draft > 0) draft_sync(&g, g.n_hist); /* the draft's prefill */
    double t1 = now_s();
    st->prompt_s = t1 - t0;
    st->stop = ENGINE_STOP_LENGTH;
    const float *logits = g.ok ? engine_logits(c, -1) : NULL;
    if (g.ok && !logits) {
        snprintf(err, errlen, "no logits to sample from (empty prompt?)");
        g.ok = false;
    }
    int32_t id = logits && req->n_predict > 0 ? engine_sample(g.s, logits) : -1;
    while (g.ok && id >= 0) {
        accept_token(&g, id);
        if (g.done) break;
        if (engine_n_past(c) >= engine_ctx_n_ctx(c)) {
            st->stop = ENGINE_STOP_CONTEXT;
            break;
        }
        id = step(&g, id, max_draft);
        if (g.done) break; /* an accepted draft ended generation */
    }
    if (g.ok && st->stop != ENGINE_STOP_STRING && st->stop != ENGINE_STOP_CALLER)
        flush_ready(&g.o, true);
    /* As without speculation, the cache ends holding the history but its last token (an
     * accepted draft that ended generation was evaluated too); so does the draft's. */
    if (g.ok && st->n_generated > 0 && engine_n_past(c) > g.base + g.n_hist - 1)
        engine_kv_keep(c, (int32_t)(g.base + g.n_hist - 1));
    if (g.ok && d) draft_sync(&g, engine_n_past(c) - g.base);
    st->gen_s = now_s() - t1;
    base_buf_free(&g.o.buf);
    free(hist_all);
    engine_sampler_free(g.s);
    return g.ok;
}

bool engine_generate(const engine_model *m, engine_ctx *c, const engine_gen_request *req,
                     engine_gen_stats *st, char *err, size_t errlen) {
    return generate(m, c, NULL, req, st, err, errlen);
}

bool engine_generate_draft(const engine_model *m, engine_ctx *c, const engine_draft *d,
                           const engine_gen_request *req, engine_gen_stats *st, char *err,
                           size_t errlen) {
    if (!d || !d->model || !d->ctx || d->n_draft < 1 || d->n_draft > 64) {
        snprintf(err, errlen, "draft model: needs a model, a context and 1..64 tokens per step");
        return false;
    }
    if (engine_n_past(d->ctx) != engine_n_past(c)) {
        snprintf(err, errlen,
                 "draft context holds %d positions, the target's %d: keep them in step",
                 (int)engine_n_past(d->ctx), (int)engine_n_past(c));
        return false;
    }
    if (engine_ctx_n_ctx(d->ctx) < engine_ctx_n_ctx(c)) {
        snprintf(err, errlen, "draft context (%d positions) is smaller than the target's (%d)",
                 (int)engine_ctx_n_ctx(d->ctx), (int)engine_ctx_n_ctx(c));
        return false;
    }
    return generate(m, c, d, req, st, err, errlen);
}

bool engine_draft_compatible(const engine_model *target, const engine_model *draft, char *err,
                             size_t errlen) {
    const int32_t nt = engine_model_get_info(target)->n_vocab;
    const int32_t nd = engine_model_get_info(draft)->n_vocab;
    if (nt - nd > 128 || nd - nt > 128) {
        snprintf(err, errlen, "draft vocabulary has %d tokens, the target's %d", (int)nd, (int)nt);
        return false;
    }
    char a[256], b[256];
    for (int32_t id = 0; id < (nt < nd ? nt : nd); id++) {
        const int la = engine_token_piece(target, id, true, a, sizeof a);
        const int lb = engine_token_piece(draft, id, true, b, sizeof b);
        if (la != lb || (la > 0 && la <= (int)sizeof a && memcmp(a, b, (size_t)la) != 0) ||
            engine_token_is_eog(target, id) != engine_token_is_eog(draft, id)) {
            snprintf(err, errlen, "draft vocabulary differs from the target's at token %d",
                     (int)id);
            return false;
        }
    }
    return true;
}
