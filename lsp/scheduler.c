/* The LSP's side of runtime/'s scheduler: jobs run on its one thread by lane, and come back to
 * the loop thread through a uv_async_t, so the loop never waits for inference. Cancellation is
 * the job's flag, which its run function polls (and its yields report); a job cancelled before
 * it started is not run at all, but still comes back so its request is answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsp_internal.h"

struct lsp_sched {
    lsp_server *server;
    runtime_sched *rt;
    uv_mutex_t lock;
    uv_async_t async;
    lsp_job *done, *done_tail; /* FIFO, guarded by lock */
    lsp_job *posts;            /* jobs with a message not delivered yet, guarded by lock */
    bool running;
};

static void job_run(runtime_job *rj) {
    lsp_job *j = rj->user;
    j->started = true;
    j->run(j, j->state);
}

static void push_done(lsp_sched *q, lsp_job *j) {
    uv_mutex_lock(&q->lock);
    j->next = NULL;
    if (q->done_tail)
        q->done_tail->next = j;
    else
        q->done = j;
    q->done_tail = j;
    uv_mutex_unlock(&q->lock);
    uv_async_send(&q->async);
}

/* Scheduler thread: the job goes back to the loop. */
static void job_done(runtime_job *rj, bool ran) {
    (void)ran; /* j->started says it */
    lsp_job *j = rj->user;
    push_done(j->q, j);
}

lsp_job *lsp_job_new(const char *kind, runtime_lane lane, lsp_job_run_fn run,
                     lsp_job_done_fn done) {
    lsp_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = kind;
    j->run = run;
    j->done = done;
    runtime_job_init(&j->rt, lane, job_run, job_done, j);
    return j;
}

void lsp_job_free(lsp_job *j) {
    if (!j) return;
    if (j->free_data) j->free_data(j->data);
    json_decref(j->id);
    free(j->uri);
    free(j);
}

static lsp_job *pop_done(lsp_sched *q) {
    uv_mutex_lock(&q->lock);
    lsp_job *j = q->done;
    if (j) {
        q->done = j->next;
        if (!q->done) q->done_tail = NULL;
    }
    uv_mutex_unlock(&q->lock);
    return j;
}

void lsp_job_post(lsp_job *j, void *msg) {
    lsp_sched *q = j->q;
    uv_mutex_lock(&q->lock);
    if (j->posted) {
        j->free_msg(j->posted); /* superseded before the loop saw it */
    } else {
        j->post_next = q->posts;
        q->posts = j;
    }
    j->posted = msg;
    uv_mutex_unlock(&q->lock);
    uv_async_send(&q->async);
}

/* Takes j's message (j NULL: any job's, setting *j); NULL when there is none. */
static void *take_post(lsp_sched *q, lsp_job **j) {
    uv_mutex_lock(&q->lock);
    lsp_job **p = &q->posts;
    while (*p && *j && *p != *j) p = &(*p)->post_next;
    void *msg = NULL;
    if (*p) {
        *j = *p;
        msg = (*p)->posted;
        (*p)->posted = NULL;
        *p = (*p)->post_next;
    }
    uv_mutex_unlock(&q->lock);
    return msg;
}

/* Loop thread: the message goes to its job (alive: a job leaves the list before its done). */
static void deliver(lsp_sched *q, lsp_job *j, void *msg) {
    j->post(q->server, j, msg);
    j->free_msg(msg);
}

/* Loop thread: delivers posted messages, hands finished jobs (their last message first) to their
 * done callbacks, then frees them. */
static void on_async(uv_async_t *a) {
    lsp_sched *q = a->data;
    for (;;) {
        lsp_job *j = NULL;
        void *msg = take_post(q, &j);
        if (!msg) break;
        deliver(q, j, msg);
    }
    for (lsp_job *j; (j = pop_done(q));) {
        void *msg = take_post(q, &j);
        if (msg) deliver(q, j, msg);
        lsp_live_remove(q->server, j);
        j->done(q->server, j);
        lsp_job_free(j);
    }
}

static void free_on_close(uv_handle_t *h) {
    lsp_sched *q = h->data;
    uv_mutex_destroy(&q->lock);
    free(q);
}

lsp_sched *lsp_sched_new(lsp_server *s, uv_loop_t *loop, char *err, size_t errlen) {
    lsp_sched *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->server = s;
    uv_mutex_init(&q->lock);
    uv_async_init(loop, &q->async, on_async);
    q->async.data = q;
    q->rt = runtime_sched_new(err, errlen);
    if (!q->rt) {
        uv_close((uv_handle_t *)&q->async, free_on_close); /* the loop still owns the handle */
        return NULL;
    }
    q->running = true;
    return q;
}

void lsp_sched_submit(lsp_sched *q, lsp_job *j) {
    j->q = q;
    if (!runtime_sched_submit(q->rt, &j->rt)) push_done(q, j); /* stopped: answered unrun */
}

void lsp_sched_stop(lsp_sched *q) {
    if (!q->running) return;
    runtime_sched_stop(q->rt); /* every job's done has run: they are all on the done queue */
    q->running = false;
    on_async(&q->async); /* answer what finished, so every request gets its reply */
    uv_close((uv_handle_t *)&q->async, NULL);
}

void lsp_sched_free(lsp_sched *q) {
    if (!q) return;
    runtime_sched_free(q->rt);
    uv_mutex_destroy(&q->lock);
    free(q);
}

int lsp_sched_threads(lsp_sched *q) {
    return q && q->rt ? runtime_sched_threads(q->rt) : 0;
}
