/* A context, and what one forward pass is asked to compute. Private to engine/.
 *
 * A context (engine_ctx) is a core plus one kind:
 * - ctx_core (context.c): what every forward pass needs, sized by the model and n_batch: the KV
 *   cache's storage (per layer, kv_rows rows of n_head_kv * head_dim elements), the activation
 *   and attention scratch, the thread pool and the logits buffer. It knows no sequences.
 * - a kind, which owns the sequences that live in those rows:
 *   ctx_seq (context.c, engine_ctx_new): one sequence at rows 0..n_past; engine_eval,
 *   engine_kv_keep, generation. batch_paged (batch.c, engine_ctx_new_paged): a free list of
 *   fixed-size blocks of rows and a block table per sequence; engine_eval_seqs.
 *   A packed embedding batch (embed.c) is no kind: it borrows a one-sequence context's rows for
 *   one call and clears them again.
 * Each kind describes every call as a fwd_batch (per token: id, position, attention range, cache
 * row, block table; which tokens give logits and where; where hidden states go) and hands it to
 * forward_batch / forward_bert, which follow the description and never ask what kind it came
 * from. */
#ifndef HEARTH_CONTEXT_H
#define HEARTH_CONTEXT_H

#include "kernels/attn_kernels.h"
#include "model.h"
#include "threadpool.h"

/* Limits of the attention loops (checked when a model loads). */
#define ATTN_MAX_GROUP    64 /* query heads per kv head */
#define ATTN_MAX_HEAD_DIM 4096

/* One forward call over n <= n_batch tokens, filled by the kind (context.c, batch.c, embed.c).
 * The per-token arrays are the core's (n_batch long); attention of token t reads the rows of its
 * sequence's positions [lo[t], hi[t]): position j is row j, or with a block table row
 * blocks[t][j / kv_block] * kv_block + j % kv_block.
 * Sliding-window layers (model n_swa > 0) keep their own, fewer rows (ctx_core.swa_rows): the
 * token's K/V goes to row swa_row[t] and position j is found through swa_blocks[t] (same block
 * size), or, without tables, at row j % swa_ring (a ring; swa_ring 0: row j). */
typedef struct {
    int32_t n;
    const int32_t *ids;         /* (n) token ids */
    int32_t *pos;               /* (n) position: RoPE angle, BERT position-embedding row */
    int32_t *lo, *hi;           /* (n) attention range, in the token's sequence positions */
    int32_t *kv_row;            /* (n) the cache row the token's K and V are written to */
    const int32_t **blocks;     /* (n) the token's block table; NULL: position = row */
    int32_t kv_block;           /* rows per block of those tables */
    int32_t *swa_row;           /* (n) the token's row in sliding-window layers; NULL:
                                   they use kv_row and blocks like the others */
    const int32_t **swa_blocks; /* (n) block tables of sliding-window layers, or NULL */
    int32_t swa_ring;           /* without swa_blocks: position j is row j % swa_ring */
    int32_t *logit_tok;         /* (n_logits) tokens, ascending, whose logits are wanted */
    int32_t n_logits;           /* 0: no logits */
    float *logits;              /* (n_logits, n_vocab) where they go */
    float *hidden;              /* (n, n_embd) final normalised hidden states, or NULL */
} fwd_batch;

/* What every forward pass needs, whatever kind of context runs it (context.c). */
typedef struct {
    const engine_model *m;
    threadpool *pool;
    int32_t n_ctx;    /* longest sequence: no attention range ends past it */
    int32_t n_batch;  /* tokens per forward pass */
    int32_t kv_rows;  /* cache rows per layer */
    int32_t swa_rows; /* cache rows per sliding-window layer (a model with n_swa > 0) */
    bool causal;      /* a decoder; false: an encoder, every token sees its whole text (BERT) */
    engine_kv_type kv_type;
    const attn_kernels *attn_k; /* attention loops for this CPU and head size */
    uint8_t **k, **v; /* per layer: kv_rows (swa_rows) rows of n_head_kv*head_dim elements */
    /* scratch, sized for n_batch tokens */
    float *x, *xn, *q, *kc, *vc, *attn, *gate, *up, *scores;
    void *xq;
    /* tiled attention (attend.c): per-thread tile scratch, and the batch's query tiles */
    float *attn_scratch;
    size_t attn_scratch_floats; /* per thread */
    int32_t *attn_tiles;        /* n_batch + 1 tile starts */
    int32_t *swa_lo;            /* n_batch: a sliding-window layer's attention range starts */
    int32_t *swa_row;           /* n_batch: the one-sequence kind's rows in those layers */
    /* MoE scratch: router logits (n x n_expert), chosen experts and weights (n x k), the tokens
     * routed to one expert, their gathered inputs and the summed expert outputs (n x e) */
    float *router, *sel_w, *moe_in, *moe_out;
    int32_t *sel_id, *routed;
    fwd_batch batch;     /* its per-token arrays (n_batch long), filled anew by every call */
    engine_stop_fn stop; /* asked between layers; set only during engine_eval's passes */
    void *stop_user;
    int32_t first_layer; /* a resumed pass starts here, x holding the layers before (engine_eval) */
    int32_t stopped_layer; /* where forward_batch last stopped: the layers before it ran */
    float *logits;         /* n_logits rows of n_vocab, read through the kind's row map */
    int32_t n_logits;
    uint64_t bytes;
} ctx_core;

