/* runtime/'s scheduler with fake jobs: lane order, inline runs at a long job's yield (before a
 * queued lower-lane job, and only what was waiting when it yielded), rounds (work resubmitted
 * slice by slice does not starve a lower lane), jobs cancelled before they start (done without
 * run), an orderly stop with jobs queued and one running, one thread. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runtime.h"
#include "test.h"

/* ---- a log of what ran, and gates the test opens ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char order[256]; /* names of runs and events, in order */
static int n_done, gate;
static pthread_t runner[64];
static int n_runs;

typedef struct {
    runtime_job job;
    const char *name;
    int ran;  /* how often run was called */
    int done; /* how often done was called */
    bool done_ran;
    int wait_gate;        /* run waits until gate >= this (0: no wait) */
    int yields;           /* chat jobs: steps, with a yield after each */
    bool until_cancelled; /* yields until cancelled */
    void *spawn;          /* run submits this fake */
    bool saw_cancel;
} fake;

static void note(const char *what) {
    pthread_mutex_lock(&mu);
    strncat(order, what, sizeof order - strlen(order) - 1);
    strncat(order, " ", sizeof order - strlen(order) - 1);
    pthread_mutex_unlock(&mu);
}

static void wait_gate(int g) {
    pthread_mutex_lock(&mu);
    while (gate < g) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void open_gate(int g) {
    pthread_mutex_lock(&mu);
    gate = g;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void fake_run(runtime_job *j) {
    fake *f = j->user;
    pthread_mutex_lock(&mu);
    f->ran++;
    pthread_cond_broadcast(&cv);
    if (n_runs < 64) runner[n_runs++] = pthread_self();
    pthread_mutex_unlock(&mu);
    note(f->name);
    if (f->wait_gate) wait_gate(f->wait_gate);
    if (f->spawn) runtime_sched_submit(j->sched, &((fake *)f->spawn)->job);
    for (int i = 0; i < f->yields; i++) {
        runtime_sched_yield(j);
        char step[32];
        snprintf(step, sizeof step, "%s.%d", f->name, i + 1);
        note(step);
    }
    struct timespec ms = {0, 1000000};
    while (f->until_cancelled && runtime_sched_yield(j)) nanosleep(&ms, NULL);
    f->saw_cancel = runtime_job_cancelled(j);
}

static void fake_done(runtime_job *j, bool ran) {
    fake *f = j->user;
    pthread_mutex_lock(&mu);
    f->done++;
    f->done_ran = ran;
    n_done++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void fake_init(fake *f, const char *name, runtime_lane lane) {
    memset(f, 0, sizeof *f);
    f->name = name;
    runtime_job_init(&f->job, lane, fake_run, fake_done, f);
}

static void wait_ran(fake *f) {
    pthread_mutex_lock(&mu);
    while (!f->ran) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void wait_done(int n) {
    pthread_mutex_lock(&mu);
    while (n_done < n) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void reset(void) {
    order[0] = 0;
    n_done = gate = n_runs = 0;
}

/* ---- the tests ---- */

static void test_lanes_run_fim_then_embed_then_chat(void) {
    char err[256];
    runtime_sched *s = runtime_sched_new(err, sizeof err);
    CHECKF(s != NULL, "%s", err);
    if (!s) return;
    reset();
    fake blocker, c1, e1, f1, e2, f2;
    fake_init(&blocker, "B", RUNTIME_LANE_CHAT);
    blocker.wait_gate = 1; /* holds the thread while the others queue up */
    fake_init(&c1, "C1", RUNTIME_LANE_CHAT);
    fake_init(&e1, "E1", RUNTIME_LANE_EMBED);
    fake_init(&f1, "F1", RUNTIME_LANE_FIM);
    fake_init(&e2, "E2", RUNTIME_LANE_EMBED);
    fake_init(&f2, "F2", RUNTIME_LANE_FIM);
    fake *all[] = {&blocker, &c1, &e1, &f1, &e2, &f2};
    CHECK(runtime_sched_submit(s, &blocker.job));
    wait_ran(&blocker);
    for (int i = 1; i < 6; i++) CHECK(runtime_sched_submit(s, &all[i]->job));
    CHECK(runtime_sched_queued(s) == 5);
    open_gate(1);
    wait_done(6);
    CHECKF(!strcmp(order, "B F1 F2 E1 E2 C1 "), "order: %s", order);
    for (int i = 0; i < 6; i++) CHECK(all[i]->ran == 1 && all[i]->done == 1 && all[i]->done_ran);
    CHECK(runtime_sched_threads(s) == 1);
    bool one_thread = true;
    for (int i = 1; i < n_runs; i++) one_thread &= pthread_equal(runner[i], runner[0]) != 0;
    CHECK(one_thread && !pthread_equal(runner[0], pthread_self()));
    runtime_sched_free(s);
}

/* A FIM job submitted while a chat job runs executes at the chat job's next yield, before the
 * embedding job queued before it; in that yield a FIM job submitted meanwhile runs too, an
 * embedding job submitted meanwhile waits for the next yield; a same-lane job never runs inline. */
static void test_yield_runs_waiting_higher_lanes_inline(void) {
    char err[256];
    runtime_sched *s = runtime_sched_new(err, sizeof err);
    if (!s) return;
    reset();
    fake chat, emb, fim, fim2, emb2, chat2;
    fake_init(&chat, "L", RUNTIME_LANE_CHAT);
    chat.wait_gate = 1;
    chat.yields = 2;
    fake_init(&emb, "E", RUNTIME_LANE_EMBED);
    fake_init(&fim, "F", RUNTIME_LANE_FIM);
    fake_init(&fim2, "G", RUNTIME_LANE_FIM);
    fake_init(&emb2, "E2", RUNTIME_LANE_EMBED);
    fim.spawn = &fim2; /* submitted during the first yield */
    emb.spawn = &emb2; /* likewise */
    fake_init(&chat2, "M", RUNTIME_LANE_CHAT);
    CHECK(runtime_sched_submit(s, &chat.job));
    wait_ran(&chat);
    CHECK(runtime_sched_submit(s, &chat2.job)); /* same lane: after L, never inline */
    CHECK(runtime_sched_submit(s, &emb.job));
    CHECK(runtime_sched_submit(s, &fim.job));
    open_gate(1);
    wait_done(6);
    CHECKF(!strcmp(order, "L F G E L.1 E2 L.2 M "), "order: %s", order);
    runtime_sched_free(s);
}

/* An embedding request in slices (each slice's done submits the next) and a chat job that was
 * waiting: the chat job gets its turn after one slice, and each of its yields runs one slice. */
static int slices_left;

static void slice_done(runtime_job *j, bool ran) {
    if (ran && --slices_left > 0 && runtime_sched_submit(j->sched, j)) return;
    fake_done(j, ran);
}

static void test_resubmitted_slices_do_not_starve_a_lower_lane(void) {
    char err[256];
    runtime_sched *s = runtime_sched_new(err, sizeof err);
    if (!s) return;
    reset();
    fake blocker, emb, chat;
    fake_init(&blocker, "B", RUNTIME_LANE_FIM);
    blocker.wait_gate = 1;
    fake_init(&emb, "E", RUNTIME_LANE_EMBED);
    emb.job.done = slice_done;
    slices_left = 3;
    fake_init(&chat, "C", RUNTIME_LANE_CHAT);
    chat.yields = 3;
    runtime_sched_submit(s, &blocker.job);
    wait_ran(&blocker);
    runtime_sched_submit(s, &emb.job);
    runtime_sched_submit(s, &chat.job);
    open_gate(1);
    wait_done(3);
    CHECKF(!strcmp(order, "B E C E C.1 E C.2 C.3 "), "order: %s", order);
    CHECK(emb.ran == 3 && emb.done == 1);
    runtime_sched_free(s);
}

static void test_cancelled_before_start_completes_without_running(void) {
    char err[256];
    runtime_sched *s = runtime_sched_new(err, sizeof err);
    if (!s) return;
    reset();
    fake blocker, x, y;
    fake_init(&blocker, "B", RUNTIME_LANE_CHAT);
    blocker.wait_gate = 1;
    fake_init(&x, "X", RUNTIME_LANE_FIM);
    fake_init(&y, "Y", RUNTIME_LANE_FIM);
    runtime_sched_submit(s, &blocker.job);
    wait_ran(&blocker);
    runtime_sched_submit(s, &x.job);
    runtime_sched_submit(s, &y.job);
    runtime_job_cancel(&x.job);
    open_gate(1);
    wait_done(3);
    CHECK(x.ran == 0 && x.done == 1 && !x.done_ran);
    CHECK(y.ran == 1 && y.done == 1 && y.done_ran);
    CHECKF(!strcmp(order, "B Y "), "order: %s", order);
    runtime_sched_free(s);
}

/* Stop with one job running (it yields until told to stop) and jobs queued behind it: the
 * running one sees its cancel flag and ends, the queued ones get done without running, the
 * thread is gone and later submissions are refused. */
static void test_stop_cancels_queued_and_asks_the_running_job(void) {
    char err[256];
    runtime_sched *s = runtime_sched_new(err, sizeof err);
    if (!s) return;
    reset();
    fake runner_job, q1, q2, after;
    fake_init(&runner_job, "R", RUNTIME_LANE_FIM); /* its yields run nothing: top lane */
    runner_job.until_cancelled = true;
    fake_init(&q1, "Q1", RUNTIME_LANE_CHAT);
    fake_init(&q2, "Q2", RUNTIME_LANE_EMBED);
    fake_init(&after, "A", RUNTIME_LANE_FIM);
    runtime_sched_submit(s, &runner_job.job);
    wait_ran(&runner_job);
    runtime_sched_submit(s, &q1.job);
    runtime_sched_submit(s, &q2.job);
    runtime_sched_stop(s);
    CHECK(n_done == 3);
    CHECK(runner_job.done == 1 && runner_job.done_ran && runner_job.saw_cancel);
    CHECK(q1.done == 1 && !q1.done_ran && q1.ran == 0);
    CHECK(q2.done == 1 && !q2.done_ran && q2.ran == 0);
    CHECK(runtime_sched_threads(s) == 0);
    CHECK(!runtime_sched_submit(s, &after.job));
    CHECK(after.done == 0);
    runtime_sched_stop(s); /* idempotent */
    runtime_sched_free(s);
}

int main(void) {
    test_lanes_run_fim_then_embed_then_chat();
    test_yield_runs_waiting_higher_lanes_inline();
    test_resubmitted_slices_do_not_starve_a_lower_lane();
    test_cancelled_before_start_completes_without_running();
    test_stop_cancels_queued_and_asks_the_running_job();
    return test_summary("test_sched");
}
