/* F32, F16 and BF16: conversions and dot products.
 * vec_dot multiplies two rows of the same type: the caller converts the activation row to the
 * weight's type first (vec_dot_type), so no kernel ever mixes float formats. */
#include "quant.h"

#include "fp16.h"
#include "kernels/float_kernels.h"

#include <string.h>

static void f32_to_float(const void *x, float *y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

static void f32_from_float(const float *x, void *y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

static void f16_to_float(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = fp16_to_fp32(h[i]);
}

static void f16_from_float(const float *x, void *y, int64_t n) {
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++) h[i] = fp32_to_fp16(x[i]);
}

static void bf16_to_float(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = bf16_to_fp32(h[i]);
}

static void bf16_from_float(const float *x, void *y, int64_t n) {
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++) h[i] = fp32_to_bf16(x[i]);
}

/* The scalar dots are the reference the SIMD kernels are tested against, so they accumulate in
 * double, in index order: each product of two floats is exact in double, leaving only the
 * (much smaller) rounding of the running sum, and the result is rounded to float once. */
static void f32_dot(int64_t n, float *s, const void *w, const void *a) {
    const float *x = w, *y = a;
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) acc += (double)x[i] * (double)y[i];
    *s = (float)acc;
}

static void f16_dot(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) acc += (double)fp16_to_fp32(x[i]) * (double)fp16_to_fp32(y[i]);
    *s = (float)acc;
}

static void bf16_dot(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) acc += (double)bf16_to_fp32(x[i]) * (double)bf16_to_fp32(y[i]);
    *s = (float)acc;
}

static void set_scalar(quant_registry *r, tensor_type t, to_float_fn to, from_float_fn from,
                       vec_dot_fn dot) {
    r->t[t].to_float = to;
    r->t[t].from_float = from;
    r->t[t].vec_dot[ISA_SCALAR] = dot;
}

void quant_register_float(quant_registry *r) {
    set_scalar(r, TT_F32, f32_to_float, f32_from_float, f32_dot);
    set_scalar(r, TT_F16, f16_to_float, f16_from_float, f16_dot);
    set_scalar(r, TT_BF16, bf16_to_float, bf16_from_float, bf16_dot);

    /* Assigned here, not in the kernel files: code compiled with -mavx2 may use AVX even in a
     * plain registration function, and this runs on every CPU. */
    r->t[TT_F32].vec_dot[ISA_AVX2] = float_avx2_f32_dot;
    r->t[TT_F16].vec_dot[ISA_AVX2] = float_avx2_f16_dot;
    r->t[TT_BF16].vec_dot[ISA_AVX2] = float_avx2_bf16_dot;
    r->t[TT_F16].from_float_isa[ISA_AVX2] = float_avx2_f16_from_float;
    r->t[TT_BF16].from_float_isa[ISA_AVX2] = float_avx2_bf16_from_float;

    r->t[TT_F32].vec_dot[ISA_AVX512] = float_avx512_f32_dot;
    /* no AVX-512 F16 dot: widening both operands with 512-bit vcvtph2ps measured 35 GB/s on
     * Zen 4 against 55 GB/s for the AVX2 loop (`hearth-kernels`), which AVX-512 CPUs then use */
    r->t[TT_BF16].vec_dot[ISA_AVX512] = float_avx512_bf16_dot;
    r->t[TT_F16].from_float_isa[ISA_AVX512] = float_avx512_f16_from_float;
    r->t[TT_BF16].from_float_isa[ISA_AVX512] = float_avx512_bf16_from_float;
}