typedef struct ctx_seq ctx_seq;         /* context.c */
typedef struct batch_paged batch_paged; /* batch.c */

/* Exactly one of seq and paged is set. */
struct engine_ctx {
    ctx_core core;
    ctx_seq *seq;
    batch_paged *paged;
};

/* The decoder forward pass over b (forward.c): K/V to the cache, then logits and hidden states
 * where b says. It starts at layer c->first_layer (0: the token embeddings; else c->x holds the
 * output of the layers before it, as a stopped pass left it) and runs at least that layer. False
 * when c->stop said stop between two layers (c->stopped_layer: before which): the rows b names
 * then hold K/V of the layers before only, which the kind must not count as held. forward_bert:
 * BERT's encoder (forward_bert.c); b asks for hidden states only. */
bool forward_batch(ctx_core *c, const fwd_batch *b);
void forward_bert(ctx_core *c, const fwd_batch *b);
/* Forgets a one-sequence context's stopped pass (its rows are about to change: moves, borrowed
 * rows), so no later engine_eval resumes it. */
void ctx_seq_forget_stopped(engine_ctx *c);
/* Writes one layer's batch K/V (c->kc, c->vc) to the rows b names (forward.c). */
void forward_store_kv(ctx_core *c, const fwd_batch *b, int layer, size_t kv_row);
/* Attention of the batch in c->q against the cached K/V of one layer (forward.c). */
void forward_attention(ctx_core *c, const fwd_batch *b, int layer);

/* Bytes of count cached elements (count a multiple of 32 for a Q8_0 cache). */
static inline size_t kv_bytes_of(engine_kv_type t, size_t count) {
    return t == ENGINE_KV_F32    ? count * 4
           : t == ENGINE_KV_Q8_0 ? count / KV_Q8_BLOCK * sizeof(kv_block_q8)
                                 : count * 2;
}
/* Writes count floats into the KV cache's element type. */
void ctx_kv_store(const ctx_core *c, uint8_t *dst, const float *src, size_t count);
/* A context without its kind: the core for n_ctx positions (0: the params' or the default),
 * kv_rows cache rows (0: n_ctx) and swa_rows rows in sliding-window layers (0: ctx_swa_ring's
 * count); the caller sets seq or paged (context.c). */
engine_ctx *ctx_new(const engine_model *m, const engine_ctx_params *p, int32_t n_ctx,
                    int32_t kv_rows, int32_t swa_rows, char *err, size_t errlen);
/* Tokens per forward pass of a context for n_ctx positions with params p (NULL: defaults). */
int32_t ctx_n_batch(const engine_ctx_params *p, int32_t n_ctx);
/* The one-sequence kind's ring in sliding-window layers: a chunk of n_batch tokens at positions
 * [p, p + n_batch) reads back to p - n_swa + 1 after writing all its rows, so n_swa - 1 + n_batch
 * rows hold every position it reads (at most n_ctx). n_batch counts as at least
 * SWA_RING_MIN_BATCH, so generation can always drop rejected drafts again (engine_kv_keep). */
#define SWA_RING_MIN_BATCH 8 /* > the drafts one verification batch holds (generate.c) */
int32_t ctx_swa_ring(const engine_model *m, int32_t n_ctx, int32_t n_batch);
/* engine_ctx_new with swa_rows rows in sliding-window layers (0: ctx_swa_ring's count); tests
 * give other counts (n_ctx: an unbounded cache). */
engine_ctx *ctx_seq_new(const engine_model *m, const engine_ctx_params *p, int32_t swa_rows,
                        char *err, size_t errlen);
/* Room for rows of logits in c->logits (context.c). */
bool ctx_reserve_logits(ctx_core *c, int32_t rows);
/* Evaluates n tokens continuing a one-sequence context, n_batch at a time: logits of every token
 * (all_logits) or the last; the final hidden states (n, n_embd) to hidden when not NULL. */
bool ctx_seq_eval(engine_ctx *c, const int32_t *ids, int32_t n, bool all_logits, float *hidden,
                  char *err, size_t errlen);
/* The paged-KV bookkeeping of a context (batch.c): block free list, sequences, per-call maps. */
void batch_paged_free(batch_paged *p);
/* Free blocks of the sliding-window layers' pool (batch.c; -1: not a paged context). */
int32_t batch_swa_blocks_free(const engine_ctx *c);

#endif
