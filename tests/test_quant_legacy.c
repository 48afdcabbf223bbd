/* Float and legacy block types: layouts, reference quantizers, and SIMD kernels vs the scalar
 * reference. Every SIMD check runs for each ISA this CPU supports. */
#include "test.h"

#include "fp16.h"
#include "kernels/legacy_kernels.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) * (1.0 / 9007199254740992.0));
}

static int rng_int(int lo, int hi) {
    return lo + (int)(rng_next() % (uint64_t)(hi - lo + 1));
}

static float rng_gauss(void) {
    double u = ((double)(rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double v = (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static const type_traits *tr(tensor_type t) {
    return quant_traits(t);
}

/* Best ISA of this CPU, as an int for loops over kernel_isa. */
static int cpu_isa(void) {
    return (int)quant_cpu_isa();
}

static void *xalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) abort();
    return p;
}

/* Every type of this family, weights and activations. */
static const tensor_type all_types[] = {TT_F32,  TT_F16,  TT_BF16, TT_Q4_0, TT_Q4_1,
                                        TT_Q5_0, TT_Q5_1, TT_Q8_0, TT_Q8_1};
#define N_ALL (int)(sizeof all_types / sizeof all_types[0])
/* Types used as weights: these must have a SIMD dot for every ISA. */
static const tensor_type weight_types[] = {TT_F32,  TT_F16,  TT_BF16, TT_Q4_0,
                                           TT_Q4_1, TT_Q5_0, TT_Q5_1, TT_Q8_0};
#define N_WEIGHT (int)(sizeof weight_types / sizeof weight_types[0])

static int is_float_type(tensor_type t) {
    return t == TT_F32 || t == TT_F16 || t == TT_BF16;
}

static double dot_d(const float *x, const float *y, int64_t n, double *mag) {
    double s = 0.0, m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        s += (double)x[i] * (double)y[i];
        m += fabs((double)x[i] * (double)y[i]);
    }
    if (mag) *mag = m;
    return s;
}

static uint16_t h16(float f) {
    return fp32_to_fp16(f);
}

/* Random rows of type t. unit: every scale (and min) is 1.0, so dot products are exact integers
 * in float and any two correct kernels must agree bit for bit. activation: Q8 codes stay in
 * [-127, 127] and Q8_1's s is consistent, as our quantizers guarantee. */
static void fill_random(tensor_type t, void *buf, int64_t n, int unit, int activation) {
    const int64_t nb = n / QK_LEGACY;
    float dlo = 1.0f / 1024, dhi = 1.0f / 8;
    switch (t) {
    case TT_F32:
        for (int64_t i = 0; i < n; i++)
            ((float *)buf)[i] = unit ? (float)rng_int(-8, 8) : rng_uniform(-1, 1);
        return;
    case TT_F16:
    case TT_BF16:
        for (int64_t i = 0; i < n; i++) {
            float v = unit ? (float)rng_int(-8, 8) : rng_uniform(-1, 1);
            ((uint16_t *)buf)[i] = t == TT_F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
        }
        return;
    default:
        break;
    }
    uint8_t *p = buf;
    for (size_t i = 0; i < quant_row_size(t, n); i++) p[i] = (uint8_t)rng_next();
    for (int64_t ib = 0; ib < nb; ib++) {
        uint16_t d = h16(unit ? 1.0f : rng_uniform(dlo, dhi) * (rng_next() & 1 ? 1 : -1));
        uint16_t m = h16(unit ? 1.0f : rng_uniform(-dhi, dhi));
        switch (t) {
        case TT_Q4_0:
            ((block_q4_0 *)buf)[ib].d = d;
            break;
        case TT_Q4_1:
            ((block_q4_1 *)buf)[ib].d = d;
            ((block_q4_1 *)buf)[ib].m = m;
            break;
        case TT_Q5_0:
            ((block_q5_0 *)buf)[ib].d = d;
            break;
        case TT_Q5_1:
            ((block_q5_1 *)buf)[ib].d = d;
            ((block_q5_1 *)buf)[ib].m = m;
            break;
        case TT_Q8_0: {
            block_q8_0 *b = &((block_q8_0 *)buf)[ib];
            b->d = d;
            if (activation)
                for (int j = 0; j < 32; j++) b->qs[j] = (int8_t)rng_int(-127, 127);
            break;
        }
        case TT_Q8_1: {
            block_q8_1 *b = &((block_q8_1 *)buf)[ib];
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                b->qs[j] = (int8_t)rng_int(-127, 127);
                sum += b->qs[j];
            }
            b->d = d;
            b->s = h16(fp16_to_fp32(d) * (float)sum);
            break;
        }
        default:
            break;
        }
    }
}

