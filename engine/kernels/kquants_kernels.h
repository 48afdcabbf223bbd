/* K-quant block layouts (GGUF/ggml wire format) shared by quant_k.c and its SIMD kernels.
 * Private to engine/. All multi-byte fields are little-endian; f16 fields are IEEE binary16
 * kept as uint16_t. Every super-block covers QK_K = 256 elements.
 *
 * Element order inside a super-block (what the kernels rely on):
 *   Q2_K  two halves of 128; half h uses qs[32h..32h+31]; bits 2j..2j+1 of qs[32h+l] hold
 *         element 128h+32j+l; sub-block (16 elements) s = 8h+2j+l/16 uses scales[s]
 *         (low nibble = scale, high nibble = min): y = d*sc*q - dmin*m.
 *   Q3_K  same 2-bit walk over qs as Q2_K; the third bit of element 128h+32j+l is bit 4h+j of
 *         hmask[l] and, when CLEAR, subtracts 4: q in -4..3. 16 signed 6-bit scales (stored
 *         +32) packed in 12 bytes: low nibbles in bytes 0..7 (scales 0..7 low nibble, 8..15
 *         high nibble), top 2 bits of scale s in bits 2*(s/4) of byte 8+s%4. y = d*(sc-32)*q.
 *   Q4_K  four chunks of 64; chunk c uses qs[32c..32c+31]: low nibbles are elements 64c+l
 *         (sub-block 2c), high nibbles 64c+32+l (sub-block 2c+1). 8 six-bit scales and mins in
 *         12 bytes (see kq_unpack_q4k_scales). y = d*sc*q - dmin*m.
 *   Q5_K  as Q4_K plus a fifth bit: bit 2c of qh[l] for element 64c+l, bit 2c+1 for 64c+32+l.
 *   Q6_K  two halves of 128; half h uses ql[64h..], qh[32h..], scales[8h..]; element
 *         128h+32k+l (k = 0..3, l = 0..31) is nibble (k/2) of ql[64h+32(k&1)+l] with bits
 *         2k..2k+1 of qh[32h+l] on top, minus 32; scale scales[8h+2k+l/16]. y = d*sc*q.
 *   Q8_K  float d, 256 int8, bsums[i] = sum of qs[16i..16i+15]. y = d*q. */
#ifndef HEARTH_KQUANTS_KERNELS_H
#define HEARTH_KQUANTS_KERNELS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

#define QK_K 256

typedef struct {
    uint8_t scales[16];
    uint8_t qs[64];
    uint16_t d;
    uint16_t dmin;
} block_q2_K;

typedef struct {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12];
    uint16_t d;
} block_q3_K;

typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[128];
} block_q4_K;

typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
} block_q5_K;

typedef struct {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
} block_q6_K;

typedef struct {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
} block_q8_K;

static_assert(sizeof(block_q2_K) == 84, "Q2_K block size");
static_assert(sizeof(block_q3_K) == 110, "Q3_K block size");
static_assert(sizeof(block_q4_K) == 144, "Q4_K block size");
static_assert(sizeof(block_q5_K) == 176, "Q5_K block size");
static_assert(sizeof(block_q6_K) == 210, "Q6_K block size");
static_assert(sizeof(block_q8_K) == 292, "Q8_K block size");
/* Q4_K and Q5_K kernels share code that reads d, dmin and scales at the same offsets. */
static_assert(offsetof(block_q4_K, scales) == offsetof(block_q5_K, scales), "Q4_K/Q5_K head");

static inline uint32_t kq_load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Q4_K/Q5_K: 12 packed bytes -> sc[0..7] (bytes 0..7 of *sc) and mins (bytes 0..7 of *mn).
 * Bytes 0..3 hold scales 0..3 in their low 6 bits, bytes 4..7 mins 0..3; bytes 8..11 hold the
 * low nibbles of scales 4..7 (low half) and mins 4..7 (high half), whose top 2 bits sit in
 * bits 6..7 of bytes 0..3 (scales) and 4..7 (mins). Done on 32-bit words: 4 values at once. */
