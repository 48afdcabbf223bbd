/* /v1/fim and /v1/embeddings as jobs of runtime/'s scheduler: a FIM request is one FIM-lane job
 * (completion/ checks its cancel flag between 64-token chunks and generated pieces, where, after
 * its first second, every SLICE_SECONDS one small step of continuous batching runs); an
 * embedding request is an embedding-lane job run in slices, each resubmitted at the back of its
 * lane, so continuous batching gets a step between two slices, and a request whose client left
 * (or a stopping server) ends within one slice. A slice is sized by time, not tokens: SLICE_SECONDS
 * at the embedding speed measured on earlier slices (at least one text, at most SLICE_TEXTS /
 * SLICE_TOKENS), so a slow model or build still cancels and stops within about that. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include <time.h>

#define SLICE_TEXTS        64
#define SLICE_TOKENS       4096
#define SLICE_FIRST_TOKENS 512 /* before the speed is known */
#define SLICE_SECONDS      0.25
#define FIM_ALONE_SECONDS  1.0 /* a FIM's time before batching steps interleave with it */

/* Scheduler thread: the job leaves the queue count for the active count once. */
static void lane_begin(serve_server *s, serve_job *j) {
    pthread_mutex_lock(&s->mu);
    if (!j->lane_started) {
        j->lane_started = true;
        s->n_queued--;
        s->n_active++;
    }
    pthread_mutex_unlock(&s->mu);
}

static bool lane_cancelled(serve_server *s, serve_job *j) {
    pthread_mutex_lock(&s->mu);
    bool cancel = j->cancel;
    pthread_mutex_unlock(&s->mu);
    return cancel || runtime_job_cancelled(&j->rt);
}

/* A job that ends without (more of) its work: the client left, or the server is stopping. */
static void lane_abandon(serve_server *s, serve_job *j) {
    pthread_mutex_lock(&s->mu);
    bool client_gone = j->cancel;
    pthread_mutex_unlock(&s->mu);
    if (client_gone)
        serve_sched_finish(s, j, "cancelled", 0, NULL);
    else
        serve_sched_finish(s, j, NULL, 503, "the server is stopping");
}

