/* One sequence's state: KV cache, scratch activations, logits. Private to engine/. */
#ifndef HEARTH_CONTEXT_H
#define HEARTH_CONTEXT_H

#include "model.h"
#include "threadpool.h"
#include "kernels/attn_kernels.h"

/* Limits of the attention loops (checked when a model loads). */
#define ATTN_MAX_GROUP    64 /* query heads per kv head */
#define ATTN_MAX_HEAD_DIM 4096

struct engine_ctx {
    const engine_model *m;
    threadpool *pool;
    int32_t n_ctx, n_batch, n_past;
    engine_kv_type kv_type;
    const attn_kernels *attn_k; /* attention loops for this CPU and head size */
    size_t kv_elem;             /* bytes per cached element */
    uint8_t **k, **v;           /* per layer: n_ctx rows of n_head_kv*head_dim elements */
    /* scratch, sized for n_batch tokens */
    float *x, *xn, *q, *kc, *vc, *attn, *gate, *up, *scores;
    void *xq;
    int32_t *pos;               /* position of each batch token (RoPE, BERT position rows) */
    int32_t *attn_lo, *attn_hi; /* each batch token attends to cache rows [lo, hi) */
    bool packed;                /* caller filled pos/attn_lo/attn_hi (packed sequences) */
    /* MoE scratch: router logits (n x n_expert), chosen experts and weights (n x k), the tokens
     * routed to one expert, their gathered inputs and the summed expert outputs (n x e) */
    float *router, *sel_w, *moe_in, *moe_out;
    int32_t *sel_id, *routed;
    float *logits;                  /* n_logits rows of n_vocab */
    int32_t n_logits, logits_first; /* rows held, and the token index of the first row */
    int32_t n_last_eval;
    bool causal;   /* false: every token attends to the whole batch (BERT) */
    float *hidden; /* when set: final normalised hidden states, one row per position */
    uint64_t bytes;
};

/* The forward pass over n <= n_batch tokens at positions n_past.. (forward.c); advances n_past.
 * Logits go to dst: all n rows if all_logits, else only the last token's row; dst NULL = none. */
void forward_batch(engine_ctx *c, const int32_t *ids, int n, float *dst, bool all_logits);

/* Positions and attention ranges of a batch continuing the cache's one sequence. */
void forward_positions(engine_ctx *c, int n);
/* BERT's encoder over n tokens (forward_bert.c); appends their states to c->hidden. */
void forward_bert(engine_ctx *c, const int32_t *ids, int n);
/* Writes count floats into the KV cache's element type. */
void kv_store(const engine_ctx *c, uint8_t *dst, const float *src, size_t count);
/* Attention of the batch in c->q against the cached K/V of one layer (forward.c). */
void forward_attention(engine_ctx *c, int layer, int n);

#endif
