/* K-quant types: known-answer dequantization from hand-built bytes, quantizer accuracy, SIMD
 * kernels against the scalar reference, and dot products against float math.
 * Block bytes are built here from the format description with explicit byte offsets, not from
 * the engine's structs, so a layout mistake in the engine cannot hide behind the test. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp16.h"
#include "quant.h"
#include "test.h"

#define QK 256

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_u64(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int rng_int(int lo, int hi) {
    return lo + (int)(rng_u64() % (uint64_t)(hi - lo + 1));
}
static float rng_unit(void) {
    return (float)((rng_u64() >> 40) + 1) / 16777217.0f;
}
static float rng_gauss(void) {
    return sqrtf(-2.0f * logf(rng_unit())) * cosf(6.2831853f * rng_unit());
}

static void put_f16(uint8_t *p, float v) {
    const uint16_t h = fp32_to_fp16(v);
    memcpy(p, &h, 2);
}

static const tensor_type kweights[] = {TT_Q2_K, TT_Q3_K, TT_Q4_K, TT_Q5_K, TT_Q6_K};
#define NKW 5

/* Byte offsets of the f16 scale fields, for randomizing blocks with finite scales. */
static void f16_fields(tensor_type t, int off[2], int *count) {
    switch (t) {
    case TT_Q2_K:
        off[0] = 80, off[1] = 82, *count = 2;
        break;
    case TT_Q3_K:
        off[0] = 108, *count = 1;
        break;
    case TT_Q4_K:
    case TT_Q5_K:
        off[0] = 0, off[1] = 2, *count = 2;
        break;
    case TT_Q6_K:
        off[0] = 208, *count = 1;
        break;
    default:
        *count = 0;
    }
}

/* Random weight row: random bytes, f16 scales random in +-[2^-12, 2^-4). */
static void random_weights(tensor_type t, uint8_t *w, int64_t n) {
    const size_t bs = quant_traits(t)->type_size;
    for (size_t i = 0; i < quant_row_size(t, n); i++) w[i] = (uint8_t)rng_u64();
    int off[2], cnt;
    f16_fields(t, off, &cnt);
    for (int64_t b = 0; b < n / QK; b++)
        for (int k = 0; k < cnt; k++)
            put_f16(w + b * bs + off[k],
                    ldexpf(1.0f + rng_unit(), rng_int(-12, -5)) *
                        (t == TT_Q3_K || t == TT_Q6_K ? (rng_u64() & 1 ? 1 : -1) : 1));
}

/* Q8_K block bytes: d@0 (f32), qs@4, bsums@260 (sums of 16 consecutive qs). */
static void make_q8k(uint8_t *blk, float d, const int8_t *qs) {
    memcpy(blk, &d, 4);
    memcpy(blk + 4, qs, 256);
    for (int g = 0; g < 16; g++) {
        int16_t s = 0;
        for (int i = 0; i < 16; i++) s = (int16_t)(s + qs[16 * g + i]);
        memcpy(blk + 260 + 2 * g, &s, 2);
    }
}

static void random_q8k(uint8_t *a, int64_t n, int qlo, int qhi, int unit_scale) {
    for (int64_t b = 0; b < n / QK; b++) {
        int8_t qs[256];
        for (int i = 0; i < 256; i++) qs[i] = (int8_t)rng_int(qlo, qhi);
        make_q8k(a + b * 292, unit_scale ? 1.0f : ldexpf(1.0f + rng_unit(), rng_int(-10, -4)), qs);
    }
}

/* ---------------------------------------------------------------- (a) known answers */

/* Element e of a K-quant super-block, per the format description:
 *   2-bit walk (Q2_K/Q3_K): byte 32*(e/128) + e%32 of qs, bits 2*((e%128)/32); hmask bit e/32.
 *   Q4_K/Q5_K: byte 32*(e/64) + e%32, nibble (e%64)/32; Q5_K fifth bit: bit e/32 of qh[e%32].
 *   Q6_K: ql byte 64*(e/128) + 32*(k%2) + e%32 with k = (e%128)/32, nibble k/2;
 *         qh byte 32*(e/128) + e%32, bits 2k.
 *   Sub-block scales of 16 elements are index e/16, of 32 elements e/32. */

