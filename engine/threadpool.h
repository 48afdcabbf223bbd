/* Persistent worker threads for splitting one operation across cores. Private to engine/.
 * One set of workers serves the whole process; a threadpool is a context's handle on it that says
 * how many shares (nth) its rounds are split into. */
#ifndef HEARTH_THREADPOOL_H
#define HEARTH_THREADPOOL_H

/* fn runs once on every thread of the pool with ith in [0, nth); the caller's thread is ith 0. */
typedef void (*pool_fn)(void *arg, int ith, int nth);

typedef struct threadpool threadpool;

/* A handle whose rounds have n_threads shares (1 = everything runs on the caller, no workers);
 * the process-wide workers grow to n_threads - 1 if fewer run. NULL on failure. */
threadpool *threadpool_new(int n_threads);
/* Frees the handle; the workers stay for other contexts. */
void threadpool_free(threadpool *p);
/* Shares per round (per-thread scratch is sized by it). */
int threadpool_size(const threadpool *p);
/* Runs fn(arg, ith, nth) for every ith < nth = threadpool_size(p) and returns when every share
 * has finished. Thread-safe: rounds of handles used from different threads take turns (one mutex
 * per round). Not reentrant: fn must not start a round itself. */
void threadpool_run(threadpool *p, pool_fn fn, void *arg);
/* Worker threads the process runs (0 before any multi-threaded context). */
int threadpool_workers(void);

/* The [begin, end) share of n items for thread ith of nth. */
static inline void pool_split(long n, int ith, int nth, long *begin, long *end) {
    long per = (n + nth - 1) / nth;
    *begin = per * ith < n ? per * ith : n;
    *end = *begin + per < n ? *begin + per : n;
}

#endif
