/* F32 / BF16 dot products and F16 / BF16 conversions for AVX-512 (F, BW, VL; no BF16 extension,
 * so bf16 is widened to f32 with integer shifts; the F16 dot stays on the faster AVX2 loop, see
 * quant_float.c). Tails use masked loads, so there is no scalar remainder loop. */
#include "float_kernels.h"

#include <immintrin.h>

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

static inline __m512 load_f32(const float *p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
}

static inline __m512 load_bf16(const uint16_t *p, __mmask16 m) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

#define DOT_BODY(T, LOAD)                                                                          \
    const T *x = w, *y = a;                                                                        \
    const __mmask16 all = 0xffff;                                                                  \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                      \
    int64_t i = 0;                                                                                 \
    for (; i + 64 <= n; i += 64) {                                                                 \
        acc0 = _mm512_fmadd_ps(LOAD(x + i, all), LOAD(y + i, all), acc0);                          \
        acc1 = _mm512_fmadd_ps(LOAD(x + i + 16, all), LOAD(y + i + 16, all), acc1);                \
        acc2 = _mm512_fmadd_ps(LOAD(x + i + 32, all), LOAD(y + i + 32, all), acc2);                \
        acc3 = _mm512_fmadd_ps(LOAD(x + i + 48, all), LOAD(y + i + 48, all), acc3);                \
    }                                                                                              \
    for (; i < n; i += 16) {                                                                       \
        const __mmask16 m = tail_mask(n - i);                                                      \
        acc0 = _mm512_fmadd_ps(LOAD(x + i, m), LOAD(y + i, m), acc0);                              \
    }                                                                                              \
    *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));

void float_avx512_f32_dot(int64_t n, float *s, const void *w, const void *a) {
    DOT_BODY(float, load_f32)
}

void float_avx512_bf16_dot(int64_t n, float *s, const void *w, const void *a) {
    DOT_BODY(uint16_t, load_bf16)
}

void float_avx512_f16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m256i h =
            _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(y + i, m, h);
    }
}

/* Same integer rounding as fp32_to_bf16 (see float_avx2.c), 16 lanes at a time. */
void float_avx512_bf16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512i v = _mm512_maskz_loadu_epi32(m, x + i);
        const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(v, 16), _mm512_set1_epi32(1));
        __m512i r = _mm512_srli_epi32(
            _mm512_add_epi32(_mm512_add_epi32(v, _mm512_set1_epi32(0x7fff)), lsb), 16);
        const __m512i absx = _mm512_and_si512(v, _mm512_set1_epi32(0x7fffffff));
        const __mmask16 nan = _mm512_cmpgt_epu32_mask(absx, _mm512_set1_epi32(0x7f800000));
        r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(v, 16), _mm512_set1_epi32(64));
        _mm256_mask_storeu_epi16(y + i, m, _mm512_cvtepi32_epi16(r));
    }
}
