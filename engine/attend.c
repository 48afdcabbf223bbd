/* Attention over one layer's KV cache: the row path (decode) and the tiled online-softmax path
 * (prefill). See attend.h for when each runs. Shapes: hd = head_dim, G query heads per kv head. */
#include "attend.h"

#include <math.h>
#include <string.h>

#include "context.h"
#include "ops.h"

/* The cache row of sequence position j: via the block table, in the ring, or j itself.
 * kv_run: how many rows from j on (below hi) are contiguous in the cache. */
static size_t kv_phys(const attn_batch *b, const int32_t *blocks, int j) {
    if (blocks)
        return (size_t)blocks[j / b->kv_block] * (size_t)b->kv_block + (size_t)(j % b->kv_block);
    return b->ring ? (size_t)(j % b->ring) : (size_t)j;
}
static int kv_run(const attn_batch *b, const int32_t *blocks, int j, int hi) {
    int left = blocks ? b->kv_block - j % b->kv_block : b->ring ? b->ring - j % b->ring : hi - j;
    return hi - j < left ? hi - j : left;
}

/* A cached K or V row of one kv head as f32: the cache itself (F32) or widened into buf (F16,
 * Q8_0). */
static const float *kv_row_f32(const attn_batch *b, const uint8_t *src, float *buf) {
    if (b->kv_type == ENGINE_KV_F32) return (const float *)(const void *)src;
    if (b->kv_type == ENGINE_KV_Q8_0)
        b->kern->widen_q8_0(buf, src, b->head_dim);
    else
        b->kern->widen_f16(buf, src, b->head_dim);
    return buf;
}

void attend_rows(const attn_batch *b, int t, int g, float *scores, size_t stride, float *row) {
    int hd = b->head_dim, H = b->n_head, G = H / b->n_head_kv, lo = b->lo[t], hi = b->hi[t];
    const int32_t *blocks = b->tok_blocks ? b->tok_blocks[t] : NULL;
    size_t kv_row = kv_bytes_of(b->kv_type, (size_t)b->n_head_kv * hd);
    size_t head_off = kv_bytes_of(b->kv_type, (size_t)g * hd);
    const uint8_t *K = b->k + head_off, *V = b->v + head_off;
    const float *q = b->q + ((size_t)t * H + (size_t)g * G) * hd;
    float *out = b->out + ((size_t)t * H + (size_t)g * G) * hd, scale = 1.0f / sqrtf((float)hd);
    float max[ATTN_MAX_GROUP], inv[ATTN_MAX_GROUP];
    const float *sink = b->sinks ? b->sinks + (size_t)g * G : NULL;
    for (int h = 0; h < G; h++) max[h] = sink ? sink[h] : -INFINITY; /* the sink is in the max */
    /* a lone head (no GQA sharing) converts while it multiplies: widening first would cost more */
    bool fused = G == 1 && b->kv_type == ENGINE_KV_F16;
    if (fused) {
        for (int j = lo, len; j < hi; j += len) {
            len = kv_run(b, blocks, j, hi);
            b->kern->rows_dot_f16(q, K + kv_phys(b, blocks, j) * kv_row, kv_row, len, hd, scale,
                                  scores + j);
        }
        for (int j = lo; j < hi; j++) max[0] = scores[j] > max[0] ? scores[j] : max[0];
    }
    for (int j = lo; !fused && j < hi; j++) {
        const float *k = kv_row_f32(b, K + kv_phys(b, blocks, j) * kv_row, row);
        for (int h = 0; h < G; h++) {
            float s = b->kern->dot_f32(q + (size_t)h * hd, k, hd) * scale;
            scores[(size_t)h * stride + j] = s;
            max[h] = s > max[h] ? s : max[h];
        }
    }
    for (int h = 0; h < G; h++) {
        float *sc = scores + (size_t)h * stride;
        float sum = op_exp_shift(sc + lo, hi - lo, max[h]);
        inv[h] = 1.0f / (sink ? sum + expf(sink[h] - max[h]) : sum);
    }
    memset(out, 0, (size_t)G * hd * sizeof(float));
    if (fused) {
        for (int j = lo; j < hi; j++) scores[j] *= inv[0];
        /* the axpy loop keeps no state between calls, so splitting it at blocks changes nothing */
        for (int j = lo, len; j < hi; j += len) {
            len = kv_run(b, blocks, j, hi);
            b->kern->rows_axpy_f16(out, scores + j, V + kv_phys(b, blocks, j) * kv_row, kv_row, len,
                                   hd);
        }
    }
    for (int j = lo; !fused && j < hi; j++) {
        const float *v = kv_row_f32(b, V + kv_phys(b, blocks, j) * kv_row, row);
        for (int h = 0; h < G; h++)
            b->kern->axpy_f32(out + (size_t)h * hd, scores[(size_t)h * stride + j] * inv[h], v, hd);
    }
}

