/* Continuous batching over one paged KV cache, as the chat lane's long job on runtime/'s
 * scheduler thread. Each step it admits queued requests while sequence slots and KV blocks allow
 * (completions before chat), evaluates one token of every decoding sequence together with chunks
 * of newly admitted prompts in a single forward pass, samples each sequence's next token, and
 * streams the text that became final (stop strings held back, whole UTF-8 sequences only). After
 * each step it yields: the /v1/fim requests and an embedding slice waiting then run (lanes.c); a
 * long FIM runs steps of its own between its chunks (serve_batch_step_between).
 * The job ends when no request is left and is submitted again by the next one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Prompt tokens a step run inside a FIM job evaluates at most: a new request's prompt advances
 * (a short one starts answering) while the step stays far cheaper than the FIM's own chunks. */
#define BETWEEN_PROMPT_TOKENS 16

typedef struct {
    serve_job *job;
    int32_t seq;
    engine_sampler *sampler;
    int32_t fed;     /* prompt tokens evaluated so far */
    int32_t last;    /* the sampled token to evaluate next (when decoding) */
    int32_t reserve; /* KV blocks set aside for prompt + max_tokens */
    int32_t n_gen;
    base_buf text; /* everything generated (visible part) */
    size_t sent;   /* bytes of text published to the job */
    engine_think_filter think;
} slot;

typedef struct {
    slot *slots;
    int n_slots;
    int32_t reserved; /* blocks promised to active slots */
    /* Test hook (HEARTH_TEST_KV_OVERCOMMIT=1): admit when the blocks free now cover a request,
     * ignoring the promised ones (the old over-admission), so tests reach make_decode_room. */
    bool overcommit;
    engine_seq_token *toks;
    slot **owner; /* per batch token: the slot whose logits it carries, or NULL */
    int32_t cap;
} sched_state;

/* ---- slots ---- */

static void publish(serve_server *s, slot *sl, size_t upto) {
    if (upto <= sl->sent) return;
    pthread_mutex_lock(&s->mu);
    serve_job_push_text_locked(s, sl->job, sl->text.data + sl->sent, upto - sl->sent);
    pthread_mutex_unlock(&s->mu);
    sl->sent = upto;
}

void serve_sched_finish(serve_server *s, serve_job *j, const char *reason, int status,
                        const char *msg) {
    pthread_mutex_lock(&s->mu);
    j->done = true;
    j->finish = reason;
    if (status) {
        j->err_status = status;
        snprintf(j->err_msg, sizeof j->err_msg, "%s", msg);
    }
    if (j->kind == JOB_FIM || j->kind == JOB_EMBED) { /* generation jobs: slot_end, unqueue */
        if (j->lane_started)
            s->n_active--;
        else
            s->n_queued--;
    }
    if (j->cancel) s->n_cancelled++;
    s->n_served++;
    serve_job_mark_ready_locked(s, j);
    serve_job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
    uv_async_send(&s->wake);
}

static void slot_end(serve_server *s, sched_state *st, slot *sl, const char *reason, int status,
                     const char *msg) {
    if (!status) publish(s, sl, sl->text.len);
    serve_job *j = sl->job;
    j->n_generated = sl->n_gen;
    serve_sched_finish(s, j, reason, status, msg);
    engine_seq_free(s->ctx, sl->seq);
    engine_sampler_free(sl->sampler);
    base_buf_free(&sl->text);
    st->reserved -= sl->reserve;
    memset(sl, 0, sizeof *sl);
    pthread_mutex_lock(&s->mu);
    s->n_active--;
    pthread_mutex_unlock(&s->mu);
}

static int32_t blocks_for(int32_t positions) {
    return (positions + SERVE_KV_BLOCK - 1) / SERVE_KV_BLOCK;
}

/* Takes a queued generation job into a free slot if its worst-case KV need fits beside the
 * blocks promised to the running sequences (which have not taken most of them yet, so the free
 * list alone would over-admit and let the pool run dry mid-answer). */
static bool admit(serve_server *s, sched_state *st, serve_job *j) {
    int32_t need = blocks_for(j->n_prompt + j->max_tokens);
    if (st->overcommit ? need > engine_kv_blocks_free(s->ctx) : st->reserved + need > s->kv_blocks)
        return false;
    for (int i = 0; i < st->n_slots; i++) {
        slot *sl = &st->slots[i];
        if (sl->job) continue;
        char err[ENGINE_ERR_LEN];
        engine_sampler *smp =
            engine_sampler_new(&j->sampling, engine_model_get_info(s->model)->n_vocab);
        int32_t seq = smp ? engine_seq_new(s->ctx, err, sizeof err) : -1;
        if (seq < 0) {
            engine_sampler_free(smp);
            return false;
        }
        *sl = (slot){.job = j, .seq = seq, .sampler = smp, .reserve = need};
        st->reserved += need;
        j->slot = sl;
        return true;
    }
    return false;
}