/* ---- (a) known-answer dequantization of hand-built blocks ---- */

static void check_dequant(tensor_type t, const uint8_t *blk, size_t len, const float *want, int n) {
    float got[64];
    CHECKF(tr(t)->type_size * (size_t)(n / tr(t)->block_size) == len, "%s size", tr(t)->name);
    tr(t)->to_float(blk, got, n);
    for (int i = 0; i < n; i++)
        CHECKF(got[i] == want[i], "%s[%d] = %g, want %g", tr(t)->name, i, got[i], want[i]);
}

static void test_float_types_dequantize_known_values(void) {
    const float f32v[3] = {1.5f, -0.0f, 3.0e38f};
    check_dequant(TT_F32, (const uint8_t *)f32v, sizeof f32v, f32v, 3);
    /* little-endian binary16: 1, -2, 2^-24 (smallest subnormal), 65504 (max), -0, 0x3555 */
    const uint8_t f16b[] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b, 0x00, 0x80, 0x55, 0x35};
    const float f16v[] = {1.0f, -2.0f, 5.9604644775390625e-8f, 65504.0f, -0.0f, 0.33325195f};
    check_dequant(TT_F16, f16b, sizeof f16b, f16v, 6);
    /* bfloat16: 1, -3, 3.140625, 2^-133 (smallest subnormal) */
    const uint8_t bf16b[] = {0x80, 0x3f, 0x40, 0xc0, 0x49, 0x40, 0x01, 0x00};
    const float bf16v[] = {1.0f, -3.0f, 3.140625f, ldexpf(1.0f, -133)};
    check_dequant(TT_BF16, bf16b, sizeof bf16b, bf16v, 4);
}

/* Two copies of a block; the second with a different scale checks the block stride. */
static void check_block_pair(tensor_type t, const uint8_t *blk, size_t size, const float *want,
                             float scale_ratio, size_t d_off) {
    uint8_t two[2 * 36];
    float want2[64];
    memcpy(two, blk, size);
    memcpy(two + size, blk, size);
    uint16_t d;
    memcpy(&d, blk + d_off, 2);
    d = h16(fp16_to_fp32(d) * scale_ratio);
    memcpy(two + size + d_off, &d, 2);
    for (int i = 0; i < 32; i++) want2[i] = want[i], want2[32 + i] = want[i] * scale_ratio;
    check_dequant(t, two, 2 * size, want2, 64);
}

static void test_legacy_dequantize_known_blocks(void) {
    uint8_t b[36];
    /* Q4_0: d = 0.5, qs[j] = j | (15 - j) << 4 */
    b[0] = 0x00, b[1] = 0x38;
    for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(j | (15 - j) << 4);
    const float q40[32] = {-4,  -3.5, -3,   -2.5, -2,   -1.5, -1,   -0.5, 0,    0.5, 1,
                           1.5, 2,    2.5,  3,    3.5,  3.5,  3,    2.5,  2,    1.5, 1,
                           0.5, 0,    -0.5, -1,   -1.5, -2,   -2.5, -3,   -3.5, -4};
    check_block_pair(TT_Q4_0, b, 18, q40, -2.0f, 0);

    /* Q4_1: d = 0.25, m = -1, qs[j] = (3j & 15) | (j ^ 5) << 4 */
    b[0] = 0x00, b[1] = 0x34, b[2] = 0x00, b[3] = 0xbc;
    for (int j = 0; j < 16; j++) b[4 + j] = (uint8_t)(((3 * j) & 15) | (j ^ 5) << 4);
    const float q41[32] = {-1,    -0.25, 0.5,  1.25, 2,    2.75, -0.5, 0.25, 1,    1.75,  2.5,
                           -0.75, 0,     0.75, 1.5,  2.25, 0.25, 0,    0.75, 0.5,  -0.75, -1,
                           -0.25, -0.5,  2.25, 2,    2.75, 2.5,  1.25, 1,    1.75, 1.5};
    check_dequant(TT_Q4_1, b, 20, q41, 32);

    /* Q5_0: d = 0.5, qh = 0x80010003 (bits 0, 1, 16, 31), qs[j] = j | (15 - j) << 4 */
    const uint8_t qh50[4] = {0x03, 0x00, 0x01, 0x80};
    b[0] = 0x00, b[1] = 0x38;
    memcpy(b + 2, qh50, 4);
    for (int j = 0; j < 16; j++) b[6 + j] = (uint8_t)(j | (15 - j) << 4);
    const float q50[32] = {0,    0.5, -7,   -6.5, -6,   -5.5, -5,   -4.5, -4,   -3.5, -3,
                           -2.5, -2,  -1.5, -1,   -0.5, 7.5,  -1,   -1.5, -2,   -2.5, -3,
                           -3.5, -4,  -4.5, -5,   -5.5, -6,   -6.5, -7,   -7.5, 0};
    check_block_pair(TT_Q5_0, b, 22, q50, 0.25f, 0);

    /* Q5_1: d = 1, m = 2.5, qh = 0x55aa0ff0, qs[j] = (7j & 15) | ((5j + 3) & 15) << 4 */
    const uint8_t qh51[4] = {0xf0, 0x0f, 0xaa, 0x55};
    b[0] = 0x00, b[1] = 0x3c, b[2] = 0x00, b[3] = 0x41;
    memcpy(b + 4, qh51, 4);
    for (int j = 0; j < 16; j++) b[8 + j] = (uint8_t)(((7 * j) & 15) | ((5 * j + 3) & 15) << 4);
    const float q51[32] = {2.5,  9.5,  16.5, 7.5, 30.5, 21.5, 28.5, 19.5, 26.5, 33.5, 24.5,
                           31.5, 6.5,  13.5, 4.5, 11.5, 5.5,  26.5, 15.5, 20.5, 9.5,  30.5,
                           3.5,  24.5, 29.5, 2.5, 23.5, 12.5, 33.5, 6.5,  27.5, 16.5};
    check_dequant(TT_Q5_1, b, 24, q51, 32);

    /* Q8_0: d = 0.5, qs[j] = 8j - 128 (covers -128) */
    b[0] = 0x00, b[1] = 0x38;
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)(8 * j - 128);
    float q80[32];
    for (int j = 0; j < 32; j++) q80[j] = (float)(8 * j - 128) * 0.5f;
    check_block_pair(TT_Q8_0, b, 34, q80, 4.0f, 0);

    /* Q8_1: d = -0.25, s = 7 (not used by dequantization), qs[j] = 100 - 7j */
    b[0] = 0x00, b[1] = 0xb4, b[2] = 0x00, b[3] = 0x47;
    for (int j = 0; j < 32; j++) b[4 + j] = (uint8_t)(int8_t)(100 - 7 * j);
    float q81[32];
    for (int j = 0; j < 32; j++) q81[j] = (float)(100 - 7 * j) * -0.25f;
    check_block_pair(TT_Q8_1, b, 36, q81, 2.0f, 0);
}

