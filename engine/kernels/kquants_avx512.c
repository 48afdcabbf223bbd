/* K-quant dot products (weights x Q8_K) and the Q8_K quantizer for AVX-512 (F/BW/DQ/VL/VNNI).
 * Same arithmetic as the AVX2 file: weights are expanded to unsigned bytes, multiplied with
 * maddubs (u8*s8 -> int16 pairs, no saturation for these ranges) and weighted by the sub-block
 * scales with VNNI dpwssd (int16 pairs -> accumulated int32). Q2_K/Q3_K/Q6_K use zmm vectors
 * of 64 consecutive weights (four 16-element sub-blocks, one per 128-bit lane); Q4_K/Q5_K stay
 * at 256 bits (measured faster). Integer sums per super-block equal the scalar reference
 * exactly; only the per-block scaling is float. */
#include <immintrin.h>
#include <stddef.h>

#include "kquants_kernels.h"

static inline float f16(uint16_t h) {
    return _cvtsh_ss(h);
}

static inline __m128i loadu128(const void *p) {
    return _mm_loadu_si128((const __m128i *)p);
}
static inline __m256i loadu256(const void *p) {
    return _mm256_loadu_si256((const __m256i *)p);
}
static inline __m512i loadu512(const void *p) {
    return _mm512_loadu_si512(p);
}
/* 32 bytes repeated in both halves of a zmm */
static inline __m512i bcast256(const void *p) {
    return _mm512_broadcast_i64x4(loadu256(p));
}

/* Per-half constants: lo for bytes/words 0..31 (or 64-bit lanes 0..3), hi for the rest. */
static inline __m512i halves_epi64(long long lo, long long hi) {
    return _mm512_set_epi64(hi, hi, hi, hi, lo, lo, lo, lo);
}
static inline __m512i halves_epi8(int lo, int hi) {
    return _mm512_inserti64x4(_mm512_set1_epi8((char)lo), _mm256_set1_epi8((char)hi), 1);
}
/* Index vector for vpermw: 128-bit lane i gets word w[i] of the scale vector. */
static inline __m512i lane_words(int w0, int w1, int w2, int w3) {
    return _mm512_set_epi64(w3 * 0x0001000100010001ll, w3 * 0x0001000100010001ll,
                            w2 * 0x0001000100010001ll, w2 * 0x0001000100010001ll,
                            w1 * 0x0001000100010001ll, w1 * 0x0001000100010001ll,
                            w0 * 0x0001000100010001ll, w0 * 0x0001000100010001ll);
}

/* 64 weights (as u8) x 64 activations, weighted by per-lane scales, into sumi. */
static inline __m512i dot64(__m512i sumi, __m512i u, const int8_t *q8, __m512i scales16) {
    return _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(u, loadu512(q8)), scales16);
}

static inline __m256i fold512(__m512i v) {
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---------------------------------------------------------------- Q4_K / Q5_K */

/* Word w of each 128-bit lane broadcast across the lane. */
static inline __m256i word_sel(int w) {
    return _mm256_set1_epi16((short)(((2 * w + 1) << 8) | (2 * w)));
}

/* Q4_K (five = 0) and Q5_K against nt activation rows (a_stride bytes apart; nt <= 8): each
 * weight chunk is unpacked once and used for every row, and every row's sums are formed by the
 * same operations in the same order whatever nt is, so s[t * s_stride] is bit for bit what the
 * one-row call gives (speculative verification relies on it). Chunk c's 32 bytes hold sub-block
 * 2c (low nibbles) and 2c+1 (high nibbles); 256-bit vectors measured faster here than zmm (the
 * widening costs more shuffles), VNNI dpwssd folds the scale multiply and the accumulation into
 * one instruction, and two chains (low / high sub-blocks) hide its latency. */
static inline void dot_q45(int64_t n, int nt, float *s, size_t s_stride, const uint8_t *base,
                           size_t stride, const void *va, size_t a_stride, int five) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), bit4 = _mm256_set1_epi8(0x10);
    __m256 acc[VEC_DOT_MULTI_MAX];
    __m128 accm[VEC_DOT_MULTI_MAX];
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps(), accm[t] = _mm_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++, base += stride) {
        const kq_q45_head h = kq_q45_head_of(base, five);
        /* fifth bits: bit 2c / 2c+1 of qh byte j belongs to weight j of sub-block 2c / 2c+1; a
         * byte-mask test picks them and a masked add sets bit 4 where they are set */
        const __m256i hb =
            five ? loadu256(base + offsetof(block_q5_K, qh)) : _mm256_setzero_si256();
        __m256i sumi[VEC_DOT_MULTI_MAX], sumi_hi[VEC_DOT_MULTI_MAX];
        for (int t = 0; t < nt; t++) sumi[t] = sumi_hi[t] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q4 = loadu256(h.qs + 32 * c);
            __m256i lo = _mm256_and_si256(q4, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            if (five) {
                const __mmask32 lo5 =
                    _mm256_test_epi8_mask(hb, _mm256_set1_epi8((char)(1 << 2 * c)));
                const __mmask32 hi5 =
                    _mm256_test_epi8_mask(hb, _mm256_set1_epi8((char)(2 << 2 * c)));
                lo = _mm256_mask_add_epi8(lo, lo5, lo, bit4);
                hi = _mm256_mask_add_epi8(hi, hi5, hi, bit4);
            }
            const __m256i sc_lo = _mm256_shuffle_epi8(h.sc, word_sel(2 * c));
            const __m256i sc_hi = _mm256_shuffle_epi8(h.sc, word_sel(2 * c + 1));
            for (int t = 0; t < nt; t++) {
                const int8_t *q8 = ((const block_q8_K *)((const uint8_t *)va + t * a_stride))[b].qs;
                sumi[t] = _mm256_dpwssd_epi32(
                    sumi[t], _mm256_maddubs_epi16(lo, loadu256(q8 + 64 * c)), sc_lo);
                sumi_hi[t] = _mm256_dpwssd_epi32(
                    sumi_hi[t], _mm256_maddubs_epi16(hi, loadu256(q8 + 64 * c + 32)), sc_hi);
            }
        }
        for (int t = 0; t < nt; t++)
            kq_q45_accumulate(&h, (const block_q8_K *)((const uint8_t *)va + t * a_stride) + b,
                              _mm256_add_epi32(sumi[t], sumi_hi[t]), &acc[t], &accm[t]);
    }
    for (int t = 0; t < nt; t++)
        s[t * s_stride] = hsum256(acc[t]) - hsum256(_mm256_castps128_ps256(accm[t]));
}

