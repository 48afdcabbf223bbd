/* The "legacy" GGUF block types: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 (weights) and Q8_1 (activations for
 * the _1 types). Scalar reference (de)quantizers and dot products; SIMD ones live in
 * kernels/legacy_<isa>.c. The quantizers follow the format's reference rules exactly (scale from
 * the unrounded float d, the same truncation/rounding), so their output is byte-identical to
 * other conforming writers. */
#include "quant.h"

#include "fp16.h"
#include "kernels/legacy_kernels.h"

#include <math.h>

static uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void store_qh(uint8_t qh[4], uint32_t v) {
    for (int i = 0; i < 4; i++) qh[i] = (uint8_t)(v >> (8 * i));
}

/* The value of largest magnitude, with its sign (the first one on ties): the _0 types map it to
 * the most negative code, which has one more step than the positive side. */
static float signed_absmax(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_LEGACY; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, float *mn, float *mx) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < QK_LEGACY; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

/* The 4/5-bit formats round by adding 0.5 (folded into the offset) and truncating; the cap only
 * bites on the last float ulp. Written so NaN maps to 0 instead of being undefined behaviour. */
static uint8_t trunc_code(float v, int qmax) {
    if (!(v > 0.0f)) return 0;
    if (v >= (float)qmax) return (uint8_t)qmax;
    return (uint8_t)v;
}

/* Q8 rounds half away from zero (roundf); |v| <= 127 up to one ulp by construction of d. */
static int8_t round_q8(float v) {
    float r = roundf(v);
    if (r > 127.0f) return 127;
    if (r < -127.0f) return -127;
    if (r != r) return 0;
    return (int8_t)r;
}

/* ---- dequantization ---- */

static void q4_0_to_float(const void *vx, float *y, int64_t n) {
    const block_q4_0 *x = vx;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, y += QK_LEGACY) {
        const float d = fp16_to_fp32(x[ib].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[ib].qs[j] & 15) - 8) * d;
            y[j + 16] = (float)((x[ib].qs[j] >> 4) - 8) * d;
        }
    }
}

static void q4_1_to_float(const void *vx, float *y, int64_t n) {
    const block_q4_1 *x = vx;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, y += QK_LEGACY) {
        const float d = fp16_to_fp32(x[ib].d), m = fp16_to_fp32(x[ib].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[ib].qs[j] & 15) * d + m;
            y[j + 16] = (float)(x[ib].qs[j] >> 4) * d + m;
        }
    }
}

/* The 5-bit code of element j (0..31) of a Q5 block. */
static int q5_code(const uint8_t *qs, uint32_t qh, int j) {
    const int nib = j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4);
    return nib | (int)((qh >> j) & 1u) << 4;
}

static void q5_0_to_float(const void *vx, float *y, int64_t n) {
    const block_q5_0 *x = vx;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, y += QK_LEGACY) {
        const float d = fp16_to_fp32(x[ib].d);
        const uint32_t qh = load_qh(x[ib].qh);
        for (int j = 0; j < QK_LEGACY; j++) y[j] = (float)(q5_code(x[ib].qs, qh, j) - 16) * d;
    }
}

static void q5_1_to_float(const void *vx, float *y, int64_t n) {
    const block_q5_1 *x = vx;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, y += QK_LEGACY) {
        const float d = fp16_to_fp32(x[ib].d), m = fp16_to_fp32(x[ib].m);
        const uint32_t qh = load_qh(x[ib].qh);
        for (int j = 0; j < QK_LEGACY; j++) y[j] = (float)q5_code(x[ib].qs, qh, j) * d + m;
    }
}

static void q8_0_to_float(const void *vx, float *y, int64_t n) {
    const block_q8_0 *x = vx;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, y += QK_LEGACY) {
        const float d = fp16_to_fp32(x[ib].d);
        for (int j = 0; j < QK_LEGACY; j++) y[j] = (float)x[ib].qs[j] * d;
    }
}

static void q8_1_to_float(const void *vx, float *y, int64_t n) {
    const block_q8_1 *x = vx;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, y += QK_LEGACY) {
        const float d = fp16_to_fp32(x[ib].d);
        for (int j = 0; j < QK_LEGACY; j++) y[j] = (float)x[ib].qs[j] * d;
    }
}

/* ---- reference quantization ---- */