/* ---- known-answer reference quantization ---- */

static void test_q4_0_quantize_maps_signed_max_to_minus_8(void) {
    float x[32] = {0};
    x[0] = 4.0f, x[1] = -4.0f, x[2] = 1.0f, x[3] = -1.0f, x[4] = 0.25f, x[5] = -0.25f;
    x[16] = 3.0f, x[17] = -3.0f;
    uint8_t y[18];
    tr(TT_Q4_0)->from_float(x, y, 32);
    /* d = 4 / -8 = -0.5, so 4 -> code 0 and -4 -> 16, capped to 15 */
    const uint8_t want[18] = {0x00, 0xb8, 0x20, 0xef, 0x86, 0x8a, 0x88, 0x89, 0x88,
                              0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
    CHECK(memcmp(y, want, sizeof want) == 0);
}

static void test_q4_1_quantize_uses_unrounded_scale(void) {
    float x[32] = {0};
    x[0] = -1.0f, x[1] = 2.0f, x[2] = 0.5f, x[16] = -1.0f, x[17] = 2.0f;
    uint8_t y[20];
    tr(TT_Q4_1)->from_float(x, y, 32);
    /* d = 3/15 stored as f16 0x3266, m = -1; codes from the float d: 0 -> 5, 0.5 -> 8 */
    CHECK(y[0] == 0x66 && y[1] == 0x32 && y[2] == 0x00 && y[3] == 0xbc);
    CHECK(y[4] == 0x00 && y[5] == 0xff && y[6] == 0x58);
    for (int j = 3; j < 16; j++) CHECK(y[4 + j] == 0x55);
}

static void test_q5_0_quantize_known_block(void) {
    float x[32] = {0};
    x[0] = -8.0f, x[1] = 3.0f, x[16] = -3.0f, x[31] = 7.75f;
    uint8_t y[22];
    tr(TT_Q5_0)->from_float(x, y, 32);
    /* d = 0.5; codes: -8 -> 0, 3 -> 22, -3 -> 10, 7.75 -> 32 capped to 31, 0 -> 16 */
    const uint8_t want[22] = {0x00, 0x38, 0xfe, 0xff, 0xfe, 0xff, 0xa0, 0x06, 0, 0, 0,
                              0,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0xf0};
    CHECK(memcmp(y, want, sizeof want) == 0);
}

static void test_q5_1_quantize_known_block(void) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)j * 0.125f;
    uint8_t y[24];
    tr(TT_Q5_1)->from_float(x, y, 32);
    CHECK(y[0] == 0x00 && y[1] == 0x30 && y[2] == 0 && y[3] == 0); /* d = 0.125, m = 0 */
    CHECK(y[4] == 0 && y[5] == 0 && y[6] == 0xff && y[7] == 0xff); /* codes 16..31 */
    for (int j = 0; j < 16; j++) CHECK(y[8 + j] == (uint8_t)(j | j << 4));
}