static void test_q2_K_known_answer(void) {
    uint8_t blk[84] = {0};
    int code[QK], sc[16], mn[16];
    for (int s = 0; s < 16; s++) sc[s] = rng_int(0, 15), mn[s] = rng_int(0, 15);
    for (int s = 0; s < 16; s++) blk[s] = (uint8_t)(sc[s] | (mn[s] << 4));
    for (int e = 0; e < QK; e++) {
        code[e] = rng_int(0, 3);
        blk[16 + 32 * (e / 128) + e % 32] |= (uint8_t)(code[e] << (2 * ((e % 128) / 32)));
    }
    put_f16(blk + 80, 0.375f);
    put_f16(blk + 82, -1.25f);
    float y[QK];
    quant_traits(TT_Q2_K)->to_float(blk, y, QK);
    int bad = 0;
    for (int e = 0; e < QK; e++) {
        const float dl = 0.375f * (float)sc[e / 16], ml = -1.25f * (float)mn[e / 16];
        bad += y[e] != dl * (float)code[e] - ml;
    }
    CHECKF(bad == 0, "%d Q2_K elements differ", bad);
    /* literal: scale 5, min 3, code 2 with d 0.5, dmin 0.25 -> 0.5*5*2 - 0.25*3 = 4.25 */
    memset(blk, 0, sizeof blk);
    blk[0] = 5 | (3 << 4);
    blk[16] = 2; /* element 0 */
    put_f16(blk + 80, 0.5f);
    put_f16(blk + 82, 0.25f);
    quant_traits(TT_Q2_K)->to_float(blk, y, QK);
    CHECKF(y[0] == 4.25f && y[1] == -0.75f, "got %g %g", y[0], y[1]);
}

static void test_q3_K_known_answer(void) {
    uint8_t blk[110] = {0};
    int code[QK], sc[16]; /* code in -4..3, sc in -32..31 */
    for (int s = 0; s < 16; s++) {
        sc[s] = rng_int(-32, 31);
        const int v = sc[s] + 32;
        blk[96 + s % 8] |= (uint8_t)((v & 15) << (s < 8 ? 0 : 4));
        blk[96 + 8 + s % 4] |= (uint8_t)((v >> 4) << (2 * (s / 4)));
    }
    for (int e = 0; e < QK; e++) {
        code[e] = rng_int(-4, 3);
        const int u = code[e] + 4; /* high bit set <=> no -4 */
        blk[32 + 32 * (e / 128) + e % 32] |= (uint8_t)((u & 3) << (2 * ((e % 128) / 32)));
        blk[e % 32] |= (uint8_t)((u >> 2) << (e / 32));
    }
    put_f16(blk + 108, -0.0625f);
    float y[QK];
    quant_traits(TT_Q3_K)->to_float(blk, y, QK);
    int bad = 0;
    for (int e = 0; e < QK; e++) bad += y[e] != (-0.0625f * (float)sc[e / 16]) * (float)code[e];
    CHECKF(bad == 0, "%d Q3_K elements differ", bad);
    /* literal: scale index 13 = 0b100111 - 32 = 7: low nibble 7 in byte 5 high half, top bits
     * 0b10 in byte 9 bits 6..7; element 13*16 = 208 = 128+64+16 -> qs byte 32+32+16 bits 4..5,
     * hmask bit 6 of byte 16. Code 1 (u = 5: low 01, high bit set). d = 2 -> 14. */
    memset(blk, 0, sizeof blk);
    blk[96 + 5] = 7 << 4;
    blk[96 + 9] = 2 << 6;
    blk[32 + 48] = 1 << 4;
    blk[16] = 1 << 6;
    put_f16(blk + 108, 2.0f);
    quant_traits(TT_Q3_K)->to_float(blk, y, QK);
    CHECKF(y[208] == 14.0f, "got %g", y[208]);
    CHECKF(y[209] == -8.0f * 7.0f, "got %g", y[209]); /* code 0, high bit clear -> -4 */
}

/* Q4_K/Q5_K 6-bit scale and min of sub-block j, set per the 12-byte packing description:
 * j < 4: low 6 bits of byte j (scale) and byte j+4 (min); j >= 4: low nibbles in byte j+4
 * (scale low half, min high half), top two bits in bits 6..7 of byte j-4 (scale) / j (min). */
static void set_scale_min_12(uint8_t *s12, int j, int sc, int mn) {
    if (j < 4) {
        s12[j] |= (uint8_t)sc;
        s12[j + 4] |= (uint8_t)mn;
    } else {
        s12[j + 4] |= (uint8_t)((sc & 15) | ((mn & 15) << 4));
        s12[j - 4] |= (uint8_t)((sc >> 4) << 6);
        s12[j] |= (uint8_t)((mn >> 4) << 6);
    }
}

