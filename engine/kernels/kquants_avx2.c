/* K-quant dot products (weights x Q8_K) and the Q8_K activation quantizer for AVX2+FMA+F16C.
 * Scheme: weights are expanded to unsigned bytes (signed formats biased to >= 0; the bias is
 * taken back out through Q8_K's bsums), multiplied with the int8 activations by maddubs
 * (u8*s8 pairs -> int16, never saturating for these ranges), weighted by the sub-block scale
 * with madd (-> int32), and summed per super-block in int32: the integer result equals the
 * scalar reference exactly. Only the per-block scaling is float. */
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kquants_kernels.h"

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float f16(uint16_t h) {
    return _cvtsh_ss(h);
}

static inline __m256i loadu256(const void *p) {
    return _mm256_loadu_si256((const __m256i *)p);
}
static inline __m128i loadu128(const void *p) {
    return _mm_loadu_si128((const __m128i *)p);
}

/* Broadcast of int16 word w of each 128-bit lane (for scales replicated to both lanes). */
static inline __m256i word_sel(int w) {
    return _mm256_set1_epi16((short)(((2 * w + 1) << 8) | (2 * w)));
}

/* Scales of a 32-element group made of two 16-element sub-blocks 2k and 2k+1 of an 8-scale
 * set: the low lane gets word 2k, the high lane word 2k+1. */
static inline __m256i pair_sel(int k) {
    return _mm256_set_m128i(_mm_set1_epi16((short)(((4 * k + 3) << 8) | (4 * k + 2))),
                            _mm_set1_epi16((short)(((4 * k + 1) << 8) | (4 * k))));
}

/* sum over one 32-element group: scale-weighted maddubs */
static inline __m256i group_dot(__m256i u, const int8_t *q8, __m256i scale16) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, loadu256(q8)), scale16);
}

/* ---------------------------------------------------------------- Q4_K / Q5_K */

/* Q4_K (five = 0) and Q5_K against nt <= VEC_DOT_MULTI_MAX activation rows (a_stride bytes
 * apart): each chunk's codes are unpacked once for all rows, and every row's sums are formed by
 * the same operations in the same order whatever nt is, so the one-row vec_dot (nt = 1) and the
 * multi-row form agree bit for bit. For Q5_K, qh bit 2c / 2c+1 of each byte is the fifth bit of
 * chunk c's low / high nibbles; shifting right by 2 per chunk keeps the wanted pair at bits 0..1.
 */
static inline void dot_q45(int64_t n, int nt, float *s, size_t s_stride, const uint8_t *base,
                           size_t stride, const void *va, size_t a_stride, int five) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), bit4 = _mm256_set1_epi8(0x10);
    __m256 acc[VEC_DOT_MULTI_MAX];
    __m128 accm[VEC_DOT_MULTI_MAX];
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps(), accm[t] = _mm_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++, base += stride) {
        const kq_q45_head h = kq_q45_head_of(base, five);
        __m256i hb = five ? loadu256(base + offsetof(block_q5_K, qh)) : _mm256_setzero_si256();
        __m256i sumi[VEC_DOT_MULTI_MAX];
        for (int t = 0; t < nt; t++) sumi[t] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q4 = loadu256(h.qs + 32 * c);
            __m256i lo = _mm256_and_si256(q4, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            if (five) {
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hb, 4), bit4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hb, 3), bit4));
                hb = _mm256_srli_epi16(hb, 2);
            }
            const __m256i sc_lo = _mm256_shuffle_epi8(h.sc, word_sel(2 * c));
            const __m256i sc_hi = _mm256_shuffle_epi8(h.sc, word_sel(2 * c + 1));
            for (int t = 0; t < nt; t++) {
                const int8_t *q8 = ((const block_q8_K *)((const uint8_t *)va + t * a_stride))[b].qs;
                const __m256i p0 = group_dot(lo, q8 + 64 * c, sc_lo);
                const __m256i p1 = group_dot(hi, q8 + 64 * c + 32, sc_hi);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p0, p1));
            }
        }
        for (int t = 0; t < nt; t++)
            kq_q45_accumulate(&h, (const block_q8_K *)((const uint8_t *)va + t * a_stride) + b,
                              sumi[t], &acc[t], &accm[t]);
    }
    for (int t = 0; t < nt; t++)
        s[t * s_stride] = hsum256(acc[t]) - hsum256(_mm256_castps128_ps256(accm[t]));
}

