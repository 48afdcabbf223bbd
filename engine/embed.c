/* Sequence embeddings: run the model over the whole sequence, pool its final hidden states,
 * L2-normalise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

engine_pooling engine_model_pooling(const engine_model *m) { return (engine_pooling)m->pooling; }

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

bool engine_embed(engine_ctx *c, const int32_t *ids, int32_t n, engine_pooling pooling, float *out,
                  char *err, size_t errlen) {
    const engine_model *m = c->m;
    int e = m->info.n_embd;
    bool bert = m->arch->family == FAMILY_BERT;
    if (n <= 0 || n > c->n_ctx || (bert && n > c->n_batch)) {
        snprintf(err, errlen, "cannot embed %d tokens (context holds %d, batch %d)", n, c->n_ctx,
                 c->n_batch);
        return false;
    }
    if (pooling == ENGINE_POOL_DEFAULT) pooling = (engine_pooling)m->pooling;
    c->hidden = malloc((size_t)n * e * sizeof(float));
    if (!c->hidden) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    engine_kv_keep(c, 0);
    bool ok = true;
    if (bert) forward_bert(c, ids, n);
    else ok = engine_eval(c, ids, n, false, err, errlen);
    if (ok) {
        pool(c->hidden, n, e, pooling, out);
        l2_normalise(out, e);
    }
    free(c->hidden);
    c->hidden = NULL;
    return ok;
}
