/* Vectorised activation functions; the scalar references are op_swiglu / op_gelu in ops.c. */
#ifndef HEARTH_ACT_KERNELS_H
#define HEARTH_ACT_KERNELS_H

#include <stdint.h>

/* gate = silu(gate) * up */
void act_swiglu_avx2(float *gate, const float *up, int64_t len);
/* gate = min(gate, 7) * sigmoid(1.702 min(gate, 7)) * (clamp(up, -7, 7) + 1) (gpt-oss) */
void act_swiglu_oai_avx2(float *gate, const float *up, int64_t len);
/* x = gelu(x), tanh approximation */
void act_gelu_avx2(float *x, int64_t len);

/* x[i] = exp(x[i] - shift) for i < n; returns their sum (softmax numerators) */
float act_exp_shift_avx2(float *x, int64_t n, float shift);

#endif
