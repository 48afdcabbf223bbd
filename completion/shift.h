/* Private to completion/: which runs of a new prompt the KV cache holds at other positions (a
 * line typed above them, a cursor moved through the file), so they move instead of being
 * evaluated again (engine_kv_move). */
#ifndef HEARTH_COMPLETION_SHIFT_H
#define HEARTH_COMPLETION_SHIFT_H

#include <stdint.h>

#define SHIFT_MAX_RUNS 64

typedef struct {
    int32_t from, to, n; /* cached positions [from, from+n) hold prompt tokens [to, to+n) */
} shift_run;

/* Runs of at least min_run tokens of fresh[keep .. n_fresh-1) (the last token is always
 * evaluated: generation needs its logits) equal to runs of cached[keep .. n_cached), in order:
 * each run starts after the previous one in both. Greedy from the left, each run as long as it
 * goes. Returns how many (at most max). */
int completion_shift_plan(const int32_t *cached, int64_t n_cached, const int32_t *fresh,
                          int64_t n_fresh, int64_t keep, int min_run, shift_run *runs, int max);

#endif
