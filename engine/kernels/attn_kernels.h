/* Attention inner loops over one cached K or V row (head_dim elements, F16, F32 or Q8_0 cache).
 * Private to engine/. Scalar references live in attention.c; SIMD versions in attn_avx2.c. */
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

typedef struct {
    attn_dot_fn dot_f16, dot_f32;
    attn_axpy_fn axpy_f16, axpy_f32;
    attn_widen_fn widen_f16;
    attn_widen_fn widen_q8_0; /* dst[0..n) = the Q8_0 row src as f32; n a multiple of 32 */
    attn_rows_dot_fn rows_dot_f16;
    attn_rows_axpy_fn rows_axpy_f16;
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

#endif