static void test_q8_quantize_rounds_half_away_from_zero(void) {
    float x[32] = {0};
    x[0] = 127.0f, x[1] = 2.5f, x[2] = -2.5f, x[3] = 0.5f, x[4] = -0.5f, x[5] = 1.4999999f;
    x[6] = -127.0f;
    const int8_t want[7] = {127, 3, -3, 1, -1, 1, -127};
    uint8_t y0[34], y1[36];
    tr(TT_Q8_0)->from_float(x, y0, 32);
    tr(TT_Q8_1)->from_float(x, y1, 32);
    CHECK(y0[0] == 0x00 && y0[1] == 0x3c); /* d = 1 */
    CHECK(memcmp(y0 + 2, want, 7) == 0);
    CHECK(y1[0] == 0x00 && y1[1] == 0x3c);
    CHECK(y1[2] == 0x00 && y1[3] == 0x3c); /* s = d * sum(q) = 1 */
    CHECK(memcmp(y1 + 4, want, 7) == 0);
}

static void test_zero_block_quantizes_to_zero(void) {
    float x[32] = {0}, back[32];
    uint8_t y[32 * sizeof(float)]; /* big enough for every type */
    for (int i = 0; i < N_ALL; i++) {
        tensor_type t = all_types[i];
        memset(y, 0xa5, sizeof y);
        tr(t)->from_float(x, y, 32);
        tr(t)->to_float(y, back, 32);
        for (int j = 0; j < 32; j++) CHECKF(back[j] == 0.0f, "%s[%d]", tr(t)->name, j);
    }
}

/* ---- (b) round trips ---- */

/* Largest error allowed for element x of a block quantized with float scale d (and min mn): half
 * a step (a full step where the format caps the top code), plus rounding d and m to f16 (2^-11
 * relative, times the largest code magnitude), plus a few float ulps of the block range. */
static double roundtrip_bound(tensor_type t, const float *blk, int j) {
    float amax = 0, smax = 0, mn = blk[0], mx = blk[0];
    for (int i = 0; i < 32; i++) {
        if (fabsf(blk[i]) > amax) amax = fabsf(blk[i]), smax = blk[i];
        mn = fminf(mn, blk[i]), mx = fmaxf(mx, blk[i]);
    }
    const double u = ldexp(1.0, -11), slack = 1e-6 * (fabs(mn) + fabs(mx)) + 1e-30;
    switch (t) {
    case TT_Q4_0:
    case TT_Q5_0: {
        const double half = t == TT_Q4_0 ? 8 : 16, d = fabs(smax) / half;
        /* the code for the value opposite the extreme saturates one step short */
        const double step = (blk[j] * smax < 0 && fabs(blk[j]) > (half - 1.5) * d) ? 1.0 : 0.5;
        return step * d + half * d * u + slack;
    }
    case TT_Q4_1:
    case TT_Q5_1: {
        const double qmax = t == TT_Q4_1 ? 15 : 31, d = (mx - mn) / qmax;
        return 0.5 * d + qmax * d * u + fabs(mn) * u + ldexp(1.0, -25) + slack;
    }
    case TT_Q8_0:
    case TT_Q8_1: {
        const double d = amax / 127.0;
        return 0.5 * d + 127 * d * u + slack;
    }
    case TT_F16:
        return fabs(blk[j]) * u + ldexp(1.0, -25);
    case TT_BF16:
        return fabs(blk[j]) * ldexp(1.0, -8) + ldexp(1.0, -134);
    default:
        return 0.0;
    }
}

static void test_quantize_roundtrip_error_within_bound(void) {
    const int64_t n = 32 * 64;
    float *x = xalloc(n * sizeof(float)), *back = xalloc(n * sizeof(float));
    void *q = xalloc(n * 4);
    for (int i = 0; i < N_ALL; i++) {
        const tensor_type t = all_types[i];
        for (int dist = 0; dist < 3; dist++) {
            for (int64_t k = 0; k < n; k++) {
                const float scale = (float)(1 << (k / 32 % 8)) / 16.0f; /* varies per block */
                x[k] = dist == 0   ? rng_gauss() * scale
                       : dist == 1 ? rng_uniform(-1, 1) * scale
                                   : 0.3f + rng_uniform(0, 1) * scale; /* offset: tests m */
            }
            tr(t)->from_float(x, q, n);
            tr(t)->to_float(q, back, n);
            int bad = 0;
            for (int64_t k = 0; k < n; k++) {
                const double err = fabs((double)back[k] - x[k]);
                const double bound = roundtrip_bound(t, x + (k / 32) * 32, (int)(k % 32));
                if (!(err <= bound) && bad++ < 3)
                    CHECKF(0, "%s dist %d [%ld]: x=%g back=%g err=%g bound=%g", tr(t)->name, dist,
                           (long)k, x[k], back[k], err, bound);
            }
            CHECKF(bad == 0, "%s dist %d: %d elements over the bound", tr(t)->name, dist, bad);
        }
    }
    free(x), free(back), free(q);
}

