/* The scheduler thread: continuous batching over one paged KV cache. Each step it admits queued
 * requests while sequence slots and KV blocks allow (completions before chat), evaluates one
 * token of every decoding sequence together with chunks of newly admitted prompts in a single
 * forward pass, samples each sequence's next token, and streams the text that became final
 * (stop strings held back, whole UTF-8 sequences only). Embedding requests run between steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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

/* Ends a job with a result or an error (status != 0) and drops the scheduler's reference. */
static void finish_job(serve_server *s, serve_job *j, const char *reason, int status,
                       const char *msg) {
    pthread_mutex_lock(&s->mu);
    j->done = true;
    j->finish = reason;
    if (status) {
        j->err_status = status;
        snprintf(j->err_msg, sizeof j->err_msg, "%s", msg);
    }
    if (j->cancel) s->n_cancelled++;
    s->n_served++;
    serve_job_mark_ready_locked(s, j);
    serve_job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
}

static void slot_end(serve_server *s, sched_state *st, slot *sl, const char *reason, int status,
                     const char *msg) {
    if (!status) publish(s, sl, sl->text.len);
    serve_job *j = sl->job;
    j->n_generated = sl->n_gen;
    finish_job(s, j, reason, status, msg);
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

/* Takes a queued generation job into a free slot if its worst-case KV need fits. */
static bool admit(serve_server *s, sched_state *st, serve_job *j) {
    int32_t total = engine_kv_blocks_free(s->ctx) + st->reserved; /* blocks in the pool */
    int32_t need = blocks_for(j->n_prompt + j->max_tokens);
    if (st->reserved + need > total) return false;
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
        if (j->kind == JOB_EMBED || j->kind == JOB_FIM) continue;
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
    char piece[256], visible[256 + 8], *text = piece;
    int n = engine_token_piece(m, id, false, piece, sizeof piece);
    if (n > 0 && sl->job->hide_think) { /* Qwen3's <think> blocks are not the answer */
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

/* One forward pass: a token of every decoding slot, then prompt chunks up to the batch size. */
static void step(serve_server *s, sched_state *st) {
    int32_t n = 0, budget = s->p.n_batch;
    for (int i = 0; i < st->n_slots; i++) {
        slot *sl = &st->slots[i];
        if (!sl->job || sl->fed < sl->job->n_prompt) continue;
        st->owner[n] = sl;
        st->toks[n++] = (engine_seq_token){sl->seq, sl->last, true};
        budget--;
    }
    for (int i = 0; i < st->n_slots && budget > 0; i++) {
        slot *sl = &st->slots[i];
        if (!sl->job || sl->fed >= sl->job->n_prompt) continue;
        int32_t k = sl->job->n_prompt - sl->fed < budget ? sl->job->n_prompt - sl->fed : budget;
        for (int32_t t = 0; t < k; t++) {
            bool last = sl->fed + t == sl->job->n_prompt - 1;
            st->owner[n] = last ? sl : NULL;
            st->toks[n++] = (engine_seq_token){sl->seq, sl->job->prompt[sl->fed + t], last};
        }
        sl->fed += k;
        budget -= k;
    }
    if (n == 0) return;
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

#define EMBED_MAX_JOBS   64
#define EMBED_MAX_INPUTS 512

/* Takes queued embedding jobs (up to the limits) off the queue, FIFO. */
static int take_embeds(serve_server *s, serve_job **out) {
    int n = 0, inputs = 0;
    pthread_mutex_lock(&s->mu);
    for (serve_job *j = s->queue_head, *next; j && n < EMBED_MAX_JOBS; j = next) {
        next = j->next_queued;
        if (j->kind != JOB_EMBED) continue;
        if (n > 0 && inputs + j->n_in > EMBED_MAX_INPUTS) break;
        unqueue_locked(s, j);
        out[n++] = j;
        inputs += j->n_in;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* All texts of several requests in one embed_run (packed into shared forward passes by
 * embed/), then each request's vectors handed back. */
static void run_embeddings(serve_server *s, serve_job **jobs, int n_jobs) {
    char err[EMBED_ERR_LEN] = "out of memory";
    int32_t total = 0;
    for (int k = 0; k < n_jobs; k++) total += jobs[k]->n_in;
    embed_item *items = malloc((size_t)total * sizeof *items);
    float *out = NULL;
    bool ok = items != NULL;
    for (int k = 0, at = 0; ok && k < n_jobs; k++)
        for (int32_t i = 0; i < jobs[k]->n_in; i++) items[at++] = jobs[k]->inputs[i]; /* views */
    ok = ok && embed_run(s->embed, items, total, &out, NULL, err, sizeof err);
    int32_t e = embed_dim(s->embed);
    for (int k = 0, at = 0; k < n_jobs; at += jobs[k++]->n_in) {
        serve_job *j = jobs[k];
        float *mine = ok ? malloc((size_t)j->n_in * (size_t)e * sizeof(float)) : NULL;
        if (!mine) {
            finish_job(s, j, NULL, 500, ok ? "out of memory" : err);
            continue;
        }
        memcpy(mine, out + (size_t)at * e, (size_t)j->n_in * (size_t)e * sizeof(float));
        pthread_mutex_lock(&s->mu);
        j->embeddings = mine;
        j->n_embd = e;
        pthread_mutex_unlock(&s->mu);
        finish_job(s, j, "stop", 0, NULL);
    }
    free(items);
    free(out);
}

static bool fim_cancelled(void *user) {
    serve_job *j = user;
    serve_server *s = j->slot; /* set by run_fim for the call's duration */
    pthread_mutex_lock(&s->mu);
    bool cancel = j->cancel;
    pthread_mutex_unlock(&s->mu);
    return cancel;
}

/* The oldest queued /v1/fim job, taken off the queue, or NULL. */
static serve_job *take_fim(serve_server *s) {
    pthread_mutex_lock(&s->mu);
    serve_job *j = s->queue_head;
    while (j && j->kind != JOB_FIM) j = j->next_queued;
    if (j) unqueue_locked(s, j);
    pthread_mutex_unlock(&s->mu);
    return j;
}

/* The request's extra files as the documents an editor would have open: the last one the most
 * recently touched, and searched first for definitions (an editor lists the latest opened first).
 * Then completion/'s context policy picks the chunks, parsing the files as the LSP has them
 * parsed. Returns how many chunks (pointing into the job's texts). */
static int fim_context(const serve_job *j, const char *language, completion_chunk *out) {
    completion_doc docs[SERVE_MAX_EXTRA];
    for (int i = 0; i < j->n_extras; i++) {
        const serve_extra *x = &j->extras[j->n_extras - 1 - i];
        docs[i] = (completion_doc){.path = x->path,
                                   .text = x->text,
                                   .len = x->len,
                                   .language_id = x->language,
                                   .touched = (uint64_t)(j->n_extras - i)};
    }
    completion_doc self = {.path = j->path,
                           .text = j->prefix,
                           .len = j->prefix_len + j->suffix_len,
                           .language_id = language};
    return completion_gather_parsed(&self, j->prefix_len, docs, j->n_extras, out,
                                    COMPLETION_CONTEXT_CHUNKS);
}

/* One FIM request through completion/, as the LSP runs it (completion first: before the step).
 * The same settings as the LSP's defaults, max_tokens and max_lines from the request, so the same
 * document, cursor and files give the same suggestion as in the editor. */
static void run_fim(serve_server *s, serve_job *j) {
    completion_params p;
    completion_params_init(&p);
    p.max_tokens = j->max_tokens;
    p.max_lines = j->max_lines; /* 0: the LSP's default */
    completion_set_params(s->fim, &p);
    j->slot = s;
    const char *language = j->language ? j->language : completion_language_for_path(j->path);
    completion_chunk chunks[COMPLETION_CONTEXT_CHUNKS];
    completion_request r = {.prefix = j->prefix,
                            .prefix_len = j->prefix_len,
                            .suffix = j->prefix + j->prefix_len,
                            .suffix_len = j->suffix_len,
                            .cancelled = fim_cancelled,
                            .user = j,
                            .path = j->path,
                            .chunks = chunks,
                            .n_chunks = fim_context(j, language, chunks),
                            .language_id = language};
    completion_result out = {0};
    char err[512];
    if (!completion_run(s->fim, &r, &out, err, sizeof err)) {
        finish_job(s, j, NULL, 500, err);
        return;
    }
    pthread_mutex_lock(&s->mu);
    j->n_prompt = out.n_prompt;
    j->n_cached = out.n_reused;
    j->n_generated = out.n_generated;
    serve_job_push_text_locked(s, j, out.text, strlen(out.text));
    pthread_mutex_unlock(&s->mu);
    const char *reason = out.cancelled                      ? "cancelled"
                         : out.n_generated >= j->max_tokens ? "length"
                                                            : "stop";
    completion_result_free(&out);
    finish_job(s, j, reason, 0, NULL);
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
            finish_job(s, j, "cancelled", 0, NULL);
            continue;
        }
        if (!admit(s, st, j)) return;
        pthread_mutex_lock(&s->mu);
        unqueue_locked(s, j);
        s->n_active++;
        pthread_mutex_unlock(&s->mu);
    }
}

static void *sched_main(void *arg) {
    serve_server *s = arg;
    sched_state *st = s->sched;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && !s->queue_head && s->n_active == 0)
            pthread_cond_wait(&s->cv, &s->mu);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        end_cancelled(s, st);
        for (serve_job *fim; s->fim && (fim = take_fim(s));) run_fim(s, fim);
        serve_job *embeds[EMBED_MAX_JOBS];
        int n_embeds = take_embeds(s, embeds);
        if (n_embeds) run_embeddings(s, embeds, n_embeds);
        if (s->ctx) {
            admit_queued(s, st);
            step(s, st);
        }
        uv_async_send(&s->wake);
    }
    for (int i = 0; i < st->n_slots; i++)
        if (st->slots[i].job) slot_end(s, st, &st->slots[i], NULL, 503, "the server is stopping");
    uv_async_send(&s->wake);
    return NULL;
}

/* ---- the loop thread's side ---- */

bool serve_sched_start(serve_server *s, char *err, size_t errlen) {
    sched_state *st = calloc(1, sizeof *st);
    s->sched = st;
    if (!st) goto oom;
    st->n_slots = s->p.n_parallel;
    st->cap = s->p.n_parallel + s->p.n_batch;
    st->slots = calloc((size_t)st->n_slots, sizeof *st->slots);
    st->toks = calloc((size_t)st->cap, sizeof *st->toks);
    st->owner = calloc((size_t)st->cap, sizeof *st->owner);
    if (!st->slots || !st->toks || !st->owner) goto oom;
    if (pthread_create(&s->thread, NULL, sched_main, s)) {
        snprintf(err, errlen, "cannot start the scheduler thread");
        return false;
    }
    s->thread_started = true;
    return true;
oom:
    snprintf(err, errlen, "out of memory");
    return false;
}

void serve_sched_stop(serve_server *s) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started) pthread_join(s->thread, NULL);
    s->thread_started = false;
    /* jobs still queued never ran */
    pthread_mutex_lock(&s->mu);
    while (s->queue_head) {
        serve_job *j = s->queue_head;
        unqueue_locked(s, j);
        serve_job_unref_locked(j);
    }
    pthread_mutex_unlock(&s->mu);
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
    if (s->n_queued >= s->p.max_queue) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    j->refs++; /* the scheduler's reference */
    j->next_queued = NULL;
    if (s->queue_tail)
        s->queue_tail->next_queued = j;
    else
        s->queue_head = j;
    s->queue_tail = j;
    s->n_queued++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return true;
}

void serve_sched_cancel(serve_server *s, serve_job *j) {
    pthread_mutex_lock(&s->mu);
    if (!j->done) j->cancel = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}
