/* Workers spin briefly on a generation counter (an op is usually microseconds away), then sleep on
 * a condition variable so an idle engine costs no CPU.
 *
 * A round's nth shares (fn(arg, ith, nth) for every ith) are claimed from a counter rather than
 * bound to threads: whichever thread is running takes the next unclaimed share. When the cores
 * are shared with other programs (an editor, a compiler) and a worker is descheduled, the caller
 * runs that worker's share itself instead of waiting a whole time slice for it; the round ends
 * when every share has finished, whoever ran it. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define SPIN_ITERATIONS 20000

struct threadpool {
    int n;
    int spin; /* busy-wait iterations before yielding/sleeping; 0 when threads outnumber CPUs */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint generation;
    atomic_int next_share; /* the next ith to claim; >= n when all are claimed */
    atomic_int finished;   /* shares of the current round that have returned */
    atomic_bool stop;
    pool_fn fn;
    void *arg;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static unsigned wait_for_work(threadpool *p, unsigned seen) {
    for (int i = 0; i < 2 * p->spin; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->stop)) return g;
        if (i < p->spin)
            cpu_relax();
        else
            sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    unsigned g;
    while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

/* Runs unclaimed shares of the current round until none is left. fn and arg are read only after
 * a successful claim: the caller publishes them before it opens the round's counter. */
static void run_shares(threadpool *p) {
    for (;;) {
        int ith = atomic_fetch_add_explicit(&p->next_share, 1, memory_order_acq_rel);
        if (ith >= p->n) return;
        p->fn(p->arg, ith, p->n);
        atomic_fetch_add_explicit(&p->finished, 1, memory_order_release);
    }
}

static void *worker_main(void *argp) {
    threadpool *p = argp;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_work(p, seen);
        if (atomic_load(&p->stop)) break;
        run_shares(p);
    }
    return NULL;
}

threadpool *threadpool_new(int n_threads) {
    threadpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads < 1 ? 1 : n_threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->spin = cpus > 0 && p->n > cpus ? 0 : SPIN_ITERATIONS;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->threads = calloc((size_t)p->n, sizeof(pthread_t));
    if (!p->threads) {
        threadpool_free(p);
        return NULL;
    }
    atomic_init(&p->next_share, p->n); /* no round open */
    for (int i = 1; i < p->n; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            p->n = i;
            threadpool_free(p);
            return NULL;
        }
    }
    return p;
}

void threadpool_free(threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        if (p->threads && p->threads[i]) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}

int threadpool_size(const threadpool *p) {
    return p->n;
}

void threadpool_run(threadpool *p, pool_fn fn, void *arg) {
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    atomic_store_explicit(&p->next_share, 0, memory_order_release); /* opens the round */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_shares(p);
    /* shares still running elsewhere: spin briefly, then yield (with more runnable threads than
     * cores, pure spinning would burn the time slice of the thread we wait for) */
    for (int i = 0; atomic_load_explicit(&p->finished, memory_order_acquire) < p->n; i++) {
        if (i < p->spin)
            cpu_relax();
        else
            sched_yield();
    }
}