/* Values on the format's grid (exact scale, extreme code present) come back bit-exact. */
static void test_representable_values_roundtrip_exactly(void) {
    const int64_t n = 32 * 16;
    float *x = xalloc(n * sizeof(float)), *back = xalloc(n * sizeof(float));
    void *q = xalloc(n * 4);
    for (int i = 0; i < N_ALL; i++) {
        const tensor_type t = all_types[i];
        for (int64_t b = 0; b < n / 32; b++) {
            float *xb = x + b * 32;
            const float d = ldexpf(rng_next() & 1 ? 1.0f : -1.0f, rng_int(-12, 4));
            const float m = (float)rng_int(-64, 64) * 0.0625f;
            for (int j = 0; j < 32; j++) {
                switch (t) {
                case TT_F32:
                    xb[j] = rng_gauss();
                    break;
                case TT_F16:
                    xb[j] = fp16_to_fp32((uint16_t)(rng_next() % 0x7c00));
                    break;
                case TT_BF16:
                    xb[j] = bf16_to_fp32((uint16_t)(rng_next() % 0x7f80));
                    break;
                case TT_Q4_0:
                    xb[j] = (float)(j == 5 ? -8 : rng_int(-7, 7)) * d;
                    break;
                case TT_Q5_0:
                    xb[j] = (float)(j == 5 ? -16 : rng_int(-15, 15)) * d;
                    break;
                case TT_Q4_1:
                    xb[j] = m + (float)(j == 3 ? 0 : j == 9 ? 15 : rng_int(0, 15)) * fabsf(d);
                    break;
                case TT_Q5_1:
                    xb[j] = m + (float)(j == 3 ? 0 : j == 9 ? 31 : rng_int(0, 31)) * fabsf(d);
                    break;
                default:
                    xb[j] = (float)(j == 7 ? -127 : rng_int(-127, 127)) * d;
                    break;
                }
                if (t == TT_F16 || t == TT_BF16) xb[j] = rng_next() & 1 ? -xb[j] : xb[j];
            }
        }
        tr(t)->from_float(x, q, n);
        tr(t)->to_float(q, back, n);
        int bad = 0;
        /* bitwise for the float types (keeps -0); by value for the block types, whose zero code
         * decodes to +0 or -0 depending on the sign of the scale */
        for (int64_t k = 0; k < n; k++)
            bad += is_float_type(t) ? memcmp(&x[k], &back[k], sizeof(float)) != 0 : x[k] != back[k];
        CHECKF(bad == 0, "%s: %d of %ld grid values changed", tr(t)->name, bad, (long)n);
    }
    free(x), free(back), free(q);
}

/* ---- (c) SIMD dot == scalar dot ---- */

static const int64_t dot_lengths_q[] = {32, 64, 96, 224, 896, 4864, 8960};
static const int64_t dot_lengths_f[] = {1, 7, 8, 15, 16, 17, 31, 33, 64, 100, 896, 4099, 8960};