/* ---- /v1/fim ---- */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* completion/ calls this between prompt chunks and generated pieces. The FIM job holds the
 * scheduler thread for its whole prompt and answer (seconds for a long prompt on a slow model).
 * A FIM runs alone for its first FIM_ALONE_SECONDS (an editor's usual request, untouched); past
 * that a small step of continuous batching runs here every SLICE_SECONDS, so the streams keep
 * getting tokens while the FIM still goes first. */
static bool fim_cancelled(void *user) {
    serve_job *j = user;
    if (now_s() >= j->next_step_at) {
        serve_batch_step_between(j->srv);
        j->next_step_at = j->srv->test_fim_steps ? 0 : now_s() + SLICE_SECONDS;
    }
    return lane_cancelled(j->srv, j);
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

/* One FIM request through completion/, as the LSP runs it: completion/'s defaults, max_tokens and
 * max_lines from the request, so the same document, cursor and files give the same suggestion as
 * in the editor — but no prompt budget and no generation cap. Those two serve an editor whose
 * server builds the whole prompt between keystrokes (the LSP's prefills); nothing runs between
 * /v1/fim requests, so with a budget a request far from the last would keep answering from the
 * small prompt, and a client asking for max_tokens gets them. */
static void fim_run(runtime_job *rj) {
    serve_job *j = rj->user;
    serve_server *s = j->srv;
    lane_begin(s, j);
    j->next_step_at = s->test_fim_steps ? 0 : now_s() + FIM_ALONE_SECONDS;
    completion_params p;
    completion_params_init(&p);
    p.max_tokens = j->max_tokens;
    p.max_lines = j->max_lines; /* 0: the LSP's default */
    p.max_prompt_ms = 0;
    p.max_gen_ms = 0;
    completion_set_params(s->fim, &p);
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
    if (!completion_run(s->fim, &r, &out, j->fin_msg, sizeof j->fin_msg)) {
        j->fin_status = 500;
        return;
    }
    pthread_mutex_lock(&s->mu);
    j->n_prompt = out.n_prompt;
    j->n_cached = out.n_reused;
    j->n_generated = out.n_generated;
    serve_job_push_text_locked(s, j, out.text, strlen(out.text));
    pthread_mutex_unlock(&s->mu);
    j->fin_reason = out.cancelled                      ? "cancelled"
                    : out.n_generated >= j->max_tokens ? "length"
                                                       : "stop";
    completion_result_free(&out);
}

static void fim_done(runtime_job *rj, bool ran) {
    serve_job *j = rj->user;
    if (!ran || (j->fin_reason && !strcmp(j->fin_reason, "cancelled")))
        lane_abandon(j->srv, j); /* the client left, or the server stops: 503 */
    else
        serve_sched_finish(j->srv, j, j->fin_reason, j->fin_status, j->fin_msg);
}

/* ---- /v1/embeddings ---- */

/* Tokens a slice may hold: SLICE_SECONDS of work at the measured speed. */
static int32_t slice_budget(const serve_server *s) {
    if (s->embed_tok_per_s <= 0) return SLICE_FIRST_TOKENS;
    double t = s->embed_tok_per_s * SLICE_SECONDS;
    return t >= SLICE_TOKENS ? SLICE_TOKENS : t < 1 ? 1 : (int32_t)t;
}

/* The inputs of the next slice: [from, to). At least one text; then up to the limits. */
static int32_t slice_end(const serve_job *j, int32_t from, int32_t budget, int32_t *tokens) {
    int32_t to = from;
    *tokens = 0;
    while (to < j->n_in && to - from < SLICE_TEXTS &&
           (to == from || *tokens + j->inputs[to].n_ids <= budget))
        *tokens += j->inputs[to++].n_ids;
    return to;
}

/* One slice: its texts through embed/ (cache, then one packed batch), vectors into j->vecs. */
static void embed_slice_run(runtime_job *rj) {
    serve_job *j = rj->user;
    serve_server *s = j->srv;
    lane_begin(s, j);
    if (lane_cancelled(s, j)) return; /* done ends it */
    int32_t tokens, from = j->n_embedded, to = slice_end(j, from, slice_budget(s), &tokens);
    float *out = NULL;
    double t0 = now_s();
    if (!embed_run(s->embed, j->inputs + from, to - from, &out, NULL, j->fin_msg,
                   sizeof j->fin_msg)) {
        j->fin_status = 500;
        return;
    }
    size_t e = (size_t)embed_dim(s->embed);
    if (!j->vecs) j->vecs = malloc((size_t)j->n_in * e * sizeof(float));
    if (!j->vecs) {
        free(out);
        j->fin_status = 500;
        snprintf(j->fin_msg, sizeof j->fin_msg, "out of memory");
        return;
    }
    memcpy(j->vecs + (size_t)from * e, out, (size_t)(to - from) * e * sizeof(float));
    free(out);
    double dt = now_s() - t0; /* cache hits make it look faster: the next slice is still capped */
    if (dt > 1e-4) s->embed_tok_per_s = (double)tokens / dt;
    j->n_embedded = to;
    pthread_mutex_lock(&s->mu);
    s->n_embed_slices++;
    pthread_mutex_unlock(&s->mu);
}

/* After a slice: the next one goes to the back of the lane, or the request ends. */
static void embed_slice_done(runtime_job *rj, bool ran) {
    serve_job *j = rj->user;
    serve_server *s = j->srv;
    if (ran && j->fin_status) {
        serve_sched_finish(s, j, NULL, j->fin_status, j->fin_msg);
        return;
    }
    if (ran && j->n_embedded == j->n_in) {
        pthread_mutex_lock(&s->mu);
        j->embeddings = j->vecs;
        j->n_embd = embed_dim(s->embed);
        j->vecs = NULL;
        pthread_mutex_unlock(&s->mu);
        serve_sched_finish(s, j, "stop", 0, NULL);
        return;
    }
    if (ran && !lane_cancelled(s, j) && runtime_sched_submit(s->rs, rj)) return;
    lane_abandon(s, j);
}

bool serve_lane_submit_locked(serve_server *s, serve_job *j) {
    if (j->kind == JOB_FIM)
        runtime_job_init(&j->rt, RUNTIME_LANE_FIM, fim_run, fim_done, j);
    else
        runtime_job_init(&j->rt, RUNTIME_LANE_EMBED, embed_slice_run, embed_slice_done, j);
    return runtime_sched_submit(s->rs, &j->rt);
}
