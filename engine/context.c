/* Context lifetime, KV-cache bookkeeping and batching of long inputs. */
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

uint64_t engine_kv_bytes(const engine_model *m, int32_t n_ctx, engine_kv_type kv_type) {
    const engine_model_info *in = &m->info;
    uint64_t per_pos = kv_bytes_of(kv_type, (size_t)in->n_head_kv * (size_t)in->head_dim);
    return 2 * per_pos * (uint64_t)n_ctx * (uint64_t)in->n_layer;
}

static void *track(engine_ctx *c, size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    c->bytes += bytes;
    return p;
}

static bool alloc_buffers(engine_ctx *c) {
    const engine_model_info *in = &c->m->info;
    size_t nb = (size_t)c->n_batch, e = (size_t)in->n_embd;
    size_t q = (size_t)in->n_head * in->head_dim, kv = (size_t)in->n_head_kv * in->head_dim;
    size_t ff = (size_t)(in->n_ff > in->n_ff_exp ? in->n_ff : in->n_ff_exp);
    size_t widest = e > q ? e : q;
    if (ff > widest) widest = ff;
    c->k = calloc((size_t)in->n_layer, sizeof *c->k);
    c->v = calloc((size_t)in->n_layer, sizeof *c->v);
    if (!c->k || !c->v) return false;
    /* a paged cache holds its blocks; a contiguous one n_ctx positions */
    size_t rows = c->kv_block ? (size_t)c->n_kv_blocks * (size_t)c->kv_block : (size_t)c->n_ctx;
    for (int l = 0; l < in->n_layer; l++) {
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
    c->pos = track(c, nb * sizeof(int32_t));
    c->attn_lo = track(c, nb * sizeof(int32_t));
    c->attn_hi = track(c, nb * sizeof(int32_t));
    if (!attn_by_rows((int)group, c->causal)) /* the tiled way's per-thread scratch */
        c->attn_scratch_floats = attn_tile_scratch_floats((int)group, in->head_dim);
    c->attn_scratch = track(c, (size_t)threadpool_size(c->pool) * c->attn_scratch_floats * 4);
    c->attn_tiles = track(c, (nb + 1) * sizeof(int32_t));
    if (in->n_expert > 0) {
        size_t X = (size_t)in->n_expert, k = (size_t)in->n_expert_used;
        c->router = track(c, nb * X * 4);
        c->sel_w = track(c, nb * k * 4);
        c->sel_id = track(c, nb * k * sizeof(int32_t));
        c->routed = track(c, nb * sizeof(int32_t));
        c->moe_in = track(c, nb * e * 4);
        c->moe_out = track(c, nb * e * 4);
        if (!c->router || !c->sel_w || !c->sel_id || !c->routed || !c->moe_in || !c->moe_out)
            return false;
    }
    return c->x && c->xn && c->q && c->kc && c->vc && c->attn && c->gate && c->up &&
           (c->scores || !attn_by_rows((int)group, c->causal)) && c->xq && c->pos && c->attn_lo &&
           c->attn_hi && c->attn_scratch && c->attn_tiles;
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

engine_ctx *engine_ctx_new(const engine_model *m, const engine_ctx_params *p, char *err,
                           size_t errlen) {
    return ctx_create(m, p, NULL, err, errlen);
}

engine_ctx *ctx_create(const engine_model *m, const engine_ctx_params *p,
                       const engine_paged_params *pp, char *err, size_t errlen) {
    engine_ctx_params d = p ? *p : engine_ctx_default_params();
    if (!m->layers) {
        snprintf(err, errlen, "the model was loaded for its vocabulary only");
        return NULL;
    }
    if (d.n_ctx < 0 || d.n_batch < 0 || d.n_threads < 0 || d.n_threads > 256) {
        snprintf(err, errlen, "invalid context parameters");
        return NULL;
    }
    if (d.kv_type != ENGINE_KV_F16 && d.kv_type != ENGINE_KV_F32 && d.kv_type != ENGINE_KV_Q8_0) {
        snprintf(err, errlen, "unknown KV-cache type %d", (int)d.kv_type);
        return NULL;
    }
    if (d.kv_type == ENGINE_KV_Q8_0 && m->info.head_dim % KV_Q8_BLOCK) {
        snprintf(err, errlen, "a Q8_0 KV cache needs head_dim a multiple of %d; this model's is %d",
                 KV_Q8_BLOCK, m->info.head_dim);
        return NULL;
    }
    engine_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->m = m;
    c->n_ctx = d.n_ctx ? d.n_ctx : (m->info.n_ctx_train < 4096 ? m->info.n_ctx_train : 4096);
    c->n_logit_tok = -1;
    if (pp) { /* paged: n_ctx is the longest one sequence may grow */
        c->kv_block = pp->block_size;
        c->n_kv_blocks = pp->n_blocks;
        c->n_ctx = pp->max_seq_len;
    }
    c->n_batch = d.n_batch ? d.n_batch : 512;
    if (c->n_batch > c->n_ctx) c->n_batch = c->n_ctx;
    c->kv_type = d.kv_type;
    c->causal = m->arch->family != FAMILY_BERT;
    c->attn_k = attn_kernels_for(quant_active_isa(), m->info.head_dim);
    c->pool = threadpool_new(d.n_threads ? d.n_threads : engine_physical_cores());
    if (!c->pool || !alloc_buffers(c) || (pp && !batch_paged_alloc(c, pp))) {
        engine_ctx_free(c);
        snprintf(err, errlen, "out of memory allocating a %d-position context", c->n_ctx);
        return NULL;
    }
    return c;
}

void engine_ctx_free(engine_ctx *c) {
    if (!c) return;
    for (int l = 0; l < c->m->info.n_layer; l++) {
        if (c->k) free(c->k[l]);
        if (c->v) free(c->v[l]);
    }
    free(c->k);
    free(c->v);
    free(c->x);
    free(c->xn);
    free(c->q);
    free(c->kc);
    free(c->vc);
    free(c->attn);
    free(c->gate);
    free(c->up);
    free(c->scores);
    free(c->xq);
    free(c->pos);
    free(c->attn_lo);
    free(c->attn_hi);
    free(c->attn_scratch);
    free(c->attn_tiles);
    free(c->router);
    free(c->sel_w);
    free(c->sel_id);
    free(c->routed);
    free(c->moe_in);
    free(c->moe_out);
    free(c->logits);
    batch_paged_free(c);
    if (c->pool) threadpool_free(c->pool);
    free(c);
}

int32_t engine_ctx_n_ctx(const engine_ctx *c) {
    return c->n_ctx;
}
uint64_t engine_ctx_memory(const engine_ctx *c) {
    return c->bytes;
}
int32_t engine_n_past(const engine_ctx *c) {
    return c->n_past;
}

void engine_kv_keep(engine_ctx *c, int32_t n) {
    if (n < 0) n = 0;
    if (n < c->n_past) c->n_past = n; /* entries past n_past are never read, so no clearing */
}

bool ctx_reserve_logits(engine_ctx *c, int32_t rows) {
    size_t need = (size_t)rows * (size_t)c->m->info.n_vocab;
    if (rows <= c->n_logits && c->logits) return true;
    float *l = realloc(c->logits, need * sizeof(float));
    if (!l) return false;
    c->logits = l;
    c->n_logits = rows;
    return true;
}

bool engine_eval(engine_ctx *c, const int32_t *ids, int32_t n, bool all_logits, char *err,
                 size_t errlen) {
    if (n <= 0) {
        snprintf(err, errlen, "nothing to evaluate");
        return false;
    }
    if (c->kv_block) {
        snprintf(err, errlen, "a paged context evaluates through engine_eval_seqs");
        return false;
    }
    if (n > c->n_ctx - c->n_past) {
        snprintf(err, errlen, "context full: %d positions held, %d more do not fit in %d",
                 c->n_past, n, c->n_ctx);
        return false;
    }
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->m->info.n_vocab) {
            snprintf(err, errlen, "token id %d is out of range [0, %d)", ids[i],
                     c->m->info.n_vocab);
            return false;
        }
    if (!ctx_reserve_logits(c, all_logits ? n : 1)) {
        snprintf(err, errlen, "out of memory for logits");
        return false;
    }
    c->n_last_eval = n;
    c->logits_first = all_logits ? 0 : n - 1;
    for (int32_t done = 0; done < n;) {
        int32_t chunk = n - done < c->n_batch ? n - done : c->n_batch;
        size_t nv = (size_t)c->m->info.n_vocab;
        float *dst =
            all_logits ? c->logits + (size_t)done * nv : (done + chunk == n ? c->logits : NULL);
        forward_batch(c, ids + done, chunk, dst, all_logits);
        done += chunk;
    }
    return true;
}

const float *engine_logits(const engine_ctx *c, int32_t i) {
    if (i < 0) i = c->n_last_eval - 1;
    if (!c->logits || i < c->logits_first || i >= c->n_last_eval) return NULL;
    return c->logits + (size_t)(i - c->logits_first) * (size_t)c->m->info.n_vocab;
}

int engine_pool_workers(void) {
    return threadpool_workers();
}

const char *engine_simd_name(void) {
    return quant_isa_name(quant_active_isa());
}
