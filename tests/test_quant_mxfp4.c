/* MXFP4 (OCP Microscaling FP4, GGUF type 39): dequantization against the format's definition on
 * hand-made blocks (every E2M1 code, every E8M0 scale 2^-127..2^127, the NaN scale 0xFF), the
 * reference quantizer, and the SIMD dots and prefill tiles of every ISA this CPU has against the
 * scalar reference. */
#include "test.h"

#include "fp16.h"
#include "kernels/legacy_kernels.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x452821e638d01377ull;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) * (1.0 / 9007199254740992.0));
}

static float rng_gauss(void) {
    double u = ((double)(rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double v = (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static void *xalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) abort();
    return p;
}

static const type_traits *mx(void) {
    return quant_traits(TT_MXFP4);
}

/* The definition, written from the spec independently of the engine's tables: E2M1 code c is
 * sign (bit 3), exponent E (bits 2-1) and mantissa M (bit 0), value (-1)^s * 2^(E-1) * (1 + M/2)
 * for E > 0 and (-1)^s * M/2 for E = 0; E8M0 byte e is 2^(e-127), NaN for 0xFF. The exact value
 * (a double holds it) rounded once to float. */
static float definition(uint8_t e, int code) {
    if (e == 0xff) return NAN;
    const int s = code >> 3 & 1, E = code >> 1 & 3, M = code & 1;
    const double mag = E > 0 ? ldexp(1.0 + M / 2.0, E - 1) : M / 2.0;
    return (float)ldexp(s ? -mag : mag, (int)e - 127);
}

static bool same_float(float a, float b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0; /* keeps -0 apart from +0 */
}

/* Every code at both nibble positions, with every scale byte 0..255: element j holds code
 * (j + k) % 16 (low nibbles: elements 0..15, high nibbles: 16..31). */
static void test_dequantize_equals_definition_every_code_and_scale(void) {
    for (int e = 0; e < 256; e++) {
        for (int k = 0; k < 16; k += 5) {
            block_mxfp4 b[2];
            float got[64];
            b[0].e = (uint8_t)e;
            b[1].e = (uint8_t)(255 - e); /* a second block checks the 17-byte stride */
            for (int j = 0; j < 16; j++) {
                b[0].qs[j] = (uint8_t)((j + k) % 16 | ((j + 16 + k) % 16) << 4);
                b[1].qs[j] = (uint8_t)((15 - j) | j << 4);
            }
            mx()->to_float(b, got, 64);
            for (int j = 0; j < 32; j++) {
                const float want = definition((uint8_t)e, (j + k) % 16);
                CHECKF(same_float(got[j], want), "e=%d code %d: %g, want %g", e, (j + k) % 16,
                       got[j], want);
                const int c1 = j < 16 ? 15 - j : j - 16;
                const float want1 = definition((uint8_t)(255 - e), c1);
                CHECKF(same_float(got[32 + j], want1), "block 2 e=%d code %d: %g, want %g", 255 - e,
                       c1, got[32 + j], want1);
            }
        }
    }
}

/* The kernels' half scale 2^(e - 128) (the E2M1 values are doubled to integers) for every byte. */
static void test_half_scale_table_every_byte(void) {
    for (int e = 0; e < 256; e++) {
        const float got = mxfp4_half_scale((uint8_t)e);
        const float want = e == 255 ? NAN : ldexpf(1.0f, e - 128);
        CHECKF(same_float(got, want), "e=%d: %g, want %g", e, got, want);
    }
}

/* Spot values written out by hand, so a definition() mistake cannot hide an engine mistake. */
static void test_dequantize_known_values(void) {
    block_mxfp4 b;
    float y[32];
    b.e = 127; /* scale 1 */
    for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | (15 - j) << 4);
    mx()->to_float(&b, y, 32);
    const float want[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    for (int j = 0; j < 16; j++) {
        CHECKF(same_float(y[j], want[j]), "code %d: %g", j, y[j]);
        CHECKF(same_float(y[16 + j], want[15 - j]), "high nibble code %d: %g", 15 - j, y[16 + j]);
    }
    b.e = 0; /* 2^-127: 0.5 * 2^-127 = 2^-128, a float subnormal */
    mx()->to_float(&b, y, 32);
    CHECK(y[1] == ldexpf(1.0f, -128) && y[7] == 6.0f * ldexpf(1.0f, -127));
    b.e = 254; /* 2^127: 1.5 * 2^127 is a float, 2 * 2^127 = 2^128 is not */
    mx()->to_float(&b, y, 32);
    CHECK(y[3] == 1.5f * ldexpf(1.0f, 127) && isinf(y[4]) && y[4] > 0 && isinf(y[12]) && y[12] < 0);
    b.e = 0xff; /* NaN scale: the whole block is NaN, zero codes too */
    mx()->to_float(&b, y, 32);
    for (int j = 0; j < 32; j++) CHECKF(isnan(y[j]), "NaN block [%d] = %g", j, y[j]);
}

/* A Q8_0 activation row with scale 1 and the given codes. */
static void q8_row(block_q8_0 *a, int nb, int8_t code) {
    for (int b = 0; b < nb; b++) {
        a[b].d = fp32_to_fp16(1.0f);
        memset(a[b].qs, (uint8_t)code, 32);
    }
}

/* The NaN scale poisons every dot product that reads the block, in every kernel. */
static void test_nan_scale_makes_dot_nan(void) {
    block_mxfp4 w[4];
    block_q8_0 a[4];
    memset(w, 0x11, sizeof w);
    for (int b = 0; b < 4; b++) w[b].e = 127;
    w[2].e = 0xff;
    q8_row(a, 4, 3);
    for (int isa = ISA_SCALAR; isa <= (int)quant_cpu_isa(); isa++) {
        float s = 0.0f;
        mx()->vec_dot[isa](128, &s, w, a);
        CHECKF(isnan(s), "%s: %g", quant_isa_name(isa), s);
        s = 0.0f;
        mx()->vec_dot[isa](64, &s, w, a); /* blocks 0 and 1 only: finite, 64 * 0.5 * 3 */
        CHECKF(s == 96.0f, "%s: %g", quant_isa_name(isa), s);
    }
}

/* ---- the quantizer ---- */

static void test_quantize_known_block(void) {
    float x[32] = {0};
    /* amax 5.5: floor(log2 5.5) = 2, shared exponent 0 (e = 127), values on the grid */
    x[0] = 5.5f;   /* past halfway 4..6 -> code 7 (6) */
    x[1] = -0.25f; /* halfway 0..0.5 -> 0 */
    x[2] = 0.75f;  /* halfway 0.5..1 -> code 2 (1) */
    x[3] = 1.25f;  /* halfway 1..1.5 -> code 2 (1) */
    x[4] = -2.5f;  /* halfway 2..3 -> code 4 (2), negative: 12 */
    x[5] = 3.5f;   /* halfway 3..4 -> code 6 (4) */
    x[6] = 1.75f;  /* halfway 1.5..2 -> code 4 (2) */
    x[7] = 0.3f;   /* nearest 0.5 -> code 1 */
    x[16] = -6.0f; /* code 15 */
    x[17] = 5.0f;  /* halfway 4..6 -> code 6 */
    x[18] = NAN;   /* -> 0 */
    block_mxfp4 b;
    mx()->from_float(x, &b, 32);
    CHECKF(b.e == 127, "e = %d", b.e);
    const uint8_t want[16] = {0xf7, 0x60, 0x02, 0x02, 0x0c, 0x06, 0x04, 0x01,
                              0,    0,    0,    0,    0,    0,    0,    0};
    for (int j = 0; j < 16; j++) CHECKF(b.qs[j] == want[j], "qs[%d] = %#x", j, b.qs[j]);
    /* amax in [8, 16): e = 128; 7.9 in [4, 8) gives e = 127 and saturates to 6 */
    float y[32] = {0};
    y[0] = 12.0f;
    mx()->from_float(y, &b, 32);
    CHECK(b.e == 128 && (b.qs[0] & 15) == 7);
    y[0] = 7.9f;
    mx()->from_float(y, &b, 32);
    CHECK(b.e == 127 && (b.qs[0] & 15) == 7);
    /* all zero: e = 0, codes 0; tiny and huge amax clamp the exponent to E8M0's range */
    memset(y, 0, sizeof y);
    mx()->from_float(y, &b, 32);
    CHECK(b.e == 0 && b.qs[0] == 0 && b.qs[15] == 0);
    y[0] = ldexpf(1.0f, -140);
    mx()->from_float(y, &b, 32);
    CHECK(b.e == 0 && (b.qs[0] & 15) == 0); /* 2^-140 / 2^-127 rounds to 0 */
    y[0] = INFINITY;
    mx()->from_float(y, &b, 32);
    CHECK(b.e == 254 && (b.qs[0] & 15) == 7);
}

/* Dequantized MXFP4 values are on the grid: quantizing them again gives the same values. */
static void test_grid_values_roundtrip_exactly(void) {
    const int64_t n = 32 * 64;
    uint8_t *q = xalloc(quant_row_size(TT_MXFP4, n)), *q2 = xalloc(quant_row_size(TT_MXFP4, n));
    float *x = xalloc(sizeof(float) * n), *y = xalloc(sizeof(float) * n);
    for (size_t i = 0; i < quant_row_size(TT_MXFP4, n); i++) q[i] = (uint8_t)rng_next();
    for (int64_t b = 0; b < n / 32; b++) q[b * 17] = (uint8_t)(100 + b % 50); /* finite scales */
    mx()->to_float(q, x, n);
    mx()->from_float(x, q2, n);
    mx()->to_float(q2, y, n);
    int bad = 0;
    for (int64_t k = 0; k < n; k++) bad += x[k] != y[k];
    CHECKF(bad == 0, "%d grid values changed", bad);
    free(q), free(q2), free(x), free(y);
}

/* Error of each element within half the grid step at its magnitude (a saturated one: its
 * distance to 6 * scale). */
static void test_quantize_error_within_half_step(void) {
    const int64_t n = 32 * 256;
    float *x = xalloc(sizeof(float) * n), *y = xalloc(sizeof(float) * n);
    uint8_t *q = xalloc(quant_row_size(TT_MXFP4, n));
    for (int64_t k = 0; k < n; k++) x[k] = rng_gauss() * ldexpf(1.0f, (int)(k / 32 % 40) - 20);
    mx()->from_float(x, q, n);
    mx()->to_float(q, y, n);
    int bad = 0;
    for (int64_t k = 0; k < n; k++) {
        const double scale = ldexp(1.0, q[k / 32 * 17] - 127), v = fabs(x[k]) / scale;
        const double half = v <= 2 ? 0.25 : v <= 4 ? 0.5 : v <= 6 ? 1.0 : v - 6.0;
        if (!(fabs((double)y[k] - x[k]) <= half * scale) && bad++ < 3)
            CHECKF(false, "[%lld] x=%g y=%g scale %g", (long long)k, x[k], y[k], scale);
    }
    CHECKF(bad == 0, "%d elements over half a step", bad);
    free(x), free(y), free(q);
}

/* ---- kernels == scalar reference ---- */

/* Random MXFP4 weights: random codes; scales either 2^-1 each (unit: with Q8_0 activations of
 * scale 1 every product is a small integer, so every kernel must equal the reference bit for
 * bit) or spread over realistic exponents. */
static void fill_weights(uint8_t *w, int64_t n, bool unit) {
    for (size_t i = 0; i < quant_row_size(TT_MXFP4, n); i++) w[i] = (uint8_t)rng_next();
    for (int64_t b = 0; b < n / 32; b++) w[b * 17] = unit ? 128 : (uint8_t)(112 + rng_next() % 20);
}

static void fill_acts(block_q8_0 *a, int64_t n, bool unit) {
    for (int64_t b = 0; b < n / 32; b++) {
        a[b].d = fp32_to_fp16(unit ? 1.0f : rng_uniform(1.0f / 1024, 1.0f / 8));
        for (int j = 0; j < 32; j++) a[b].qs[j] = (int8_t)((int)(rng_next() % 255) - 127);
    }
}

static void test_dots_match_scalar(void) {
    const int64_t lens[] = {32, 64, 96, 224, 2880, 4864};
    for (int isa = ISA_AVX2; isa < ISA_COUNT; isa++) {
        CHECKF(mx()->vec_dot[isa] && mx()->vec_dot_multi[isa], "no %s dot", quant_isa_name(isa));
        if (isa > (int)quant_cpu_isa()) continue;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int64_t n = lens[li];
            uint8_t *w = xalloc(quant_row_size(TT_MXFP4, n));
            block_q8_0 *a = xalloc(quant_row_size(TT_Q8_0, n) * VEC_DOT_MULTI_MAX);
            const size_t arow = quant_row_size(TT_Q8_0, n);
            for (int unit = 1; unit >= 0; unit--) {
                fill_weights(w, n, unit);
                for (int t = 0; t < VEC_DOT_MULTI_MAX; t++)
                    fill_acts((block_q8_0 *)((uint8_t *)a + t * arow), n, unit);
                float ref, got, multi[VEC_DOT_MULTI_MAX];
                mx()->vec_dot[ISA_SCALAR](n, &ref, w, a);
                mx()->vec_dot[isa](n, &got, w, a);
                double mag = 0.0;
                float wf[4864], af[4864];
                mx()->to_float(w, wf, n);
                quant_traits(TT_Q8_0)->to_float(a, af, n);
                for (int64_t i = 0; i < n; i++) mag += fabs((double)wf[i] * af[i]);
                if (unit)
                    CHECKF(got == ref, "%s n=%lld unit: %.9g vs %.9g", quant_isa_name(isa),
                           (long long)n, got, ref);
                else
                    CHECKF(fabs((double)got - ref) <= 1e-5 * mag, "%s n=%lld: %.9g vs %.9g",
                           quant_isa_name(isa), (long long)n, got, ref);
                /* the multi-row form gives each row what the one-row dot gives, bit for bit */
                for (int nt = 1; nt <= VEC_DOT_MULTI_MAX; nt += 3) {
                    mx()->vec_dot_multi[isa](n, nt, multi, 1, w, a, arow);
                    for (int t = 0; t < nt; t++) {
                        mx()->vec_dot[isa](n, &got, w, (uint8_t *)a + t * arow);
                        CHECKF(memcmp(&got, &multi[t], sizeof got) == 0, "%s multi nt=%d row %d",
                               quant_isa_name(isa), nt, t);
                    }
                }
            }
            free(w), free(a);
        }
    }
}

/* Largest codes (+-6, doubled 12) against +-127 activations: the biggest integer block sums. */
static void test_dot_extreme_codes_bit_exact(void) {
    const int64_t n = 256;
    uint8_t w[8 * 17];
    block_q8_0 a[8];
    for (int pattern = 0; pattern < 4; pattern++) {
        for (int b = 0; b < 8; b++) {
            w[b * 17] = 127;
            memset(w + b * 17 + 1, pattern & 1 ? 0xff : 0x77, 16);
        }
        q8_row(a, 8, pattern & 2 ? 127 : -127);
        float ref, got;
        mx()->vec_dot[ISA_SCALAR](n, &ref, w, a);
        CHECK(ref == (float)((pattern & 1 ? -6 : 6) * (pattern & 2 ? 127 : -127) * 256));
        for (int isa = ISA_AVX2; isa <= (int)quant_cpu_isa(); isa++) {
            mx()->vec_dot[isa](n, &got, w, a);
            CHECKF(got == ref, "%s pattern %d: %.9g vs %.9g", quant_isa_name(isa), pattern, got,
                   ref);
        }
    }
}

/* The prefill tiles (test_gemm holds every type to the same checks on random quantized data;
 * this adds rows starting at odd addresses, extreme scales and the NaN scale), bit for bit. */
static void test_gemm_matches_scalar_on_odd_rows_and_extreme_scales(void) {
    const int64_t n = 32 * 9;
    const int nr = 21, nc = 11;
    const size_t wrow = quant_row_size(TT_MXFP4, n), arow = quant_row_size(TT_Q8_0, n);
    uint8_t *w = xalloc(wrow * nr), *a = xalloc(arow * nc), *ag = xalloc(arow * nc);
    float *y = xalloc(sizeof(float) * nr * nc);
    fill_weights(w, n * nr, true);
    /* row r: every block scaled by 2^(12r - 128) (integer sums times one power of two stay
     * exact from 2^-128 to 2^100); row 5: one NaN block */
    for (int r = 0; r < nr; r++)
        for (int b = 0; b < 9; b++) w[r * wrow + 17 * b] = (uint8_t)(r == 5 ? 128 : r * 12);
    w[5 * wrow + 17 * 4] = 0xff;
    fill_acts((block_q8_0 *)a, n * nc, true);
    for (int isa = ISA_AVX2; isa <= (int)quant_cpu_isa(); isa++) {
        CHECKF(mx()->gemm[isa] != NULL, "no %s gemm", quant_isa_name(isa));
        if (!mx()->gemm[isa]) continue;
        memcpy(ag, a, arow * nc);
        if (mx()->gemm_prep[isa])
            for (int c = 0; c < nc; c++) mx()->gemm_prep[isa](ag + c * arow, n);
        mx()->gemm[isa](n, nr, nc, w, wrow, ag, arow, y, nr);
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < nr; r++) {
                float ref;
                mx()->vec_dot[ISA_SCALAR](n, &ref, w + r * wrow, a + c * arow);
                CHECKF(same_float(y[c * nr + r], ref) || y[c * nr + r] == ref,
                       "%s row %d token %d: %.9g vs %.9g", quant_isa_name(isa), r, c, y[c * nr + r],
                       ref);
            }
    }
    free(w), free(a), free(ag), free(y);
}

static void test_dispatch_and_plans(void) {
    CHECK(mx() && mx()->block_size == 32 && mx()->type_size == 17);
    CHECK(mx()->vec_dot_type == TT_Q8_0);
    CHECK(strcmp(mx()->name, "MXFP4") == 0);
    CHECK(quant_row_size(TT_MXFP4, 2880) == 90 * 17);
    const kernel_isa cpu = quant_cpu_isa();
    CHECK(quant_vec_dot(TT_MXFP4) == mx()->vec_dot[cpu]);
}

int main(void) {
    quant_init();
    printf("cpu isa: %s\n", quant_isa_name(quant_cpu_isa()));
    test_dispatch_and_plans();
    test_dequantize_equals_definition_every_code_and_scale();
    test_dequantize_known_values();
    test_half_scale_table_every_byte();
    test_nan_scale_makes_dot_nan();
    test_quantize_known_block();
    test_grid_values_roundtrip_exactly();
    test_quantize_error_within_half_step();
    test_dots_match_scalar();
    test_dot_extreme_codes_bit_exact();
    test_gemm_matches_scalar_on_odd_rows_and_extreme_scales();
    return test_summary("test_quant_mxfp4");
}
