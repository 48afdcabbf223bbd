/* Attention inner loops: over one cached K or V row (head_dim elements, F16, F32 or Q8_0 cache) for
 * the row path, and over f32 tiles for the tiled path (attend.c). Private to engine/. Scalar
 * references live in attention.c; SIMD versions in attn_avx2.c and attn_avx512.c. */
#ifndef HEARTH_ATTN_KERNELS_H
#define HEARTH_ATTN_KERNELS_H

#include <stdint.h>

/* dot(q, k) over n elements; n is a multiple of 8 */
typedef float (*attn_dot_fn)(const float *q, const void *k, int n);
/* out += w * v over n elements */
typedef void (*attn_axpy_fn)(float *out, float w, const void *v, int n);

/* dst[0..n) = the f16 row src as f32 */
typedef void (*attn_widen_fn)(float *dst, const void *src, int n);

/* A Q8_0 KV-cache block: 32 values as d * qs[i] (d an f16 scale), 34 bytes as in GGUF. */
#define KV_Q8_BLOCK 32
typedef struct {
    uint16_t d;
    int8_t qs[KV_Q8_BLOCK];
} kv_block_q8;

/* out[j] = dot(q, row j of k) * scale for n rows `stride` bytes apart (f16 rows of hd elements) */
typedef void (*attn_rows_dot_fn)(const float *q, const void *k, size_t stride, int n, int hd,
                                 float scale, float *out);
/* out += sum_j w[j] * row j of v (f16 rows of hd elements, `stride` bytes apart) */
typedef void (*attn_rows_axpy_fn)(float *out, const float *w, const void *v, size_t stride, int n,
                                  int hd);

/* The tiled path's key tiles: ATTN_TILE_KEYS rows, padded with zero rows to a multiple of
 * ATTN_TILE_PAD so the tile loops take whole vectors. */
#define ATTN_TILE_KEYS 64
#define ATTN_TILE_PAD  16

/* kt[d * ldk + j] = k[j * hd + d] for j < nk, d < hd (k row-major nk x hd; nk, hd multiples of 8)
 */
typedef void (*attn_tile_transpose_fn)(float *kt, int ldk, const float *k, int nk, int hd);
/* s (r x nk, row stride lds) = q (r x hd, row stride hd) . kt (hd x nk, row stride ldk); each
 * s[i][j] sums over d in order, whatever r is (a row's result never depends on its neighbours) */
typedef void (*attn_tile_scores_fn)(float *s, int lds, const float *q, const float *kt, int ldk,
                                    int r, int nk, int hd);
/* The same scores from k row-major (nk x hd, no transpose), as dot products: per element a vector
 * FMA chain over d then a fixed horizontal sum, again whatever r is. For tiles of few rows, where
 * transposing the key tile would cost more than the products. */
typedef void (*attn_tile_dots_fn)(float *s, int lds, const float *q, const float *k, int r, int nk,
                                  int hd);
/* One online-softmax step per row i of s: its first valid[i] scores count, the rest become 0.
 * max[i] grows to include them, alpha[i] = exp(old max - new max) (1 when it did not grow), the
 * counted scores become exp(score - max[i]) and sum[i] = sum[i] * alpha[i] + their sum. */
typedef void (*attn_tile_softmax_fn)(float *s, int lds, int r, int nk, const int *valid, float *max,
                                     float *sum, float *alpha);
/* o (r x hd) = o * alpha[row] + p (r x nk, row stride ldp) . v (nk x hd), summing over j in order
 */
typedef void (*attn_tile_pv_fn)(float *o, const float *p, int ldp, const float *v,
                                const float *alpha, int r, int nk, int hd);

typedef struct {
    attn_dot_fn dot_f16, dot_f32;
    attn_axpy_fn axpy_f16, axpy_f32;
    attn_widen_fn widen_f16;
    attn_widen_fn widen_q8_0; /* dst[0..n) = the Q8_0 row src as f32; n a multiple of 32 */
    attn_rows_dot_fn rows_dot_f16;
    attn_rows_axpy_fn rows_axpy_f16;
    attn_tile_transpose_fn tile_transpose;
    attn_tile_scores_fn tile_scores;
    attn_tile_dots_fn tile_dots;
    attn_tile_softmax_fn tile_softmax;
    attn_tile_pv_fn tile_pv;
} attn_kernels;

#include "../quant.h"

/* The loops to use on this ISA for heads of head_dim elements (attention.c). */
const attn_kernels *attn_kernels_for(kernel_isa isa, int head_dim);
/* Quantizes n floats (a multiple of 32) to Q8_0 blocks at dst: d = max|x| / 127 (attention.c). */
void attn_quantize_q8_0(void *dst, const float *src, size_t n);

float attn_dot_f16_avx2(const float *q, const void *k, int n);
float attn_dot_f32_avx2(const float *q, const void *k, int n);
void attn_axpy_f16_avx2(float *out, float w, const void *v, int n);
void attn_axpy_f32_avx2(float *out, float w, const void *v, int n);
void attn_widen_f16_avx2(float *dst, const void *src, int n);
void attn_widen_q8_0_avx2(float *dst, const void *src, int n);
void attn_rows_dot_f16_avx2(const float *q, const void *k, size_t stride, int n, int hd,
                            float scale, float *out);
void attn_rows_axpy_f16_avx2(float *out, const float *w, const void *v, size_t stride, int n,
                             int hd);
void attn_tile_transpose_avx2(float *kt, int ldk, const float *k, int nk, int hd);
void attn_tile_scores_avx2(float *s, int lds, const float *q, const float *kt, int ldk, int r,
                           int nk, int hd);
void attn_tile_softmax_avx2(float *s, int lds, int r, int nk, const int *valid, float *max,
                            float *sum, float *alpha);
void attn_tile_dots_avx2(float *s, int lds, const float *q, const float *k, int r, int nk, int hd);
void attn_tile_dots_avx512(float *s, int lds, const float *q, const float *k, int r, int nk,
                           int hd);
void attn_tile_scores_avx512(float *s, int lds, const float *q, const float *kt, int ldk, int r,
                             int nk, int hd);
void attn_tile_pv_avx512(float *o, const float *p, int ldp, const float *v, const float *alpha,
                         int r, int nk, int hd);
void attn_tile_pv_avx2(float *o, const float *p, int ldp, const float *v, const float *alpha, int r,
                       int nk, int hd);

#endif
