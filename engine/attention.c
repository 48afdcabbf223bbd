/* Attention kernel selection and the scalar references the SIMD loops are tested against. */
#include <math.h>

#include "fp16.h"
#include "kernels/attn_kernels.h"
#include "quant.h"

static float dot_f16_scalar(const float *q, const void *k, int n) {
    const uint16_t *h = k;
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += q[i] * fp16_to_fp32(h[i]);
    return s;
}

static float dot_f32_scalar(const float *q, const void *k, int n) {
    const float *f = k;
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += q[i] * f[i];
    return s;
}

static void axpy_f16_scalar(float *out, float w, const void *v, int n) {
    const uint16_t *h = v;
    for (int i = 0; i < n; i++) out[i] += w * fp16_to_fp32(h[i]);
}

static void axpy_f32_scalar(float *out, float w, const void *v, int n) {
    const float *f = v;
    for (int i = 0; i < n; i++) out[i] += w * f[i];
}

static void widen_f16_scalar(float *dst, const void *src, int n) {
    const uint16_t *h = src;
    for (int i = 0; i < n; i++) dst[i] = fp16_to_fp32(h[i]);
}

static void widen_q8_0_scalar(float *dst, const void *src, int n) {
    const kv_block_q8 *b = src;
    for (int i = 0; i < n; i += KV_Q8_BLOCK, b++) {
        float d = fp16_to_fp32(b->d);
        for (int k = 0; k < KV_Q8_BLOCK; k++) dst[i + k] = d * (float)b->qs[k];
    }
}

void attn_quantize_q8_0(void *dst, const float *src, size_t n) {
    kv_block_q8 *b = dst;
    for (size_t i = 0; i < n; i += KV_Q8_BLOCK, b++) {
        float amax = 0.0f;
        for (int k = 0; k < KV_Q8_BLOCK; k++) amax = fmaxf(amax, fabsf(src[i + k]));
        float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        b->d = fp32_to_fp16(d);
        for (int k = 0; k < KV_Q8_BLOCK; k++) b->qs[k] = (int8_t)lrintf(src[i + k] * id);
    }
}

static void rows_dot_f16_scalar(const float *q, const void *k, size_t stride, int n, int hd,
                                float scale, float *out) {
    for (int j = 0; j < n; j++)
        out[j] = dot_f16_scalar(q, (const uint8_t *)k + (size_t)j * stride, hd) * scale;
}

static void rows_axpy_f16_scalar(float *out, const float *w, const void *v, size_t stride, int n,
                                 int hd) {
    for (int j = 0; j < n; j++)
        axpy_f16_scalar(out, w[j], (const uint8_t *)v + (size_t)j * stride, hd);
}

static const attn_kernels SCALAR = {dot_f16_scalar,      dot_f32_scalar,      axpy_f16_scalar,
                                    axpy_f32_scalar,     widen_f16_scalar,    widen_q8_0_scalar,
                                    rows_dot_f16_scalar, rows_axpy_f16_scalar};
static const attn_kernels AVX2 = {
    attn_dot_f16_avx2,   attn_dot_f32_avx2,    attn_axpy_f16_avx2,     attn_axpy_f32_avx2,
    attn_widen_f16_avx2, attn_widen_q8_0_avx2, attn_rows_dot_f16_avx2, attn_rows_axpy_f16_avx2};

const attn_kernels *attn_kernels_for(kernel_isa isa, int head_dim) {
    /* the SIMD loops take whole 8-lane vectors */
    return isa >= ISA_AVX2 && head_dim % 8 == 0 ? &AVX2 : &SCALAR;
}
