/* One sequence's state: KV cache, scratch activations, logits. Private to engine/. */
#ifndef HEARTH_CONTEXT_H
#define HEARTH_CONTEXT_H

#include "model.h"
#include "threadpool.h"

struct engine_ctx {
    const engine_model *m;
    threadpool *pool;
    int32_t n_ctx, n_batch, n_past;
    engine_kv_type kv_type;
    size_t kv_elem;   /* bytes per cached element */
    uint8_t **k, **v; /* per layer: n_ctx rows of n_head_kv*head_dim elements */
    /* scratch, sized for n_batch tokens */
    float *x, *xn, *q, *kc, *vc, *attn, *gate, *up, *scores;
    void *xq;
    int32_t *pos;
    float *logits;                  /* n_logits rows of n_vocab */
    int32_t n_logits, logits_first; /* rows held, and the token index of the first row */
    int32_t n_last_eval;
    uint64_t bytes;
};

/* The forward pass over n <= n_batch tokens at positions n_past.. (forward.c); advances n_past.
 * Logits go to dst: all n rows if all_logits, else only the last token's row; dst NULL = none. */
void forward_batch(engine_ctx *c, const int32_t *ids, int n, float *dst, bool all_logits);

#endif
