/* F32 / F16 / BF16 dot products and conversions for AVX2 + FMA + F16C.
 * Dots keep four independent 8-lane accumulators so the FMA latency is hidden; the few
 * elements past the last multiple of 8 are finished in scalar code. */
#include "float_kernels.h"

#include "../fp16.h"

#include <immintrin.h>

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_f16x8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* bf16 is the top half of an f32: widen to 32 bits and shift into place. */
static inline __m256 load_bf16x8(const uint16_t *p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

#define DOT_BODY(T, LOAD, SCALAR)                                                                  \
    const T *x = w, *y = a;                                                                        \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                      \
    int64_t i = 0;                                                                                 \
    for (; i + 32 <= n; i += 32) {                                                                 \
        acc0 = _mm256_fmadd_ps(LOAD(x + i), LOAD(y + i), acc0);                                    \
        acc1 = _mm256_fmadd_ps(LOAD(x + i + 8), LOAD(y + i + 8), acc1);                            \
        acc2 = _mm256_fmadd_ps(LOAD(x + i + 16), LOAD(y + i + 16), acc2);                          \
        acc3 = _mm256_fmadd_ps(LOAD(x + i + 24), LOAD(y + i + 24), acc3);                          \
    }                                                                                              \
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(LOAD(x + i), LOAD(y + i), acc0);             \
    float sum = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));      \
    for (; i < n; i++) sum += SCALAR(x[i]) * SCALAR(y[i]);                                         \
    *s = sum;

#define AS_IS(v) (v)

void float_avx2_f32_dot(int64_t n, float *s, const void *w, const void *a) {
    DOT_BODY(float, _mm256_loadu_ps, AS_IS)
}

void float_avx2_f16_dot(int64_t n, float *s, const void *w, const void *a) {
    DOT_BODY(uint16_t, load_f16x8, fp16_to_fp32)
}

void float_avx2_bf16_dot(int64_t n, float *s, const void *w, const void *a) {
    DOT_BODY(uint16_t, load_bf16x8, bf16_to_fp32)
}

/* vcvtps2ph with round-to-nearest-even matches fp32_to_fp16 for every non-NaN input. */
void float_avx2_f16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(y + i), h);
    }
    for (; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}

/* Eight floats -> eight bf16 (in the low 16 bits of each lane), the same integer rounding as
 * fp32_to_bf16: add 0x7fff plus the lowest kept bit, then keep the top half; NaN gets a quiet
 * bit instead so that rounding can never turn it into infinity. */
static inline __m256i bf16_round8(__m256i x) {
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i absx = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
    const __m256i nan = _mm256_cmpgt_epi32(absx, _mm256_set1_epi32(0x7f800000));
    const __m256i q = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(64));
    return _mm256_blendv_epi8(r, q, nan);
}

void float_avx2_bf16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i lo = bf16_round8(_mm256_loadu_si256((const __m256i *)(x + i)));
        const __m256i hi = bf16_round8(_mm256_loadu_si256((const __m256i *)(x + i + 8)));
        /* packus works per 128-bit lane; the permute restores element order */
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
        _mm256_storeu_si256((__m256i *)(y + i), p);
    }
    for (; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}