/* ---- tiled path ---- */

/* A tile aims at ATTN_TILE_ROWS query rows (tokens x G heads) to spread each widened key tile's
 * cost over, its Q and output bounded by ATTN_TILE_ROW_FLOATS each (64 KB: they stay in L2). */
#define ATTN_TILE_ROWS       128
#define ATTN_TILE_ROW_FLOATS 16384

int attn_tile_tokens(int group, int head_dim) {
    int tq = ATTN_TILE_ROWS / group;
    if (tq > ATTN_TILE_MAX_TOKENS) tq = ATTN_TILE_MAX_TOKENS;
    while (tq > 1 && (long)tq * group * head_dim > ATTN_TILE_ROW_FLOATS) tq--;
    return tq < 1 ? 1 : tq;
}

/* Per-thread scratch of one tile of r query rows (floats, each part a multiple of 16 long). */
typedef struct {
    float *q;     /* (r, hd) the tile's queries times 1/sqrt(hd) */
    float *o;     /* (r, hd) unnormalised output */
    float *s;     /* (r, ATTN_TILE_KEYS) scores, then softmax numerators */
    float *kt;    /* (hd, ATTN_TILE_KEYS) the key tile, transposed */
    float *rows;  /* (ATTN_TILE_KEYS, hd) widened cache rows: K before transposing, then V */
    float *max;   /* (r) running max of each row's scores */
    float *sum;   /* (r) running sum of each row's exp(score - max) */
    float *alpha; /* (r) this step's rescale of each row's output */
    int *valid;   /* (r) how many of this key tile's keys each row sees */
} tile_scratch;

static size_t up16(size_t x) {
    return (x + 15) / 16 * 16;
}

static size_t carve(tile_scratch *s, float *base, size_t r, size_t hd) {
    size_t off = 0, tk = ATTN_TILE_KEYS;
#define TAKE(field, count)                                                                         \
    do {                                                                                           \
        if (s) s->field = (void *)(base + off);                                                    \
        off += up16(count);                                                                        \
    } while (0)
    TAKE(q, r * hd);
    TAKE(o, r * hd);
    TAKE(s, r * tk);
    TAKE(kt, hd * tk);
    TAKE(rows, tk * hd);
    TAKE(max, r);
    TAKE(sum, r);
    TAKE(alpha, r);
    TAKE(valid, r);
#undef TAKE
    return off;
}

size_t attn_tile_scratch_floats(int group, int head_dim) {
    size_t r = (size_t)attn_tile_tokens(group, head_dim) * (size_t)group;
    return carve(NULL, NULL, r, (size_t)head_dim);
}

int attn_tiles(const attn_batch *b, int n, int tq, int32_t *starts) {
    int count = 0;
    for (int t = 0; t < n; t++) {
        int t0 = count ? starts[count - 1] : -1;
        bool same = t0 >= 0 && t - t0 < tq && b->lo[t] == b->lo[t0] &&
                    (!b->tok_blocks || b->tok_blocks[t] == b->tok_blocks[t0]);
        if (!same) starts[count++] = t;
    }
    starts[count] = n;
    return count;
}

/* rows[i] = cache rows of positions j0 + i (i < nk) of one kv head as f32, zero past nk up to
 * nk_pad. */
