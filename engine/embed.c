/* Sequence embeddings: run the model over the whole sequence, pool its final hidden states,
 * L2-normalise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

engine_pooling engine_model_pooling(const engine_model *m) {
    return (engine_pooling)m->pooling;
}

static void pool(const float *h, int32_t n, int e, engine_pooling p, float *out) {
    if (p == ENGINE_POOL_MEAN) {
        for (int j = 0; j < e; j++) {
            double s = 0.0;
            for (int32_t t = 0; t < n; t++) s += h[(size_t)t * e + j];
            out[j] = (float)(s / n);
        }
        return;
    }
    int32_t row = p == ENGINE_POOL_CLS ? 0 : n - 1; /* LAST (and NONE: the last token) */
    memcpy(out, h + (size_t)row * e, (size_t)e * sizeof(float));
}

static void l2_normalise(float *v, int e) {
    double s = 0.0;
    for (int j = 0; j < e; j++) s += (double)v[j] * v[j];
    double inv = s > 0.0 ? 1.0 / sqrt(s) : 0.0;
    for (int j = 0; j < e; j++) v[j] = (float)(v[j] * inv);
}

/* Texts [first, last) packed back to back into the rows of one batch: each token at its position
 * in its text, its K/V in its batch row, attending to its text's rows (up to itself when causal);
 * hidden states (total, e) to hidden, no logits. */
static fwd_batch *pack(ctx_core *c, const int32_t *flat, const int32_t *n_ids, int32_t first,
                       int32_t last, float *hidden) {
    fwd_batch *b = &c->batch;
    int32_t row = 0;
    for (int32_t s = first; s < last; s++) {
        for (int32_t i = 0; i < n_ids[s]; i++) {
            b->pos[row + i] = i;
            b->kv_row[row + i] = row + i;
            b->lo[row + i] = row;
            b->hi[row + i] = c->causal ? row + i + 1 : row + n_ids[s];
        }
        row += n_ids[s];
    }
    b->n = row;
    b->ids = flat;
    b->blocks = NULL;
    b->kv_block = 0;
    b->swa_row = NULL; /* rows 0..n_batch-1 exist in sliding-window layers too */
    b->n_logits = 0;
    b->logits = NULL;
    b->hidden = hidden;
    return b;
}

/* Runs the packed sequences [first, last) (total tokens) and pools each into out. They borrow
 * the context's cache rows 0..total-1: its sequence is cleared before and after. */
static bool embed_packed(engine_ctx *c, const int32_t *const *ids, const int32_t *n_ids,
                         int32_t first, int32_t last, int32_t total, engine_pooling pooling,
                         float *out, char *err, size_t errlen) {
    const engine_model *m = c->core.m;
    int e = m->info.n_embd;
    int32_t *flat = malloc((size_t)total * sizeof(int32_t));
    float *hidden = malloc((size_t)total * e * sizeof(float));
    if (!flat || !hidden) {
        free(flat);
        free(hidden);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    int32_t row = 0;
    for (int32_t s = first; s < last; s++) {
        memcpy(flat + row, ids[s], (size_t)n_ids[s] * sizeof(int32_t));
        row += n_ids[s];
    }
    engine_kv_keep(c, 0);
    ctx_seq_forget_stopped(c); /* rows from 0 are borrowed */
    fwd_batch *b = pack(&c->core, flat, n_ids, first, last, hidden);
    if (m->arch->family == FAMILY_BERT)
        forward_bert(&c->core, b);
    else
        forward_batch(&c->core, b);
    row = 0;
    for (int32_t s = first; s < last; s++) {
        float *o = out + (size_t)(s - first) * e;
        pool(hidden + (size_t)row * e, n_ids[s], e, pooling, o);
        l2_normalise(o, e);
        row += n_ids[s];
    }
    free(flat);
    free(hidden);
    return true;
}

/* A decoder sequence longer than one batch: evaluated causally in batches, like a prompt. */
static bool embed_long(engine_ctx *c, const int32_t *ids, int32_t n, engine_pooling pooling,
                       float *out, char *err, size_t errlen) {
    int e = c->core.m->info.n_embd;
    float *hidden = malloc((size_t)n * e * sizeof(float));
    if (!hidden) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    engine_kv_keep(c, 0);
    bool ok = ctx_seq_eval(c, ids, n, false, hidden, err, errlen);
    if (ok) {
        pool(hidden, n, e, pooling, out);
        l2_normalise(out, e);
    }
    engine_kv_keep(c, 0);
    free(hidden);
    return ok;
}

static bool fits_batch(const engine_ctx *c, int32_t n) {
    return n <= c->core.n_batch;
}

static bool check_ids(const engine_ctx *c, const int32_t *ids, int32_t n, int32_t s, char *err,
                      size_t errlen) {
    int32_t max = c->core.causal ? c->core.n_ctx : c->core.n_batch;
    if (n <= 0 || n > max) {
        snprintf(err, errlen, "text %d has %d tokens; 1..%d fit", s, n, max);
        return false;
    }
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->core.m->info.n_vocab) {
            snprintf(err, errlen, "text %d: token id %d out of range", s, ids[i]);
            return false;
        }
    return true;
}

bool engine_embed_batch(engine_ctx *c, const int32_t *const *ids, const int32_t *n_ids,
                        int32_t n_seq, engine_pooling pooling, float *out, char *err,
                        size_t errlen) {
    if (!c->seq) {
        snprintf(err, errlen, "a paged context serves engine_eval_seqs, not embeddings");
        return false;
    }
    if (pooling == ENGINE_POOL_DEFAULT) pooling = (engine_pooling)c->core.m->pooling;
    for (int32_t s = 0; s < n_seq; s++)
        if (!check_ids(c, ids[s], n_ids[s], s, err, errlen)) return false;
    int e = c->core.m->info.n_embd;
    for (int32_t first = 0; first < n_seq;) {
        if (!fits_batch(c, n_ids[first])) {
            if (!embed_long(c, ids[first], n_ids[first], pooling, out + (size_t)first * e, err,
                            errlen))
                return false;
            first++;
            continue;
        }
        int32_t last = first, total = 0;
        while (last < n_seq && fits_batch(c, n_ids[last]) && total + n_ids[last] <= c->core.n_batch)
            total += n_ids[last++];
        if (!embed_packed(c, ids, n_ids, first, last, total, pooling, out + (size_t)first * e, err,
                          errlen))
            return false;
        first = last;
    }
    return true;
}

bool engine_embed(engine_ctx *c, const int32_t *ids, int32_t n, engine_pooling pooling, float *out,
                  char *err, size_t errlen) {
    return engine_embed_batch(c, &ids, &n, 1, pooling, out, err, errlen);
}