static void check_dot_matches_scalar(tensor_type t) {
    const type_traits *w = tr(t), *at = tr(w->vec_dot_type);
    const int floaty = is_float_type(t);
    const int64_t *lens = floaty ? dot_lengths_f : dot_lengths_q;
    const int nlens = floaty ? 13 : 7;
    for (int isa = ISA_AVX2; isa < ISA_COUNT; isa++) {
        /* F16 on AVX-512 deliberately runs the (faster) AVX2 loop: see quant_float.c */
        bool optional = t == TT_F16 && isa == ISA_AVX512;
        CHECKF(optional || w->vec_dot[isa] != NULL, "%s has no %s dot", w->name,
               quant_isa_name(isa));
        if (isa > cpu_isa() || !w->vec_dot[isa]) continue;
        for (int li = 0; li < nlens; li++) {
            const int64_t n = lens[li];
            void *wr = xalloc(quant_row_size(t, n)),
                 *ar = xalloc(quant_row_size(w->vec_dot_type, n));
            float *wf = xalloc(n * sizeof(float)), *af = xalloc(n * sizeof(float));
            for (int unit = 1; unit >= 0; unit--) {
                fill_random(t, wr, n, unit, 0);
                fill_random(w->vec_dot_type, ar, n, unit, 1);
                float ref = NAN, got = NAN;
                w->vec_dot[ISA_SCALAR](n, &ref, wr, ar);
                w->vec_dot[isa](n, &got, wr, ar);
                if (unit) {
                    /* integer (or small-integer float) data: exact, so bit-identical */
                    CHECKF(memcmp(&ref, &got, sizeof ref) == 0, "%s %s n=%ld unit: %.9g vs %.9g",
                           w->name, quant_isa_name(isa), (long)n, got, ref);
                } else {
                    double mag;
                    w->to_float(wr, wf, n);
                    at->to_float(ar, af, n);
                    dot_d(wf, af, n, &mag);
                    CHECKF(fabs((double)got - ref) <= 1e-5 * mag + 1e-30,
                           "%s %s n=%ld: %.9g vs %.9g (mag %g)", w->name, quant_isa_name(isa),
                           (long)n, got, ref, mag);
                }
            }
            free(wr), free(ar), free(wf), free(af);
        }
    }
}

static void test_f32_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_F32);
}
static void test_f16_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_F16);
}
static void test_bf16_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_BF16);
}
static void test_q4_0_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q4_0);
}
static void test_q4_1_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q4_1);
}
static void test_q5_0_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q5_0);
}
static void test_q5_1_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q5_1);
}
static void test_q8_0_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q8_0);
}

/* Extreme codes everywhere (all weights at their most negative/positive code, activations at
 * +-127): the largest block sums the integer paths must hold without saturating. */
/* Multi-row dots give each activation row bit for bit what their ISA's one-row dot gives
 * (speculative verification batches rely on it). */
static void test_multi_row_dots_equal_single(void) {
    const tensor_type types[] = {TT_Q4_0, TT_Q4_1, TT_Q5_0, TT_Q5_1, TT_Q8_0};
    const int64_t n = 896 + 32; /* an odd block count: the one-block tail */
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const type_traits *w = tr(types[k]);
        size_t arow = quant_row_size(w->vec_dot_type, n);
        void *wr = xalloc(quant_row_size(types[k], n));
        uint8_t *a = xalloc(arow * VEC_DOT_MULTI_MAX);
        for (int isa = ISA_AVX2; isa <= cpu_isa(); isa++) {
            if (!w->vec_dot_multi[isa]) continue;
            fill_random(types[k], wr, n, 0, 0);
            for (int t = 0; t < VEC_DOT_MULTI_MAX; t++)
                fill_random(w->vec_dot_type, a + t * arow, n, 0, 1);
            for (int nt = 1; nt <= VEC_DOT_MULTI_MAX; nt++) {
                float got[VEC_DOT_MULTI_MAX * 3], want;
                w->vec_dot_multi[isa](n, nt, got, 3, wr, a, arow);
                for (int t = 0; t < nt; t++) {
                    w->vec_dot[isa](n, &want, wr, a + t * arow);
                    CHECKF(memcmp(&got[3 * t], &want, sizeof want) == 0,
                           "%s %s multi nt=%d row %d: %.9g vs %.9g", w->name, quant_isa_name(isa),
                           nt, t, got[3 * t], want);
                }
            }
        }
        free(wr), free(a);
    }
}

static void test_dot_extreme_codes_bit_exact(void) {
    const int64_t n = 256;
    for (int i = 3; i < N_WEIGHT; i++) {
        const tensor_type t = weight_types[i];
        const type_traits *w = tr(t);
        for (int pattern = 0; pattern < 4; pattern++) {
            uint8_t *wr = xalloc(quant_row_size(t, n)), *ar = xalloc(quant_row_size(TT_Q8_1, n));
            fill_random(t, wr, n, 1, 0);
            fill_random(w->vec_dot_type, ar, n, 1, 1);
            const size_t wsz = w->type_size, asz = tr(w->vec_dot_type)->type_size;
            const size_t woff = (t == TT_Q4_1 || t == TT_Q5_1) ? 4 : 2; /* past d (and m) */
            const size_t aoff = w->vec_dot_type == TT_Q8_1 ? 4 : 2;
            for (int64_t b = 0; b < n / 32; b++) {
                /* weights: all bits set (max code) or clear (code 0 / -128 for Q8_0) */
                memset(wr + b * wsz + woff, (pattern & 1) ? 0xff : (t == TT_Q8_0 ? 0x80 : 0),
                       wsz - woff);
                memset(ar + b * asz + aoff, (pattern & 2) ? 127 : (uint8_t)-127, 32);
            }
            float ref, got;
            w->vec_dot[ISA_SCALAR](n, &ref, wr, ar);
            for (int isa = ISA_AVX2; isa <= cpu_isa(); isa++) {
                if (!w->vec_dot[isa]) continue;
                w->vec_dot[isa](n, &got, wr, ar);
                CHECKF(got == ref, "%s %s pattern %d: %.9g vs %.9g", w->name, quant_isa_name(isa),
                       pattern, got, ref);
            }
            free(wr), free(ar);
        }
    }
}