static void check_q45_known(tensor_type t) {
    const int five = t == TT_Q5_K;
    const int qs_off = five ? 48 : 16;
    uint8_t blk[176] = {0};
    int code[QK], sc[8], mn[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = rng_int(0, 63), mn[j] = rng_int(0, 63);
        set_scale_min_12(blk + 4, j, sc[j], mn[j]);
    }
    for (int e = 0; e < QK; e++) {
        code[e] = rng_int(0, five ? 31 : 15);
        blk[qs_off + 32 * (e / 64) + e % 32] |= (uint8_t)((code[e] & 15) << (4 * ((e % 64) / 32)));
        if (five) blk[16 + e % 32] |= (uint8_t)((code[e] >> 4) << (e / 32));
    }
    put_f16(blk, 0.03125f);
    put_f16(blk + 2, 0.015625f);
    float y[QK];
    quant_traits(t)->to_float(blk, y, QK);
    int bad = 0;
    for (int e = 0; e < QK; e++) {
        const float dl = 0.03125f * (float)sc[e / 32], ml = 0.015625f * (float)mn[e / 32];
        bad += y[e] != dl * (float)code[e] - ml;
    }
    CHECKF(bad == 0, "%d %s elements differ", bad, quant_traits(t)->name);
}

static void test_q4_K_known_answer(void) {
    check_q45_known(TT_Q4_K);
    /* literal: d 1, dmin 0.5. Sub-block 0: scale 3, min 4, element 0 code 5 -> 15 - 2 = 13.
     * Sub-block 5: scale 37 = 0b10'0101, min 50 = 0b11'0010 -> byte 9 = 0x25, byte 1 bits 6..7
     * = 2, byte 5 bits 6..7 = 3; element 160 is the high nibble of qs byte 64, code 9 ->
     * 37*9 - 25 = 308. */
    uint8_t blk[144] = {0};
    put_f16(blk, 1.0f);
    put_f16(blk + 2, 0.5f);
    blk[4 + 0] = 3;
    blk[4 + 4] = 4;
    blk[4 + 9] = 0x25;
    blk[4 + 1] = 2 << 6;
    blk[4 + 5] = 3 << 6;
    blk[16 + 0] = 5;
    blk[16 + 64] = 9 << 4;
    float y[QK];
    quant_traits(TT_Q4_K)->to_float(blk, y, QK);
    CHECKF(y[0] == 13.0f, "got %g", y[0]);
    CHECKF(y[1] == -2.0f, "got %g", y[1]);
    CHECKF(y[160] == 308.0f, "got %g", y[160]);
    CHECKF(y[161] == -25.0f, "got %g", y[161]);
}

static void test_q5_K_known_answer(void) {
    check_q45_known(TT_Q5_K);
    /* literal: element 97 (chunk 1, high nibble, sub-block 3) with code 16+2: qs byte 48+32+1
     * high nibble 2, qh[1] bit 3. Scale 10, min 0 in byte 3 / 7; d 0.5 -> 90. */
    uint8_t blk[176] = {0};
    put_f16(blk, 0.5f);
    blk[4 + 3] = 10;
    blk[48 + 32 + 1] = 2 << 4;
    blk[16 + 1] = 1 << 3;
    float y[QK];
    quant_traits(TT_Q5_K)->to_float(blk, y, QK);
    CHECKF(y[97] == 90.0f, "got %g", y[97]);
}

