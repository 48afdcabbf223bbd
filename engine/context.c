/* The core every context has (KV storage, scratch, logits; context.h) and the one-sequence kind:
 * engine_eval describes each n_batch chunk of its input as a fwd_batch continuing the sequence;
 * engine_kv_keep trims it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attend.h"
#include "context.h"
#include "ops.h"

engine_ctx_params engine_ctx_default_params(void) {
    engine_ctx_params p = {0, 0, 0, ENGINE_KV_F16};
    return p;
}

int32_t ctx_swa_ring(const engine_model *m, int32_t n_ctx, int32_t n_batch) {
    if (m->n_swa <= 0) return n_ctx;
    int64_t rows =
        (int64_t)m->n_swa - 1 + (n_batch > SWA_RING_MIN_BATCH ? n_batch : SWA_RING_MIN_BATCH);
    return rows < n_ctx ? (int32_t)rows : n_ctx;
}

uint64_t engine_kv_bytes(const engine_model *m, int32_t n_ctx, engine_kv_type kv_type) {
    const engine_model_info *in = &m->info;
    uint64_t per_pos = kv_bytes_of(kv_type, (size_t)in->n_head_kv * (size_t)in->head_dim);
    uint64_t swa = (uint64_t)(m->n_swa > 0 ? in->n_swa_layers : 0);
    int32_t ring = engine_kv_swa_rows(m, n_ctx);
    uint64_t rows = (uint64_t)n_ctx * ((uint64_t)in->n_layer - swa) + (uint64_t)ring * swa;
    if (ring < n_ctx) rows += (uint64_t)(m->n_swa - 1) * swa; /* engine_kv_checkpoint's copy */
    return 2 * per_pos * rows;
}

int32_t engine_kv_swa_rows(const engine_model *m, int32_t n_ctx) {
    return ctx_swa_ring(m, n_ctx, ctx_n_batch(NULL, n_ctx));
}

/* One sequence (engine_ctx_new): position j is cache row j, and in sliding-window layers row
 * j % swa_rows, where rows of positions [ring_lo, n_past) are still held. */
struct ctx_seq {
    int32_t n_past;
    int32_t ring_lo;
    /* engine_kv_checkpoint: the sliding-window layers' rows of positions
     * [saved_at - saved_rows, saved_at), per layer K then V, n_swa - 1 rows each; -1: none */
    int32_t saved_at, saved_rows;
    uint8_t *saved;
    int32_t logits_first, n_last_eval; /* the last engine_eval: token of logits row 0, tokens */
    engine_stop_fn stop;               /* engine_ctx_set_stop */
    void *stop_user;
    bool stopped; /* the last engine_eval was stopped */
    /* The pass a stop cut short: its tokens at positions [paused_at, paused_at + paused_n), the
     * layer it stopped before and the residual stream then (paused_n rows); an engine_eval of
     * the same tokens there resumes it. paused_n 0: none. */
    int32_t paused_at, paused_n, paused_layer, paused_cap;
    int32_t *paused_ids;
    float *paused_x;
    int32_t resumed; /* tokens of the last engine_eval that resumed a stopped pass */
};

static void *track(ctx_core *c, size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    c->bytes += bytes;
    return p;
}

/* The per-token arrays every forward call's description fills (context.h). */
static bool alloc_batch(ctx_core *c) {
    size_t nb = (size_t)c->n_batch;
    fwd_batch *b = &c->batch;
    b->pos = track(c, nb * sizeof(int32_t));
    b->lo = track(c, nb * sizeof(int32_t));
    b->hi = track(c, nb * sizeof(int32_t));
    b->kv_row = track(c, nb * sizeof(int32_t));
    b->logit_tok = track(c, nb * sizeof(int32_t));
    return b->pos && b->lo && b->hi && b->kv_row && b->logit_tok;
}

