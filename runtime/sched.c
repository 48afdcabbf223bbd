/* The scheduler: one thread runs every job of its front end, the highest lane first and FIFO
 * within a lane, in rounds: a round runs the jobs waiting when it began (FIM jobs join any time),
 * so work that resubmits itself slice by slice (a big embedding request) cannot starve a lower
 * lane. Long jobs yield between steps to the higher-lane jobs waiting then (FIM: any), which run
 * inline on the same thread (see runtime.h). Jobs are the callers' memory; the scheduler only
 * links them into its per-lane queues and its stack of running jobs. */
/* pthread_setname_np: the build defines _GNU_SOURCE */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

struct runtime_sched {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    runtime_job *head[RUNTIME_LANES], *tail[RUNTIME_LANES]; /* [mu] FIFO per lane */
    runtime_job *running[RUNTIME_LANES + 1]; /* [mu] the job stack: inline runs nest per lane */
    int depth;                               /* [mu] */
    int queued;                              /* [mu] */
    uint64_t next_ticket;                    /* [mu] */
    bool started, stopping, joined;          /* [mu] (joined: the stopping thread only) */
};

void runtime_job_init(runtime_job *j, runtime_lane lane, runtime_job_fn run, runtime_done_fn done,
                      void *user) {
    memset(j, 0, sizeof *j);
    j->lane = lane;
    j->run = run;
    j->done = done;
    j->user = user;
    atomic_init(&j->cancel, false);
}

void runtime_job_cancel(runtime_job *j) {
    atomic_store(&j->cancel, true);
}

bool runtime_job_cancelled(runtime_job *j) {
    return atomic_load(&j->cancel);
}

/* The first job of the highest lane below `below` that may run now, unlinked [mu]: FIM jobs
 * always may, others if they were queued before `before` (the round's or the yield's start). */
static runtime_job *take_locked(runtime_sched *s, int below, uint64_t before) {
    for (int lane = 0; lane < below; lane++) {
        runtime_job *j = s->head[lane];
        if (!j || (lane != RUNTIME_LANE_FIM && j->ticket >= before)) continue;
        s->head[lane] = j->next;
        if (!s->head[lane]) s->tail[lane] = NULL;
        j->next = NULL;
        s->queued--;
        return j;
    }
    return NULL;
}

/* Runs j (unless cancelled) with mu released, then its done callback; mu held on entry and exit. */
static void run_locked(runtime_sched *s, runtime_job *j) {
    bool run = !atomic_load(&j->cancel);
    if (run) s->running[s->depth++] = j;
    pthread_mutex_unlock(&s->mu);
    if (run) j->run(j);
    pthread_mutex_lock(&s->mu);
    if (run) s->depth--;
    pthread_mutex_unlock(&s->mu);
    if (j->done) j->done(j, run); /* j may be freed or resubmitted from here on */
    pthread_mutex_lock(&s->mu);
}

static void *sched_main(void *arg) {
    runtime_sched *s = arg;
    pthread_setname_np(pthread_self(), "hearth-sched");
    uint64_t round = 0; /* jobs queued before this may run in the current round */
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->queued && !s->stopping) pthread_cond_wait(&s->cv, &s->mu);
        if (!s->queued) break; /* stopping, and every queued job has had its done callback */
        runtime_job *j = take_locked(s, RUNTIME_LANES, round);
        if (j)
            run_locked(s, j);
        else
            round = s->next_ticket; /* the next round: everything waiting now */
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

runtime_sched *runtime_sched_new(char *err, size_t errlen) {
    runtime_sched *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, sched_main, s)) {
        snprintf(err, errlen, "cannot start the scheduler thread");
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return NULL;
    }
    s->started = true;
    return s;
}

bool runtime_sched_submit(runtime_sched *s, runtime_job *j) {
    if (j->lane < 0 || j->lane >= RUNTIME_LANES) j->lane = RUNTIME_LANE_CHAT;
    pthread_mutex_lock(&s->mu);
    bool ok = !s->stopping;
    if (ok) {
        j->sched = s;
        j->ticket = s->next_ticket++;
        j->next = NULL;
        if (s->tail[j->lane])
            s->tail[j->lane]->next = j;
        else
            s->head[j->lane] = j;
        s->tail[j->lane] = j;
        s->queued++;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool runtime_sched_yield(runtime_job *self) {
    runtime_sched *s = self->sched;
    pthread_mutex_lock(&s->mu);
    uint64_t before = s->next_ticket; /* what is waiting now; later submissions wait their turn */
    for (runtime_job *j; (j = take_locked(s, (int)self->lane, before));) run_locked(s, j);
    pthread_mutex_unlock(&s->mu);
    return !atomic_load(&self->cancel);
}

int runtime_sched_queued(runtime_sched *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->queued;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int runtime_sched_threads(runtime_sched *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->started && !s->joined ? 1 : 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void runtime_sched_stop(runtime_sched *s) {
    pthread_mutex_lock(&s->mu);
    if (s->joined || !s->started) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->stopping = true;
    for (int lane = 0; lane < RUNTIME_LANES; lane++)
        for (runtime_job *j = s->head[lane]; j; j = j->next) atomic_store(&j->cancel, true);
    for (int d = 0; d < s->depth; d++) atomic_store(&s->running[d]->cancel, true);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_lock(&s->mu);
    s->joined = true;
    pthread_mutex_unlock(&s->mu);
}

void runtime_sched_free(runtime_sched *s) {
    if (!s) return;
    runtime_sched_stop(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