KQ_Q45_ENTRIES(avx2)

/* ---------------------------------------------------------------- Q6_K */

void vec_dot_q6_K_avx2(int64_t n, float *s, const void *vw, const void *va) {
    const block_q6_K *w = vw;
    const block_q8_K *a = va;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(loadu128(w[b].scales));
        /* codes are stored +32: sum sc*(q-32)*a = sum sc*q*a - 32 * sum sc*bsum */
        const __m256i bias = _mm256_madd_epi16(sc16, loadu256(a[b].bsums));
        const int8_t *q8 = a[b].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i sc = _mm256_broadcastsi128_si256(
                h == 0 ? _mm256_castsi256_si128(sc16) : _mm256_extracti128_si256(sc16, 1));
            const __m256i ql0 = loadu256(w[b].ql + 64 * h), ql1 = loadu256(w[b].ql + 64 * h + 32);
            const __m256i qh = loadu256(w[b].qh + 32 * h);
            const __m256i u0 = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                               _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            const __m256i u1 = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                               _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            const __m256i u2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                               _mm256_and_si256(qh, m30));
            const __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
            const int8_t *q = q8 + 128 * h;
            const __m256i p0 = group_dot(u0, q, _mm256_shuffle_epi8(sc, pair_sel(0)));
            const __m256i p1 = group_dot(u1, q + 32, _mm256_shuffle_epi8(sc, pair_sel(1)));
            const __m256i p2 = group_dot(u2, q + 64, _mm256_shuffle_epi8(sc, pair_sel(2)));
            const __m256i p3 = group_dot(u3, q + 96, _mm256_shuffle_epi8(sc, pair_sel(3)));
            sumi = _mm256_add_epi32(
                sumi, _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3)));
        }
        sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(bias, 5));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[b].d * f16(w[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum256(acc);
}

/* ---------------------------------------------------------------- Q3_K */

/* Moves bit g of every byte of v to bit 2 (other bits garbage; caller masks). 16-bit shifts
 * by at most 5 never carry a neighbour byte's bit into bit 2. */
static inline __m256i bit_to_2(__m256i v, int g) {
    switch (g) {
    case 0:
        return _mm256_slli_epi16(v, 2);
    case 1:
        return _mm256_slli_epi16(v, 1);
    case 2:
        return v;
    case 3:
        return _mm256_srli_epi16(v, 1);
    case 4:
        return _mm256_srli_epi16(v, 2);
    case 5:
        return _mm256_srli_epi16(v, 3);
    case 6:
        return _mm256_srli_epi16(v, 4);
    default:
        return _mm256_srli_epi16(v, 5);
    }
}

void vec_dot_q3_K_avx2(int64_t n, float *s, const void *vw, const void *va) {
    const block_q3_K *w = vw;
    const block_q8_K *a = va;
    const __m256i m3 = _mm256_set1_epi8(3), m4b = _mm256_set1_epi8(4);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(
            _mm_sub_epi8(kq_unpack_q3k_scales_sse(w[b].scales), _mm_set1_epi8(32)));
        /* codes stored +4 (high bit set = no -4): take 4 * sum sc*bsum back out */
        const __m256i bias = _mm256_madd_epi16(sc16, loadu256(a[b].bsums));
        const __m256i hm = loadu256(w[b].hmask);
        const int8_t *q8 = a[b].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i sc = _mm256_broadcastsi128_si256(
                h == 0 ? _mm256_castsi256_si128(sc16) : _mm256_extracti128_si256(sc16, 1));
            const __m256i q2 = loadu256(w[b].qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
                const __m256i hi = _mm256_and_si256(bit_to_2(hm, 4 * h + j), m4b);
                const __m256i p = group_dot(_mm256_or_si256(lo, hi), q8 + 128 * h + 32 * j,
                                            _mm256_shuffle_epi8(sc, pair_sel(j)));
                sumi = _mm256_add_epi32(sumi, p);
            }
        }
        sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(bias, 2));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[b].d * f16(w[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum256(acc);
}

/* ---------------------------------------------------------------- Q2_K */

void vec_dot_q2_K_avx2(int64_t n, float *s, const void *vw, const void *va) {
    const block_q2_K *w = vw;
    const block_q8_K *a = va;
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m128i raw = loadu128(w[b].scales);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, m4));
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), m4));
        const __m256i msum = _mm256_madd_epi16(mn16, loadu256(a[b].bsums));
        const int8_t *q8 = a[b].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i sc = _mm256_broadcastsi128_si256(
                h == 0 ? _mm256_castsi256_si128(sc16) : _mm256_extracti128_si256(sc16, 1));
            const __m256i q2 = loadu256(w[b].qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                const __m256i u = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
                const __m256i p =
                    group_dot(u, q8 + 128 * h + 32 * j, _mm256_shuffle_epi8(sc, pair_sel(j)));
                sumi = _mm256_add_epi32(sumi, p);
            }
        }
        const float da = a[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(da * f16(w[b].d)), _mm256_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(da * f16(w[b].dmin)), _mm256_cvtepi32_ps(msum), accm);
    }
    *s = hsum256(acc) - hsum256(accm);
}