static void test_q6_K_known_answer(void) {
    uint8_t blk[210] = {0};
    int code[QK], sc[16];
    for (int s = 0; s < 16; s++) {
        sc[s] = rng_int(-128, 127);
        blk[192 + s] = (uint8_t)(int8_t)sc[s];
    }
    for (int e = 0; e < QK; e++) {
        code[e] = rng_int(-32, 31);
        const int u = code[e] + 32, h = e / 128, k = (e % 128) / 32, l = e % 32;
        blk[64 * h + 32 * (k % 2) + l] |= (uint8_t)((u & 15) << (4 * (k / 2)));
        blk[128 + 32 * h + l] |= (uint8_t)((u >> 4) << (2 * k));
    }
    put_f16(blk + 208, 0.001953125f);
    float y[QK];
    quant_traits(TT_Q6_K)->to_float(blk, y, QK);
    int bad = 0;
    for (int e = 0; e < QK; e++) bad += y[e] != (0.001953125f * (float)sc[e / 16]) * (float)code[e];
    CHECKF(bad == 0, "%d Q6_K elements differ", bad);
    /* literal: low bits 1101, high bits 01 -> code 29 - 32 = -3; scale 94; d = f16 0x80bf
     * (-191 * 2^-24): weight 0 = 191*94*3 * 2^-24 = +0.0032104, exact in float. */
    memset(blk, 0, sizeof blk);
    blk[0] = 0x0d;
    blk[128] = 0x01;
    blk[192] = 94;
    blk[208] = 0xbf;
    blk[209] = 0x80;
    quant_traits(TT_Q6_K)->to_float(blk, y, QK);
    CHECKF(y[0] == 53862.0f / 16777216.0f, "got %.9g", y[0]);
}

static void test_q8_K_known_answer(void) {
    uint8_t blk[292];
    int8_t qs[256];
    for (int i = 0; i < 256; i++) qs[i] = (int8_t)rng_int(-128, 127);
    make_q8k(blk, 0.25f, qs);
    float y[QK];
    quant_traits(TT_Q8_K)->to_float(blk, y, QK);
    int bad = 0;
    for (int i = 0; i < QK; i++) bad += y[i] != 0.25f * qs[i];
    CHECK(bad == 0);
    /* Quantizer: the largest magnitude, -2.54, sets iscale = -127/-2.54 = 50: it becomes -127,
     * 1.0 becomes 50, 0.004 rounds to 0; d = 1/iscale = 0.02. */
    float x[QK] = {0};
    x[3] = -2.54f;
    x[7] = 1.0f;
    x[20] = 0.004f;
    uint8_t out[292];
    quant_traits(TT_Q8_K)->from_float(x, out, QK);
    float d;
    memcpy(&d, out, 4);
    CHECKF(fabsf(d - 0.02f) < 1e-7f, "d %g", d);
    CHECK((int8_t)out[4 + 3] == -127 && (int8_t)out[4 + 7] == 50 && (int8_t)out[4 + 20] == 0);
    int16_t b0, b1;
    memcpy(&b0, out + 260, 2);
    memcpy(&b1, out + 262, 2);
    CHECK(b0 == -127 + 50 && b1 == 0);
}

/* ---------------------------------------------------------------- (b) quantizer accuracy */

static double rel_rms_error(tensor_type t, const float *x, int64_t n) {
    const type_traits *tr = quant_traits(t);
    uint8_t *q = malloc(quant_row_size(t, n));
    float *y = malloc(sizeof(float) * (size_t)n);
    tr->from_float(x, q, n);
    tr->to_float(q, y, n);
    double e2 = 0, x2 = 0;
    for (int64_t i = 0; i < n; i++) {
        e2 += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        x2 += (double)x[i] * x[i];
    }
    free(q);
    free(y);
    return sqrt(e2 / x2);
}

static void test_quantize_roundtrip_error(void) {
    /* Bounds: measured relative RMS error on seeded gaussian data: Q2_K 0.269, Q3_K 0.145,
     * Q4_K 0.0715, Q5_K 0.0362, Q6_K 0.0171, Q8_K 0.0071, plus ~10% margin. An offset (N(0.3, 1))
     * exercise the mins of the affine types. */
    static const struct {
        tensor_type t;
        double bound;
    } cases[] = {{TT_Q2_K, 0.30},  {TT_Q3_K, 0.165}, {TT_Q4_K, 0.080},
                 {TT_Q5_K, 0.040}, {TT_Q6_K, 0.019}, {TT_Q8_K, 0.008}};
    const int64_t n = 64 * QK;
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int shift = 0; shift < 2; shift++) {
        for (int64_t i = 0; i < n; i++) x[i] = rng_gauss() * (shift ? 1.0f : 0.02f) + 0.3f * shift;
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const double err = rel_rms_error(cases[c].t, x, n);
            printf("  %s rel rms error %.5f (bound %.4f)%s\n", quant_traits(cases[c].t)->name, err,
                   cases[c].bound, shift ? " offset data" : "");
            CHECKF(err < cases[c].bound, "%s: %g", quant_traits(cases[c].t)->name, err);
        }
    }
    /* all-zero and constant blocks must come back exactly / finite */
    for (int k = 0; k < NKW + 1; k++) {
        const tensor_type t = k < NKW ? kweights[k] : TT_Q8_K;
        for (int64_t i = 0; i < QK; i++) x[i] = 0.0f;
        float y[QK];
        uint8_t q[292];
        quant_traits(t)->from_float(x, q, QK);
        quant_traits(t)->to_float(q, y, QK);
        int bad = 0;
        for (int i = 0; i < QK; i++) bad += y[i] != 0.0f;
        CHECKF(bad == 0, "%s zero block", quant_traits(t)->name);
        for (int64_t i = 0; i < QK; i++) x[i] = -0.7f;
        CHECKF(rel_rms_error(t, x, QK) < 0.02, "%s constant block", quant_traits(t)->name);
    }
    free(x);
}

