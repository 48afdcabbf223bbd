/* The transformer forward pass for llama / qwen2 / qwen3 / qwen3moe / gpt-oss, one batch of
 * tokens at a time.
 * What a call computes is the fwd_batch it is given (context.h): each token's id, position,
 * attention range and cache row, which tokens give logits, where hidden states go; the pass
 * never asks which kind of context described it.
 * Shapes: n tokens, e = n_embd, H heads and KV kv-heads of hd dims, ff = n_ff, V = n_vocab.
 * Activations are row-major, one row per token. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "attend.h"
#include "context.h"
#include "fp16.h"
#include "kernels/attn_kernels.h"
#include "ops.h"

void ctx_kv_store(const ctx_core *c, uint8_t *dst, const float *src, size_t count) {
    if (c->kv_type == ENGINE_KV_F32) {
        memcpy(dst, src, count * sizeof(float));
        return;
    }
    if (c->kv_type == ENGINE_KV_Q8_0) {
        attn_quantize_q8_0(dst, src, count);
        return;
    }
    uint16_t *h = (uint16_t *)(void *)dst;
    for (size_t i = 0; i < count; i++) h[i] = fp32_to_fp16(src[i]);
}

/* The batch's attention jobs: (query tile, kv head) pairs taken from a shared counter, most
 * expensive first (later tiles see more keys), so threads finish together. */
typedef struct {
    ctx_core *c;
    attn_batch b;
    int n_tiles;
    atomic_int next;
} attn_job;

static void attention_worker(void *arg, int ith, int nth) {
    (void)nth;
    attn_job *j = arg;
    ctx_core *c = j->c;
    int KV = c->m->info.n_head_kv, G = c->m->info.n_head / KV;
    bool by_rows = attn_by_rows(G, c->causal);
    float *scratch = c->attn_scratch + (size_t)ith * c->attn_scratch_floats;
    float *scores = by_rows ? c->scores + (size_t)ith * G * c->n_ctx : NULL;
    float row[ATTN_MAX_HEAD_DIM];
    for (int w; (w = atomic_fetch_add(&j->next, 1)) < j->n_tiles * KV;) {
        int tile = j->n_tiles - 1 - w / KV, t0 = c->attn_tiles[tile];
        int nt = c->attn_tiles[tile + 1] - t0;
        if (!by_rows) {
            attend_tile(&j->b, t0, nt, w % KV, scratch);
            continue;
        }
        for (int t = t0; t < t0 + nt; t++)
            attend_rows(&j->b, t, w % KV, scores, (size_t)c->n_ctx, row);
    }
}

/* A sliding-window layer's attention ranges: each token sees the last n_swa positions up to and
 * including its own (hi - 1 is the token itself in a causal range), as llama.cpp masks
 * (p_token - p_key >= n_swa is masked). */
static const int32_t *window_lo(ctx_core *c, const fwd_batch *b, int layer) {
    const engine_model *m = c->m;
    if (!m->layers || !m->layers[layer].swa) return b->lo;
    for (int t = 0; t < b->n; t++) {
        int32_t from = b->hi[t] - m->n_swa;
        c->swa_lo[t] = from > b->lo[t] ? from : b->lo[t];
    }
    return c->swa_lo;
}

static bool layer_slides(const ctx_core *c, int layer) {
    return c->m->layers && c->m->layers[layer].swa;
}

void forward_attention(ctx_core *c, const fwd_batch *b, int layer) {
    const engine_model_info *in = &c->m->info;
    bool swa = layer_slides(c, layer) && b->swa_row; /* its own rows (context.h) */
    attn_job job = {.c = c};
    job.b = (attn_batch){.n_head = in->n_head,
                         .n_head_kv = in->n_head_kv,
                         .head_dim = in->head_dim,
                         .kv_type = c->kv_type,
                         .k = c->k[layer],
                         .v = c->v[layer],
                         .kv_block = b->kv_block,
                         .tok_blocks = swa ? b->swa_blocks : b->blocks,
                         .ring = swa && !b->swa_blocks ? b->swa_ring : 0,
                         .lo = window_lo(c, b, layer),
                         .hi = b->hi,
                         .sinks = c->m->layers ? c->m->layers[layer].sinks : NULL,
                         .q = c->q,
                         .out = c->attn,
                         .kern = c->attn_k,
                         .causal = c->causal};
    atomic_init(&job.next, 0);
    job.n_tiles = attn_tiles(
        &job.b, b->n, attn_tile_tokens(in->n_head / in->n_head_kv, in->head_dim), c->attn_tiles);
    threadpool_run(c->pool, attention_worker, &job);
}

