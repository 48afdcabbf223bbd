/* The AVX2 + F16C kernel of scan.c (this file is compiled for that ISA only): eight halves
 * widened per step, two accumulators, fused multiply-add. */
#include <immintrin.h>

#include "internal.h"

static float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void index_dot_f16_avx2(const uint16_t *x, int64_t n, int32_t dim, const float *q, float *out) {
    for (int64_t i = 0; i < n; i++) {
        const uint16_t *row = x + i * dim;
        __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
        int32_t j = 0;
        for (; j + 16 <= dim; j += 16) {
            __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j)));
            __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j + 8)));
            a = _mm256_fmadd_ps(x0, _mm256_loadu_ps(q + j), a);
            b = _mm256_fmadd_ps(x1, _mm256_loadu_ps(q + j + 8), b);
        }
        for (; j < dim; j += 8) /* dim is a multiple of 8 */
            a = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j))),
                                _mm256_loadu_ps(q + j), a);
        out[i] = hsum(_mm256_add_ps(a, b));
    }
}

void index_f16_from_f32_avx2(const float *x, size_t n, uint16_t *out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) out[i] = (uint16_t)_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}
