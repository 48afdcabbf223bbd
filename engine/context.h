/* One sequence's state: KV cache, scratch activations, logits. Private to engine/. */
#ifndef HEARTH_CONTEXT_H
#define HEARTH_CONTEXT_H

#include "model.h"
#include "threadpool.h"
#include "kernels/attn_kernels.h"

/* Limits of the attention loops (checked when a model loads). */
#define ATTN_MAX_GROUP    64 /* query heads per kv head */
#define ATTN_MAX_HEAD_DIM 4096

/* One sequence of a paged context: its length and the blocks holding its positions. */
typedef struct {
    bool live;
    int32_t n_past;
    int32_t *blocks; /* blocks[i] holds positions i*kv_block .. (i+1)*kv_block-1 */
} kv_seq;

struct engine_ctx {
    const engine_model *m;
    threadpool *pool;
    int32_t n_ctx, n_batch, n_past;
    engine_kv_type kv_type;
    const attn_kernels *attn_k; /* attention loops for this CPU and head size */
    uint8_t **k, **v;           /* per layer: n_ctx rows of n_head_kv*head_dim elements */
    /* scratch, sized for n_batch tokens */
    float *x, *xn, *q, *kc, *vc, *attn, *gate, *up, *scores;
    void *xq;
    int32_t *pos;               /* position of each batch token (RoPE, BERT position rows) */
    int32_t *attn_lo, *attn_hi; /* each batch token attends to cache rows [lo, hi) */
    /* tiled attention (attend.c): per-thread tile scratch, and the batch's query tiles */
    float *attn_scratch;
    size_t attn_scratch_floats; /* per thread */
    int32_t *attn_tiles;        /* n_batch + 1 tile starts */
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
    /* Paged KV cache (engine_ctx_new_paged, batch.c): k/v hold n_kv_blocks blocks of kv_block
     * rows shared by many sequences; kv_block 0 means one contiguous sequence (the default). */
    int32_t kv_block, n_kv_blocks, n_free_blocks;
    int32_t *free_blocks; /* stack of free block indices */
    kv_seq *seqs;
    int32_t n_seq_max, max_blocks_per_seq;
    bool paged_eval;            /* inside engine_eval_seqs: kv_dst and tok_blocks are valid */
    int32_t *kv_dst;            /* per batch token: the cache row its K/V is written to */
    const int32_t **tok_blocks; /* per batch token: its sequence's block table */
    int32_t *logit_tok;         /* token indices of the batch whose logits are wanted */
    int32_t n_logit_tok;        /* -1: the classic all_logits / last-token behaviour */
    int32_t *seq_logit_row;     /* engine_eval_seqs: logits row of each token or -1 */
    int32_t seq_logit_cap, n_last_seq_eval;
    int32_t *seq_add, *tok_ids; /* engine_eval_seqs scratch: positions added per sequence, ids */
};

/* The forward pass over n <= n_batch tokens at positions n_past.. (forward.c); advances n_past.
 * Logits go to dst: all n rows if all_logits, else only the last token's row; dst NULL = none. */
void forward_batch(engine_ctx *c, const int32_t *ids, int n, float *dst, bool all_logits);

/* Positions and attention ranges of a batch continuing the cache's one sequence. */
void forward_positions(engine_ctx *c, int n);
/* BERT's encoder over n tokens (forward_bert.c); appends their states to c->hidden. */
void forward_bert(engine_ctx *c, const int32_t *ids, int n);
/* Bytes of count cached elements (count a multiple of 32 for a Q8_0 cache). */
static inline size_t kv_bytes_of(engine_kv_type t, size_t count) {
    return t == ENGINE_KV_F32    ? count * 4
           : t == ENGINE_KV_Q8_0 ? count / KV_Q8_BLOCK * sizeof(kv_block_q8)
                                 : count * 2;
}
/* Writes count floats into the KV cache's element type. */
void ctx_kv_store(const engine_ctx *c, uint8_t *dst, const float *src, size_t count);
/* A context; pp non-NULL makes its KV cache paged (context.c). */
engine_ctx *ctx_create(const engine_model *m, const engine_ctx_params *p,
                       const engine_paged_params *pp, char *err, size_t errlen);
/* Room for rows of logits in c->logits (context.c). */
bool ctx_reserve_logits(engine_ctx *c, int32_t rows);
/* The paged-KV bookkeeping of a context (batch.c): block free list, sequences, per-token maps. */
bool batch_paged_alloc(engine_ctx *c, const engine_paged_params *pp);
void batch_paged_free(engine_ctx *c);
/* Attention of the batch in c->q against the cached K/V of one layer (forward.c). */
void forward_attention(engine_ctx *c, int layer, int n);

#endif
