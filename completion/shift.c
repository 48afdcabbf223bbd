/* Finding the runs a new prompt shares with the cached one: every window of min_run cached tokens
 * is hashed into chains (ascending positions), then the new prompt is scanned left to right; a
 * window found at or after the end of the previous run starts a run, which grows while the
 * tokens agree. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "shift.h"

static uint32_t window_hash(const int32_t *t, int n) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) h = (h ^ (uint32_t)t[i]) * 16777619u;
    return h;
}

typedef struct {
    int32_t *head, *next; /* head[bucket]: first cached position; next[pos - base]: the next */
    uint32_t mask;
    int64_t base;
} window_index;

static bool index_build(window_index *x, const int32_t *cached, int64_t from, int64_t n_win,
                        int min_run) {
    uint32_t buckets = 64;
    while (buckets < 2 * (uint64_t)n_win) buckets <<= 1;
    x->mask = buckets - 1;
    x->base = from;
    x->head = malloc(buckets * sizeof *x->head);
    x->next = malloc((size_t)n_win * sizeof *x->next);
    if (!x->head || !x->next) return false;
    memset(x->head, 0xff, buckets * sizeof *x->head); /* -1: empty */
    for (int64_t i = n_win - 1; i >= 0; i--) {        /* descending: chains come out ascending */
        uint32_t b = window_hash(cached + from + i, min_run) & x->mask;
        x->next[i] = x->head[b];
        x->head[b] = (int32_t)(from + i);
    }
    return true;
}

/* The first cached position >= at_least whose min_run tokens equal want's. */
static int64_t index_find(const window_index *x, const int32_t *cached, const int32_t *want,
                          int min_run, int64_t at_least) {
    int probes = 0; /* bounded: text that repeats itself (blank runs) must not go quadratic */
    for (int32_t p = x->head[window_hash(want, min_run) & x->mask]; p >= 0 && probes++ < 256;
         p = x->next[p - x->base])
        if (p >= at_least && !memcmp(cached + p, want, (size_t)min_run * sizeof *want)) return p;
    return -1;
}

int completion_shift_plan(const int32_t *cached, int64_t n_cached, const int32_t *fresh,
                          int64_t n_fresh, int64_t keep, int min_run, shift_run *runs, int max) {
    int64_t end = n_fresh - 1; /* the last prompt token is evaluated in any case */
    if (min_run < 1 || keep < 0 || n_cached - keep < min_run || end - keep < min_run) return 0;
    window_index x = {0};
    int n_runs = 0;
    if (index_build(&x, cached, keep, n_cached - keep - min_run + 1, min_run)) {
        int64_t next_cached = keep;
        for (int64_t i = keep; i + min_run <= end && n_runs < max;) {
            int64_t p = index_find(&x, cached, fresh + i, min_run, next_cached);
            if (p < 0) {
                i++;
                continue;
            }
            int64_t n = min_run;
            while (i + n < end && p + n < n_cached && fresh[i + n] == cached[p + n]) n++;
            runs[n_runs++] = (shift_run){(int32_t)p, (int32_t)i, (int32_t)n};
            next_cached = p + n;
            i += n;
        }
    }
    free(x.head);
    free(x.next);
    return n_runs;
}
