/* Moving cached positions, so a prompt that shares runs of tokens with the cached one at other
 * places (a line typed above them, a cursor moved through the file) keeps their K/V entries.
 *
 * RoPE turns each pair of a key's rotated dimensions by position * theta_i, and turns compose:
 * turning the key cached at position p by (q - p) * theta_i gives the key the same vector has at
 * position q. A key is a function of its token alone in the first layer only, so this is exact
 * there; in later layers the moved entries still carry what their tokens saw at their old place,
 * which the caller accepts (completion/ keeps only long runs). Values carry no position and move
 * as they are. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

#define MOVE_ROWS 64 /* rows turned per step (float scratch of MOVE_ROWS keys) */

typedef struct {
    float cos[ATTN_MAX_HEAD_DIM / 2], sin[ATTN_MAX_HEAD_DIM / 2];
    int half, head_dim, heads;
    bool neox;
} turn;

/* The turn of every rotated pair by delta positions, as forward.c's op_rope angles them. */
static void turn_init(turn *t, const engine_model *m, int32_t delta) {
    t->half = m->n_rot / 2;
    t->head_dim = m->info.head_dim;
    t->heads = m->info.n_head_kv;
    t->neox = m->arch->rope == ROPE_NEOX;
    float p = (float)delta * m->rope_freq_scale;
    for (int i = 0; i < t->half; i++) {
        float theta = p * powf(m->info.rope_freq_base, -2.0f * (float)i / (float)m->n_rot);
        t->cos[i] = cosf(theta);
        t->sin[i] = sinf(theta);
    }
}

static void turn_rows(const turn *t, float *x, int rows) {
    for (int r = 0; r < rows * t->heads; r++) {
        float *v = x + (size_t)r * t->head_dim;
        for (int i = 0; i < t->half; i++) {
            int a = t->neox ? i : 2 * i, b = t->neox ? i + t->half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * t->cos[i] - x1 * t->sin[i];
            v[b] = x0 * t->sin[i] + x1 * t->cos[i];
        }
    }
}

static void widen_rows(const ctx_core *c, float *dst, const uint8_t *src, size_t count) {
    if (c->kv_type == ENGINE_KV_F32)
        memcpy(dst, src, count * sizeof(float));
    else if (c->kv_type == ENGINE_KV_Q8_0)
        c->attn_k->widen_q8_0(dst, src, (int)count);
    else
        c->attn_k->widen_f16(dst, src, (int)count);
}

/* One layer's keys [from, from+n) -> [to, to+n), turned; steps ordered so that a step never
 * overwrites rows a later step still reads. */
static void move_keys(ctx_core *c, uint8_t *k, const turn *t, int32_t from, int32_t to, int32_t n,
                      float *scratch) {
    size_t kv = (size_t)t->heads * (size_t)t->head_dim, row = kv_bytes_of(c->kv_type, kv);
    for (int32_t done = 0; done < n; done += MOVE_ROWS) {
        int32_t m = n - done < MOVE_ROWS ? n - done : MOVE_ROWS;
        int32_t off = to > from ? n - done - m : done; /* moving right: the last rows first */
        widen_rows(c, scratch, k + (size_t)(from + off) * row, (size_t)m * kv);
        turn_rows(t, scratch, m);
        ctx_kv_store(c, k + (size_t)(to + off) * row, scratch, (size_t)m * kv);
    }
}

static bool move_ok(const engine_ctx *c, int32_t from, int32_t to, int32_t n, char *err,
                    size_t errlen) {
    if (!c->seq || !c->core.causal) {
        snprintf(err, errlen, "only a one-sequence decoder context moves cached positions");
        return false;
    }
    const engine_model *m = c->core.m;
    if (m->arch->rope == ROPE_NONE || m->n_rot > ATTN_MAX_HEAD_DIM) {
        snprintf(err, errlen, "the model's positions are not rotations: entries cannot move");
        return false;
    }
    /* YaRN turns each pair by a blended frequency and scales it: turn_init's angles would be
     * wrong. Sliding-window layers are to keep only their window's rows, which a move cannot
     * refill. Refused rather than approximated. */
    if (m->rope.yarn || m->n_swa > 0) {
        snprintf(err, errlen, "cached positions of a model with %s cannot move",
                 m->rope.yarn ? "YaRN rope scaling" : "sliding-window attention");
        return false;
    }
    if (n <= 0 || from < 0 || to < 0 || from > engine_n_past(c) - n || to > c->core.kv_rows - n) {
        snprintf(err, errlen, "cannot move %d cached positions from %d to %d (%d held, %d rows)", n,
                 from, to, engine_n_past(c), c->core.kv_rows);
        return false;
    }
    return true;
}

bool engine_kv_move(engine_ctx *c, int32_t from, int32_t to, int32_t n, char *err, size_t errlen) {
    if (!move_ok(c, from, to, n, err, errlen)) return false;
    if (from == to) return true;
    ctx_seq_forget_stopped(c); /* the rows it wrote may be overwritten */
    ctx_core *core = &c->core;
    const engine_model *m = core->m;
    turn t;
    turn_init(&t, m, to - from);
    size_t kv = (size_t)m->info.n_head_kv * (size_t)m->info.head_dim;
    float *scratch = malloc((size_t)MOVE_ROWS * kv * sizeof(float));
    if (!scratch) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    size_t row = kv_bytes_of(core->kv_type, kv);
    for (int l = 0; l < m->info.n_layer; l++) {
        move_keys(core, core->k[l], &t, from, to, n, scratch);
        memmove(core->v[l] + (size_t)to * row, core->v[l] + (size_t)from * row, (size_t)n * row);
    }
    free(scratch);
    return true;
}
