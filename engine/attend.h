/* Attention of a batch of query tokens against one layer's KV cache (attend.c). Private to
 * engine/: forward.c runs it on the thread pool; tests call it directly.
 *
 * Two ways, both softmax(q . K / sqrt(hd)) . V per query head, GQA heads sharing K/V reads:
 * - attend_rows: one token, all its keys one cache row at a time, with a full row of scores
 *   (decoders whose query heads each have their own kv head: see attn_by_rows).
 * - attend_tile: a tile of query tokens x the G heads of one kv head walks the keys in tiles of
 *   ATTN_TILE_KEYS rows: each K/V tile is widened to f32 once for all tile rows, scores are a small
 *   matrix product, and an online softmax (running max and sum per row, partial output rescaled
 *   when the max grows) means no row of n_ctx scores exists. Key tiles start at the tile's lo, so
 *   a row's result does not depend on which other rows share its tile (or on the thread count). */
#ifndef HEARTH_ATTEND_H
#define HEARTH_ATTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "kernels/attn_kernels.h"

/* Which way runs (forward.c) and which score loop a tile uses depend on the model alone, never on
 * the batch, so a token's attention sums in the same order whatever else is in its batch
 * (speculative verification and packed embeddings give the same results as one token or one text
 * alone). Decode's one-token tiles have only G rows: with fewer than ATTN_TRANSPOSE_MIN_GROUP,
 * transposing each key tile costs more than it saves, so scores are dot products with row-major
 * keys; with G = 1 even widening the key tile does, so such decoders go row by row.
 * ATTN_TILES_FOR_SMALL_GROUPS 0 would keep every decoder with G < ATTN_TRANSPOSE_MIN_GROUP row by
 * row (G = 2: Qwen3-0.6B/1.7B and Qwen3-Embedding-0.6B); 1 gives them the dot-product tiles. */
#define ATTN_TRANSPOSE_MIN_GROUP    3
#define ATTN_TILES_FOR_SMALL_GROUPS 1
#define ATTN_TILE_MAX_TOKENS        64 /* query tokens per tile (fewer when G is large) */

/* One layer's attention problem: n query tokens, each against its own cache positions. */
typedef struct {
    int n_head, n_head_kv, head_dim;
    engine_kv_type kv_type;
    const uint8_t *k, *v;             /* the layer's cache: rows of n_head_kv * head_dim values */
    int32_t kv_block;                 /* rows per block of the block tables */
    const int32_t *const *tok_blocks; /* each token's block table; NULL: position j is row j */
    int32_t ring; /* without block tables: position j is row j % ring (a sliding-window layer's
                     ring of rows); 0: row j */
    const int32_t *lo, *hi; /* token t attends to sequence positions [lo[t], hi[t]) */
    /* per query head a learned logit that joins every softmax with no value (gpt-oss's sinks):
     * weights are exp(s_j) / (sum_j exp(s_j) + exp(sink)); NULL: none */
    const float *sinks;
    const float *q; /* (n, n_head * head_dim) */
    float *out;     /* (n, n_head * head_dim) */
    const attn_kernels *kern;
    bool causal; /* a decoder: picks the score loop (attn_tile_dots) */
} attn_batch;

/* Whether a model's tiles compute scores as dot products with row-major keys rather than from a
 * transposed key tile; G: query heads per kv head; causal: a decoder (encoders never decode). */
static inline bool attn_tile_dots(int group, bool causal) {
    return causal && group < ATTN_TRANSPOSE_MIN_GROUP;
}

/* Whether a model attends row by row instead of in tiles. */
static inline bool attn_by_rows(int group, bool causal) {
    return causal && group < (ATTN_TILES_FOR_SMALL_GROUPS ? 2 : ATTN_TRANSPOSE_MIN_GROUP);
}

/* Token t, kv head g, row by row. scores: G rows of `stride` floats (stride >= hi[t]); row:
 * head_dim floats of widening space. */
void attend_rows(const attn_batch *b, int t, int g, float *scores, size_t stride, float *row);

/* Query tokens per tile for this group size and head size. */
int attn_tile_tokens(int group, int head_dim);
/* Floats of per-thread scratch attend_tile needs. */
size_t attn_tile_scratch_floats(int group, int head_dim);
/* Splits tokens [0, n) into tiles of at most tq consecutive tokens sharing lo and block table:
 * starts[i] is tile i's first token, starts[count] = n (room for n + 1). Returns the count. */
int attn_tiles(const attn_batch *b, int n, int tq, int32_t *starts);
/* Tokens [t0, t0 + nt) (one tile of attn_tiles) against kv head g; scratch as sized above. */
void attend_tile(const attn_batch *b, int t0, int nt, int g, float *scratch);

#endif
