/* AVX2 + F16C attention loops: the cache row is converted 8 lanes at a time, accumulated with FMA.
 */
#include <immintrin.h>

#include "attn_kernels.h"

static float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

float attn_dot_f16_avx2(const float *q, const void *k, int n) {
    const uint16_t *h = k;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i)));
        __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i + 8)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), k0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), k1, acc1);
    }
    for (; i < n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i),
                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))), acc0);
    return hsum(_mm256_add_ps(acc0, acc1));
}

float attn_dot_f32_avx2(const float *q, const void *k, int n) {
    const float *f = k;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(f + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(f + i + 8), acc1);
    }
    for (; i < n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(f + i), acc0);
    return hsum(_mm256_add_ps(acc0, acc1));
}

void attn_axpy_f16_avx2(float *out, float w, const void *v, int n) {
    const uint16_t *h = v;
    __m256 wv = _mm256_set1_ps(w);
    for (int i = 0; i < n; i += 8) {
        __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i)));
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(wv, x, _mm256_loadu_ps(out + i)));
    }
}

void attn_axpy_f32_avx2(float *out, float w, const void *v, int n) {
    const float *f = v;
    __m256 wv = _mm256_set1_ps(w);
    for (int i = 0; i < n; i += 8)
        _mm256_storeu_ps(out + i,
                         _mm256_fmadd_ps(wv, _mm256_loadu_ps(f + i), _mm256_loadu_ps(out + i)));
}

void attn_widen_f16_avx2(float *dst, const void *src, int n) {
    const uint16_t *h = src;
    for (int i = 0; i < n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
}

/* Each block's 32 int8 widen 8 at a time to f32 and scale by d: d * q exactly as the scalar. */
void attn_widen_q8_0_avx2(float *dst, const void *src, int n) {
    const kv_block_q8 *b = src;
    for (int i = 0; i < n; i += KV_Q8_BLOCK, b++) {
        __m256 d = _mm256_cvtph_ps(_mm_set1_epi16((short)b->d));
        __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)b->qs);
        __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(b->qs + 16));
        __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int k = 0; k < 4; k++)
            _mm256_storeu_ps(dst + i + 8 * k,
                             _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k]))));
    }
}

void attn_rows_dot_f16_avx2(const float *q, const void *k, size_t stride, int n, int hd,
                            float scale, float *out) {
    const uint8_t *row = k;
    for (int j = 0; j < n; j++, row += stride) out[j] = attn_dot_f16_avx2(q, row, hd) * scale;
}

/* The output stays in registers across all rows when it fits (head_dim <= 128). */
void attn_rows_axpy_f16_avx2(float *out, const float *w, const void *v, size_t stride, int n,
                             int hd) {
    const uint8_t *base = v;
    if (hd > 128 || hd % 8) {
        for (int j = 0; j < n; j++) attn_axpy_f16_avx2(out, w[j], base + (size_t)j * stride, hd);
        return;
    }
    __m256 acc[16];
    int nv = hd / 8;
    for (int i = 0; i < nv; i++) acc[i] = _mm256_loadu_ps(out + 8 * i);
    for (int j = 0; j < n; j++) {
        const uint16_t *h = (const uint16_t *)(const void *)(base + (size_t)j * stride);
        __m256 wv = _mm256_set1_ps(w[j]);
        for (int i = 0; i < nv; i++)
            acc[i] = _mm256_fmadd_ps(
                wv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 8 * i))), acc[i]);
    }
    for (int i = 0; i < nv; i++) _mm256_storeu_ps(out + 8 * i, acc[i]);
}