/* The generation job to admit next: a cancelled one (to drop), else the first completion, else
 * the first chat. */
static serve_job *pick_locked(serve_server *s) {
    serve_job *best = NULL;
    for (serve_job *j = s->queue_head; j; j = j->next_queued) {
        if (j->cancel) return j;
        if (!best || (best->kind == JOB_CHAT && j->kind == JOB_COMPLETION)) best = j;
    }
    return best;
}

static void unqueue_locked(serve_server *s, serve_job *j) {
    serve_job **pp = &s->queue_head, *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->next_queued;
    }
    if (!*pp) return;
    *pp = j->next_queued;
    if (s->queue_tail == j) s->queue_tail = prev;
    s->n_queued--;
}

/* ---- one step ---- */

/* At the end of an answer, a partial <think> tag that never completed is shown after all. */
static void flush_think(slot *sl) {
    char tail[32];
    size_t k = sl->job->hide_think ? engine_think_filter_flush(&sl->think, tail) : 0;
    if (k) base_buf_append(&sl->text, tail, k);
}

/* Samples the next token of a slot from its logits; ends the slot when it is done. */
static void advance(serve_server *s, sched_state *st, slot *sl, const float *logits) {
    const engine_model *m = s->model;
    int32_t id = engine_sample(sl->sampler, logits);
    engine_sampler_accept(sl->sampler, id);
    sl->n_gen++;
    if (engine_token_is_eog(m, id)) {
        flush_think(sl);
        slot_end(s, st, sl, "stop", 0, NULL);
        return;
    }
    char piece[256], visible[256 + 16], *text = piece;
    int n = engine_token_piece(m, id, false, piece, sizeof piece);
    if (n > 0 &&
        sl->job->hide_think) { /* reasoning (<think>, harmony's analysis) is not the answer */
        n = (int)engine_think_filter_push(&sl->think, piece, (size_t)n, visible);
        text = visible;
    }
    size_t before = sl->text.len;
    if (n > 0 && !base_buf_append(&sl->text, text, (size_t)n)) {
        slot_end(s, st, sl, NULL, 500, "out of memory");
        return;
    }
    size_t from = before > SERVE_MAX_STOP_LEN ? before - SERVE_MAX_STOP_LEN : 0;
    const serve_job *j = sl->job;
    long at = base_stop_find(sl->text.data, sl->text.len, from < sl->sent ? sl->sent : from,
                             (const char *const *)j->stops, j->n_stops);
    if (at >= 0) {
        sl->text.len = (size_t)at; /* the stop string itself is not returned */
        sl->text.data[at] = '\0';
        slot_end(s, st, sl, "stop", 0, NULL);
        return;
    }
    if (sl->n_gen >= sl->job->max_tokens || engine_seq_n_past(s->ctx, sl->seq) + 1 > s->n_ctx) {
        flush_think(sl);
        slot_end(s, st, sl, "length", 0, NULL);
        return;
    }
    publish(s, sl,
            sl->text.len - base_stop_holdback(sl->text.data, sl->text.len,
                                              (const char *const *)j->stops, j->n_stops));
    sl->last = id;
}

static void end_cancelled(serve_server *s, sched_state *st) {
    for (int i = 0; i < st->n_slots; i++) {
        slot *sl = &st->slots[i];
        if (!sl->job) continue;
        pthread_mutex_lock(&s->mu);
        bool cancel = sl->job->cancel;
        pthread_mutex_unlock(&s->mu);
        if (cancel) slot_end(s, st, sl, "cancelled", 0, NULL);
    }
}

/* Admission reserves every sequence's worst case, so the pool should never run dry; should it
 * anyway, the longest decoding sequence ends with "length" (its blocks go back) until the next
 * token of every other one fits, rather than the whole batch failing. Returns the blocks the
 * decoding tokens take. */
static int32_t make_decode_room(serve_server *s, sched_state *st) {
    for (;;) {
        int32_t need = 0;
        slot *longest = NULL;
        for (int i = 0; i < st->n_slots; i++) {
            slot *sl = &st->slots[i];
            if (!sl->job || sl->fed < sl->job->n_prompt) continue;
            need += engine_seq_blocks_needed(s->ctx, sl->seq, 1);
            if (!longest ||
                engine_seq_n_past(s->ctx, sl->seq) > engine_seq_n_past(s->ctx, longest->seq))
                longest = sl;
        }
        if (!longest || need <= engine_kv_blocks_free(s->ctx)) return need;
        flush_think(longest);
        slot_end(s, st, longest, "length", 0, NULL);
    }
}

