/* A KV slot (slot.h): what its cache holds and how a prompt gets into it with the least work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shift.h"
#include "slot.h"

#define CHUNK_TOKENS 64 /* prompt tokens per forward pass between progress points */
/* Shortest run of prompt tokens moved within the KV cache rather than evaluated again: a moved
 * entry keeps what its token saw at its old place, so only long runs (whose tokens mostly see
 * each other) are worth it. */
#define SHIFT_MIN_RUN  32
#define REFRESH_TOKENS 16 /* stale entries re-evaluated per pass */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

bool completion_slot_init(completion_slot *s, engine_model *model, int n_ctx, int n_threads,
                          char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    s->stale_from = SLOT_NO_STALE;
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = n_threads;
    s->ctx = engine_ctx_new(model, &cp, err, errlen);
    return s->ctx != NULL;
}

void completion_slot_free(completion_slot *s) {
    engine_ctx_free(s->ctx); /* NULL-safe */
    free(s->cached);
    memset(s, 0, sizeof *s);
}

int32_t completion_slot_reusable(const completion_slot *s, const int32_t *ids, int64_t n) {
    int64_t k = 0, lim = s->n_cached < n ? s->n_cached : n;
    while (k < lim && s->cached[k] == ids[k]) k++;
    if (k >= n) k = n - 1; /* generation needs the logits of the last prompt token */
    if (k > engine_n_past(s->ctx)) k = engine_n_past(s->ctx);
    return (int32_t)k;
}

bool completion_slot_remember(completion_slot *s, const int32_t *ids, int64_t n) {
    if (n > s->cap_cached) {
        int32_t *c = realloc(s->cached, (size_t)n * sizeof *c);
        if (!c) {
            s->n_cached = 0;
            return false;
        }
        s->cached = c;
        s->cap_cached = n;
    }
    if (n > 0) memcpy(s->cached, ids, (size_t)n * sizeof *ids); /* cached may still be NULL */
    s->n_cached = n;
    return true;
}

int64_t completion_slot_held(const completion_slot *s) {
    return s->n_cached < engine_n_past(s->ctx) ? s->n_cached : engine_n_past(s->ctx);
}

int64_t completion_slot_movable(const completion_slot *s, const int32_t *ids, int64_t n,
                                int32_t keep) {
    shift_run runs[SHIFT_MAX_RUNS];
    int k = completion_shift_plan(s->cached, completion_slot_held(s), ids, n, keep, SHIFT_MIN_RUN,
                                  runs, SHIFT_MAX_RUNS);
    int64_t moved = 0;
    for (int i = 0; i < k; i++) moved += runs[i].n;
    return moved;
}

static void measure(const slot_fill_how *how, int64_t n, double ms) {
    if (n < 16 || ms <= 0 || !how->tokens_per_ms) return; /* small batches say little */
    double rate = n / ms, *r = how->tokens_per_ms;
    *r = *r > 0 ? 0.7 * *r + 0.3 * rate : rate;
}

/* One engine_eval that the cancel may stop between layers (unless whole): *cancelled then, and
 * true. */
static bool eval_stoppable(completion_slot *s, const int32_t *ids, int32_t n, bool whole,
                           const slot_fill_how *how, bool *cancelled, char *err, size_t errlen) {
    if (!whole) engine_ctx_set_stop(s->ctx, how->cancelled, how->user);
    bool ok = engine_eval(s->ctx, ids, n, false, err, errlen);
    engine_ctx_set_stop(s->ctx, NULL, NULL);
    if (!ok && engine_eval_stopped(s->ctx)) {
        *cancelled = true;
        return true;
    }
    return ok;
}

/* Evaluates ids[from, to) in chunks, checking for cancellation between them (and between layers).
 * finish: a moved run follows, which only a whole gap before it makes held, so the gap's last
 * chunk is not stopped between layers (a gap is a few tokens: a new line, a typed word). */
static bool eval_chunks(completion_slot *s, const int32_t *ids, int64_t from, int64_t to,
                        bool finish, const slot_fill_how *how, bool *cancelled, char *err,
                        size_t errlen) {
    for (int64_t at = from; at < to; at += CHUNK_TOKENS) {
        if (how->cancelled && how->cancelled(how->user)) {
            *cancelled = true;
            return true;
        }
        int32_t n = (int32_t)(to - at < CHUNK_TOKENS ? to - at : CHUNK_TOKENS);
        double t0 = now_ms();
        bool whole = finish && at + n == to;
        if (!eval_stoppable(s, ids + at, n, whole, how, cancelled, err, errlen)) return false;
        if (*cancelled) return true;
        if (!engine_eval_resumed(s->ctx))
            measure(how, n, now_ms() - t0); /* a resumed pass is short */
    }
    return true;
}