static bool alloc_moe(ctx_core *c) {
    const engine_model_info *in = &c->m->info;
    size_t nb = (size_t)c->n_batch, e = (size_t)in->n_embd;
    size_t X = (size_t)in->n_expert, k = (size_t)in->n_expert_used;
    c->router = track(c, nb * X * 4);
    c->sel_w = track(c, nb * k * 4);
    c->sel_id = track(c, nb * k * sizeof(int32_t));
    c->routed = track(c, nb * sizeof(int32_t));
    c->moe_in = track(c, nb * e * 4);
    c->moe_out = track(c, nb * e * 4);
    return c->router && c->sel_w && c->sel_id && c->routed && c->moe_in && c->moe_out;
}

static bool alloc_buffers(ctx_core *c) {
    const engine_model_info *in = &c->m->info;
    size_t nb = (size_t)c->n_batch, e = (size_t)in->n_embd;
    size_t q = (size_t)in->n_head * in->head_dim, kv = (size_t)in->n_head_kv * in->head_dim;
    size_t ff = (size_t)(in->n_ff > in->n_ff_exp ? in->n_ff : in->n_ff_exp);
    size_t widest = e > q ? e : q;
    if (ff > widest) widest = ff;
    c->k = calloc((size_t)in->n_layer, sizeof *c->k);
    c->v = calloc((size_t)in->n_layer, sizeof *c->v);
    if (!c->k || !c->v) return false;
    for (int l = 0; l < in->n_layer; l++) {
        size_t rows = (size_t)(c->m->layers && c->m->layers[l].swa ? c->swa_rows : c->kv_rows);
        c->k[l] = track(c, rows * kv_bytes_of(c->kv_type, kv));
        c->v[l] = track(c, rows * kv_bytes_of(c->kv_type, kv));
        if (!c->k[l] || !c->v[l]) return false;
    }
    c->x = track(c, nb * e * 4);
    c->xn = track(c, nb * widest * 4);
    c->q = track(c, nb * q * 4);
    c->kc = track(c, nb * kv * 4);
    c->vc = track(c, nb * kv * 4);
    c->attn = track(c, nb * q * 4);
    c->gate = track(c, nb * ff * 4);
    c->up = track(c, nb * ff * 4);
    size_t group = (size_t)(in->n_head / in->n_head_kv); /* query heads sharing a kv head */
    /* a full row of scores per head only where attention goes row by row (attend.h) */
    if (attn_by_rows((int)group, c->causal))
        c->scores = track(c, (size_t)threadpool_size(c->pool) * group * (size_t)c->n_ctx * 4);
    c->xq = track(c, op_matmul_scratch((int64_t)widest, c->n_batch));
    if (!attn_by_rows((int)group, c->causal)) /* the tiled way's per-thread scratch */
        c->attn_scratch_floats = attn_tile_scratch_floats((int)group, in->head_dim);
    c->attn_scratch = track(c, (size_t)threadpool_size(c->pool) * c->attn_scratch_floats * 4);
    c->attn_tiles = track(c, (nb + 1) * sizeof(int32_t));
    c->swa_lo = track(c, nb * sizeof(int32_t));
    c->swa_row = track(c, nb * sizeof(int32_t));
    if (in->n_expert > 0 && !alloc_moe(c)) return false;
    return c->x && c->xn && c->q && c->kc && c->vc && c->attn && c->gate && c->up &&
           (c->scores || !attn_by_rows((int)group, c->causal)) && c->xq && c->attn_scratch &&
           c->attn_tiles && c->swa_lo && c->swa_row && alloc_batch(c);
}

static void free_buffers(ctx_core *c) {
    for (int l = 0; l < c->m->info.n_layer; l++) {
        if (c->k) free(c->k[l]);
        if (c->v) free(c->v[l]);
    }
    free(c->k);
    free(c->v);
    float *f[] = {c->x,     c->xn,     c->q,       c->kc,     c->vc,
                  c->attn,  c->gate,   c->up,      c->scores, c->router,
                  c->sel_w, c->moe_in, c->moe_out, c->logits, c->attn_scratch};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(f[i]);
    int32_t *ints[] = {c->attn_tiles, c->sel_id,   c->routed,       c->batch.pos,
                       c->batch.lo,   c->batch.hi, c->batch.kv_row, c->batch.logit_tok,
                       c->swa_lo,     c->swa_row};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) free(ints[i]);
    free(c->xq);
    if (c->pool) threadpool_free(c->pool);
}