/* ---------------------------------------------------------------- (c) SIMD vs scalar */

static const int64_t lengths[] = {256, 512, 896 + 128, 4096, 8960};
#define NLEN 5

static double sum_abs_products(tensor_type t, const uint8_t *w, const uint8_t *a, int64_t n) {
    float *wf = malloc(sizeof(float) * (size_t)n), *af = malloc(sizeof(float) * (size_t)n);
    quant_traits(t)->to_float(w, wf, n);
    quant_traits(TT_Q8_K)->to_float(a, af, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)wf[i] * af[i]);
    free(wf);
    free(af);
    return s;
}

static void check_dot_matches_scalar(tensor_type t) {
    const type_traits *tr = quant_traits(t);
    const kernel_isa cpu = quant_cpu_isa();
    for (int isa = ISA_AVX2; isa <= (int)cpu; isa++) {
        CHECKF(tr->vec_dot[isa] != NULL, "%s has no %s kernel", tr->name, quant_isa_name(isa));
        if (!tr->vec_dot[isa]) continue;
        for (int li = 0; li < NLEN; li++) {
            const int64_t n = lengths[li];
            uint8_t *w = malloc(quant_row_size(t, n)), *a = malloc(quant_row_size(TT_Q8_K, n));
            for (int rep = 0; rep < 4; rep++) {
                float ref, got;
                /* exact: unit scales and small activations keep every sum below 2^24, so
                 * any difference in the integer arithmetic shows up */
                random_weights(t, w, n);
                int off[2], cnt;
                f16_fields(t, off, &cnt);
                if (n <= 1024) {
                    for (int64_t b = 0; b < n / QK; b++)
                        for (int k = 0; k < cnt; k++) put_f16(w + b * tr->type_size + off[k], 1.0f);
                    random_q8k(a, n, -3, 3, 1);
                    tr->vec_dot[ISA_SCALAR](n, &ref, w, a);
                    tr->vec_dot[isa](n, &got, w, a);
                    CHECKF(got == ref, "%s %s n=%lld exact: %.9g vs %.9g", tr->name,
                           quant_isa_name(isa), (long long)n, got, ref);
                    random_weights(t, w, n);
                }
                /* full range, random scales: float accumulation order may differ */
                random_q8k(a, n, -128, 127, 0);
                tr->vec_dot[ISA_SCALAR](n, &ref, w, a);
                tr->vec_dot[isa](n, &got, w, a);
                const double tol = 1e-5 * (fabs(ref) + sum_abs_products(t, w, a, n));
                CHECKF(fabs((double)got - ref) <= tol, "%s %s n=%lld: %.9g vs %.9g", tr->name,
                       quant_isa_name(isa), (long long)n, got, ref);
            }
            free(w);
            free(a);
        }
    }
}

static void test_q2_K_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q2_K);
}
static void test_q3_K_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q3_K);
}
static void test_q4_K_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q4_K);
}
static void test_q5_K_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q5_K);
}
static void test_q6_K_dot_matches_scalar(void) {
    check_dot_matches_scalar(TT_Q6_K);
}

/* Every multi-row dot gives each activation row exactly (bit for bit) what its ISA's one-row
 * dot gives: speculative verification batches rely on it to keep greedy output unchanged. */
