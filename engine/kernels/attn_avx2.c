/* AVX2 + F16C attention loops: the cache row is converted 8 lanes at a time, accumulated with FMA.
 */
#include <immintrin.h>
#include <math.h>

#include "act_kernels.h"
#include "attn_kernels.h"

static float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

float attn_dot_f16_avx2(const float *q, const void *k, int n) {
    const uint16_t *h = k;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i)));
        __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i + 8)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), k0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), k1, acc1);
    }
    for (; i < n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i),
                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))), acc0);
    return hsum(_mm256_add_ps(acc0, acc1));
}

float attn_dot_f32_avx2(const float *q, const void *k, int n) {
    const float *f = k;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(f + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(f + i + 8), acc1);
    }
    for (; i < n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(f + i), acc0);
    return hsum(_mm256_add_ps(acc0, acc1));
}

void attn_axpy_f16_avx2(float *out, float w, const void *v, int n) {
    const uint16_t *h = v;
    __m256 wv = _mm256_set1_ps(w);
    for (int i = 0; i < n; i += 8) {
        __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i)));
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(wv, x, _mm256_loadu_ps(out + i)));
    }
}

void attn_axpy_f32_avx2(float *out, float w, const void *v, int n) {
    const float *f = v;
    __m256 wv = _mm256_set1_ps(w);
    for (int i = 0; i < n; i += 8)
        _mm256_storeu_ps(out + i,
                         _mm256_fmadd_ps(wv, _mm256_loadu_ps(f + i), _mm256_loadu_ps(out + i)));
}

void attn_widen_f16_avx2(float *dst, const void *src, int n) {
    const uint16_t *h = src;
    for (int i = 0; i < n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
}

/* Each block's 32 int8 widen 8 at a time to f32 and scale by d: d * q exactly as the scalar. */
void attn_widen_q8_0_avx2(float *dst, const void *src, int n) {
    const kv_block_q8 *b = src;
    for (int i = 0; i < n; i += KV_Q8_BLOCK, b++) {
        __m256 d = _mm256_cvtph_ps(_mm_set1_epi16((short)b->d));
        __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)b->qs);
        __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(b->qs + 16));
        __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int k = 0; k < 4; k++)
            _mm256_storeu_ps(dst + i + 8 * k,
                             _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k]))));
    }
}

void attn_rows_dot_f16_avx2(const float *q, const void *k, size_t stride, int n, int hd,
                            float scale, float *out) {
    const uint8_t *row = k;
    for (int j = 0; j < n; j++, row += stride) out[j] = attn_dot_f16_avx2(q, row, hd) * scale;
}

/* The output stays in registers across all rows when it fits (head_dim <= 128). */
void attn_rows_axpy_f16_avx2(float *out, const float *w, const void *v, size_t stride, int n,
                             int hd) {
    const uint8_t *base = v;
    if (hd > 128 || hd % 8) {
        for (int j = 0; j < n; j++) attn_axpy_f16_avx2(out, w[j], base + (size_t)j * stride, hd);
        return;
    }
    __m256 acc[16];
    int nv = hd / 8;
    for (int i = 0; i < nv; i++) acc[i] = _mm256_loadu_ps(out + 8 * i);
    for (int j = 0; j < n; j++) {
        const uint16_t *h = (const uint16_t *)(const void *)(base + (size_t)j * stride);
        __m256 wv = _mm256_set1_ps(w[j]);
        for (int i = 0; i < nv; i++)
            acc[i] = _mm256_fmadd_ps(
                wv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 8 * i))), acc[i]);
    }
    for (int i = 0; i < nv; i++) _mm256_storeu_ps(out + 8 * i, acc[i]);
}

/* ---- the tiled path (attend.c): f32 tiles, register blocks of rows x 16 lanes ---- */

#define INLINE static inline __attribute__((always_inline))