/* How many entries from a[t] on count up by one (consecutive rows or tokens): at least 1. */
static int run_of(const int32_t *a, int t, int n) {
    int len = 1;
    while (t + len < n && a[t + len] == a[t] + len) len++;
    return len;
}

void forward_store_kv(ctx_core *c, const fwd_batch *b, int layer, size_t kv_row) {
    size_t row_bytes = kv_bytes_of(c->kv_type, kv_row);
    const int32_t *rows = layer_slides(c, layer) && b->swa_row ? b->swa_row : b->kv_row;
    for (int t = 0, len; t < b->n; t += len) { /* each run of consecutive rows in one store */
        len = run_of(rows, t, b->n);
        size_t at = (size_t)rows[t] * row_bytes, count = (size_t)len * kv_row;
        ctx_kv_store(c, c->k[layer] + at, c->kc + (size_t)t * kv_row, count);
        ctx_kv_store(c, c->v[layer] + at, c->vc + (size_t)t * kv_row, count);
    }
}

/* Per-head RMSNorm (qwen3's q_norm / k_norm): each hd-vector normalised with gain g. */
static void head_norm(float *x, const float *g, int n, int heads, int hd, float eps) {
    op_rmsnorm(x, g, x, hd, n * heads, eps);
}

static void attention_block(ctx_core *c, const fwd_batch *b, const layer_weights *L, int layer) {
    const engine_model *m = c->m;
    const engine_model_info *in = &m->info;
    int n = b->n, e = in->n_embd, H = in->n_head, KV = in->n_head_kv, hd = in->head_dim;
    op_rmsnorm_mt(c->pool, c->x, L->attn_norm, c->xn, e, n, in->rms_eps);   /* xn (n,e) */
    matmul_out qkv[3] = {{&L->wq, c->q}, {&L->wk, c->kc}, {&L->wv, c->vc}}; /* (n,H*hd|KV*hd) */
    op_matmul_group(c->pool, qkv, 3, c->xn, n, c->xq);
    if (L->bq) op_add_bias(c->q, L->bq, (int64_t)H * hd, n);
    if (L->bk) op_add_bias(c->kc, L->bk, (int64_t)KV * hd, n);
    if (L->bv) op_add_bias(c->vc, L->bv, (int64_t)KV * hd, n);
    if (L->q_norm) head_norm(c->q, L->q_norm, n, H, hd, in->rms_eps);
    if (L->k_norm) head_norm(c->kc, L->k_norm, n, KV, hd, in->rms_eps);
    op_rope_mt(c->pool, c->q, n, H, hd, b->pos, &m->rope);
    op_rope_mt(c->pool, c->kc, n, KV, hd, b->pos, &m->rope);
    forward_store_kv(c, b, layer, (size_t)KV * hd); /* k, v (n,KV*hd) -> rows kv_row|swa_row */
    forward_attention(c, b, layer);                 /* attn (n,H*hd) */
    op_matmul(c->pool, &L->wo, c->attn, n, c->xn, c->xq); /* xn (n,e) */
    if (L->bo) op_add_bias(c->xn, L->bo, e, n);
    for (size_t i = 0; i < (size_t)n * e; i++) c->x[i] += c->xn[i];
}