static void q4_0_from_float(const float *x, void *vy, int64_t n) {
    block_q4_0 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, x += QK_LEGACY) {
        const float d = signed_absmax(x) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[ib].d = fp32_to_fp16(d);
        for (int j = 0; j < 16; j++) {
            const uint8_t lo = trunc_code(x[j] * id + 8.5f, 15);
            const uint8_t hi = trunc_code(x[j + 16] * id + 8.5f, 15);
            y[ib].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

static void q4_1_from_float(const float *x, void *vy, int64_t n) {
    block_q4_1 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, x += QK_LEGACY) {
        float mn, mx;
        min_max(x, &mn, &mx);
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[ib].d = fp32_to_fp16(d);
        y[ib].m = fp32_to_fp16(mn);
        for (int j = 0; j < 16; j++) {
            const uint8_t lo = trunc_code((x[j] - mn) * id + 0.5f, 15);
            const uint8_t hi = trunc_code((x[j + 16] - mn) * id + 0.5f, 15);
            y[ib].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

/* Packs 32 five-bit codes into a Q5 block's qs/qh. */
static void q5_pack(const uint8_t *q, uint8_t qs[16], uint8_t qh[4]) {
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
        h |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    store_qh(qh, h);
}

static void q5_0_from_float(const float *x, void *vy, int64_t n) {
    block_q5_0 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, x += QK_LEGACY) {
        const float d = signed_absmax(x) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t q[QK_LEGACY];
        for (int j = 0; j < QK_LEGACY; j++) q[j] = trunc_code(x[j] * id + 16.5f, 31);
        y[ib].d = fp32_to_fp16(d);
        q5_pack(q, y[ib].qs, y[ib].qh);
    }
}

static void q5_1_from_float(const float *x, void *vy, int64_t n) {
    block_q5_1 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, x += QK_LEGACY) {
        float mn, mx;
        min_max(x, &mn, &mx);
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t q[QK_LEGACY];
        for (int j = 0; j < QK_LEGACY; j++) q[j] = trunc_code((x[j] - mn) * id + 0.5f, 31);
        y[ib].d = fp32_to_fp16(d);
        y[ib].m = fp32_to_fp16(mn);
        q5_pack(q, y[ib].qs, y[ib].qh);
    }
}

static float q8_scale(const float *x) {
    float amax = 0.0f;
    for (int j = 0; j < QK_LEGACY; j++) amax = fmaxf(amax, fabsf(x[j]));
    return amax / 127.0f;
}

static void q8_0_from_float(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, x += QK_LEGACY) {
        const float d = q8_scale(x);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[ib].d = fp32_to_fp16(d);
        for (int j = 0; j < QK_LEGACY; j++) y[ib].qs[j] = round_q8(x[j] * id);
    }
}

static void q8_1_from_float(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, x += QK_LEGACY) {
        const float d = q8_scale(x);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK_LEGACY; j++) {
            y[ib].qs[j] = round_q8(x[j] * id);
            sum += y[ib].qs[j];
        }
        y[ib].d = fp32_to_fp16(d);
        /* from the unrounded d, as the format's reference does */
        y[ib].s = fp32_to_fp16((float)sum * d);
    }
}

/* ---- dot products ----
 * Each block contributes sumi * (d_w * d_a) (+ m * s for the _1 types). The products of two f16
 * scales are exact in float and sumi * scale is exact in double, so accumulating in double (in
 * block order) makes this reference carry only the rounding of the running sum. */

static double scale2(uint16_t a, uint16_t b) {
    return (double)(fp16_to_fp32(a) * fp16_to_fp32(b));
}

static void q4_0_q8_0_dot(int64_t n, float *s, const void *vw, const void *va) {
    const block_q4_0 *w = vw;
    const block_q8_0 *a = va;
    double acc = 0.0;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += ((w[ib].qs[j] & 15) - 8) * a[ib].qs[j];
            sumi += ((w[ib].qs[j] >> 4) - 8) * a[ib].qs[j + 16];
        }
        acc += sumi * scale2(w[ib].d, a[ib].d);
    }
    *s = (float)acc;
}

static void q4_1_q8_1_dot(int64_t n, float *s, const void *vw, const void *va) {
    const block_q4_1 *w = vw;
    const block_q8_1 *a = va;
    double acc = 0.0;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += (w[ib].qs[j] & 15) * a[ib].qs[j];
            sumi += (w[ib].qs[j] >> 4) * a[ib].qs[j + 16];
        }
        acc += sumi * scale2(w[ib].d, a[ib].d) + scale2(w[ib].m, a[ib].s);
    }
    *s = (float)acc;
}

static void q5_0_q8_0_dot(int64_t n, float *s, const void *vw, const void *va) {
    const block_q5_0 *w = vw;
    const block_q8_0 *a = va;
    double acc = 0.0;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        const uint32_t qh = load_qh(w[ib].qh);
        int sumi = 0;
        for (int j = 0; j < QK_LEGACY; j++) sumi += (q5_code(w[ib].qs, qh, j) - 16) * a[ib].qs[j];
        acc += sumi * scale2(w[ib].d, a[ib].d);
    }
    *s = (float)acc;
}

static void q5_1_q8_1_dot(int64_t n, float *s, const void *vw, const void *va) {
    const block_q5_1 *w = vw;
    const block_q8_1 *a = va;
    double acc = 0.0;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        const uint32_t qh = load_qh(w[ib].qh);
        int sumi = 0;
        for (int j = 0; j < QK_LEGACY; j++) sumi += q5_code(w[ib].qs, qh, j) * a[ib].qs[j];
        acc += sumi * scale2(w[ib].d, a[ib].d) + scale2(w[ib].m, a[ib].s);
    }
    *s = (float)acc;
}

