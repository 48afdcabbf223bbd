/* One process-wide set of persistent workers, shared by every context (engine.h: "Threads").
 *
 * Workers spin briefly on a generation counter (an op is usually microseconds away), then sleep
 * on a condition variable so an idle engine costs no CPU.
 *
 * A round's nth shares (fn(arg, ith, nth) for every ith) are claimed from a counter rather than
 * bound to threads: whichever thread is running takes the next unclaimed share. When the cores
 * are shared with other programs (an editor, a compiler) and a worker is descheduled, the caller
 * runs that worker's share itself instead of waiting a whole time slice for it; the round ends
 * when every share has finished, whoever ran it.
 *
 * Each context holds a handle (struct threadpool) saying how many shares its rounds have. The
 * round's share count travels in the same atomic word as the claim counter, so a worker that
 * claims always learns the nth of the round it claimed in (rounds may differ in nth). Rounds of
 * different handles are serialised by one mutex taken once per round; the worker set grows (under
 * that mutex, between rounds) to the largest handle asked for and never shrinks. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define SPIN_ITERATIONS 20000
#define MAX_THREADS     256

typedef struct {
    int n_workers;   /* threads started (the caller of a round is never one of them) */
    atomic_int spin; /* busy-wait iterations before yielding/sleeping; 0 when threads > CPUs */
    pthread_t threads[MAX_THREADS];
    pthread_mutex_t round; /* one round at a time; guards n_workers */
    pthread_mutex_t mu;    /* sleeping workers */
    pthread_cond_t wake;
    atomic_uint generation;
    /* (nth << 32) | next ith to claim; claims with ith >= nth fail (no round open: nth = 0) */
    _Atomic uint64_t claim;
    atomic_int finished; /* shares of the current round that have returned */
    pool_fn fn;
    void *arg;
} shared_pool;

struct threadpool {
    int n; /* shares per round */
};

static pthread_mutex_t g_create = PTHREAD_MUTEX_INITIALIZER;
static shared_pool *g_pool; /* created once, lives until the process exits */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static unsigned wait_for_work(shared_pool *p, unsigned seen) {
    int spin = atomic_load_explicit(&p->spin, memory_order_relaxed);
    for (int i = 0; i < 2 * spin; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
        if (i < spin)
            cpu_relax();
        else
            sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    unsigned g;
    while ((g = atomic_load(&p->generation)) == seen) pthread_cond_wait(&p->wake, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

/* Runs unclaimed shares of the current round until none is left. fn and arg are read only after
 * a successful claim: the caller publishes them before it opens the round's counter, and cannot
 * start the next round before this share has finished. */
static void run_shares(shared_pool *p) {
    for (;;) {
        uint64_t c = atomic_fetch_add_explicit(&p->claim, 1, memory_order_acq_rel);
        int nth = (int)(c >> 32), ith = (int)(uint32_t)c;
        if (ith >= nth) return;
        p->fn(p->arg, ith, nth);
        atomic_fetch_add_explicit(&p->finished, 1, memory_order_release);
    }
}

static void *worker_main(void *argp) {
    shared_pool *p = argp;
    unsigned seen = atomic_load(&p->generation);
    for (;;) {
        seen = wait_for_work(p, seen);
        run_shares(p);
    }
    return NULL;
}

static shared_pool *pool_get(void) {
    pthread_mutex_lock(&g_create);
    if (!g_pool && (g_pool = calloc(1, sizeof *g_pool))) {
        pthread_mutex_init(&g_pool->round, NULL);
        pthread_mutex_init(&g_pool->mu, NULL);
        pthread_cond_init(&g_pool->wake, NULL);
        atomic_init(&g_pool->claim, 0); /* nth 0: no round open */
        atomic_init(&g_pool->spin, SPIN_ITERATIONS);
    }
    pthread_mutex_unlock(&g_create);
    return g_pool;
}

/* Starts workers until n_threads - 1 run (the caller is the n_threads-th). Between rounds. */
static bool pool_grow(shared_pool *p, int n_threads) {
    bool ok = true;
    pthread_mutex_lock(&p->round);
    while (p->n_workers < n_threads - 1 && p->n_workers < MAX_THREADS) {
        if (pthread_create(&p->threads[p->n_workers], NULL, worker_main, p) != 0) {
            ok = false;
            break;
        }
        p->n_workers++;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    atomic_store(&p->spin, cpus > 0 && p->n_workers + 1 > cpus ? 0 : SPIN_ITERATIONS);
    pthread_mutex_unlock(&p->round);
    return ok;
}

threadpool *threadpool_new(int n_threads) {
    threadpool *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->n = n_threads < 1 ? 1 : n_threads > MAX_THREADS ? MAX_THREADS : n_threads;
    if (h->n > 1) {
        shared_pool *p = pool_get();
        if (!p || !pool_grow(p, h->n)) {
            free(h);
            return NULL;
        }
    }
    return h;
}

void threadpool_free(threadpool *h) {
    free(h); /* the workers stay for the next context */
}

int threadpool_size(const threadpool *h) {
    return h->n;
}

int threadpool_workers(void) {
    pthread_mutex_lock(&g_create);
    shared_pool *p = g_pool;
    pthread_mutex_unlock(&g_create);
    if (!p) return 0;
    pthread_mutex_lock(&p->round);
    int n = p->n_workers;
    pthread_mutex_unlock(&p->round);
    return n;
}

void threadpool_run(threadpool *h, pool_fn fn, void *arg) {
    if (h->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    shared_pool *p = g_pool; /* set before any handle with n > 1 existed */
    pthread_mutex_lock(&p->round);
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claim, (uint64_t)h->n << 32, memory_order_release); /* opens it */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_shares(p);
    /* shares still running elsewhere: spin briefly, then yield (with more runnable threads than
     * cores, pure spinning would burn the time slice of the thread we wait for) */
    int spin = atomic_load_explicit(&p->spin, memory_order_relaxed);
    for (int i = 0; atomic_load_explicit(&p->finished, memory_order_acquire) < h->n; i++) {
        if (i < spin)
            cpu_relax();
        else
            sched_yield();
    }
    pthread_mutex_unlock(&p->round);
}