KQ_Q45_ENTRIES(avx512)

/* ---------------------------------------------------------------- Q6_K */

void vec_dot_q6_K_avx512(int64_t n, float *s, const void *vw, const void *va) {
    const block_q6_K *w = vw;
    const block_q8_K *a = va;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    /* qh bits 0-1 / 2-3 (first 64 weights of a half) and 4-5 / 6-7 (last 64) -> bits 4-5 */
    const __m512i shl = halves_epi64(4, 2), shr = halves_epi64(0, 2);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(loadu128(w[b].scales));
        /* codes are stored +32: take 32 * sum sc*bsum back out (scales*-32 fits int16) */
        const __m256i negsc = _mm256_slli_epi16(_mm256_sub_epi16(_mm256_setzero_si256(), sc16), 5);
        const __m512i sc = _mm512_castsi256_si512(sc16);
        const int8_t *q8 = a[b].qs;
        __m512i sumi = _mm512_setzero_si512(), sumi1 = sumi; /* two chains: dpwssd latency */
        for (int h = 0; h < 2; h++) {
            const __m512i ql = loadu512(w[b].ql + 64 * h);
            const __m512i qh = bcast256(w[b].qh + 32 * h);
            const __m512i u0 = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                               _mm512_and_si512(_mm512_sllv_epi64(qh, shl), m30));
            const __m512i u1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                               _mm512_and_si512(_mm512_srlv_epi64(qh, shr), m30));
            const int s0 = 8 * h;
            sumi = dot64(sumi, u0, q8 + 128 * h,
                         _mm512_permutexvar_epi16(lane_words(s0, s0 + 1, s0 + 2, s0 + 3), sc));
            sumi1 = dot64(sumi1, u1, q8 + 128 * h + 64,
                          _mm512_permutexvar_epi16(lane_words(s0 + 4, s0 + 5, s0 + 6, s0 + 7), sc));
        }
        const __m256i tot = _mm256_dpwssd_epi32(fold512(_mm512_add_epi32(sumi, sumi1)),
                                                loadu256(a[b].bsums), negsc);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[b].d * f16(w[b].d)), _mm256_cvtepi32_ps(tot), acc);
    }
    *s = hsum256(acc);
}

/* ---------------------------------------------------------------- Q2_K / Q3_K */

/* The 2-bit walk: half h's 32 qs bytes give groups j = 0..3 at bit 2j; two groups per zmm. */
static inline __m512i sc16_lanes(__m512i sc, int h, int part) {
    const int s0 = 8 * h + 4 * part;
    return _mm512_permutexvar_epi16(lane_words(s0, s0 + 1, s0 + 2, s0 + 3), sc);
}

