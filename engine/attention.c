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

/* ---- the tiled path's loops (attend.c) ---- */

static void tile_transpose_scalar(float *kt, int ldk, const float *k, int nk, int hd) {
    for (int j = 0; j < nk; j++)
        for (int d = 0; d < hd; d++) kt[(size_t)d * ldk + j] = k[(size_t)j * hd + d];
}

static void tile_scores_scalar(float *s, int lds, const float *q, const float *kt, int ldk, int r,
                               int nk, int hd) {
    for (int i = 0; i < r; i++)
        for (int j = 0; j < nk; j++) {
            float acc = 0.0f;
            for (int d = 0; d < hd; d++) acc += q[(size_t)i * hd + d] * kt[(size_t)d * ldk + j];
            s[(size_t)i * lds + j] = acc;
        }
}

static void tile_dots_scalar(float *s, int lds, const float *q, const float *k, int r, int nk,
                             int hd) {
    for (int i = 0; i < r; i++)
        for (int j = 0; j < nk; j++)
            s[(size_t)i * lds + j] = dot_f32_scalar(q + (size_t)i * hd, k + (size_t)j * hd, hd);
}

static void tile_softmax_scalar(float *s, int lds, int r, int nk, const int *valid, float *max,
                                float *sum, float *alpha) {
    for (int i = 0; i < r; i++) {
        float *row = s + (size_t)i * lds, m = max[i], add = 0.0f;
        for (int j = 0; j < valid[i]; j++) m = row[j] > m ? row[j] : m;
        alpha[i] = m == max[i] ? 1.0f : expf(max[i] - m);
        for (int j = 0; j < valid[i]; j++) add += row[j] = expf(row[j] - m);
        for (int j = valid[i]; j < nk; j++) row[j] = 0.0f;
        sum[i] = sum[i] * alpha[i] + add;
        max[i] = m;
    }
}

static void tile_pv_scalar(float *o, const float *p, int ldp, const float *v, const float *alpha,
                           int r, int nk, int hd) {
    for (int i = 0; i < r; i++) {
        float *out = o + (size_t)i * hd;
        for (int d = 0; d < hd; d++) out[d] *= alpha[i];
        for (int j = 0; j < nk; j++) axpy_f32_scalar(out, p[(size_t)i * ldp + j], v + j * hd, hd);
    }
}

static const attn_kernels SCALAR = {
    dot_f16_scalar,        dot_f32_scalar,     axpy_f16_scalar,     axpy_f32_scalar,
    widen_f16_scalar,      widen_q8_0_scalar,  rows_dot_f16_scalar, rows_axpy_f16_scalar,
    tile_transpose_scalar, tile_scores_scalar, tile_dots_scalar,    tile_softmax_scalar,
    tile_pv_scalar};
static const attn_kernels AVX2 = {
    attn_dot_f16_avx2,      attn_dot_f32_avx2,       attn_axpy_f16_avx2,
    attn_axpy_f32_avx2,     attn_widen_f16_avx2,     attn_widen_q8_0_avx2,
    attn_rows_dot_f16_avx2, attn_rows_axpy_f16_avx2, attn_tile_transpose_avx2,
    attn_tile_scores_avx2,  attn_tile_dots_avx2,     attn_tile_softmax_avx2,
    attn_tile_pv_avx2};

static const attn_kernels AVX512 = {
    attn_dot_f16_avx2,       attn_dot_f32_avx2,       attn_axpy_f16_avx2,
    attn_axpy_f32_avx2,      attn_widen_f16_avx2,     attn_widen_q8_0_avx2,
    attn_rows_dot_f16_avx2,  attn_rows_axpy_f16_avx2, attn_tile_transpose_avx2,
    attn_tile_scores_avx512, attn_tile_dots_avx512,   attn_tile_softmax_avx2,
    attn_tile_pv_avx512};

const attn_kernels *attn_kernels_for(kernel_isa isa, int head_dim) {
    /* the SIMD loops take whole vectors: 8 lanes (AVX2), 16 (AVX-512's output blocks) */
    if (isa >= ISA_AVX512 && head_dim % 16 == 0) return &AVX512;
    return isa >= ISA_AVX2 && head_dim % 8 == 0 ? &AVX2 : &SCALAR;
}
