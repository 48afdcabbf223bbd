/* Row loops of the legacy types shared by legacy_avx2.c and legacy_avx512.c (both compiled with
 * AVX2 + FMA + F16C at least; each defines its own dot_s8 / dot_u8 and block functions before
 * expanding the macros). Private to the kernels. */
#ifndef HEARTH_LEGACY_LOOPS_H
#define HEARTH_LEGACY_LOOPS_H

#include <immintrin.h>
#include <string.h>

#include "../quant.h"
#include "legacy_kernels.h"

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 16 bytes of nibbles -> 32 codes 0..15 in element order (low nibbles are elements 0..15):
 * the bytes in both 128-bit lanes, the upper lane shifted right by 4. */
static inline __m256i unpack_nibbles(const uint8_t *qs) {
    const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    const __m256i v = _mm256_srlv_epi64(b, _mm256_setr_epi64x(0, 0, 4, 4));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* d_w * d_a in all lanes (exact: a product of two f16 values fits in a float). Each block starts
 * with its f16 d: a 32-bit load takes it (and two bytes of codes, whose lane is ignored) into a
 * vector, one narrow vcvtph2ps per side widens it, and one broadcast spreads the product —
 * cheaper than broadcasting each f16 across a whole register first. */
static inline __m256 scale2(const void *w, const void *a) {
    uint32_t hw, ha;
    memcpy(&hw, w, sizeof hw);
    memcpy(&ha, a, sizeof ha);
    return _mm256_broadcastss_ps(_mm_mul_ss(_mm_cvtph_ps(_mm_cvtsi32_si128((int)hw)),
                                            _mm_cvtph_ps(_mm_cvtsi32_si128((int)ha))));
}

/* MXFP4: d_a * 2^(e - 128) in all lanes, the same float product as the scalar reference (both
 * factors put into a vector as they are, one narrow multiply, one broadcast: as scale2). */
static inline __m256 mxfp4_scale2(const void *w, const void *a) {
    uint16_t ha;
    memcpy(&ha, a, sizeof ha);
    const int bits = (int)quant_mxfp4_half_scale_bits[((const block_mxfp4 *)w)->e];
    return _mm256_broadcastss_ps(
        _mm_mul_ss(_mm_cvtph_ps(_mm_cvtsi32_si128(ha)), _mm_castsi128_ps(_mm_cvtsi32_si128(bits))));
}

/* MXFP4 codes -> twice their E2M1 values, signed bytes in element order (one vpshufb). */
static inline __m256i mxfp4_codes(const block_mxfp4 *w) {
    const __m256i doubled = _mm256_setr_epi8(MXFP4_DOUBLED_VALUES, MXFP4_DOUBLED_VALUES);
    return _mm256_shuffle_epi8(doubled, unpack_nibbles(w->qs));
}

static inline __m256i load32(const int8_t *p) {
    return _mm256_loadu_si256((const __m256i *)p);
}

static inline __m256 scale_add(__m256i sumi, __m256 d, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), d, acc);
}

/* [d_w * d_a, m_w * s_a] of a _1 block: each side's two leading f16 (d, m / d, s) widened by
 * one vcvtph2ps, multiplied in one go. */
static inline __m128 pair_products(const void *w, const void *a) {
    uint32_t pw, pa;
    memcpy(&pw, w, sizeof pw);
    memcpy(&pa, a, sizeof pa);
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)pw)),
                      _mm_cvtph_ps(_mm_cvtsi32_si128((int)pa)));
}

static inline __m256 scale_sums(__m256i sumi, __m128 p, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_broadcastss_ps(p), acc);
}

/* Row loops, each against nt <= VEC_DOT_MULTI_MAX activation rows a_stride bytes apart: a
 * weight block's codes are formed once (CODES: the file's per-type unpacking) for all rows, and
 * every row goes through the same operations in the same order whatever nt is, so the one-row
 * vec_dot (nt = 1, which the compiler specialises) and the multi-row form agree bit for bit.
 * Two blocks per iteration with separate accumulators hide FMA latency. */
#define LEGACY_ROW(t) ((const void *)((const uint8_t *)va + (size_t)(t)*a_stride))

/* Types without an offset (Q4_0, Q5_0, Q8_0, MXFP4; Q8_0 activations, signed codes). SCALE: the
 * block's d_w * d_a in all lanes (scale2, or mxfp4_scale2). */
