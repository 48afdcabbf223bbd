/* SIMD kernels for F32, F16 and BF16 (kernels/float_<isa>.c). Private to engine/.
 * Same contracts as the scalar ones in quant_float.c: any n >= 0, both rows of the same type. */
#ifndef HEARTH_FLOAT_KERNELS_H
#define HEARTH_FLOAT_KERNELS_H

#include <stdint.h>

void float_avx2_f32_dot(int64_t n, float *s, const void *w, const void *a);
void float_avx2_f16_dot(int64_t n, float *s, const void *w, const void *a);
void float_avx2_bf16_dot(int64_t n, float *s, const void *w, const void *a);
void float_avx2_f16_from_float(const float *x, void *y, int64_t n);
void float_avx2_bf16_from_float(const float *x, void *y, int64_t n);

void float_avx512_f32_dot(int64_t n, float *s, const void *w, const void *a);
void float_avx512_bf16_dot(int64_t n, float *s, const void *w, const void *a);
void float_avx512_f16_from_float(const float *x, void *y, int64_t n);
void float_avx512_bf16_from_float(const float *x, void *y, int64_t n);

#endif