static void ffn_block(ctx_core *c, const layer_weights *L, int n) {
    const engine_model_info *in = &c->m->info;
    int e = in->n_embd, ff = in->n_ff;
    op_rmsnorm_mt(c->pool, c->x, L->ffn_norm, c->xn, e, n, in->rms_eps); /* xn (n,e) */
    matmul_out gate_up[2] = {{&L->w_gate, c->gate}, {&L->w_up, c->up}};  /* (n,ff) each */
    op_matmul_group(c->pool, gate_up, 2, c->xn, n, c->xq);
    op_swiglu_mt(c->pool, c->gate, c->up, (int64_t)n * ff);
    op_matmul(c->pool, &L->w_down, c->gate, n, c->xn, c->xq); /* xn (n,e) */
    for (size_t i = 0; i < (size_t)n * e; i++) c->x[i] += c->xn[i];
}

/* Softmax over the router logits, the k most probable experts (ties: lower id), and their
 * probabilities as weights, renormalised to sum to 1 when the model asks for it. */
static void route_token(const float *logit, int n_expert, int k, bool norm, int32_t *id, float *w) {
    float max = logit[0], prob[4096];
    for (int x = 1; x < n_expert; x++) max = logit[x] > max ? logit[x] : max;
    double sum = 0.0;
    for (int x = 0; x < n_expert; x++) sum += prob[x] = expf(logit[x] - max);
    for (int x = 0; x < n_expert; x++) prob[x] = (float)(prob[x] / sum);
    float chosen_sum = 0.0f;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int x = 0; x < n_expert; x++) {
            bool taken = false;
            for (int i = 0; i < j && !taken; i++) taken = id[i] == x;
            if (!taken && (best < 0 || prob[x] > prob[best])) best = x;
        }
        id[j] = best;
        w[j] = prob[best];
        chosen_sum += w[j];
    }
    for (int j = 0; norm && j < k; j++) w[j] /= chosen_sum;
}

/* gpt-oss: the k largest router logits (ties: lower id), weighted by the softmax over those k. */
static void route_token_topk(const float *logit, int n_expert, int k, int32_t *id, float *w) {
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int x = 0; x < n_expert; x++) {
            bool taken = false;
            for (int i = 0; i < j && !taken; i++) taken = id[i] == x;
            if (!taken && (best < 0 || logit[x] > logit[best])) best = x;
        }
        id[j] = best;
    }
    float max = logit[id[0]], sum = 0.0f;
    for (int j = 0; j < k; j++) sum += w[j] = expf(logit[id[j]] - max);
    for (int j = 0; j < k; j++) w[j] /= sum;
}

static void route(ctx_core *c, const layer_weights *L, int n) {
    const engine_model_info *in = &c->m->info;
    int X = in->n_expert, k = in->n_expert_used;
    if (L->router_b) op_add_bias(c->router, L->router_b, X, n);
    for (int t = 0; t < n; t++) {
        const float *logit = c->router + (size_t)t * X;
        int32_t *id = c->sel_id + (size_t)t * k;
        float *w = c->sel_w + (size_t)t * k;
        if (c->m->arch->oai_moe)
            route_token_topk(logit, X, k, id, w);
        else
            route_token(logit, X, k, c->m->expert_weights_norm, id, w);
    }
}

static weight expert(const expert_weights *x, int e) {
    weight w = x->first;
    w.data += (size_t)e * x->stride;
    return w;
}

/* One expert over the cnt tokens gathered in moe_in: down(act(gate x + bg, up x + bu)) + bd,
 * into moe_in again (cnt,e). Biases: gpt-oss's, where the layer has them. */
static void run_expert(ctx_core *c, const layer_weights *L, int x, int cnt) {
    const engine_model_info *in = &c->m->info;
    int e = in->n_embd, ff = in->n_ff_exp;
    weight g = expert(&L->gate_exps, x), u = expert(&L->up_exps, x), d = expert(&L->down_exps, x);
    op_matmul(c->pool, &g, c->moe_in, cnt, c->gate, c->xq); /* gate (cnt,ff) */
    op_matmul(c->pool, &u, c->moe_in, cnt, c->up, c->xq);   /* up (cnt,ff) */
    if (L->gate_exps_b) op_add_bias(c->gate, L->gate_exps_b + (size_t)x * ff, ff, cnt);
    if (L->up_exps_b) op_add_bias(c->up, L->up_exps_b + (size_t)x * ff, ff, cnt);
    if (c->m->arch->oai_moe)
        op_swiglu_oai_mt(c->pool, c->gate, c->up, (int64_t)cnt * ff);
    else
        op_swiglu_mt(c->pool, c->gate, c->up, (int64_t)cnt * ff);
    op_matmul(c->pool, &d, c->gate, cnt, c->moe_in, c->xq); /* out (cnt,e) */
    if (L->down_exps_b) op_add_bias(c->moe_in, L->down_exps_b + (size_t)x * e, e, cnt);
}

