/* Legacy block types for AVX-512 (F, BW, DQ, VL, VNNI): dot products against Q8_0/Q8_1
 * activations and the Q8_0/Q8_1 activation quantizers.
 *
 * Same scheme as legacy_avx2.c (one block per 256-bit vector, signed codes via |w| * sign(a, w),
 * int32 partial sums scaled in float), but VNNI's dpbusd does the u8 x s8 multiply and the
 * four-way int32 sum in one instruction with no int16 saturation, and AVX-512BW masks expand the
 * Q5 high bits directly. */
#include "legacy_loops.h"

#include <immintrin.h>
#include <string.h>

static inline __mmask32 load_high_bits(const uint8_t *qh) {
    uint32_t bits;
    memcpy(&bits, qh, sizeof bits);
    return (__mmask32)bits;
}

/* Eight int32 partial sums of w[j] * a[j]: w signed in [-128, 127], a in [-127, 127]. */
static inline __m256i dot_s8(__m256i w, __m256i a) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
}

/* The same for unsigned codes w in [0, 31]. */
static inline __m256i dot_u8(__m256i w, __m256i a) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a);
}

/* Each type's codes of one weight block: signed for the _0 types, unsigned for the _1 types
 * (offsets come from m). Q5_0: the nibble where the high bit is set, nibble - 16 where clear. */
static inline __m256i q4_0_codes(const block_q4_0 *w) {
    return _mm256_sub_epi8(unpack_nibbles(w->qs), _mm256_set1_epi8(8));
}

static inline __m256i q5_0_codes(const block_q5_0 *w) {
    const __m256i nib = unpack_nibbles(w->qs);
    return _mm256_mask_sub_epi8(nib, ~load_high_bits(w->qh), nib, _mm256_set1_epi8(16));
}

static inline __m256i q8_0_codes(const block_q8_0 *w) {
    return load32(w->qs);
}

static inline __m256i q4_1_codes(const block_q4_1 *w) {
    return unpack_nibbles(w->qs);
}

static inline __m256i q5_1_codes(const block_q5_1 *w) {
    const __m256i nib = unpack_nibbles(w->qs);
    return _mm256_mask_add_epi8(nib, load_high_bits(w->qh), nib, _mm256_set1_epi8(16));
}

DEFINE_ROWS_0(legacy_avx512_q4_0_dot, block_q4_0, q4_0_codes, scale2)
DEFINE_ROWS_0(legacy_avx512_q5_0_dot, block_q5_0, q5_0_codes, scale2)
DEFINE_ROWS_0(legacy_avx512_q8_0_dot, block_q8_0, q8_0_codes, scale2)
DEFINE_ROWS_0(legacy_avx512_mxfp4_dot, block_mxfp4, mxfp4_codes, mxfp4_scale2)
DEFINE_ROWS_1(legacy_avx512_q4_1_dot, block_q4_1, q4_1_codes)
DEFINE_ROWS_1(legacy_avx512_q5_1_dot, block_q5_1, q5_1_codes)

/* ---- activation quantizers: byte-identical to the scalar reference ----
 * Same operations in the same precision as the scalar code (see legacy_avx2.c): amax, scalar
 * d = amax / 127 and id = 1 / d, x * id, round half away from zero (truncate, then step away
 * from zero where the exact dropped fraction is >= 0.5), saturating narrow to int8. */

static inline __m512 round_half_away(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 big =
        _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 step = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(_mm512_set1_ps(1.0f)),
                        _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN))));
    return _mm512_mask_add_ps(t, big, t, step);
}

/* Quantizes one block of 32 floats to qs; returns the float d and the sum of the codes. */
static inline float q8_block(const float *x, int8_t *qs, int *sum) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v0, vid)));
    const __m512i q1 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v1, vid)));
    if (sum) *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtsepi32_epi8(q1));
    return d;
}

void legacy_avx512_q8_0_quantize(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        const float d = q8_block(x + ib * QK_LEGACY, y[ib].qs, NULL);
        y[ib].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    }
}

void legacy_avx512_q8_1_quantize(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t ib = 0; ib < n / QK_LEGACY; ib++) {
        int sum;
        const float d = q8_block(x + ib * QK_LEGACY, y[ib].qs, &sum);
        y[ib].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        y[ib].s = _cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT);
    }
}