/* Prompt tokens of sl (at most want) whose positions fit in the free blocks not yet taken. */
static int32_t prompt_room(serve_server *s, const slot *sl, int32_t want, int32_t taken) {
    int32_t past = engine_seq_n_past(s->ctx, sl->seq);
    int64_t fit = (int64_t)blocks_for(past) * SERVE_KV_BLOCK - past +
                  (int64_t)(engine_kv_blocks_free(s->ctx) - taken) * SERVE_KV_BLOCK;
    return fit < want ? (int32_t)(fit > 0 ? fit : 0) : want;
}

/* One forward pass: a token of every decoding slot, then prompt chunks up to the batch size,
 * max_prompt tokens and the free KV blocks. */
static void step(serve_server *s, sched_state *st, int32_t max_prompt) {
    int32_t n = 0, budget = s->p.n_batch, taken = make_decode_room(s, st);
    for (int i = 0; i < st->n_slots; i++) {
        slot *sl = &st->slots[i];
        if (!sl->job || sl->fed < sl->job->n_prompt) continue;
        st->owner[n] = sl;
        st->toks[n++] = (engine_seq_token){sl->seq, sl->last, true};
        budget--;
    }
    if (budget > max_prompt) budget = max_prompt;
    slot *waiting = NULL; /* a prompt that got no room */
    for (int i = 0; i < st->n_slots && budget > 0; i++) {
        slot *sl = &st->slots[i];
        if (!sl->job || sl->fed >= sl->job->n_prompt) continue;
        int32_t k = sl->job->n_prompt - sl->fed < budget ? sl->job->n_prompt - sl->fed : budget;
        k = prompt_room(s, sl, k, taken);
        if (k == 0) {
            waiting = sl;
            continue;
        }
        taken += engine_seq_blocks_needed(s->ctx, sl->seq, k);
        for (int32_t t = 0; t < k; t++) {
            bool last = sl->fed + t == sl->job->n_prompt - 1;
            st->owner[n] = last ? sl : NULL;
            st->toks[n++] = (engine_seq_token){sl->seq, sl->job->prompt[sl->fed + t], last};
        }
        sl->fed += k;
        budget -= k;
    }
    if (n == 0) {
        if (waiting) slot_end(s, st, waiting, "length", 0, NULL); /* nothing else can free room */
        return;
    }
    char err[ENGINE_ERR_LEN];
    if (!engine_eval_seqs(s->ctx, st->toks, n, err, sizeof err)) {
        for (int32_t t = 0; t < n; t++)
            if (st->owner[t] && st->owner[t]->job) slot_end(s, st, st->owner[t], NULL, 500, err);
        return;
    }
    for (int32_t t = 0; t < n; t++)
        if (st->owner[t] && st->owner[t]->job)
            advance(s, st, st->owner[t], engine_seq_logits(s->ctx, t));
}

static int busy_slots(const sched_state *st) {
    int n = 0;
    for (int i = 0; i < st->n_slots; i++) n += st->slots[i].job != NULL;
    return n;
}

/* Moves queued generation jobs into slots while they fit. */
static void admit_queued(serve_server *s, sched_state *st) {
    for (;;) {
        pthread_mutex_lock(&s->mu);
        serve_job *j = pick_locked(s);
        bool cancel = j && j->cancel;
        if (cancel) unqueue_locked(s, j);
        pthread_mutex_unlock(&s->mu);
        if (!j) return;
        if (cancel) {
            serve_sched_finish(s, j, "cancelled", 0, NULL);
            continue;
        }
        if (!admit(s, st, j)) {
            if (busy_slots(st)) return; /* it waits for a slot or blocks to free */
            pthread_mutex_lock(&s->mu); /* it never will: nothing else holds any */
            unqueue_locked(s, j);
            pthread_mutex_unlock(&s->mu);
            serve_sched_finish(s, j, NULL, 500, "the request does not fit the KV cache");
            continue;
        }
        pthread_mutex_lock(&s->mu);
        unqueue_locked(s, j);
        s->n_active++;
        pthread_mutex_unlock(&s->mu);
    }
}

/* ---- the batching job (chat lane) ---- */

/* Steps while requests are decoding or waiting, yielding after each step to the FIM and
 * embedding work waiting then; ends (batch_live cleared under mu, so the next submission starts
 * a new job) when none is left, or ends every request when the scheduler stops. */
