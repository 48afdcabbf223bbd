/* MXFP4, the OCP Microscaling 4-bit floating-point block format (GGUF type 39; layout in
 * kernels/legacy_kernels.h): scalar reference dequantization, quantizer and dot product against
 * Q8_0 activations. SIMD dots live beside Q4_0's in kernels/legacy_<isa>.c, prefill tiles in
 * kernels/gemm_<isa>.c.
 *
 * E8M0 NaN (e = 0xFF): the spec makes every element of such a block NaN, and so do we — the
 * dequantized values and every dot product touching the block are NaN (a conforming writer never
 * stores it; the loader does not scan for it, which would read every expert weight at load). */
#include "quant.h"

#include "fp16.h"
#include "kernels/legacy_kernels.h"

#include <math.h>

#define HS4(e)                                                                                     \
    MXFP4_HALF_SCALE_BITS(e), MXFP4_HALF_SCALE_BITS(e + 1), MXFP4_HALF_SCALE_BITS(e + 2),          \
        MXFP4_HALF_SCALE_BITS(e + 3)
#define HS32(e)                                                                                    \
    HS4(e), HS4(e + 4), HS4(e + 8), HS4(e + 12), HS4(e + 16), HS4(e + 20), HS4(e + 24), HS4(e + 28)
const uint32_t quant_mxfp4_half_scale_bits[256] = {HS32(0),   HS32(32),  HS32(64),  HS32(96),
                                                   HS32(128), HS32(160), HS32(192), HS32(224)};
#undef HS32
#undef HS4

static const int8_t DOUBLED[16] = {MXFP4_DOUBLED_VALUES};

/* E2M1 values by code, with the sign of zero (code 8 is -0). */
static const float E2M1[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                               -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

/* The block scale 2^(e - 127) as a float (2^-127 is a subnormal); NaN for e = 0xFF. */
static float e8m0_scale(uint8_t e) {
    return fp32_from_bits(e == 0xff ? 0x7fc00000u : e == 0 ? 0x00400000u : (uint32_t)e << 23);
}

/* value = E2M1(code) * 2^(e - 127): one float product, exact whenever the value is a float
 * (the products overflow to +-inf only past FLT_MAX, as rounding the exact value would). */
static void mxfp4_to_float(const void *vx, float *y, int64_t n) {
    const block_mxfp4 *x = vx;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, y += QK_LEGACY) {
        const float s = e8m0_scale(x[ib].e);
        for (int j = 0; j < 16; j++) {
            y[j] = E2M1[x[ib].qs[j] & 15] * s;
            y[j + 16] = E2M1[x[ib].qs[j] >> 4] * s;
        }
    }
}

/* The E2M1 code nearest to v, ties to the even code (the spec's roundTiesToEven), magnitudes
 * past 6 saturating to 6. Zero and NaN give code 0. */
static uint8_t e2m1_code(float v) {
    const float a = fabsf(v);
    if (!(a > 0.0f)) return 0;
    uint8_t c = 0;
    while (c < 7) {
        const float mid = 0.5f * (E2M1[c] + E2M1[c + 1]);
        if (a < mid || (a == mid && c % 2 == 0)) break;
        c++;
    }
    return c != 0 && v < 0.0f ? (uint8_t)(c | 8) : c;
}

/* The spec's conversion: the shared exponent is floor(log2(amax)) minus E2M1's largest exponent
 * (2), clamped to E8M0's range; elements are rounded to nearest after dividing by the scale.
 * An all-zero (or all-NaN) block gets e = 0; an infinite amax the largest scale. */
static uint8_t shared_exponent(const float *x) {
    float amax = 0.0f;
    for (int j = 0; j < QK_LEGACY; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
    if (!(amax > 0.0f)) return 0;
    if (isinf(amax)) return 254;
    int k;
    frexpf(amax, &k); /* amax = f * 2^k, f in [0.5, 1): floor(log2(amax)) = k - 1 */
    const int shared = k - 1 - 2;
    return (uint8_t)(127 + (shared < -127 ? -127 : shared > 127 ? 127 : shared));
}

static void mxfp4_from_float(const float *x, void *vy, int64_t n) {
    block_mxfp4 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++, x += QK_LEGACY) {
        const uint8_t e = shared_exponent(x);
        const int shift = 127 - (int)e; /* x / 2^(e - 127), exact unless it underflows */
        y[ib].e = e;
        for (int j = 0; j < 16; j++)
            y[ib].qs[j] = (uint8_t)(e2m1_code(ldexpf(x[j], shift)) |
                                    e2m1_code(ldexpf(x[j + 16], shift)) << 4);
    }
}

/* Each block contributes sumi * (d_a * 2^(e - 128)) with sumi over the doubled values. That
 * scale is one float product, exact unless it leaves float's normal range, and sumi times it is
 * exact in double, so, as for the legacy types, only the running sum is rounded. */
static void mxfp4_q8_0_dot(int64_t n, float *s, const void *vw, const void *va) {
    const block_mxfp4 *w = vw;
    const block_q8_0 *a = va;
    double acc = 0.0;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += DOUBLED[w[ib].qs[j] & 15] * a[ib].qs[j];
            sumi += DOUBLED[w[ib].qs[j] >> 4] * a[ib].qs[j + 16];
        }
        acc += sumi * (double)(fp16_to_fp32(a[ib].d) * mxfp4_half_scale(w[ib].e));
    }
    *s = (float)acc;
}

void quant_register_mxfp4(quant_registry *r) {
    r->t[TT_MXFP4].to_float = mxfp4_to_float;
    r->t[TT_MXFP4].from_float = mxfp4_from_float;
    r->t[TT_MXFP4].vec_dot[ISA_SCALAR] = mxfp4_q8_0_dot;
    /* Assigned here, not in the kernel files (see quant_legacy.c). */
    r->t[TT_MXFP4].vec_dot[ISA_AVX2] = legacy_avx2_mxfp4_dot;
    r->t[TT_MXFP4].vec_dot_multi[ISA_AVX2] = legacy_avx2_mxfp4_dot_multi;
    r->t[TT_MXFP4].vec_dot[ISA_AVX512] = legacy_avx512_mxfp4_dot;
    r->t[TT_MXFP4].vec_dot_multi[ISA_AVX512] = legacy_avx512_mxfp4_dot_multi;
}