INLINE void transpose8(__m256 r[8]) {
    __m256 t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    __m256 u[8];
    for (int i = 0; i < 8; i += 4)
        for (int k = 0; k < 2; k++) {
            u[i + k] = _mm256_shuffle_ps(t[i + k], t[i + k + 2], _MM_SHUFFLE(1, 0, 1, 0));
            u[i + k + 2] = _mm256_shuffle_ps(t[i + k], t[i + k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        }
    /* u[0..3] hold rows 0-3 of columns {0,4},{2,6},{1,5},{3,7} by 128-bit half; u[4..7] rows 4-7 */
    static const int order[4] = {0, 2, 1, 3};
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[order[k]], u[4 + order[k]], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(u[order[k]], u[4 + order[k]], 0x31);
    }
}

void attn_tile_transpose_avx2(float *kt, int ldk, const float *k, int nk, int hd) {
    for (int j = 0; j < nk; j += 8)
        for (int d = 0; d < hd; d += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(k + (size_t)(j + i) * hd + d);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(kt + (size_t)(d + i) * ldk + j, r[i]);
        }
}

/* s[i][j0..j0+16) for R rows: one FMA chain over d per element */
INLINE void scores_block(int R, float *s, int lds, const float *q, const float *kt, int ldk, int hd,
                         int j0) {
    __m256 acc[6][2];
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m256 k0 = _mm256_loadu_ps(kt + (size_t)d * ldk + j0);
        __m256 k1 = _mm256_loadu_ps(kt + (size_t)d * ldk + j0 + 8);
        for (int i = 0; i < R; i++) {
            __m256 qv = _mm256_broadcast_ss(q + (size_t)i * hd + d);
            acc[i][0] = _mm256_fmadd_ps(qv, k0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(qv, k1, acc[i][1]);
        }
    }
    for (int i = 0; i < R; i++) {
        _mm256_storeu_ps(s + (size_t)i * lds + j0, acc[i][0]);
        _mm256_storeu_ps(s + (size_t)i * lds + j0 + 8, acc[i][1]);
    }
}

void attn_tile_scores_avx2(float *s, int lds, const float *q, const float *kt, int ldk, int r,
                           int nk, int hd) {
    int i = 0;
    for (; i + 6 <= r; i += 6)
        for (int j = 0; j < nk; j += 16)
            scores_block(6, s + (size_t)i * lds, lds, q + (size_t)i * hd, kt, ldk, hd, j);
    for (; i < r; i++)
        for (int j = 0; j < nk; j += 16)
            scores_block(1, s + (size_t)i * lds, lds, q + (size_t)i * hd, kt, ldk, hd, j);
}

/* s[i][j0..j0+4) for R rows from row-major keys: a vector FMA chain over d, then hsum */
INLINE void dots_block(int R, float *s, int lds, const float *q, const float *k, int hd, int j0) {
    __m256 acc[2][4];
    for (int i = 0; i < R; i++)
        for (int jj = 0; jj < 4; jj++) acc[i][jj] = _mm256_setzero_ps();
    for (int d = 0; d < hd; d += 8) {
        __m256 kv[4];
        for (int jj = 0; jj < 4; jj++) kv[jj] = _mm256_loadu_ps(k + (size_t)(j0 + jj) * hd + d);
        for (int i = 0; i < R; i++) {
            __m256 qv = _mm256_loadu_ps(q + (size_t)i * hd + d);
            for (int jj = 0; jj < 4; jj++) acc[i][jj] = _mm256_fmadd_ps(qv, kv[jj], acc[i][jj]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int jj = 0; jj < 4; jj++) s[(size_t)i * lds + j0 + jj] = hsum(acc[i][jj]);
}

void attn_tile_dots_avx2(float *s, int lds, const float *q, const float *k, int r, int nk, int hd) {
    int i = 0;
    for (; i + 2 <= r; i += 2)
        for (int j = 0; j < nk; j += 4)
            dots_block(2, s + (size_t)i * lds, lds, q + (size_t)i * hd, k, hd, j);
    for (; i < r; i++)
        for (int j = 0; j < nk; j += 4)
            dots_block(1, s + (size_t)i * lds, lds, q + (size_t)i * hd, k, hd, j);
}

void attn_tile_softmax_avx2(float *s, int lds, int r, int nk, const int *valid, float *max,
                            float *sum, float *alpha) {
    for (int i = 0; i < r; i++) {
        float *row = s + (size_t)i * lds, m = max[i];
        int v = valid[i], j = 0;
        __m256 mv = _mm256_set1_ps(m);
        for (; j + 8 <= v; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(row + j));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        m = _mm_cvtss_f32(m4);
        for (; j < v; j++) m = row[j] > m ? row[j] : m;
        alpha[i] = m == max[i] ? 1.0f : expf(max[i] - m);
        float add = v ? act_exp_shift_avx2(row, v, m) : 0.0f;
        for (j = v; j < nk; j++) row[j] = 0.0f;
        sum[i] = sum[i] * alpha[i] + add;
        max[i] = m;
    }
}

/* o[i][d0..d0+8W) = o * alpha[i] + sum over j in order of p[i][j] * v[j][...], R rows */
INLINE void pv_block(int R, int W, float *o, const float *p, int ldp, const float *v,
                     const float *alpha, int nk, int hd, int d0) {
    __m256 acc[6][2];
    for (int i = 0; i < R; i++)
        for (int w = 0; w < W; w++)
            acc[i][w] = _mm256_mul_ps(_mm256_loadu_ps(o + (size_t)i * hd + d0 + 8 * w),
                                      _mm256_set1_ps(alpha[i]));
    for (int j = 0; j < nk; j++) {
        __m256 vv[2];
        for (int w = 0; w < W; w++) vv[w] = _mm256_loadu_ps(v + (size_t)j * hd + d0 + 8 * w);
        for (int i = 0; i < R; i++) {
            __m256 pv = _mm256_broadcast_ss(p + (size_t)i * ldp + j);
            for (int w = 0; w < W; w++) acc[i][w] = _mm256_fmadd_ps(pv, vv[w], acc[i][w]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int w = 0; w < W; w++) _mm256_storeu_ps(o + (size_t)i * hd + d0 + 8 * w, acc[i][w]);
}

void attn_tile_pv_avx2(float *o, const float *p, int ldp, const float *v, const float *alpha, int r,
                       int nk, int hd) {
    int i = 0;
    for (; i + 6 <= r; i += 6) {
        float *oi = o + (size_t)i * hd;
        const float *pi = p + (size_t)i * ldp;
        int d = 0;
        for (; d + 16 <= hd; d += 16) pv_block(6, 2, oi, pi, ldp, v, alpha + i, nk, hd, d);
        if (d < hd) pv_block(6, 1, oi, pi, ldp, v, alpha + i, nk, hd, d);
    }
    for (; i < r; i++) {
        float *oi = o + (size_t)i * hd;
        const float *pi = p + (size_t)i * ldp;
        int d = 0;
        for (; d + 16 <= hd; d += 16) pv_block(1, 2, oi, pi, ldp, v, alpha + i, nk, hd, d);
        if (d < hd) pv_block(1, 1, oi, pi, ldp, v, alpha + i, nk, hd, d);
    }
}