/* ---- (d) SIMD quantizers == scalar, byte for byte ---- */

static void fill_quantizer_input(float *x, int64_t n, int kind) {
    for (int64_t k = 0; k < n; k++) {
        const int64_t b = k / 32;
        switch (kind) {
        case 0:
            x[k] = rng_gauss() * ldexpf(1.0f, (int)(b % 20) - 10);
            break;
        case 1:
            x[k] = b % 3 == 0 ? 0.0f : rng_uniform(-1e-30f, 1e-30f);
            break; /* tiny / zero */
        case 2:
            x[k] = rng_uniform(-1e30f, 1e30f);
            break; /* f16 overflow */
        case 3:    /* halfway cases for Q8 (amax 127 -> d = 1) and for f16/bf16 rounding */
            x[k] = k % 32 == 0 ? 127.0f : (float)rng_int(-126, 126) + 0.5f;
            if (b % 2) x[k] = fp32_from_bits(fp32_to_bits(x[k]) | 0x1000u); /* f16 ties */
            if (b % 4 == 3) x[k] = fp32_from_bits((fp32_to_bits(x[k]) & ~0xffffu) | 0x8000u);
            break;
        default:
            /* finite f16 values, nudged off the f16 grid */
            x[k] = fp16_to_fp32((uint16_t)(rng_next() % 0x7c00 | (rng_next() & 0x8000))) *
                   1.0009765625f;
            break;
        }
    }
}

static void check_quantizer_matches_scalar(tensor_type t, int with_nan) {
    const type_traits *q = tr(t);
    const int64_t lens[] = {32, 64, 96, 224, 896, 4864};
    const int64_t flens[] = {1, 7, 8, 9, 15, 16, 17, 33, 100, 4099};
    const int floaty = is_float_type(t);
    for (int isa = ISA_AVX2; isa < ISA_COUNT; isa++) {
        CHECKF(q->from_float_isa[isa] != NULL, "%s has no %s quantizer", q->name,
               quant_isa_name(isa));
        if (isa > cpu_isa() || !q->from_float_isa[isa]) continue;
        for (int li = 0; li < (floaty ? 10 : 6); li++) {
            const int64_t n = floaty ? flens[li] : lens[li];
            float *x = xalloc(n * sizeof(float));
            uint8_t *a = xalloc(quant_row_size(t, n)), *b = xalloc(quant_row_size(t, n));
            for (int kind = 0; kind < 5; kind++) {
                fill_quantizer_input(x, n, kind);
                if (with_nan && kind == 4)
                    for (int64_t k = 0; k < n; k += 5)
                        x[k] = fp32_from_bits(0x7f800001u + (uint32_t)rng_int(0, 0x7ffffe));
                q->from_float(x, a, n);
                q->from_float_isa[isa](x, b, n);
                CHECKF(memcmp(a, b, quant_row_size(t, n)) == 0, "%s %s n=%ld kind %d", q->name,
                       quant_isa_name(isa), (long)n, kind);
            }
            free(x), free(a), free(b);
        }
    }
}

static void test_q8_0_simd_quantize_matches_scalar(void) {
    check_quantizer_matches_scalar(TT_Q8_0, 0);
}
static void test_q8_1_simd_quantize_matches_scalar(void) {
    check_quantizer_matches_scalar(TT_Q8_1, 0);
}
/* F16C keeps NaN payload bits the scalar converter drops, so NaN is out of the contract. */
static void test_f16_simd_convert_matches_scalar(void) {
    check_quantizer_matches_scalar(TT_F16, 0);
}
static void test_bf16_simd_convert_matches_scalar_including_nan(void) {
    check_quantizer_matches_scalar(TT_BF16, 1);
}

/* ---- (e) quantized dot == float dot of the dequantized values ---- */

/* The kernels compute exactly sum(w' * a') over dequantized values, except for the _1 types,
 * whose offset term uses Q8_1's stored s = f16(d * sum(q)) instead of d_f16 * sum(q). The bound
 * is that s rounding, the float rounding of w' = q*d + m, and 1e-5 of the magnitude for the
 * summation order of the SIMD kernels (a few ulps for the double-accumulating scalar one). */