void vec_dot_q3_K_avx512(int64_t n, float *s, const void *vw, const void *va) {
    const block_q3_K *w = vw;
    const block_q8_K *a = va;
    const __m512i m3 = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
    const __m512i sh01 = halves_epi64(0, 2), sh23 = halves_epi64(4, 6);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(
            _mm_sub_epi8(kq_unpack_q3k_scales_sse(w[b].scales), _mm_set1_epi8(32)));
        /* codes are used +4 (high bit set = no -4): take 4 * sum sc*bsum back out */
        const __m256i negsc = _mm256_slli_epi16(_mm256_sub_epi16(_mm256_setzero_si256(), sc16), 2);
        const __m512i sc = _mm512_castsi256_si512(sc16);
        const __m512i hm = bcast256(w[b].hmask);
        const int8_t *q8 = a[b].qs;
        __m512i sumi = _mm512_setzero_si512(), sumi1 = sumi; /* two chains: dpwssd latency */
        for (int h = 0; h < 2; h++) {
            const __m512i q = bcast256(w[b].qs + 32 * h);
            __m512i u01 = _mm512_and_si512(_mm512_srlv_epi64(q, sh01), m3);
            __m512i u23 = _mm512_and_si512(_mm512_srlv_epi64(q, sh23), m3);
            const int g = 4 * h; /* hmask bit of group j is 4h+j */
            const __mmask64 k01 = _mm512_test_epi8_mask(hm, halves_epi8(1 << g, 2 << g));
            const __mmask64 k23 = _mm512_test_epi8_mask(hm, halves_epi8(4 << g, 8 << g));
            u01 = _mm512_mask_add_epi8(u01, k01, u01, four);
            u23 = _mm512_mask_add_epi8(u23, k23, u23, four);
            sumi = dot64(sumi, u01, q8 + 128 * h, sc16_lanes(sc, h, 0));
            sumi1 = dot64(sumi1, u23, q8 + 128 * h + 64, sc16_lanes(sc, h, 1));
        }
        const __m256i tot = _mm256_dpwssd_epi32(fold512(_mm512_add_epi32(sumi, sumi1)),
                                                loadu256(a[b].bsums), negsc);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[b].d * f16(w[b].d)), _mm256_cvtepi32_ps(tot), acc);
    }
    *s = hsum256(acc);
}

void vec_dot_q2_K_avx512(int64_t n, float *s, const void *vw, const void *va) {
    const block_q2_K *w = vw;
    const block_q8_K *a = va;
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m512i sh01 = halves_epi64(0, 2), sh23 = halves_epi64(4, 6);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m128i raw = loadu128(w[b].scales);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, m4));
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), m4));
        const __m256i msum = _mm256_madd_epi16(mn16, loadu256(a[b].bsums));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        const int8_t *q8 = a[b].qs;
        __m512i sumi = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const __m512i q = bcast256(w[b].qs + 32 * h);
            const __m512i u01 = _mm512_and_si512(_mm512_srlv_epi64(q, sh01), m3);
            const __m512i u23 = _mm512_and_si512(_mm512_srlv_epi64(q, sh23), m3);
            sumi = dot64(sumi, u01, q8 + 128 * h, sc16_lanes(sc, h, 0));
            sumi = dot64(sumi, u23, q8 + 128 * h + 64, sc16_lanes(sc, h, 1));
        }
        const float da = a[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(da * f16(w[b].d)), _mm256_cvtepi32_ps(fold512(sumi)),
                              acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(da * f16(w[b].dmin)), _mm256_cvtepi32_ps(msum), accm);
    }
    *s = hsum256(acc) - hsum256(accm);
}

/* ---------------------------------------------------------------- Q8_K quantizer */

/* Byte-identical to the scalar quantizer (see the AVX2 version for the reasoning). */
void quantize_q8_K_avx512(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    const __m512 lo_clamp = _mm512_set1_ps(-128.0f), hi_clamp = _mm512_set1_ps(127.0f);
    const __m128i flip = _mm_set1_epi8((char)0x80);
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        __m512 vmax = _mm512_setzero_ps(), vmin = _mm512_setzero_ps();
        for (int i = 0; i < QK_K; i += 16) {
            const __m512 v = _mm512_loadu_ps(x + i);
            vmax = _mm512_max_ps(v, vmax); /* NaN in v keeps the accumulator */
            vmin = _mm512_min_ps(v, vmin);
        }
        const float hi = _mm512_reduce_max_ps(vmax), lo = _mm512_reduce_min_ps(vmin);
        float max;
        if (hi > -lo) {
            max = hi;
        } else if (-lo > hi) {
            max = lo;
        } else { /* tie between +a and -a (or all zero): the first one wins */
            max = 0.0f;
            for (int i = 0; i < QK_K; i++)
                if (x[i] == hi || x[i] == lo) {
                    max = x[i];
                    break;
                }
        }
        if (max == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -127.0f / max;
        const __m512 vs = _mm512_set1_ps(iscale);
        for (int i = 0; i < QK_K; i += 16) {
            __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
            v = _mm512_min_ps(_mm512_max_ps(v, lo_clamp), hi_clamp);
            const __m128i q = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
            _mm_storeu_si128((__m128i *)(y[b].qs + i), q);
            /* sum of (q+128) over each 8 bytes, minus 16*128 */
            const __m128i sad = _mm_sad_epu8(_mm_xor_si128(q, flip), _mm_setzero_si128());
            y[b].bsums[i / 16] =
                (int16_t)(_mm_extract_epi16(sad, 0) + _mm_extract_epi16(sad, 4) - 2048);
        }
        y[b].d = 1.0f / iscale;
    }
}