static void test_multi_row_dots_equal_single(void) {
    const tensor_type types[] = {TT_Q2_K, TT_Q3_K, TT_Q4_K, TT_Q5_K, TT_Q6_K};
    const int64_t n = 1024;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const type_traits *tr = quant_traits(types[k]);
        size_t arow = quant_row_size(TT_Q8_K, n);
        uint8_t *w = malloc(quant_row_size(types[k], n)), *a = malloc(arow * VEC_DOT_MULTI_MAX);
        for (int isa = ISA_AVX2; isa <= (int)quant_cpu_isa(); isa++) {
            if (!tr->vec_dot_multi[isa]) continue;
            random_weights(types[k], w, n);
            for (int t = 0; t < VEC_DOT_MULTI_MAX; t++) random_q8k(a + t * arow, n, -128, 127, 0);
            for (int nt = 1; nt <= VEC_DOT_MULTI_MAX; nt++) {
                float got[2 * VEC_DOT_MULTI_MAX], want;
                tr->vec_dot_multi[isa](n, nt, got, 2, w, a, arow);
                for (int t = 0; t < nt; t++) {
                    tr->vec_dot[isa](n, &want, w, a + t * arow);
                    CHECKF(memcmp(&got[2 * t], &want, sizeof want) == 0,
                           "%s %s multi nt=%d row %d: %.9g vs %.9g", tr->name, quant_isa_name(isa),
                           nt, t, got[2 * t], want);
                }
            }
        }
        free(w);
        free(a);
    }
}

/* The scalar dot itself equals the float dot of the two dequantized rows. */
static void test_scalar_dot_matches_dequantized(void) {
    for (int k = 0; k < NKW; k++) {
        const tensor_type t = kweights[k];
        const int64_t n = 1024;
        uint8_t *w = malloc(quant_row_size(t, n)), *a = malloc(quant_row_size(TT_Q8_K, n));
        float *wf = malloc(sizeof(float) * n), *af = malloc(sizeof(float) * n);
        random_weights(t, w, n);
        random_q8k(a, n, -128, 127, 0);
        quant_traits(t)->to_float(w, wf, n);
        quant_traits(TT_Q8_K)->to_float(a, af, n);
        double ref = 0, mag = 0;
        for (int64_t i = 0; i < n; i++)
            ref += (double)wf[i] * af[i], mag += fabs((double)wf[i] * af[i]);
        float got;
        quant_traits(t)->vec_dot[ISA_SCALAR](n, &got, w, a);
        CHECKF(fabs(got - ref) <= 1e-4 * mag, "%s: %.9g vs %.9g", quant_traits(t)->name, got, ref);
        free(w), free(a), free(wf), free(af);
    }
}

/* ---------------------------------------------------------------- (d) SIMD Q8_K quantizer */

static void test_q8_K_simd_quantizer_matches_scalar(void) {
    const type_traits *tr = quant_traits(TT_Q8_K);
    const int64_t n = 16 * QK;
    float *x = malloc(sizeof(float) * n);
    uint8_t *ref = malloc(quant_row_size(TT_Q8_K, n)), *got = malloc(quant_row_size(TT_Q8_K, n));
    for (int isa = ISA_AVX2; isa <= (int)quant_cpu_isa(); isa++) {
        CHECKF(tr->from_float_isa[isa] != NULL, "no %s Q8_K quantizer", quant_isa_name(isa));
        if (!tr->from_float_isa[isa]) continue;
        for (int rep = 0; rep < 20; rep++) {
            for (int64_t i = 0; i < n; i++) x[i] = rng_gauss() * ldexpf(1.0f, rng_int(-8, 8));
            /* special blocks: all zero; +-3 ties where the first one must win (either
             * order); one tiny spike; exact .5 products (iscale 1) that round to even; NaN */
            for (int i = 0; i < QK; i++) {
                x[i] = 0.0f;
                x[QK + i] = x[2 * QK + i] = 0.5f * rng_gauss();
                if (fabsf(x[QK + i]) > 2.5f) x[QK + i] = x[2 * QK + i] = 2.5f;
                x[3 * QK + i] = 0.0f;
                x[4 * QK + i] = (float)(i % 200 - 100) + 0.5f;
            }
            x[QK + 5] = -3.0f, x[QK + 200] = 3.0f;
            x[2 * QK + 17] = 3.0f, x[2 * QK + 250] = -3.0f;
            x[3 * QK + 255] = -1e-3f;
            x[4 * QK + 3] = -127.0f;
            x[5 * QK + 7] = NAN;
            memset(ref, 0xAA, quant_row_size(TT_Q8_K, n));
            memset(got, 0x55, quant_row_size(TT_Q8_K, n));
            tr->from_float(x, ref, n);
            tr->from_float_isa[isa](x, got, n);
            CHECKF(memcmp(ref, got, quant_row_size(TT_Q8_K, n)) == 0, "%s rep %d",
                   quant_isa_name(isa), rep);
        }
        /* partial rows: one block */
        tr->from_float(x, ref, QK);
        tr->from_float_isa[isa](x, got, QK);
        CHECK(memcmp(ref, got, 292) == 0);
    }
    free(x), free(ref), free(got);
}

