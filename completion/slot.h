/* Private to completion/: a KV slot — one engine context and the prompt tokens its cache holds —
 * and the ways a prompt gets into it: the common prefix kept, runs held elsewhere moved into
 * place (kv_shift), the gaps evaluated in chunks that a cancel stops between layers, moved
 * entries evaluated again in place later. completion.c keeps two: the whole prompt, and windows
 * shrunk to meet a prompt budget. */
#ifndef HEARTH_COMPLETION_SLOT_H
#define HEARTH_COMPLETION_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "completion.h"

#define SLOT_NO_STALE INT64_MAX

typedef struct {
    engine_ctx *ctx; /* NULL until made */
    int32_t *cached; /* tokens whose KV entries are in ctx, in order */
    int64_t n_cached, cap_cached;
    /* Entries from here on were moved (kv_shift) or computed after moved ones: approximations
     * until completion_slot_refresh evaluates them again. SLOT_NO_STALE: every entry is exact. */
    int64_t stale_from;
} completion_slot;

/* How a fill runs: the request's cancel (also asked between layers), whether runs move, and the
 * measured prompt throughput it updates. */
typedef struct {
    completion_cancel_fn cancelled; /* may be NULL */
    void *user;
    bool shift;
    double *tokens_per_ms;
} slot_fill_how;

/* Makes s's context (n_ctx positions over model). */
bool completion_slot_init(completion_slot *s, engine_model *model, int n_ctx, int n_threads,
                          char *err, size_t errlen);
void completion_slot_free(completion_slot *s);
/* Tokens at the start of the cache that ids shares, leaving at least one to evaluate. */
int32_t completion_slot_reusable(const completion_slot *s, const int32_t *ids, int64_t n);
/* Records ids[0..n) as what the cache holds; false when out of memory (then nothing is held). */
bool completion_slot_remember(completion_slot *s, const int32_t *ids, int64_t n);
/* Positions whose prompt tokens the cache holds (generated tokens lie beyond them). */
int64_t completion_slot_held(const completion_slot *s);
/* Prompt tokens after keep that a fill would move into place rather than evaluate. */
int64_t completion_slot_movable(const completion_slot *s, const int32_t *ids, int64_t n,
                                int32_t keep);
/* Puts ids[0, end) into the cache: the first keep are there, held runs move in (how->shift),
 * the gaps are evaluated. *shifted counts the moved tokens now held; *cancelled says the cancel
 * stopped it (what was evaluated stays). The caller then remembers what the context holds. */
bool completion_slot_fill(completion_slot *s, const int32_t *ids, int64_t n, int32_t keep,
                          int64_t end, const slot_fill_how *how, int32_t *shifted, bool *cancelled,
                          char *err, size_t errlen);
/* Evaluates the stale entries again in place, oldest first, a few tokens per pass, adding to
 * *refreshed; a cancel between passes (or within one) leaves the cache whole, less of it stale. */
bool completion_slot_refresh(completion_slot *s, const slot_fill_how *how, int32_t *refreshed,
                             bool *cancelled, char *err, size_t errlen);
/* Whether s holds entries that a refresh would make exact. */
bool completion_slot_stale(const completion_slot *s);

#endif