/* Mixture of experts: each expert's weights are streamed once per batch, for all the tokens routed
 * to it (gathered into moe_in), and its outputs are added back with the routing weights. */
static void moe_block(ctx_core *c, const layer_weights *L, int n) {
    const engine_model_info *in = &c->m->info;
    int e = in->n_embd, X = in->n_expert, k = in->n_expert_used;
    op_rmsnorm_mt(c->pool, c->x, L->ffn_norm, c->xn, e, n, in->rms_eps); /* xn (n,e) */
    op_matmul(c->pool, &L->router, c->xn, n, c->router, c->xq);          /* router (n,X) */
    route(c, L, n);
    memset(c->moe_out, 0, (size_t)n * e * sizeof(float));
    for (int x = 0; x < X; x++) {
        int cnt = 0;
        for (int t = 0; t < n; t++)
            for (int j = 0; j < k; j++)
                if (c->sel_id[t * k + j] == x) {
                    c->routed[cnt] = t * k + j;
                    memcpy(c->moe_in + (size_t)cnt++ * e, c->xn + (size_t)t * e, (size_t)e * 4);
                }
        if (cnt == 0) continue;
        run_expert(c, L, x, cnt);
        for (int i = 0; i < cnt; i++) {
            int t = c->routed[i] / k;
            float w = c->sel_w[c->routed[i]];
            for (int j = 0; j < e; j++)
                c->moe_out[(size_t)t * e + j] += w * c->moe_in[(size_t)i * e + j];
        }
    }
    for (size_t i = 0; i < (size_t)n * e; i++) c->x[i] += c->moe_out[i];
}

/* rmsnorm(x) of the tokens b wants logits of, gathered into xn (n_logits,e), @ output. */
static void logits_of(ctx_core *c, const fwd_batch *b) {
    const engine_model *m = c->m;
    int e = m->info.n_embd;
    for (int i = 0, len; i < b->n_logits; i += len) { /* runs of consecutive tokens at once */
        len = run_of(b->logit_tok, i, b->n_logits);
        op_rmsnorm_mt(c->pool, c->x + (size_t)b->logit_tok[i] * e, m->output_norm,
                      c->xn + (size_t)i * e, e, len, m->info.rms_eps);
    }
    op_matmul(c->pool, &m->output, c->xn, b->n_logits, b->logits, c->xq); /* (n_logits,V) */
}

bool forward_batch(ctx_core *c, const fwd_batch *b) {
    const engine_model *m = c->m;
    const engine_model_info *in = &m->info;
    int e = in->n_embd, n = b->n;
    int first = c->first_layer;
    for (int t = 0; first == 0 && t < n; t++)
        op_get_row(&m->tok_embd, b->ids[t], c->x + (size_t)t * e); /* x (n,e) */
    for (int l = first; l < in->n_layer; l++) {
        if (l > first && c->stop && c->stop(c->stop_user)) {
            c->stopped_layer = l;
            return false;
        }
        attention_block(c, b, &m->layers[l], l);
        if (m->arch->moe)
            moe_block(c, &m->layers[l], n);
        else
            ffn_block(c, &m->layers[l], n);
    }
    if (b->hidden) /* hidden (n,e) = rmsnorm(x): embeddings */
        op_rmsnorm_mt(c->pool, c->x, m->output_norm, b->hidden, e, n, in->rms_eps);
    if (b->n_logits > 0) logits_of(c, b); /* logits (n_logits,V) */
    return true;
}