/* The runs of ids after keep that the cache holds at other positions, moved into place: runs
 * moving left in ascending order, then those moving right in descending order, so no move
 * overwrites a source still to be read. Returns how many are in place (0 when a move fails: the
 * gaps are then evaluated whole, which is always correct). */
static int place_runs(completion_slot *s, const int32_t *ids, int64_t n, int32_t keep,
                      shift_run *runs) {
    int k = completion_shift_plan(s->cached, completion_slot_held(s), ids, n, keep, SHIFT_MIN_RUN,
                                  runs, SHIFT_MAX_RUNS);
    char err[ENGINE_ERR_LEN];
    for (int i = 0; i < k; i++)
        if (runs[i].to < runs[i].from &&
            !engine_kv_move(s->ctx, runs[i].from, runs[i].to, runs[i].n, err, sizeof err))
            return 0;
    for (int i = k - 1; i >= 0; i--)
        if (runs[i].to > runs[i].from &&
            !engine_kv_move(s->ctx, runs[i].from, runs[i].to, runs[i].n, err, sizeof err))
            return 0;
    return k;
}

bool completion_slot_fill(completion_slot *s, const int32_t *ids, int64_t n, int32_t keep,
                          int64_t end, const slot_fill_how *how, int32_t *shifted, bool *cancelled,
                          char *err, size_t errlen) {
    shift_run runs[SHIFT_MAX_RUNS];
    int n_runs = how->shift ? place_runs(s, ids, n, keep, runs) : 0;
    if (s->stale_from >= keep) s->stale_from = SLOT_NO_STALE; /* all after keep is rebuilt */
    if (n_runs > 0 && runs[0].to < s->stale_from) s->stale_from = runs[0].to;
    engine_kv_keep(s->ctx, keep);
    *shifted = 0;
    /* a sliding-window model may keep less (its ring no longer holds the window before keep);
     * such models move nothing (engine_kv_move refuses them) */
    int64_t at = engine_n_past(s->ctx) < keep ? engine_n_past(s->ctx) : keep;
    for (int i = 0; i <= n_runs; i++) {
        int64_t gap_end = i < n_runs ? runs[i].to : end;
        if (!eval_chunks(s, ids, at, gap_end, i < n_runs, how, cancelled, err, errlen))
            return false;
        if (*cancelled || i == n_runs) break;
        engine_kv_extend(s->ctx, runs[i].to + runs[i].n);
        *shifted += runs[i].n;
        at = runs[i].to + runs[i].n;
    }
    return true;
}

/* Each pass overwrites its rows and keeps the ones after it, so a cancel between passes leaves a
 * cache as complete as before, only less of it approximate; a pass stopped between layers leaves
 * its rows part new (exact) and part old (the approximation they were): still stale. */
bool completion_slot_refresh(completion_slot *s, const slot_fill_how *how, int32_t *refreshed,
                             bool *cancelled, char *err, size_t errlen) {
    int64_t held = completion_slot_held(s);
    while (s->stale_from < held) {
        if (how->cancelled && how->cancelled(how->user)) {
            *cancelled = true;
            return true;
        }
        int64_t at = s->stale_from, n = held - at < REFRESH_TOKENS ? held - at : REFRESH_TOKENS;
        engine_kv_keep(s->ctx, (int32_t)at);
        bool ok = eval_stoppable(s, s->cached + at, (int32_t)n, false, how, cancelled, err, errlen);
        if (!ok) {
            s->n_cached = at; /* what the failed pass wrote is unknown */
            s->stale_from = SLOT_NO_STALE;
            return false;
        }
        engine_kv_extend(s->ctx, (int32_t)held);
        if (*cancelled) return true;
        s->stale_from = at + n;
        *refreshed += (int32_t)n;
    }
    s->stale_from = SLOT_NO_STALE;
    return true;
}

bool completion_slot_stale(const completion_slot *s) {
    return s->stale_from < s->n_cached;
}