#define DEFINE_ROWS_0(NAME, WT, CODES, SCALE)                                                      \
    static inline void NAME##_rows(int64_t n, int nt, float *s, size_t s_stride, const void *vw,   \
                                   const void *va, size_t a_stride) {                              \
        const WT *w = vw;                                                                          \
        const int64_t nb = n / QK_LEGACY;                                                          \
        __m256 acc0[VEC_DOT_MULTI_MAX], acc1[VEC_DOT_MULTI_MAX];                                   \
        for (int t = 0; t < nt; t++) acc0[t] = acc1[t] = _mm256_setzero_ps();                      \
        int64_t ib = 0;                                                                            \
        for (; ib + 2 <= nb; ib += 2) {                                                            \
            const __m256i c0 = CODES(&w[ib]), c1 = CODES(&w[ib + 1]);                              \
            for (int t = 0; t < nt; t++) {                                                         \
                const block_q8_0 *a = LEGACY_ROW(t);                                               \
                acc0[t] = scale_add(dot_s8(c0, load32(a[ib].qs)), SCALE(&w[ib], &a[ib]), acc0[t]); \
                acc1[t] = scale_add(dot_s8(c1, load32(a[ib + 1].qs)),                              \
                                    SCALE(&w[ib + 1], &a[ib + 1]), acc1[t]);                       \
            }                                                                                      \
        }                                                                                          \
        if (ib < nb) {                                                                             \
            const __m256i c0 = CODES(&w[ib]);                                                      \
            for (int t = 0; t < nt; t++) {                                                         \
                const block_q8_0 *a = LEGACY_ROW(t);                                               \
                acc0[t] = scale_add(dot_s8(c0, load32(a[ib].qs)), SCALE(&w[ib], &a[ib]), acc0[t]); \
            }                                                                                      \
        }                                                                                          \
        for (int t = 0; t < nt; t++)                                                               \
            s[(size_t)t * s_stride] = hsum_ps(_mm256_add_ps(acc0[t], acc1[t]));                    \
    }                                                                                              \
    DEFINE_ROW_ENTRIES(NAME)

/* Types with an offset m (Q4_1, Q5_1 against Q8_1 activations, s_a = d_a * sum(a), unsigned
 * codes): each block also adds m_w * s_a, lane 1 of the pair products, summed in a vector beside
 * the two block accumulators (lane 0 there is unused). */
#define DEFINE_ROWS_1(NAME, WT, CODES)                                                             \
    static inline void NAME##_rows(int64_t n, int nt, float *s, size_t s_stride, const void *vw,   \
                                   const void *va, size_t a_stride) {                              \
        const WT *w = vw;                                                                          \
        const int64_t nb = n / QK_LEGACY;                                                          \
        __m256 acc0[VEC_DOT_MULTI_MAX], acc1[VEC_DOT_MULTI_MAX];                                   \
        __m128 offs[VEC_DOT_MULTI_MAX];                                                            \
        for (int t = 0; t < nt; t++) acc0[t] = acc1[t] = _mm256_setzero_ps();                      \
        for (int t = 0; t < nt; t++) offs[t] = _mm_setzero_ps();                                   \
        int64_t ib = 0;                                                                            \
        for (; ib + 2 <= nb; ib += 2) {                                                            \
            const __m256i c0 = CODES(&w[ib]), c1 = CODES(&w[ib + 1]);                              \
            for (int t = 0; t < nt; t++) {                                                         \
                const block_q8_1 *a = LEGACY_ROW(t);                                               \
                const __m128 p0 = pair_products(&w[ib], &a[ib]);                                   \
                const __m128 p1 = pair_products(&w[ib + 1], &a[ib + 1]);                           \
                acc0[t] = scale_sums(dot_u8(c0, load32(a[ib].qs)), p0, acc0[t]);                   \
                acc1[t] = scale_sums(dot_u8(c1, load32(a[ib + 1].qs)), p1, acc1[t]);               \
                offs[t] = _mm_add_ps(offs[t], _mm_add_ps(p0, p1));                                 \
            }                                                                                      \
        }                                                                                          \
        if (ib < nb) {                                                                             \
            const __m256i c0 = CODES(&w[ib]);                                                      \
            for (int t = 0; t < nt; t++) {                                                         \
                const block_q8_1 *a = LEGACY_ROW(t);                                               \
                const __m128 p0 = pair_products(&w[ib], &a[ib]);                                   \
                acc0[t] = scale_sums(dot_u8(c0, load32(a[ib].qs)), p0, acc0[t]);                   \
                offs[t] = _mm_add_ps(offs[t], p0);                                                 \
            }                                                                                      \
        }                                                                                          \
        for (int t = 0; t < nt; t++)                                                               \
            s[(size_t)t * s_stride] = hsum_ps(_mm256_add_ps(acc0[t], acc1[t])) +                   \
                                      _mm_cvtss_f32(_mm_movehdup_ps(offs[t]));                     \
    }                                                                                              \
    DEFINE_ROW_ENTRIES(NAME)

/* The one-row vec_dot and the multi-row form of a _rows loop. */
#define DEFINE_ROW_ENTRIES(NAME)                                                                   \
    void NAME(int64_t n, float *s, const void *w, const void *a) {                                 \
        NAME##_rows(n, 1, s, 0, w, a, 0);                                                          \
    }                                                                                              \
    void NAME##_multi(int64_t n, int nt, float *s, size_t s_stride, const void *w, const void *a,  \
                      size_t a_stride) {                                                           \
        NAME##_rows(n, nt, s, s_stride, w, a, a_stride);                                           \
    }

#endif