int engine_physical_cores(void) {
    /* Count distinct (physical id, core id) pairs; fall back to online CPUs. */
    FILE *f = fopen("/proc/cpuinfo", "r");
    int ids[1024][2], n = 0, phys = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        int v;
        if (sscanf(line, "physical id : %d", &v) == 1) phys = v;
        if (sscanf(line, "core id : %d", &v) == 1) {
            bool seen = false;
            for (int i = 0; i < n; i++) seen |= ids[i][0] == phys && ids[i][1] == v;
            if (!seen && n < 1024) {
                ids[n][0] = phys;
                ids[n][1] = v;
                n++;
            }
        }
    }
    if (f) fclose(f);
    if (n > 0) return n;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

static bool params_ok(const engine_model *m, const engine_ctx_params *d, char *err, size_t errlen) {
    if (!m->layers) {
        snprintf(err, errlen, "the model was loaded for its vocabulary only");
        return false;
    }
    if (d->n_ctx < 0 || d->n_batch < 0 || d->n_threads < 0 || d->n_threads > 256) {
        snprintf(err, errlen, "invalid context parameters");
        return false;
    }
    if (d->kv_type != ENGINE_KV_F16 && d->kv_type != ENGINE_KV_F32 &&
        d->kv_type != ENGINE_KV_Q8_0) {
        snprintf(err, errlen, "unknown KV-cache type %d", (int)d->kv_type);
        return false;
    }
    if (d->kv_type == ENGINE_KV_Q8_0 && m->info.head_dim % KV_Q8_BLOCK) {
        snprintf(err, errlen, "a Q8_0 KV cache needs head_dim a multiple of %d; this model's is %d",
                 KV_Q8_BLOCK, m->info.head_dim);
        return false;
    }
    return true;
}

int32_t ctx_n_batch(const engine_ctx_params *p, int32_t n_ctx) {
    int32_t n_batch = p && p->n_batch ? p->n_batch : 512;
    return n_batch < n_ctx ? n_batch : n_ctx;
}

