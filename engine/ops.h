/* Tensor operations of the forward pass, on row-major f32 activations. Private to engine/. */
#ifndef HEARTH_OPS_H
#define HEARTH_OPS_H

#include "model.h"
#include "threadpool.h"

/* y[t][r] = dot(W row r, x[t]) for t < n tokens: x is n x w->cols, y is n x w->rows.
 * xq: scratch for the activations quantized to W's vec_dot_type (n rows). */
void op_matmul(threadpool *pool, const weight *w, const float *x, int n, float *y, void *xq);
/* Several products of the same input x (q/k/v, gate/up): y_o = W_o x for each of n_outs
 * (<= MATMUL_GROUP_MAX) outputs. For a few tokens this is one pool round instead of one per
 * weight; xq must hold n rows per distinct activation type (op_matmul_scratch covers it). */
enum { MATMUL_GROUP_MAX = 4 };
typedef struct {
    const weight *w;
    float *y;
} matmul_out;
void op_matmul_group(threadpool *pool, const matmul_out *outs, int n_outs, const float *x, int n,
                     void *xq);
/* Bytes op_matmul needs in xq for n rows of `cols` elements, whatever the weight type. */
size_t op_matmul_scratch(int64_t cols, int n);

/* out = x / rms(x) * g, per row of `dim` (n rows). */
void op_rmsnorm(const float *x, const float *g, float *out, int64_t dim, int n, float eps);
/* out = (x - mean) / sqrt(var + eps) * g + b, per row of `dim` (n rows). */
void op_layernorm(const float *x, const float *g, const float *b, float *out, int64_t dim, int n,
                  float eps);
/* x = gelu(x) (tanh approximation), element-wise. */
void op_gelu(float *x, int64_t len);
/* x += b, per row. */
void op_add_bias(float *x, const float *b, int64_t dim, int n);
/* Rotary embedding of each head of each row (n_heads heads of head_dim, first r->n_rot dims). */
void op_rope(float *x, int n, int n_heads, int head_dim, const int32_t *pos, const rope_spec *r);
/* The angle per position of each rotated pair (r->n_rot / 2 of them), YaRN's blend included. */
void op_rope_freqs(const rope_spec *r, float *freq);
/* x = min(g, 7) * sigmoid(1.702 min(g, 7)) * (clamp(up, -7, 7) + 1): gpt-oss's clamped SwiGLU
 * (gate = x). The scalar reference and the dispatching version. */
void op_swiglu_oai_scalar(float *gate, const float *up, int64_t len);
void op_swiglu_oai(float *gate, const float *up, int64_t len);
void op_swiglu_oai_mt(threadpool *pool, float *gate, const float *up, int64_t len);
/* x[i] = exp(x[i] - shift); returns the sum (vectorised where the CPU allows). */
float op_exp_shift(float *x, int64_t n, float shift);
float op_exp_shift_scalar(float *x, int64_t n, float shift);
/* The scalar references of op_swiglu / op_gelu (tests hold the SIMD versions to them). */
void op_swiglu_scalar(float *gate, const float *up, int64_t len);
void op_gelu_scalar(float *x, int64_t len);
/* gate = silu(gate) * up, element-wise over len. */
void op_swiglu(float *gate, const float *up, int64_t len);
/* The same, split across the pool's threads when the work is big enough to pay for it. */
void op_rmsnorm_mt(threadpool *pool, const float *x, const float *g, float *out, int64_t dim, int n,
                   float eps);
void op_swiglu_mt(threadpool *pool, float *gate, const float *up, int64_t len);
void op_gelu_mt(threadpool *pool, float *x, int64_t len);
void op_rope_mt(threadpool *pool, float *x, int n, int n_heads, int head_dim, const int32_t *pos,
                const rope_spec *r);
/* One row of a weight, dequantized to f32 (token embedding lookup). */
void op_get_row(const weight *w, int64_t row, float *out);

#endif