static void batch_run(runtime_job *rj) {
    serve_server *s = rj->user;
    sched_state *st = s->sched;
    for (;;) {
        serve_test_gate_wait(s, s->test_batch_gate);
        end_cancelled(s, st);
        admit_queued(s, st);
        step(s, st, s->p.n_batch);
        uv_async_send(&s->wake);
        bool busy = busy_slots(st) > 0;
        pthread_mutex_lock(&s->mu);
        bool idle = !busy && !s->queue_head;
        if (idle) s->batch_live = false;
        pthread_mutex_unlock(&s->mu);
        if (idle || !runtime_sched_yield(rj)) break;
    }
    for (int i = 0; i < st->n_slots; i++) /* stopping */
        if (st->slots[i].job) slot_end(s, st, &st->slots[i], NULL, 503, "the server is stopping");
    uv_async_send(&s->wake);
}

void serve_batch_step_between(serve_server *s) {
    pthread_mutex_lock(&s->mu);
    bool live = s->batch_live && !s->stopping;
    pthread_mutex_unlock(&s->mu);
    sched_state *st = s->sched;
    if (!live || !st) return;
    end_cancelled(s, st);
    admit_queued(s, st);
    step(s, st, BETWEEN_PROMPT_TOKENS);
    uv_async_send(&s->wake);
}

static void batch_done(runtime_job *rj, bool ran) {
    (void)ran; /* not run: the scheduler stopped; serve_sched_stop ends the queued requests */
    free(rj);
}

/* [mu held] Starts the batching job unless it is live. */
static bool batch_kick_locked(serve_server *s) {
    if (s->batch_live) return true;
    runtime_job *rj = malloc(sizeof *rj);
    if (!rj) return false;
    runtime_job_init(rj, RUNTIME_LANE_CHAT, batch_run, batch_done, s);
    if (!runtime_sched_submit(s->rs, rj)) {
        free(rj);
        return false;
    }
    s->batch_live = true;
    return true;
}

/* ---- the loop thread's side ---- */

bool serve_sched_start(serve_server *s, char *err, size_t errlen) {
    sched_state *st = calloc(1, sizeof *st);
    s->sched = st;
    if (!st) goto oom;
    const char *over = getenv("HEARTH_TEST_KV_OVERCOMMIT"), *fim = getenv("HEARTH_TEST_FIM_STEPS");
    st->overcommit = over && !strcmp(over, "1");
    s->test_fim_steps = fim && !strcmp(fim, "1");
    st->n_slots = s->p.n_parallel;
    st->cap = s->p.n_parallel + s->p.n_batch;
    st->slots = calloc((size_t)st->n_slots, sizeof *st->slots);
    st->toks = calloc((size_t)st->cap, sizeof *st->toks);
    st->owner = calloc((size_t)st->cap, sizeof *st->owner);
    if (!st->slots || !st->toks || !st->owner) goto oom;
    s->rs = runtime_sched_new(err, errlen);
    return s->rs != NULL;
oom:
    snprintf(err, errlen, "out of memory");
    return false;
}

void serve_sched_stop(serve_server *s) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_mutex_unlock(&s->mu);
    runtime_sched_free(s->rs); /* queued FIM/embedding jobs end with 503; batching ends */
    s->rs = NULL;
    for (;;) { /* generation requests still queued never ran */
        pthread_mutex_lock(&s->mu);
        serve_job *j = s->queue_head;
        if (j) unqueue_locked(s, j);
        pthread_mutex_unlock(&s->mu);
        if (!j) break;
        serve_sched_finish(s, j, NULL, 503, "the server is stopping");
    }
    sched_state *st = s->sched;
    if (st) {
        free(st->slots);
        free(st->toks);
        free(st->owner);
        free(st);
    }
    s->sched = NULL;
}

bool serve_sched_submit(serve_server *s, serve_job *j) {
    pthread_mutex_lock(&s->mu);
    bool ok = !s->stopping && s->rs && s->n_queued < s->p.max_queue;
    if (ok) {
        j->refs++; /* the scheduler's reference */
        j->srv = s;
        s->n_queued++;
        if (j->kind == JOB_FIM || j->kind == JOB_EMBED) {
            ok = serve_lane_submit_locked(s, j);
        } else {
            j->next_queued = NULL;
            if (s->queue_tail)
                s->queue_tail->next_queued = j;
            else
                s->queue_head = j;
            s->queue_tail = j;
            ok = batch_kick_locked(s);
            if (!ok) unqueue_locked(s, j);
        }
        if (!ok && (j->kind == JOB_FIM || j->kind == JOB_EMBED)) s->n_queued--;
        if (!ok) j->refs--;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void serve_sched_cancel(serve_server *s, serve_job *j) {
    pthread_mutex_lock(&s->mu);
    bool cancel = !j->done;
    if (cancel) j->cancel = true;
    pthread_mutex_unlock(&s->mu);
    if (cancel && (j->kind == JOB_FIM || j->kind == JOB_EMBED)) runtime_job_cancel(&j->rt);
}