engine_ctx *ctx_new(const engine_model *m, const engine_ctx_params *p, int32_t n_ctx,
                    int32_t kv_rows, int32_t swa_rows, char *err, size_t errlen) {
    engine_ctx_params d = p ? *p : engine_ctx_default_params();
    if (!params_ok(m, &d, err, errlen)) return NULL;
    engine_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ctx_core *c = &ctx->core;
    c->m = m;
    if (!n_ctx) n_ctx = d.n_ctx;
    c->n_ctx = n_ctx ? n_ctx : (m->info.n_ctx_train < 4096 ? m->info.n_ctx_train : 4096);
    c->kv_rows = kv_rows ? kv_rows : c->n_ctx;
    c->n_batch = ctx_n_batch(&d, c->n_ctx);
    c->swa_rows = swa_rows ? swa_rows : ctx_swa_ring(m, c->n_ctx, c->n_batch);
    c->kv_type = d.kv_type;
    c->causal = m->arch->family != FAMILY_BERT;
    c->attn_k = attn_kernels_for(quant_active_isa(), m->info.head_dim);
    c->pool = threadpool_new(d.n_threads ? d.n_threads : engine_physical_cores());
    if (!c->pool || !alloc_buffers(c)) {
        snprintf(err, errlen, "out of memory allocating a %d-position context", c->n_ctx);
        engine_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Bytes of the rows of positions one checkpoint saves, all sliding-window layers, K and V. */
static size_t window_bytes(const ctx_core *c) {
    const engine_model_info *in = &c->m->info;
    size_t row = kv_bytes_of(c->kv_type, (size_t)in->n_head_kv * (size_t)in->head_dim);
    return 2 * (size_t)in->n_swa_layers * (size_t)(c->m->n_swa - 1) * row;
}

engine_ctx *ctx_seq_new(const engine_model *m, const engine_ctx_params *p, int32_t swa_rows,
                        char *err, size_t errlen) {
    engine_ctx *c = ctx_new(m, p, 0, 0, swa_rows, err, errlen);
    bool ok = c && (c->seq = calloc(1, sizeof *c->seq));
    if (ok) c->seq->saved_at = -1;
    /* a ring that cannot hold every position needs the checkpoint's copy */
    if (ok && m->n_swa > 1 && c->core.swa_rows < c->core.n_ctx)
        ok = (c->seq->saved = track(&c->core, window_bytes(&c->core))) != NULL;
    if (c && !ok) {
        engine_ctx_free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return c;
}

engine_ctx *engine_ctx_new(const engine_model *m, const engine_ctx_params *p, char *err,
                           size_t errlen) {
    return ctx_seq_new(m, p, 0, err, errlen);
}

void engine_ctx_free(engine_ctx *c) {
    if (!c) return;
    free_buffers(&c->core);
    if (c->seq) {
        free(c->seq->saved);
        free(c->seq->paused_ids);
        free(c->seq->paused_x);
    }
    free(c->seq);
    batch_paged_free(c->paged);
    free(c);
}

int32_t engine_ctx_n_ctx(const engine_ctx *c) {
    return c->core.n_ctx;
}
uint64_t engine_ctx_memory(const engine_ctx *c) {
    return c->core.bytes;
}
int32_t engine_n_past(const engine_ctx *c) {
    return c->seq ? c->seq->n_past : 0;
}

/* Copies the sliding-window layers' rows of positions [from, from + n) between the ring and the
 * checkpoint (to_ring: back into the ring). */
static void window_copy(engine_ctx *c, int32_t from, int32_t n, bool to_ring) {
    const ctx_core *core = &c->core;
    const engine_model *m = core->m;
    size_t row = kv_bytes_of(core->kv_type, (size_t)m->info.n_head_kv * m->info.head_dim);
    size_t layer_part = (size_t)(m->n_swa - 1) * row;
    uint8_t *saved = c->seq->saved;
    for (int l = 0; l < m->info.n_layer; l++) {
        for (int kv = 0; m->layers[l].swa && kv < 2; kv++, saved += layer_part) {
            uint8_t *ring = kv ? core->v[l] : core->k[l];
            for (int32_t i = 0; i < n; i++) {
                uint8_t *r = ring + (size_t)((from + i) % core->swa_rows) * row;
                uint8_t *cp = saved + (size_t)i * row;
                memcpy(to_ring ? r : cp, to_ring ? cp : r, row);
            }
        }
    }
}

void engine_kv_checkpoint(engine_ctx *c) {
    ctx_seq *s = c->seq;
    if (!s || !s->saved) return; /* no ring, or one that holds every position */
    int32_t from = s->n_past - (c->core.m->n_swa - 1);
    if (from < 0) from = 0;
    window_copy(c, from, s->n_past - from, false);
    s->saved_at = s->n_past;
    s->saved_rows = s->n_past - from;
}

/* Whether the sliding-window layers still hold what a token at position n reads before it. */
static bool window_held(const engine_ctx *c, int32_t n) {
    int32_t from = n - c->core.m->n_swa + 1;
    return c->core.m->n_swa <= 0 || (from > 0 ? from : 0) >= c->seq->ring_lo;
}

void engine_kv_keep(engine_ctx *c, int32_t n) {
    ctx_seq *s = c->seq;
    if (n < 0) n = 0;
    if (!s || n >= s->n_past) return;
    /* entries past n_past are never read, so no clearing; but the next token at n reads the
     * sliding-window layers' positions from n - n_swa + 1 on, which the ring may have overwritten:
     * then the checkpoint at or before n is the nearest exact place, else the start */
    if (!window_held(c, n) && s->saved_at >= 0 && s->saved_at <= n) {
        window_copy(c, s->saved_at - s->saved_rows, s->saved_rows, true);
        s->ring_lo = s->saved_at - s->saved_rows;
        n = s->saved_at;
    } else if (!window_held(c, n)) {
        n = 0;
    }
    s->n_past = n;
    s->paused_n = 0;                       /* later passes write where it wrote */
    if (s->saved_at > n) s->saved_at = -1; /* positions before it were dropped */
    if (n == 0) s->ring_lo = 0;
}

void engine_kv_extend(engine_ctx *c, int32_t n) {
    /* a sliding-window model's rows cannot have been moved in (engine_kv_move refuses it) */
    if (c->core.m->n_swa > 0) return;
    if (c->seq && n > c->seq->n_past && n <= c->core.n_ctx) {
        c->seq->n_past = n;
        c->seq->paused_n = 0;
    }
}

void ctx_seq_forget_stopped(engine_ctx *c) {
    if (c->seq) c->seq->paused_n = 0;
}

/* Tokens at the start of ids[0, n) that continue the stopped pass (same place, same tokens): a
 * token's residual stream depends only on the tokens up to it, so any prefix of that pass can
 * resume. 0: none. */
static int32_t resumable(const ctx_seq *s, const int32_t *ids, int32_t n) {
    if (s->paused_n == 0 || s->paused_at != s->n_past) return 0;
    int32_t k = 0, lim = n < s->paused_n ? n : s->paused_n;
    while (k < lim && ids[k] == s->paused_ids[k]) k++;
    return k;
}

/* Keeps what a stopped pass of n tokens computed, for resumable(). False: out of memory (then
 * nothing is kept, which is only slower). */
static bool keep_stopped(engine_ctx *c, const int32_t *ids, int32_t n) {
    ctx_seq *s = c->seq;
    size_t e = (size_t)c->core.m->info.n_embd;
    if (n > s->paused_cap) {
        int32_t *i2 = realloc(s->paused_ids, (size_t)n * sizeof *i2);
        if (i2) s->paused_ids = i2;
        float *x2 = i2 ? realloc(s->paused_x, (size_t)n * e * sizeof *x2) : NULL;
        if (x2) s->paused_x = x2;
        if (!i2 || !x2) return false;
        s->paused_cap = n;
    }
    memcpy(s->paused_ids, ids, (size_t)n * sizeof *ids);
    memcpy(s->paused_x, c->core.x, (size_t)n * e * sizeof(float));
    s->paused_at = s->n_past;
    s->paused_n = n;
    s->paused_layer = c->core.stopped_layer;
    return true;
}

bool ctx_reserve_logits(ctx_core *c, int32_t rows) {
    size_t need = (size_t)rows * (size_t)c->m->info.n_vocab;
    if (rows <= c->n_logits && c->logits) return true;
    float *l = realloc(c->logits, need * sizeof(float));
    if (!l) return false;
    c->logits = l;
    c->n_logits = rows;
    return true;
}

/* n tokens continuing the sequence: positions and cache rows n_past.., each token seeing the
 * sequence up to itself; no logits or hidden states unless the caller adds them. */
static fwd_batch *seq_batch(engine_ctx *c, const int32_t *ids, int32_t n) {
    fwd_batch *b = &c->core.batch;
    int32_t past = c->seq->n_past;
    b->n = n;
    b->ids = ids;
    b->swa_row = c->core.swa_row;
    for (int32_t t = 0; t < n; t++) {
        b->pos[t] = b->kv_row[t] = past + t;
        b->swa_row[t] = (past + t) % c->core.swa_rows;
        b->lo[t] = 0;
        b->hi[t] = past + t + 1;
    }
    b->blocks = NULL;
    b->kv_block = 0;
    b->swa_blocks = NULL;
    b->swa_ring = c->core.swa_rows;
    b->n_logits = 0;
    b->logits = NULL;
    b->hidden = NULL;
    return b;
}

static bool seq_eval_ok(const engine_ctx *c, const int32_t *ids, int32_t n, char *err,
                        size_t errlen) {
    if (!c->seq) {
        snprintf(err, errlen, "a paged context evaluates through engine_eval_seqs");
        return false;
    }
    if (!c->core.causal) {
        snprintf(err, errlen, "an encoder model gives embeddings only (engine_embed)");
        return false;
    }
    if (n <= 0) {
        snprintf(err, errlen, "nothing to evaluate");
        return false;
    }
    if (n > c->core.n_ctx - c->seq->n_past) {
        snprintf(err, errlen, "context full: %d positions held, %d more do not fit in %d",
                 c->seq->n_past, n, c->core.n_ctx);
        return false;
    }
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->core.m->info.n_vocab) {
            snprintf(err, errlen, "token id %d is out of range [0, %d)", ids[i],
                     c->core.m->info.n_vocab);
            return false;
        }
    return true;
}

bool ctx_seq_eval(engine_ctx *c, const int32_t *ids, int32_t n, bool all_logits, float *hidden,
                  char *err, size_t errlen) {
    if (!seq_eval_ok(c, ids, n, err, errlen)) return false;
    if (!ctx_reserve_logits(&c->core, all_logits ? n : 1)) {
        snprintf(err, errlen, "out of memory for logits");
        return false;
    }
    c->seq->n_last_eval = n;
    c->seq->logits_first = all_logits ? 0 : n - 1;
    c->seq->stopped = false;
    c->seq->resumed = 0;
    size_t nv = (size_t)c->core.m->info.n_vocab, e = (size_t)c->core.m->info.n_embd;
    for (int32_t done = 0; done < n;) {
        int32_t chunk = n - done < c->core.n_batch ? n - done : c->core.n_batch;
        int32_t again = resumable(c->seq, ids + done, chunk);
        if (again > 0) { /* the layers it ran stay; x goes back to where they left it */
            chunk = again;
            c->core.first_layer = c->seq->paused_layer;
            memcpy(c->core.x, c->seq->paused_x, (size_t)again * e * sizeof(float));
            c->seq->resumed += again;
        }
        c->seq->paused_n = 0; /* resumed now, or this pass writes its rows */
        fwd_batch *b = seq_batch(c, ids + done, chunk);
        if (all_logits || done + chunk == n) { /* every token's logits, or the last one's */
            b->n_logits = all_logits ? chunk : 1;
            for (int32_t i = 0; i < b->n_logits; i++) b->logit_tok[i] = chunk - b->n_logits + i;
            b->logits = c->core.logits + (all_logits ? (size_t)done * nv : 0);
        }
        b->hidden = hidden ? hidden + (size_t)done * e : NULL;
        c->core.stop = c->seq->stop, c->core.stop_user = c->seq->stop_user;
        bool whole = forward_batch(&c->core, b);
        c->core.stop = NULL; /* embeddings and other users of the core run to the end */
        c->core.first_layer = 0;
        /* ring rows reused below the rows written (a stopped chunk wrote some of them too) */
        int32_t overwritten = c->seq->n_past + chunk - c->core.swa_rows;
        if (overwritten > c->seq->ring_lo) c->seq->ring_lo = overwritten;
        if (!whole) {
            keep_stopped(c, ids + done, chunk);
            c->seq->stopped = true;
            c->seq->n_last_eval = 0; /* no logits: the stopped chunk never reached them */
            snprintf(err, errlen, "evaluation stopped by its caller");
            return false;
        }
        c->seq->n_past += chunk;
        done += chunk;
    }
    return true;
}

bool engine_eval(engine_ctx *c, const int32_t *ids, int32_t n, bool all_logits, char *err,
                 size_t errlen) {
    return ctx_seq_eval(c, ids, n, all_logits, NULL, err, errlen);
}

void engine_ctx_set_stop(engine_ctx *c, engine_stop_fn fn, void *user) {
    if (!c->seq) return; /* a paged context's passes serve many requests: never stopped */
    c->seq->stop = fn;
    c->seq->stop_user = user;
}

bool engine_eval_stopped(const engine_ctx *c) {
    return c->seq && c->seq->stopped;
}

int32_t engine_eval_resumed(const engine_ctx *c) {
    return c->seq ? c->seq->resumed : 0;
}

const float *engine_logits(const engine_ctx *c, int32_t i) {
    const ctx_seq *s = c->seq;
    if (!s) return NULL;
    if (i < 0) i = s->n_last_eval - 1;
    if (!c->core.logits || i < s->logits_first || i >= s->n_last_eval) return NULL;
    return c->core.logits + (size_t)(i - s->logits_first) * (size_t)c->core.m->info.n_vocab;
}

int engine_pool_workers(void) {
    return threadpool_workers();
}

const char *engine_simd_name(void) {
    return quant_isa_name(quant_active_isa());
}
