/* Persistent worker threads for splitting one operation across cores. Private to engine/. */
#ifndef HEARTH_THREADPOOL_H
#define HEARTH_THREADPOOL_H

/* fn runs once on every thread of the pool with ith in [0, nth); the caller's thread is ith 0. */
typedef void (*pool_fn)(void *arg, int ith, int nth);

typedef struct threadpool threadpool;

/* n_threads >= 1 (1 = no workers, everything runs on the caller). NULL on failure. */
threadpool *threadpool_new(int n_threads);
void threadpool_free(threadpool *p);
int threadpool_size(const threadpool *p);
/* Runs fn on all threads and returns when every one has finished. Not reentrant. */
void threadpool_run(threadpool *p, pool_fn fn, void *arg);

/* The [begin, end) share of n items for thread ith of nth. */
static inline void pool_split(long n, int ith, int nth, long *begin, long *end) {
    long per = (n + nth - 1) / nth;
    *begin = per * ith < n ? per * ith : n;
    *end = *begin + per < n ? *begin + per : n;
}

#endif