/* ---------------------------------------------------------------- Q8_K quantizer */

static inline float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline float hmin256(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* Byte-identical to the scalar quantizer: same max selection (first of the largest magnitude,
 * NaN ignored), same single multiply, same clamp, round-to-nearest-even conversion. */
void quantize_q8_K_avx2(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    const __m256 lo_clamp = _mm256_set1_ps(-128.0f), hi_clamp = _mm256_set1_ps(127.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        /* max/min keep the accumulator (second operand) when x is NaN, like the scalar '>' */
        __m256 vmax = _mm256_setzero_ps(), vmin = _mm256_setzero_ps();
        for (int i = 0; i < QK_K; i += 8) {
            const __m256 v = _mm256_loadu_ps(x + i);
            vmax = _mm256_max_ps(v, vmax);
            vmin = _mm256_min_ps(v, vmin);
        }
        const float hi = hmax256(vmax), lo = hmin256(vmin);
        float max;
        if (hi > -lo) {
            max = hi;
        } else if (-lo > hi) {
            max = lo;
        } else { /* +a and -a both present (or all zero): the first one wins */
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
        const __m256 vs = _mm256_set1_ps(iscale);
        for (int i = 0; i < QK_K; i += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), vs);
                v = _mm256_min_ps(_mm256_max_ps(v, lo_clamp), hi_clamp);
                q[k] = _mm256_cvtps_epi32(v);
            }
            const __m256i p =
                _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            const __m256i bytes = _mm256_permutevar8x32_epi32(p, perm);
            _mm256_storeu_si256((__m256i *)(y[b].qs + i), bytes);
            /* bsums: sum of (q+128) over 8 bytes with sad, two per 16-group, minus 16*128 */
            const __m256i sad =
                _mm256_sad_epu8(_mm256_xor_si256(bytes, flip), _mm256_setzero_si256());
            const __m256i pair = _mm256_add_epi64(sad, _mm256_shuffle_epi32(sad, 0x4e));
            y[b].bsums[i / 16] = (int16_t)(_mm256_extract_epi32(pair, 0) - 2048);
            y[b].bsums[i / 16 + 1] = (int16_t)(_mm256_extract_epi32(pair, 4) - 2048);
        }
        y[b].d = 1.0f / iscale;
    }
}