static inline void kq_unpack_q4k_scales(const uint8_t *s12, uint64_t *sc, uint64_t *mn) {
    const uint32_t a0 = kq_load_u32(s12), a1 = kq_load_u32(s12 + 4), a2 = kq_load_u32(s12 + 8);
    const uint32_t sc_lo = a0 & 0x3f3f3f3fu;
    const uint32_t mn_lo = a1 & 0x3f3f3f3fu;
    const uint32_t sc_hi = (a2 & 0x0f0f0f0fu) | (((a0 >> 6) & 0x03030303u) << 4);
    const uint32_t mn_hi = ((a2 >> 4) & 0x0f0f0f0fu) | (((a1 >> 6) & 0x03030303u) << 4);
    *sc = (uint64_t)sc_lo | ((uint64_t)sc_hi << 32);
    *mn = (uint64_t)mn_lo | ((uint64_t)mn_hi << 32);
}

/* Q3_K: 12 packed bytes -> 16 scales as stored (0..63, i.e. +32 biased), out[0..15]. */
static inline void kq_unpack_q3k_scales(const uint8_t *s12, uint8_t out[16]) {
    const uint32_t a0 = kq_load_u32(s12), a1 = kq_load_u32(s12 + 4), a2 = kq_load_u32(s12 + 8);
    const uint32_t w[4] = {
        (a0 & 0x0f0f0f0fu) | ((a2 & 0x03030303u) << 4),
        (a1 & 0x0f0f0f0fu) | (((a2 >> 2) & 0x03030303u) << 4),
        ((a0 >> 4) & 0x0f0f0f0fu) | (((a2 >> 4) & 0x03030303u) << 4),
        ((a1 >> 4) & 0x0f0f0f0fu) | (((a2 >> 6) & 0x03030303u) << 4),
    };
    memcpy(out, w, 16);
}

#if defined(__AVX2__)
#include <immintrin.h>
/* kq_unpack_q4k_scales in SSE registers: bytes 0..7 = scales, 8..15 = mins. Reads 16 bytes at
 * s12 (the 12 scale bytes and the 4 that follow, always inside a Q4_K/Q5_K block). */
static inline __m128i kq_unpack_q4k_scales_sse(const uint8_t *s12) {
    const __m128i v = _mm_loadu_si128((const __m128i *)s12); /* words a0 a1 a2 - */
    const __m128i x = _mm_shuffle_epi32(v, 0x98);            /* a0 a2 a1 a2 */
    const __m128i y = _mm_shuffle_epi32(v, 0x50);            /* a0 a0 a1 a1 */
    const __m128i low =
        _mm_and_si128(_mm_srlv_epi32(x, _mm_setr_epi32(0, 0, 0, 4)),
                      _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    const __m128i top =
        _mm_and_si128(_mm_srli_epi32(y, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128(low, top); /* words: sc0-3 sc4-7 mn0-3 mn4-7 */
}

/* kq_unpack_q3k_scales in an SSE register (stored values 0..63, bytes in scale order). Takes
 * the three 32-bit words: a 16-byte load would run past the end of a row's last block. */
static inline __m128i kq_unpack_q3k_scales_sse(const uint8_t *s12) {
    const uint32_t a0 = kq_load_u32(s12), a1 = kq_load_u32(s12 + 4), a2 = kq_load_u32(s12 + 8);
    const __m128i x = _mm_setr_epi32((int)a0, (int)a1, (int)a0, (int)a1);
    const __m128i low =
        _mm_and_si128(_mm_srlv_epi32(x, _mm_setr_epi32(0, 0, 4, 4)), _mm_set1_epi8(15));
    const __m128i h = _mm_srlv_epi32(_mm_set1_epi32((int)a2), _mm_setr_epi32(0, 2, 4, 6));
    return _mm_or_si128(low, _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi8(3)), 4));
}

/* What a Q4_K / Q5_K super-block's dot needs besides its codes, the same on every ISA. */
typedef struct {
    float d, dmin;
    const uint8_t *qs; /* the 128 bytes of nibbles */
    __m256i sc;        /* the 8 sub-block scales as int16, in both 128-bit lanes */
    __m128i mins;      /* the 8 sub-block mins as int16 */
} kq_q45_head;

static inline kq_q45_head kq_q45_head_of(const uint8_t *blk, int five) {
    uint16_t dh, dminh;
    memcpy(&dh, blk + offsetof(block_q4_K, d), 2);
    memcpy(&dminh, blk + offsetof(block_q4_K, dmin), 2);
    const __m256i scmn =
        _mm256_cvtepu8_epi16(kq_unpack_q4k_scales_sse(blk + offsetof(block_q4_K, scales)));
    return (kq_q45_head){_cvtsh_ss(dh), _cvtsh_ss(dminh),
                         blk + (five ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs)),
                         _mm256_broadcastsi128_si256(_mm256_castsi256_si128(scmn)),
                         _mm256_extracti128_si256(scmn, 1)};
}

