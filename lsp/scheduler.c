/* One worker thread that runs jobs in order (model loading, completion). The loop thread submits
 * and gets each job back through a uv_async_t, so it never waits for inference. Cancellation is a
 * flag the job's run function polls; a job cancelled before it started is not run at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsp_internal.h"

struct lsp_sched {
    lsp_server *server;
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t wake;
    uv_async_t async;
    lsp_job *todo, *todo_tail; /* FIFO, guarded by lock */
    lsp_job *done, *done_tail; /* FIFO, guarded by lock */
    bool quit, running;
    atomic_int pending; /* submitted, not finished running (read by other workers) */
    void *worker_state;
};

lsp_job *lsp_job_new(const char *kind, lsp_job_run_fn run, lsp_job_done_fn done) {
    lsp_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = kind;
    j->run = run;
    j->done = done;
    atomic_init(&j->cancel, false);
    return j;
}

void lsp_job_free(lsp_job *j) {
    if (!j) return;
    if (j->free_data) j->free_data(j->data);
    json_decref(j->id);
    free(j->uri);
    free(j);
}

static void push(lsp_job **head, lsp_job **tail, lsp_job *j) {
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static lsp_job *pop(lsp_job **head, lsp_job **tail) {
    lsp_job *j = *head;
    if (j) {
        *head = j->next;
        if (!*head) *tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void worker_main(void *arg) {
    lsp_sched *q = arg;
    uv_mutex_lock(&q->lock);
    for (;;) {
        while (!q->todo && !q->quit) uv_cond_wait(&q->wake, &q->lock);
        lsp_job *j = pop(&q->todo, &q->todo_tail);
        if (!j) break; /* quit with nothing left */
        uv_mutex_unlock(&q->lock);
        if (!atomic_load(&j->cancel)) {
            j->started = true;
            j->run(j, q->worker_state);
        }
        atomic_fetch_sub(&q->pending, 1);
        uv_mutex_lock(&q->lock);
        push(&q->done, &q->done_tail, j);
        uv_async_send(&q->async);
    }
    uv_mutex_unlock(&q->lock);
}

/* Loop thread: hands finished jobs to their done callbacks, then frees them. */
static void on_async(uv_async_t *a) {
    lsp_sched *q = a->data;
    for (;;) {
        uv_mutex_lock(&q->lock);
        lsp_job *j = pop(&q->done, &q->done_tail);
        uv_mutex_unlock(&q->lock);
        if (!j) break;
        lsp_live_remove(q->server, j);
        j->done(q->server, j);
        lsp_job_free(j);
    }
}

static void free_on_close(uv_handle_t *h) {
    lsp_sched *q = h->data;
    uv_mutex_destroy(&q->lock);
    uv_cond_destroy(&q->wake);
    free(q);
}

lsp_sched *lsp_sched_new(lsp_server *s, uv_loop_t *loop, void *worker_state, char *err,
                         size_t errlen) {
    lsp_sched *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->server = s;
    q->worker_state = worker_state;
    uv_mutex_init(&q->lock);
    uv_cond_init(&q->wake);
    uv_async_init(loop, &q->async, on_async);
    q->async.data = q;
    int rc = uv_thread_create(&q->thread, worker_main, q);
    if (rc) {
        snprintf(err, errlen, "cannot start the worker thread: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&q->async, free_on_close); /* the loop still owns the handle */
        return NULL;
    }
    q->running = true;
    return q;
}

void lsp_sched_submit(lsp_sched *q, lsp_job *j) {
    atomic_fetch_add(&q->pending, 1);
    uv_mutex_lock(&q->lock);
    push(&q->todo, &q->todo_tail, j);
    uv_cond_signal(&q->wake);
    uv_mutex_unlock(&q->lock);
}

void lsp_sched_stop(lsp_sched *q) {
    if (!q->running) return;
    uv_mutex_lock(&q->lock);
    for (lsp_job *j = q->todo; j; j = j->next) atomic_store(&j->cancel, true);
    q->quit = true;
    uv_cond_signal(&q->wake);
    uv_mutex_unlock(&q->lock);
    uv_thread_join(&q->thread);
    q->running = false;
    on_async(&q->async); /* answer what finished, so every request gets its reply */
    uv_close((uv_handle_t *)&q->async, NULL);
}

void lsp_sched_free(lsp_sched *q) {
    if (!q) return;
    uv_mutex_destroy(&q->lock);
    uv_cond_destroy(&q->wake);
    free(q);
}

int lsp_sched_pending(lsp_sched *q) {
    return q ? atomic_load(&q->pending) : 0;
}
