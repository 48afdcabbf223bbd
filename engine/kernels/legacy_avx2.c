/* Legacy block types for AVX2 + FMA + F16C: dot products against Q8_0/Q8_1 activations and the
 * Q8_0/Q8_1 activation quantizers.
 *
 * Dots: one 32-element block is one 256-bit vector. Weight codes are expanded to int8 and
 * multiplied with maddubs (u8 x s8 -> pairs summed in int16); for signed codes the sign is moved
 * onto the activation (|w| * sign(a, w)), which is exact because |w| <= 128 and |a| <= 127 keep
 * every pair sum below 32767. madd then widens to eight int32 partial sums per block, so the
 * integer part equals the scalar one exactly; only the float scaling and the order of the float
 * accumulation differ. The row loops (two blocks per iteration, separate accumulators hiding FMA
 * latency) are shared with the AVX-512 file: legacy_loops.h. */
#include "legacy_loops.h"

#include <immintrin.h>
#include <string.h>

static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* 0x10 in byte j when bit j of qh is set: the fifth bit of each Q5 code. */
static inline __m256i unpack_high_bits(const uint8_t *qh) {
    uint32_t bits;
    memcpy(&bits, qh, sizeof bits);
    /* byte j takes byte j/8 of qh, then keeps only bit j%8 */
    const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), pick);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

/* Eight int32 partial sums of w[j] * a[j]: w signed in [-128, 127], a in [-127, 127]. */
static inline __m256i dot_s8(__m256i w, __m256i a) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* The same for unsigned codes w in [0, 31]. */
static inline __m256i dot_u8(__m256i w, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
}

/* Each type's codes of one weight block: signed for the _0 types, unsigned for the _1 types
 * (offsets come from m). */
static inline __m256i q4_0_codes(const block_q4_0 *w) {
    return _mm256_sub_epi8(unpack_nibbles(w->qs), _mm256_set1_epi8(8));
}

static inline __m256i q5_0_codes(const block_q5_0 *w) {
    const __m256i q = _mm256_or_si256(unpack_nibbles(w->qs), unpack_high_bits(w->qh));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
}

static inline __m256i q8_0_codes(const block_q8_0 *w) {
    return load32(w->qs);
}

static inline __m256i q4_1_codes(const block_q4_1 *w) {
    return unpack_nibbles(w->qs);
}

static inline __m256i q5_1_codes(const block_q5_1 *w) {
    return _mm256_or_si256(unpack_nibbles(w->qs), unpack_high_bits(w->qh));
}

DEFINE_ROWS_0(legacy_avx2_q4_0_dot, block_q4_0, q4_0_codes, scale2)
DEFINE_ROWS_0(legacy_avx2_q5_0_dot, block_q5_0, q5_0_codes, scale2)
DEFINE_ROWS_0(legacy_avx2_q8_0_dot, block_q8_0, q8_0_codes, scale2)
DEFINE_ROWS_0(legacy_avx2_mxfp4_dot, block_mxfp4, mxfp4_codes, mxfp4_scale2)
DEFINE_ROWS_1(legacy_avx2_q4_1_dot, block_q4_1, q4_1_codes)
DEFINE_ROWS_1(legacy_avx2_q5_1_dot, block_q5_1, q5_1_codes)

/* ---- activation quantizers: byte-identical to the scalar reference ----
 * Same operations in the same precision: amax (order-free), d = amax / 127 and id = 1 / d in
 * scalar float, x * id, then round half away from zero, which SSE rounding modes lack: truncate,
 * and step one away from zero when the dropped fraction (exact in float) is at least 0.5. */

static inline __m256 round_half_away(__m256 v) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(v, t));
    const __m256 step = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign_bit));
    const __m256 big = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(big, step));
}

/* Quantizes one block of 32 floats to qs; returns the float d and the sum of the codes. */
static inline float q8_block(const float *x, int8_t *qs, int *sum) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4];
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + 8 * k);
    __m256 mx =
        _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask)),
                      _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_cvttps_epi32(round_half_away(_mm256_mul_ps(v[k], vid)));
    if (sum)
        *sum = hsum_epi32(
            _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    /* the packs interleave 128-bit lanes; the permute puts the 4-byte groups back in order */
    const __m256i p =
        _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    const __m256i o = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, o);
    return d;
}

void legacy_avx2_q8_0_quantize(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        const float d = q8_block(x + ib * QK_LEGACY, y[ib].qs, NULL);
        y[ib].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    }
}

void legacy_avx2_q8_1_quantize(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        int sum;
        const float d = q8_block(x + ib * QK_LEGACY, y[ib].qs, &sum);
        y[ib].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        y[ib].s = _cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT);
    }
}