static void q8_0_q8_0_dot(int64_t n, float *s, const void *vw, const void *va) {
    const block_q8_0 *w = vw;
    const block_q8_0 *a = va;
    double acc = 0.0;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        int sumi = 0;
        for (int j = 0; j < QK_LEGACY; j++) sumi += w[ib].qs[j] * a[ib].qs[j];
        acc += sumi * scale2(w[ib].d, a[ib].d);
    }
    *s = (float)acc;
}

/* Q8_1 is an activation type; this dot exists only so every usable type has one. */
static void q8_1_q8_1_dot(int64_t n, float *s, const void *vw, const void *va) {
    const block_q8_1 *w = vw;
    const block_q8_1 *a = va;
    double acc = 0.0;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        int sumi = 0;
        for (int j = 0; j < QK_LEGACY; j++) sumi += w[ib].qs[j] * a[ib].qs[j];
        acc += sumi * scale2(w[ib].d, a[ib].d);
    }
    *s = (float)acc;
}

static void set_scalar(quant_registry *r, tensor_type t, to_float_fn to, from_float_fn from,
                       vec_dot_fn dot) {
    r->t[t].to_float = to;
    r->t[t].from_float = from;
    r->t[t].vec_dot[ISA_SCALAR] = dot;
}

void quant_register_legacy(quant_registry *r) {
    set_scalar(r, TT_Q4_0, q4_0_to_float, q4_0_from_float, q4_0_q8_0_dot);
    set_scalar(r, TT_Q4_1, q4_1_to_float, q4_1_from_float, q4_1_q8_1_dot);
    set_scalar(r, TT_Q5_0, q5_0_to_float, q5_0_from_float, q5_0_q8_0_dot);
    set_scalar(r, TT_Q5_1, q5_1_to_float, q5_1_from_float, q5_1_q8_1_dot);
    set_scalar(r, TT_Q8_0, q8_0_to_float, q8_0_from_float, q8_0_q8_0_dot);
    set_scalar(r, TT_Q8_1, q8_1_to_float, q8_1_from_float, q8_1_q8_1_dot);

    /* Assigned here, not in the kernel files: code compiled with -mavx2 may use AVX even in a
     * plain registration function, and this runs on every CPU. */
    r->t[TT_Q4_0].vec_dot[ISA_AVX2] = legacy_avx2_q4_0_dot;
    r->t[TT_Q4_1].vec_dot[ISA_AVX2] = legacy_avx2_q4_1_dot;
    r->t[TT_Q5_0].vec_dot[ISA_AVX2] = legacy_avx2_q5_0_dot;
    r->t[TT_Q5_1].vec_dot[ISA_AVX2] = legacy_avx2_q5_1_dot;
    r->t[TT_Q8_0].vec_dot[ISA_AVX2] = legacy_avx2_q8_0_dot;
    r->t[TT_Q4_0].vec_dot_multi[ISA_AVX2] = legacy_avx2_q4_0_dot_multi;
    r->t[TT_Q4_1].vec_dot_multi[ISA_AVX2] = legacy_avx2_q4_1_dot_multi;
    r->t[TT_Q5_0].vec_dot_multi[ISA_AVX2] = legacy_avx2_q5_0_dot_multi;
    r->t[TT_Q5_1].vec_dot_multi[ISA_AVX2] = legacy_avx2_q5_1_dot_multi;
    r->t[TT_Q8_0].vec_dot_multi[ISA_AVX2] = legacy_avx2_q8_0_dot_multi;
    r->t[TT_Q8_0].from_float_isa[ISA_AVX2] = legacy_avx2_q8_0_quantize;
    r->t[TT_Q8_1].from_float_isa[ISA_AVX2] = legacy_avx2_q8_1_quantize;

    r->t[TT_Q4_0].vec_dot[ISA_AVX512] = legacy_avx512_q4_0_dot;
    r->t[TT_Q4_1].vec_dot[ISA_AVX512] = legacy_avx512_q4_1_dot;
    r->t[TT_Q5_0].vec_dot[ISA_AVX512] = legacy_avx512_q5_0_dot;
    r->t[TT_Q5_1].vec_dot[ISA_AVX512] = legacy_avx512_q5_1_dot;
    r->t[TT_Q8_0].vec_dot[ISA_AVX512] = legacy_avx512_q8_0_dot;
    r->t[TT_Q4_0].vec_dot_multi[ISA_AVX512] = legacy_avx512_q4_0_dot_multi;
    r->t[TT_Q4_1].vec_dot_multi[ISA_AVX512] = legacy_avx512_q4_1_dot_multi;
    r->t[TT_Q5_0].vec_dot_multi[ISA_AVX512] = legacy_avx512_q5_0_dot_multi;
    r->t[TT_Q5_1].vec_dot_multi[ISA_AVX512] = legacy_avx512_q5_1_dot_multi;
    r->t[TT_Q8_0].vec_dot_multi[ISA_AVX512] = legacy_avx512_q8_0_dot_multi;
    r->t[TT_Q8_0].from_float_isa[ISA_AVX512] = legacy_avx512_q8_0_quantize;
    r->t[TT_Q8_1].from_float_isa[ISA_AVX512] = legacy_avx512_q8_1_quantize;
}