static void test_quantized_dot_equals_dequantized_dot(void) {
    const int64_t lens[] = {32, 896, 4864};
    for (int i = 0; i < N_WEIGHT; i++) {
        const tensor_type t = weight_types[i];
        const type_traits *w = tr(t), *at = tr(w->vec_dot_type);
        for (int li = 0; li < 3; li++) {
            const int64_t n = lens[li];
            float *x = xalloc(n * sizeof(float)), *y = xalloc(n * sizeof(float));
            float *wf = xalloc(n * sizeof(float)), *af = xalloc(n * sizeof(float));
            uint8_t *wq = xalloc(quant_row_size(t, n)),
                    *aq = xalloc(quant_row_size(w->vec_dot_type, n));
            for (int64_t k = 0; k < n; k++) {
                x[k] = rng_gauss() * 0.05f + (t == TT_Q4_1 || t == TT_Q5_1 ? 0.02f : 0.0f);
                y[k] = rng_gauss() * (k % 97 == 0 ? 20.0f : 1.0f); /* a few activation outliers */
            }
            w->from_float(x, wq, n);
            at->from_float(y, aq, n);
            w->to_float(wq, wf, n);
            at->to_float(aq, af, n);
            double mag;
            const double exact = dot_d(wf, af, n, &mag);
            double s_err = 0.0;
            if (w->vec_dot_type == TT_Q8_1) {
                const block_q8_1 *ab = (const block_q8_1 *)aq;
                for (int64_t b = 0; b < n / 32; b++) {
                    int sum = 0;
                    for (int j = 0; j < 32; j++) sum += ab[b].qs[j];
                    const uint16_t m = t == TT_Q4_1 ? ((const block_q4_1 *)wq)[b].m
                                                    : ((const block_q5_1 *)wq)[b].m;
                    s_err += fabs(fp16_to_fp32(m)) *
                             fabs((double)fp16_to_fp32(ab[b].d) * sum - fp16_to_fp32(ab[b].s));
                }
                s_err += ldexp(1.0, -23) * mag; /* w' = q*d + m rounded to float */
            }
            for (int isa = ISA_SCALAR; isa <= cpu_isa(); isa++) {
                if (!w->vec_dot[isa]) continue;
                float got;
                w->vec_dot[isa](n, &got, wq, aq);
                const double tol = s_err + (isa == ISA_SCALAR ? 1e-7 : 1e-5) * mag + 1e-30;
                CHECKF(fabs(got - exact) <= tol, "%s %s n=%ld: %.9g vs %.9g (tol %g)", w->name,
                       quant_isa_name(isa), (long)n, got, exact, tol);
            }
            free(x), free(y), free(wf), free(af), free(wq), free(aq);
        }
    }
}

/* quant.c picks the best kernel this CPU has; make sure ours are what it picks. */
static void test_dispatch_picks_best_registered_kernel(void) {
    const kernel_isa cpu = quant_cpu_isa();
    for (int i = 0; i < N_WEIGHT; i++) {
        const type_traits *w = tr(weight_types[i]);
        CHECKF(w->to_float && w->from_float && w->vec_dot[ISA_SCALAR], "%s scalar", w->name);
        if (w->vec_dot[cpu])
            CHECKF(quant_vec_dot(weight_types[i]) == w->vec_dot[cpu], "%s dispatch", w->name);
    }
}

int main(void) {
    quant_init();
    printf("cpu isa: %s\n", quant_isa_name(quant_cpu_isa()));
    test_float_types_dequantize_known_values();
    test_legacy_dequantize_known_blocks();
    test_q4_0_quantize_maps_signed_max_to_minus_8();
    test_q4_1_quantize_uses_unrounded_scale();
    test_q5_0_quantize_known_block();
    test_q5_1_quantize_known_block();
    test_q8_quantize_rounds_half_away_from_zero();
    test_zero_block_quantizes_to_zero();
    test_quantize_roundtrip_error_within_bound();
    test_representable_values_roundtrip_exactly();
    test_f32_dot_matches_scalar();
    test_f16_dot_matches_scalar();
    test_bf16_dot_matches_scalar();
    test_q4_0_dot_matches_scalar();
    test_q4_1_dot_matches_scalar();
    test_q5_0_dot_matches_scalar();
    test_q5_1_dot_matches_scalar();
    test_q8_0_dot_matches_scalar();
    test_multi_row_dots_equal_single();
    test_dot_extreme_codes_bit_exact();
    test_q8_0_simd_quantize_matches_scalar();
    test_q8_1_simd_quantize_matches_scalar();
    test_f16_simd_convert_matches_scalar();
    test_bf16_simd_convert_matches_scalar_including_nan();
    test_quantized_dot_equals_dequantized_dot();
    test_dispatch_picks_best_registered_kernel();
    return test_summary("test_quant_legacy");
}
