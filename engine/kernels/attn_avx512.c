/* AVX-512 loops of the tiled attention (attend.c): register blocks of 8 rows x 32 lanes. Each
 * element is the same FMA chain as in attn_avx2.c, so both give identical results; the softmax
 * step and the transpose are the AVX2 ones. */
#include <immintrin.h>

#include "attn_kernels.h"

#define INLINE static inline __attribute__((always_inline))

/* s[i][j0..j0+16W) for R rows: one FMA chain over d per element */
INLINE void scores_block(int R, int W, float *s, int lds, const float *q, const float *kt, int ldk,
                         int hd, int j0) {
    __m512 acc[8][2];
    for (int i = 0; i < R; i++)
        for (int w = 0; w < W; w++) acc[i][w] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m512 kv[2];
        for (int w = 0; w < W; w++) kv[w] = _mm512_loadu_ps(kt + (size_t)d * ldk + j0 + 16 * w);
        for (int i = 0; i < R; i++) {
            __m512 qv = _mm512_set1_ps(q[(size_t)i * hd + d]);
            for (int w = 0; w < W; w++) acc[i][w] = _mm512_fmadd_ps(qv, kv[w], acc[i][w]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int w = 0; w < W; w++) _mm512_storeu_ps(s + (size_t)i * lds + j0 + 16 * w, acc[i][w]);
}

INLINE void scores_rows(int R, float *s, int lds, const float *q, const float *kt, int ldk, int nk,
                        int hd) {
    int j = 0;
    for (; j + 32 <= nk; j += 32) scores_block(R, 2, s, lds, q, kt, ldk, hd, j);
    if (j < nk) scores_block(R, 1, s, lds, q, kt, ldk, hd, j);
}

void attn_tile_scores_avx512(float *s, int lds, const float *q, const float *kt, int ldk, int r,
                             int nk, int hd) {
    int i = 0;
    for (; i + 8 <= r; i += 8)
        scores_rows(8, s + (size_t)i * lds, lds, q + (size_t)i * hd, kt, ldk, nk, hd);
    for (; i < r; i++)
        scores_rows(1, s + (size_t)i * lds, lds, q + (size_t)i * hd, kt, ldk, nk, hd);
}

/* The sum of v's lanes in a fixed order: halves, then as the AVX2 loops' hsum. */
INLINE float hsum16(__m512 v) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* s[i][j0..j0+4) for R rows from row-major keys: a vector FMA chain over d, then hsum16 */
INLINE void dots_block(int R, float *s, int lds, const float *q, const float *k, int hd, int j0) {
    __m512 acc[4][4];
    for (int i = 0; i < R; i++)
        for (int jj = 0; jj < 4; jj++) acc[i][jj] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d += 16) {
        __m512 kv[4];
        for (int jj = 0; jj < 4; jj++) kv[jj] = _mm512_loadu_ps(k + (size_t)(j0 + jj) * hd + d);
        for (int i = 0; i < R; i++) {
            __m512 qv = _mm512_loadu_ps(q + (size_t)i * hd + d);
            for (int jj = 0; jj < 4; jj++) acc[i][jj] = _mm512_fmadd_ps(qv, kv[jj], acc[i][jj]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int jj = 0; jj < 4; jj++) s[(size_t)i * lds + j0 + jj] = hsum16(acc[i][jj]);
}

void attn_tile_dots_avx512(float *s, int lds, const float *q, const float *k, int r, int nk,
                           int hd) {
    int i = 0;
    for (; i + 4 <= r; i += 4)
        for (int j = 0; j < nk; j += 4)
            dots_block(4, s + (size_t)i * lds, lds, q + (size_t)i * hd, k, hd, j);
    for (; i < r; i++)
        for (int j = 0; j < nk; j += 4)
            dots_block(1, s + (size_t)i * lds, lds, q + (size_t)i * hd, k, hd, j);
}

/* o[i][d0..d0+16W) = o * alpha[i] + sum over j in order of p[i][j] * v[j][...], R rows */
INLINE void pv_block(int R, int W, float *o, const float *p, int ldp, const float *v,
                     const float *alpha, int nk, int hd, int d0) {
    __m512 acc[8][2];
    for (int i = 0; i < R; i++)
        for (int w = 0; w < W; w++)
            acc[i][w] = _mm512_mul_ps(_mm512_loadu_ps(o + (size_t)i * hd + d0 + 16 * w),
                                      _mm512_set1_ps(alpha[i]));
    for (int j = 0; j < nk; j++) {
        __m512 vv[2];
        for (int w = 0; w < W; w++) vv[w] = _mm512_loadu_ps(v + (size_t)j * hd + d0 + 16 * w);
        for (int i = 0; i < R; i++) {
            __m512 pv = _mm512_set1_ps(p[(size_t)i * ldp + j]);
            for (int w = 0; w < W; w++) acc[i][w] = _mm512_fmadd_ps(pv, vv[w], acc[i][w]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int w = 0; w < W; w++) _mm512_storeu_ps(o + (size_t)i * hd + d0 + 16 * w, acc[i][w]);
}

INLINE void pv_rows(int R, float *o, const float *p, int ldp, const float *v, const float *alpha,
                    int nk, int hd) {
    int d = 0;
    for (; d + 32 <= hd; d += 32) pv_block(R, 2, o, p, ldp, v, alpha, nk, hd, d);
    if (d < hd) pv_block(R, 1, o, p, ldp, v, alpha, nk, hd, d);
}

/* hd a multiple of 16 (attn_kernels_for picks these loops only then) */
void attn_tile_pv_avx512(float *o, const float *p, int ldp, const float *v, const float *alpha,
                         int r, int nk, int hd) {
    int i = 0;
    for (; i + 8 <= r; i += 8)
        pv_rows(8, o + (size_t)i * hd, p + (size_t)i * ldp, ldp, v, alpha + i, nk, hd);
    for (; i < r; i++)
        pv_rows(1, o + (size_t)i * hd, p + (size_t)i * ldp, ldp, v, alpha + i, nk, hd);
}