/* One activation row's float part of a super-block: acc += d_a d sumi, and accm += d_a dmin
 * (mins . bsum pairs), which the caller subtracts at the end. */
static inline void kq_q45_accumulate(const kq_q45_head *h, const block_q8_K *a, __m256i sumi,
                                     __m256 *acc, __m128 *accm) {
    const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)a->bsums),
                                      _mm_loadu_si128((const __m128i *)(a->bsums + 8)));
    const __m128i msum = _mm_madd_epi16(h->mins, bs);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(a->d * h->d), _mm256_cvtepi32_ps(sumi), *acc);
    *accm = _mm_fmadd_ps(_mm_set1_ps(a->d * h->dmin), _mm_cvtepi32_ps(msum), *accm);
}
#endif

/* SIMD kernels (kquants_avx2.c / kquants_avx512.c); called only on CPUs with the ISA. */
/* SIMD kernels, defined in the files compiled for their ISA. quant_k.c puts them in the table:
 * code in those files may use the ISA anywhere, so none of it runs before the CPU check. */
#define KQ_DECLARE(isa)                                                                            \
    void vec_dot_q2_K_##isa(int64_t n, float *s, const void *w, const void *a);                    \
    void vec_dot_q3_K_##isa(int64_t n, float *s, const void *w, const void *a);                    \
    void vec_dot_q4_K_##isa(int64_t n, float *s, const void *w, const void *a);                    \
    void vec_dot_q5_K_##isa(int64_t n, float *s, const void *w, const void *a);                    \
    void vec_dot_q6_K_##isa(int64_t n, float *s, const void *w, const void *a);                    \
    void quantize_q8_K_##isa(const float *x, void *y, int64_t n);
KQ_DECLARE(avx2)
KQ_DECLARE(avx512)
#undef KQ_DECLARE

/* The one-row and multi-row entry points of a kernel file's static dot_q45(n, nt, s, s_stride,
 * w, w_stride, a, a_stride, five) for Q4_K (five = 0) and Q5_K (five = 1). */
#define KQ_Q45_ENTRIES(isa)                                                                        \
    void vec_dot_q4_K_##isa(int64_t n, float *s, const void *w, const void *a) {                   \
        dot_q45(n, 1, s, 0, w, sizeof(block_q4_K), a, 0, 0);                                       \
    }                                                                                              \
    void vec_dot_q5_K_##isa(int64_t n, float *s, const void *w, const void *a) {                   \
        dot_q45(n, 1, s, 0, w, sizeof(block_q5_K), a, 0, 1);                                       \
    }                                                                                              \
    void vec_dot_multi_q4_K_##isa(int64_t n, int nt, float *s, size_t s_stride, const void *w,     \
                                  const void *a, size_t a_stride) {                                \
        dot_q45(n, nt, s, s_stride, w, sizeof(block_q4_K), a, a_stride, 0);                        \
    }                                                                                              \
    void vec_dot_multi_q5_K_##isa(int64_t n, int nt, float *s, size_t s_stride, const void *w,     \
                                  const void *a, size_t a_stride) {                                \
        dot_q45(n, nt, s, s_stride, w, sizeof(block_q5_K), a, a_stride, 1);                        \
    }

/* Multi-row forms (vec_dot_multi_fn, quant.h) */
void vec_dot_multi_q4_K_avx2(int64_t n, int nt, float *s, size_t s_stride, const void *w,
                             const void *a, size_t a_stride);
void vec_dot_multi_q5_K_avx2(int64_t n, int nt, float *s, size_t s_stride, const void *w,
                             const void *a, size_t a_stride);
void vec_dot_multi_q4_K_avx512(int64_t n, int nt, float *s, size_t s_stride, const void *w,
                               const void *a, size_t a_stride);
void vec_dot_multi_q5_K_avx512(int64_t n, int nt, float *s, size_t s_stride, const void *w,
                               const void *a, size_t a_stride);

#endif