static void load_rows(const attn_batch *b, const uint8_t *base, const int32_t *blocks, int j0,
                      int nk, int nk_pad, float *rows) {
    int hd = b->head_dim;
    size_t kv_row = kv_bytes_of(b->kv_type, (size_t)b->n_head_kv * hd);
    for (int i = 0; i < nk; i++) {
        const uint8_t *src = base + kv_phys(b, blocks, j0 + i) * kv_row;
        float *dst = rows + (size_t)i * hd;
        if (b->kv_type == ENGINE_KV_F32)
            memcpy(dst, src, (size_t)hd * sizeof(float));
        else if (b->kv_type == ENGINE_KV_Q8_0)
            b->kern->widen_q8_0(dst, src, hd);
        else
            b->kern->widen_f16(dst, src, hd);
    }
    memset(rows + (size_t)nk * hd, 0, (size_t)(nk_pad - nk) * hd * sizeof(float));
}

void attend_tile(const attn_batch *b, int t0, int nt, int g, float *scratch) {
    int hd = b->head_dim, H = b->n_head, G = H / b->n_head_kv, R = nt * G, TK = ATTN_TILE_KEYS;
    const attn_kernels *k = b->kern;
    tile_scratch s;
    carve(&s, scratch, (size_t)R, (size_t)hd);
    const int32_t *blocks = b->tok_blocks ? b->tok_blocks[t0] : NULL;
    size_t head_off = kv_bytes_of(b->kv_type, (size_t)g * hd);
    int lo = b->lo[t0], hi = lo;
    float scale = 1.0f / sqrtf((float)hd);
    bool dots = attn_tile_dots(G, b->causal); /* by the model only (attend.h) */
    for (int tt = 0; tt < nt; tt++) { /* q (R,hd): row tt*G + h is token t0+tt, head g*G+h */
        const float *q = b->q + ((size_t)(t0 + tt) * H + (size_t)g * G) * hd;
        for (size_t i = 0; i < (size_t)G * hd; i++) s.q[(size_t)tt * G * hd + i] = q[i] * scale;
        hi = b->hi[t0 + tt] > hi ? b->hi[t0 + tt] : hi;
    }
    /* a sink starts each row as a key of score sink and value 0: max sink, sum exp(0) */
    for (int r = 0; r < R; r++) {
        s.max[r] = b->sinks ? b->sinks[(size_t)g * G + (size_t)(r % G)] : -INFINITY;
        s.sum[r] = b->sinks ? 1.0f : 0.0f;
    }
    memset(s.o, 0, (size_t)R * hd * sizeof(float));
    for (int j0 = lo; j0 < hi; j0 += TK) {
        int nk = hi - j0 < TK ? hi - j0 : TK,
            nk_pad = (nk + ATTN_TILE_PAD - 1) / ATTN_TILE_PAD * ATTN_TILE_PAD;
        load_rows(b, b->k + head_off, blocks, j0, nk, nk_pad, s.rows); /* k (nk, hd) */
        if (dots) {
            k->tile_dots(s.s, TK, s.q, s.rows, R, nk_pad, hd); /* s (R,nk) = q . k' */
        } else {
            k->tile_transpose(s.kt, TK, s.rows, nk_pad, hd);       /* kt (hd, nk) */
            k->tile_scores(s.s, TK, s.q, s.kt, TK, R, nk_pad, hd); /* s (R,nk) = q . kt */
        }
        load_rows(b, b->v + head_off, blocks, j0, nk, nk_pad, s.rows); /* v (nk, hd) */
        for (int tt = 0; tt < nt; tt++) {
            int see = b->hi[t0 + tt] - j0;
            see = see < 0 ? 0 : see > nk ? nk : see;
            for (int h = 0; h < G; h++) s.valid[tt * G + h] = see;
        }
        k->tile_softmax(s.s, TK, R, nk_pad, s.valid, s.max, s.sum, s.alpha);
        k->tile_pv(s.o, s.s, TK, s.rows, s.alpha, R, nk_pad, hd); /* o = o * alpha + s . v */
    }
    for (int tt = 0; tt < nt; tt++)
        for (int h = 0; h < G; h++) {
            int r = tt * G + h;
            float *out = b->out + ((size_t)(t0 + tt) * H + (size_t)g * G + h) * hd;
            /* a token with no keys at all gets zeros, as in the row path */
            float inv = s.sum[r] > 0.0f ? 1.0f / s.sum[r] : 0.0f;
            for (int d = 0; d < hd; d++) out[d] = s.o[(size_t)r * hd + d] * inv;
        }
}