/* ---------------------------------------------------------------- (e) dot vs float math */

/* vec_dot(w, q8k(x)) against dot(dequant(w), x). Each activation is off by at most d_b/2 of
 * its block (|d_b| = amax/127), so |error| <= sum |w_i| * |d_b| / 2, plus float slack. */
static void test_dot_with_quantized_activations(void) {
    const kernel_isa cpu = quant_cpu_isa();
    for (int k = 0; k < NKW; k++) {
        const tensor_type t = kweights[k];
        const type_traits *tr = quant_traits(t);
        for (int li = 0; li < NLEN; li++) {
            const int64_t n = lengths[li];
            float *xw = malloc(sizeof(float) * n), *wf = malloc(sizeof(float) * n),
                  *x = malloc(sizeof(float) * n);
            uint8_t *w = malloc(quant_row_size(t, n)), *a = malloc(quant_row_size(TT_Q8_K, n));
            for (int64_t i = 0; i < n; i++) xw[i] = rng_gauss() * 0.05f, x[i] = rng_gauss();
            tr->from_float(xw, w, n);
            tr->to_float(w, wf, n);
            double ref = 0, bound = 0, mag = 0;
            for (int64_t b = 0; b < n / QK; b++) {
                float amax = 0;
                for (int i = 0; i < QK; i++) amax = fmaxf(amax, fabsf(x[b * QK + i]));
                for (int i = 0; i < QK; i++) {
                    const int64_t j = b * QK + i;
                    ref += (double)wf[j] * x[j];
                    mag += fabs((double)wf[j] * x[j]);
                    bound += fabs(wf[j]) * amax / 254.0;
                }
            }
            const double tol = bound * 1.001 + 1e-5 * mag;
            for (int isa = ISA_SCALAR; isa <= (int)cpu; isa++) {
                if (!tr->vec_dot[isa]) continue;
                const from_float_fn q8 =
                    isa == ISA_SCALAR || !quant_traits(TT_Q8_K)->from_float_isa[isa]
                        ? quant_traits(TT_Q8_K)->from_float
                        : quant_traits(TT_Q8_K)->from_float_isa[isa];
                q8(x, a, n);
                float got;
                tr->vec_dot[isa](n, &got, w, a);
                CHECKF(fabs(got - ref) <= tol, "%s %s n=%lld: %.7g vs %.7g (tol %.3g)", tr->name,
                       quant_isa_name(isa), (long long)n, got, ref, tol);
            }
            free(xw), free(wf), free(x), free(w), free(a);
        }
    }
}

static void test_registry(void) {
    static const size_t sizes[] = {84, 110, 144, 176, 210};
    for (int k = 0; k < NKW; k++) {
        const type_traits *tr = quant_traits(kweights[k]);
        CHECK(tr && tr->to_float && tr->from_float && tr->vec_dot[ISA_SCALAR]);
        CHECK(tr && tr->type_size == sizes[k] && tr->block_size == QK &&
              tr->vec_dot_type == TT_Q8_K);
    }
    const type_traits *q8 = quant_traits(TT_Q8_K);
    CHECK(q8 && q8->type_size == 292 && q8->to_float && q8->from_float);
}

int main(void) {
    quant_init();
    printf("cpu isa: %s\n", quant_isa_name(quant_cpu_isa()));
    test_registry();
    test_q2_K_known_answer();
    test_q3_K_known_answer();
    test_q4_K_known_answer();
    test_q5_K_known_answer();
    test_q6_K_known_answer();
    test_q8_K_known_answer();
    test_quantize_roundtrip_error();
    test_scalar_dot_matches_dequantized();
    test_q2_K_dot_matches_scalar();
    test_q3_K_dot_matches_scalar();
    test_q4_K_dot_matches_scalar();
    test_q5_K_dot_matches_scalar();
    test_q6_K_dot_matches_scalar();
    test_multi_row_dots_equal_single();
    test_q8_K_simd_quantizer_matches_scalar();
    test_dot_with_quantized_activations();
    return test_summary("test_quant_k");
}
