/* BERT-family bidirectional encoders (post-LayerNorm): bert (absolute positions, biases, GELU)
 * and nomic-bert (rotary positions, no biases, SwiGLU), for embeddings.
 * Shapes: n tokens, e = n_embd, H heads of hd = e / H dims, ff = n_ff. */
#include <string.h>

#include "context.h"
#include "ops.h"

static void add_rows(float *x, const float *y, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] += y[i];
}

static void bert_layer(ctx_core *c, const fwd_batch *b, const layer_weights *L, int layer) {
    const engine_model *m = c->m;
    int n = b->n;
    int e = m->info.n_embd, ff = m->info.n_ff;
    op_matmul(c->pool, &L->wq, c->x, n, c->q, c->xq);  /* q (n,e) */
    op_matmul(c->pool, &L->wk, c->x, n, c->kc, c->xq); /* k (n,e) */
    op_matmul(c->pool, &L->wv, c->x, n, c->vc, c->xq); /* v (n,e) */
    if (L->bq) op_add_bias(c->q, L->bq, e, n);
    if (L->bk) op_add_bias(c->kc, L->bk, e, n);
    if (L->bv) op_add_bias(c->vc, L->bv, e, n);
    if (m->arch->rope != ROPE_NONE) { /* nomic-bert: rotary positions instead of a table */
        int H = m->info.n_head, hd = m->info.head_dim;
        op_rope_mt(c->pool, c->q, n, H, hd, b->pos, &m->rope);
        op_rope_mt(c->pool, c->kc, n, H, hd, b->pos, &m->rope);
    }
    forward_store_kv(c, b, layer, (size_t)e);             /* k, v (n,e) -> rows kv_row */
    forward_attention(c, b, layer);                       /* attn (n,e), every token its text */
    op_matmul(c->pool, &L->wo, c->attn, n, c->xn, c->xq); /* xn (n,e) */
    if (L->bo) op_add_bias(c->xn, L->bo, e, n);
    add_rows(c->xn, c->x, (size_t)n * e);
    op_layernorm(c->xn, L->attn_out_norm, L->attn_out_norm_b, c->x, e, n, m->norm_eps);
    op_matmul(c->pool, &L->w_up, c->x, n, c->up, c->xq); /* up (n,ff) */
    if (L->ffn_up_b) op_add_bias(c->up, L->ffn_up_b, ff, n);
    if (L->w_gate.data) {                                        /* nomic-bert: SwiGLU */
        op_matmul(c->pool, &L->w_gate, c->x, n, c->gate, c->xq); /* gate (n,ff) */
        op_swiglu_mt(c->pool, c->gate, c->up, (int64_t)n * ff);
        op_matmul(c->pool, &L->w_down, c->gate, n, c->xn, c->xq); /* xn (n,e) */
    } else {
        op_gelu_mt(c->pool, c->up, (int64_t)n * ff);
        op_matmul(c->pool, &L->w_down, c->up, n, c->xn, c->xq); /* xn (n,e) */
    }
    if (L->ffn_down_b) op_add_bias(c->xn, L->ffn_down_b, e, n);
    add_rows(c->xn, c->x, (size_t)n * e);
    op_layernorm(c->xn, L->out_norm, L->out_norm_b, c->x, e, n, m->norm_eps);
}

void forward_bert(ctx_core *c, const fwd_batch *b) {
    const engine_model *m = c->m;
    int e = m->info.n_embd, n = b->n;
    float *row = c->xn;
    for (int t = 0; t < n; t++) { /* x = token + type-0 + position embeddings */
        float *x = c->x + (size_t)t * e;
        op_get_row(&m->tok_embd, b->ids[t], x);
        op_get_row(&m->token_types, 0, row);
        add_rows(x, row, (size_t)e);
        if (m->pos_embd.data) {
            op_get_row(&m->pos_embd, b->pos[t], row);
            add_rows(x, row, (size_t)e);
        }
    }
    op_layernorm(c->x, m->tok_norm, m->tok_norm_b, c->x, e, n, m->norm_eps);
    for (int l = 0; l < m->info.n_layer; l++) bert_layer(c, b, &m->layers[l], l);
    memcpy(b->hidden, c->x, (size_t)n * e * sizeof(float)); /* hidden (n,e) */
}
