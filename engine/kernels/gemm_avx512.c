/* Prefill tile kernels for AVX-512 (F, BW, DQ, VL, VNNI). See gemm_kernels.h for the scheme.
 *
 * Panel: 16 weight rows, one per 32-bit lane of a zmm, with every code decoded to its signed
 * int8 value (Q4_0: q - 8, Q6_K: q - 32, MXFP4: twice its E2M1 value, ...). Register tile: 16 rows
 * x 8 tokens. Per 32 elements and token: 8 vpdpbusd (u8 activation broadcast x s8 weights, 4
 * products summed per lane, no int16 saturation) plus the float scaling - ~13 zmm operations for
 * 512 multiply-adds, where vec_dot needs ~6 per 32.
 *
 * Activations are made unsigned by gemm_prep (code + 128, i.e. XOR 0x80): vpdpbusd then computes
 * sum (a + 128) * w, and the panel carries -128 * sum(w) per row and (sub-)block as the initial
 * value of the integer accumulator, so every integer block sum is the exact signed dot.
 *
 * Packing puts the same 4 bytes of 16 rows into one zmm by loading each row's 32 bytes and
 * transposing in registers (load_rows_t; vpgatherdd made packing cost as much as ~10 tokens of
 * tile work, which small batches do not amortize). Rows past the end are masked off and pack as
 * zero scales, so they add nothing and are never stored. */
#include "gemm_kernels.h"

#include "kquants_kernels.h"
#include "legacy_kernels.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#define PR 16 /* weight rows per panel (zmm lanes) */
#define TC 8  /* tokens per register tile */

/* The caller's 4 bytes at p in all 16 lanes. */
static inline __m512i bcast32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

static inline float f16_load(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline __m512 bcast_f16(const uint8_t *p) {
    return _mm512_set1_ps(f16_load(p));
}

static inline __m512 bcast_f32(const uint8_t *p) {
    float f;
    memcpy(&f, p, 4);
    return _mm512_set1_ps(f);
}

/* Lane r: byte offset r * stride (gather indices; the driver keeps them in int32 range). */
static inline __m512i row_offsets(size_t stride) {
    return _mm512_mullo_epi32(
        _mm512_set1_epi32((int)stride),
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* 4 bytes at p + r * stride for each row r set in m, 0 elsewhere. */
static inline __m512i gather(const uint8_t *p, __m512i idx, __mmask16 m) {
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, p, 1);
}

/* The same as gather(p + 4j, ...) for j < 8, without gathers: the first `bytes` (<= 32) bytes at
 * p + r * stride of each row r in m, transposed so that v[j] lane r = bytes 4j..4j+3 of row r
 * (0 past `bytes` and for rows not in m). Row loads plus an 8x8 dword transpose done on both
 * 256-bit halves at once (rows 0-7 low, 8-15 high): far cheaper than vpgatherdd, whose cost
 * dominated packing and so every small batch. Masked loads read nothing past `bytes`. */
static inline __attribute__((always_inline)) void
load_rows_t(const uint8_t *p, size_t stride, __mmask16 m, int bytes, __m512i v[8]) {
    const __mmask32 bm = bytes >= 32 ? 0xffffffffu : (__mmask32)((1u << bytes) - 1);
    __m512i z[8], t[8];
    for (int i = 0; i < 8; i++) { /* a row not in m loads nothing (all-zero byte mask) */
        const __mmask32 lm = (__mmask32)(-(m >> i & 1u)) & bm;
        const __mmask32 hm = (__mmask32)(-(m >> (i + 8) & 1u)) & bm;
        const __m256i lo = _mm256_maskz_loadu_epi8(lm, p + (size_t)i * stride);
        const __m256i hi = _mm256_maskz_loadu_epi8(hm, p + (size_t)(i + 8) * stride);
        z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    for (int i = 0; i < 8; i += 2) { /* dwords of row pairs interleaved, per 128-bit lane */
        t[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) { /* then qword pairs: each 128-bit lane = one dword, 4 rows */
        z[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        z[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        z[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        z[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* z[k] (k < 4) holds dwords k (lane 0) and k + 4 (lane 1) of rows 0-3 and of rows 8-11 (lanes
     * 2, 3); z[k + 4] the same for rows 4-7 and 12-15. Join rows 0-3 with 4-7 per dword. */
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i second = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int k = 0; k < 4; k++) {
        v[k] = _mm512_permutex2var_epi64(z[k], first, z[k + 4]);
        v[k + 4] = _mm512_permutex2var_epi64(z[k], second, z[k + 4]);
    }
}

/* The f16 in the low half of each lane, as float. */
static inline __m512 low_f16(__m512i v) {
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

/* MXFP4: 2^(e - 128) (mxfp4_half_scale) of the E8M0 byte in the low byte of each lane, 0 in
 * lanes outside m (rows past the end). */
static inline __m512 mxfp4_half_scales(__m512i v, __mmask16 m) {
    const __m512i e = _mm512_and_si512(v, _mm512_set1_epi32(0xff));
    __m512i bits = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
    const __mmask16 tiny = _mm512_cmplt_epi32_mask(e, _mm512_set1_epi32(2)); /* e = 0, 1 */
    bits = _mm512_mask_sllv_epi32(bits, tiny, _mm512_set1_epi32(0x00200000), e);
    const __mmask16 nan = _mm512_cmpeq_epi32_mask(e, _mm512_set1_epi32(0xff));
    bits = _mm512_mask_mov_epi32(bits, nan, _mm512_set1_epi32(0x7fc00000));
    return _mm512_castsi512_ps(_mm512_maskz_mov_epi32(m, bits));
}

/* -128 * sum of the int8 values of slices v[0..k), per lane: the u8-offset correction. */
static inline __m512i offset_corr(const __m512i *v, int k) {
    const __m512i u128 = _mm512_set1_epi8((char)0x80);
    __m512i sum = _mm512_setzero_si512();
    for (int j = 0; j < k; j++) sum = _mm512_dpbusd_epi32(sum, u128, v[j]);
    return _mm512_sub_epi32(_mm512_setzero_si512(), sum);
}

/* Bits 0..3 of each lane's x -> bit 4 of bytes 0..3: the four copies x << 7i put bit i at bit 8i
 * and nowhere else on a byte's bit 0, so the multiply neither collides nor carries. */
static inline __m512i nibble_bits_to_bit4(__m512i x) {
    const __m512i t = _mm512_and_si512(x, _mm512_set1_epi32(0xf));
    const __m512i spread = _mm512_mullo_epi32(t, _mm512_set1_epi32(0x00204081));
    return _mm512_slli_epi32(_mm512_and_si512(spread, _mm512_set1_epi32(0x01010101)), 4);
}

/* In-place flip of the 256-bit groups of activation codes: n/32 groups, `stride` bytes apart,
 * the first at `off`. */
static inline void flip_codes(uint8_t *a, int64_t groups, size_t stride, size_t off) {
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int64_t g = 0; g < groups; g++) {
        uint8_t *p = a + off + (size_t)g * stride;
        _mm256_storeu_si256((__m256i *)p,
                            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)p), flip));
    }
}

void gemm_prep_q8_0_avx512(void *a, int64_t n) {
    flip_codes(a, n / QK_LEGACY, sizeof(block_q8_0), offsetof(block_q8_0, qs));
}

void gemm_prep_q8_1_avx512(void *a, int64_t n) {
    flip_codes(a, n / QK_LEGACY, sizeof(block_q8_1), offsetof(block_q8_1, qs));
}

void gemm_prep_q8_K_avx512(void *a, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++)
        flip_codes((uint8_t *)a + b * sizeof(block_q8_K), 8, 32, offsetof(block_q8_K, qs));
}

/* The shared driver: panels of 16 rows, K-chunks of at most KBMAX blocks of QKB elements, full
 * tiles of 8 tokens and one remainder tile. TILE is called with a constant token count so it
 * unrolls; add tells it to accumulate into y (K-chunks after the first). Strides too large for
 * int32 gather offsets (rows > 128 MiB) fall back to one-row panels (offset 0 only). */
#define DEFINE_GEMM(NAME, PANEL, KBMAX, QKB, WBLK, ABLK, PACK, TILE)                               \
    void NAME(int64_t n, int nr, int nc, const void *vw, size_t w_stride, const void *va,          \
              size_t a_stride, float *y, size_t ldy) {                                             \
        const uint8_t *w = vw, *a = va;                                                            \
        const int64_t nb = n / (QKB);                                                              \
        const int64_t chunks = (nb + (KBMAX)-1) / (KBMAX);                                         \
        const int step = w_stride <= (size_t)INT32_MAX / PR ? PR : 1;                              \
        _Alignas(64) PANEL panel;                                                                  \
        for (int r0 = 0; r0 < nr; r0 += step) {                                                    \
            const int rows = nr - r0 < step ? nr - r0 : step;                                      \
            const __mmask16 m = (__mmask16)((1u << rows) - 1);                                     \
            const uint8_t *wp = w + (size_t)r0 * w_stride;                                         \
            for (int64_t c = 0; c < chunks; c++) {                                                 \
                const int64_t b0 = nb * c / chunks;                                                \
                const int kb = (int)(nb * (c + 1) / chunks - b0);                                  \
                PACK(&panel, wp + (size_t)b0 * (WBLK), w_stride, m, kb);                           \
                const uint8_t *ac = a + (size_t)b0 * (ABLK);                                       \
                float *yc = y + r0;                                                                \
                const bool add = c > 0;                                                            \
                int t = 0;                                                                         \
                for (; t + TC <= nc; t += TC)                                                      \
                    TILE(&panel, kb, ac + t * a_stride, a_stride, yc + t * ldy, ldy, m, add, TC);  \
                ac += t * a_stride;                                                                \
                yc += t * ldy;                                                                     \
                switch (nc - t) {                                                                  \
                case 7:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, m, add, 7);                            \
                    break;                                                                         \
                case 6:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, m, add, 6);                            \
                    break;                                                                         \
                case 5:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, m, add, 5);                            \
                    break;                                                                         \
                case 4:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, m, add, 4);                            \
                    break;                                                                         \
                case 3:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, m, add, 3);                            \
                    break;                                                                         \
                case 2:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, m, add, 2);                            \
                    break;                                                                         \
                case 1:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, m, add, 1);                            \
                    break;                                                                         \
                default:                                                                           \
                    break;                                                                         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* Writes (or adds) the C finished accumulators of a tile: lanes are rows, one store per token. */
static inline __attribute__((always_inline)) void
store_tile(const __m512 *acc, float *y, size_t ldy, __mmask16 m, bool add, const int C) {
    for (int t = 0; t < C; t++) {
        float *yt = y + t * ldy;
        __m512 v = acc[t];
        if (add) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, yt));
        _mm512_mask_storeu_ps(yt, m, v);
    }
}

/* ----------------------------------------------- legacy: Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 MXFP4 */

/* Blocks per K-chunk: the panel (704 bytes per block) stays ~60 KiB, on the stack, in L2. */
#define LEG_KB 88

typedef struct {
    int8_t qs[LEG_KB][8][64]; /* block b, slice j: lane r = values 4j..4j+3 of row r */
    int32_t corr[LEG_KB][PR]; /* -128 * sum of row r's values in block b */
    float d[LEG_KB][PR];      /* row r's block scale */
    float m[LEG_KB][PR];      /* the _1 types' block offset */
} leg_panel;

/* Decodes kb blocks of type T (a constant at every call site) for the rows in m. */
static inline __attribute__((always_inline)) void
pack_legacy(leg_panel *p, const uint8_t *w, size_t stride, __mmask16 m, int kb, const int T) {
    const size_t bsz = T == TT_Q8_0   ? sizeof(block_q8_0)
                       : T == TT_Q4_0 ? sizeof(block_q4_0)
                       : T == TT_Q4_1 ? sizeof(block_q4_1)
                       : T == TT_Q5_0 ? sizeof(block_q5_0)
                       : T == TT_Q5_1 ? sizeof(block_q5_1)
                                      : sizeof(block_mxfp4);
    const size_t qs = T == TT_Q8_0   ? offsetof(block_q8_0, qs)
                      : T == TT_Q4_0 ? offsetof(block_q4_0, qs)
                      : T == TT_Q4_1 ? offsetof(block_q4_1, qs)
                      : T == TT_Q5_0 ? offsetof(block_q5_0, qs)
                      : T == TT_Q5_1 ? offsetof(block_q5_1, qs)
                                     : offsetof(block_mxfp4, qs);
    const size_t qh = T == TT_Q5_0 ? offsetof(block_q5_0, qh) : offsetof(block_q5_1, qh);
    const bool five = T == TT_Q5_0 || T == TT_Q5_1, one = T == TT_Q4_1 || T == TT_Q5_1;
    const __m512i idx = row_offsets(stride), m4 = _mm512_set1_epi8(0x0f);
    for (int b = 0; b < kb; b++) {
        const uint8_t *blk = w + (size_t)b * bsz;
        __m512i v[8];
        if (T == TT_Q8_0) {
            load_rows_t(blk + qs, stride, m, 32, v);
        } else {
            /* byte l of qs: element l (low nibble) and l + 16 (high nibble) */
            __m512i q[8];
            load_rows_t(blk + qs, stride, m, 16, q);
            for (int k = 0; k < 4; k++) {
                v[k] = _mm512_and_si512(q[k], m4);
                v[k + 4] = _mm512_and_si512(_mm512_srli_epi16(q[k], 4), m4);
            }
            if (five) {
                const __m512i h = gather(blk + qh, idx, m); /* bit j: fifth bit of element j */
                for (int j = 0; j < 8; j++)
                    v[j] = _mm512_or_si512(v[j], nibble_bits_to_bit4(_mm512_srli_epi32(h, 4 * j)));
            }
            if (T == TT_Q4_0 || T == TT_Q5_0) {
                const __m512i bias = _mm512_set1_epi8(T == TT_Q4_0 ? 8 : 16);
                for (int j = 0; j < 8; j++) v[j] = _mm512_sub_epi8(v[j], bias);
            }
            if (T == TT_MXFP4) {
                const __m512i doubled = _mm512_broadcast_i32x4(_mm_setr_epi8(MXFP4_DOUBLED_VALUES));
                for (int j = 0; j < 8; j++) v[j] = _mm512_shuffle_epi8(doubled, v[j]);
            }
        }
        for (int j = 0; j < 8; j++) _mm512_store_si512(p->qs[b][j], v[j]);
        _mm512_store_si512(p->corr[b], offset_corr(v, 8));
        if (T == TT_MXFP4)
            _mm512_store_ps(p->d[b], mxfp4_half_scales(gather(blk, idx, m), m));
        else
            _mm512_store_ps(p->d[b], low_f16(gather(blk, idx, m)));
        if (one) _mm512_store_ps(p->m[b], low_f16(gather(blk + 2, idx, m)));
    }
}

/* 16 rows x C tokens over kb blocks. ONE: the _1 types, against Q8_1 activations (d, s, qs),
 * which add m * s per block; else Q8_0 activations (d, qs). */
static inline __attribute__((always_inline)) void
tile_legacy(const leg_panel *p, int kb, const uint8_t *a, size_t a_stride, float *y, size_t ldy,
            __mmask16 m, bool add, const int C, const bool ONE) {
    const size_t ablk = ONE ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t aqs = ONE ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    __m512 acc[TC];
    for (int t = 0; t < C; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < kb; b++) {
        const uint8_t *ab = a + (size_t)b * ablk;
        __m512i s[TC];
        const __m512i corr = _mm512_load_si512(p->corr[b]);
        for (int t = 0; t < C; t++) s[t] = corr;
        for (int j = 0; j < 8; j++) {
            const __m512i wj = _mm512_load_si512(p->qs[b][j]);
            for (int t = 0; t < C; t++)
                s[t] = _mm512_dpbusd_epi32(s[t], bcast32(ab + t * a_stride + aqs + 4 * j), wj);
        }
        const __m512 dw = _mm512_load_ps(p->d[b]);
        for (int t = 0; t < C; t++) {
            const __m512 sc = _mm512_mul_ps(dw, bcast_f16(ab + t * a_stride));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), sc, acc[t]);
        }
        if (ONE) {
            const __m512 mw = _mm512_load_ps(p->m[b]);
            for (int t = 0; t < C; t++)
                acc[t] = _mm512_fmadd_ps(mw, bcast_f16(ab + t * a_stride + 2), acc[t]);
        }
    }
    store_tile(acc, y, ldy, m, add, C);
}

#define LEGACY(T, ONE, name)                                                                       \
    static void pack_##name(leg_panel *p, const uint8_t *w, size_t stride, __mmask16 m, int kb) {  \
        pack_legacy(p, w, stride, m, kb, T);                                                       \
    }                                                                                              \
    static inline __attribute__((always_inline)) void tile_##name(                                 \
        const leg_panel *p, int kb, const uint8_t *a, size_t a_stride, float *y, size_t ldy,       \
        __mmask16 m, bool add, const int C) {                                                      \
        tile_legacy(p, kb, a, a_stride, y, ldy, m, add, C, ONE);                                   \
    }                                                                                              \
    DEFINE_GEMM(gemm_##name##_avx512, leg_panel, LEG_KB, QK_LEGACY, sizeof(block_##name),          \
                ONE ? sizeof(block_q8_1) : sizeof(block_q8_0), pack_##name, tile_##name)

LEGACY(TT_Q8_0, false, q8_0)
LEGACY(TT_Q4_0, false, q4_0)
LEGACY(TT_Q5_0, false, q5_0)
LEGACY(TT_Q4_1, true, q4_1)
LEGACY(TT_Q5_1, true, q5_1)
LEGACY(TT_MXFP4, false, mxfp4)

/* ------------------------------------------------------------------------ Q4_K / Q5_K */

/* Super-blocks per K-chunk: 5.6 KiB each, ~56 KiB per panel. */
#define K_KB 10

typedef struct {
    int8_t qs[K_KB][64][64];   /* super-block b, slice j: lane r = values 4j..4j+3 of row r */
    int32_t corr[K_KB][8][PR]; /* -128 * sum of each 32-element sub-block's values */
    float dsc[K_KB][8][PR];    /* d * scale of each sub-block */
    int32_t mins[K_KB][8][PR]; /* each sub-block's min m, twice (int16 pair m, m) */
    float dmin[K_KB][PR];
} q45k_panel;

static inline __attribute__((always_inline)) void
pack_q45k(q45k_panel *p, const uint8_t *w, size_t stride, __mmask16 m, int kb, const bool five) {
    const size_t bsz = five ? sizeof(block_q5_K) : sizeof(block_q4_K);
    const size_t qs = five ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i one = _mm512_set1_epi8(1);
    for (int b = 0; b < kb; b++) {
        const uint8_t *blk = w + (size_t)b * bsz;
        /* chunk c (64 elements): qs[32c + l] low nibble = element 64c + l, high = 64c + 32 + l;
         * Q5_K's fifth bits: bit 2c / 2c + 1 of qh[l] */
        __m512i qh[8];
        if (five) load_rows_t(blk + offsetof(block_q5_K, qh), stride, m, 32, qh);
        for (int c = 0; c < 4; c++) {
            __m512i lo[8], hi[8], q[8];
            load_rows_t(blk + qs + 32 * c, stride, m, 32, q);
            for (int g = 0; g < 8; g++) {
                lo[g] = _mm512_and_si512(q[g], m4);
                hi[g] = _mm512_and_si512(_mm512_srli_epi16(q[g], 4), m4);
                if (five) {
                    const __m512i h = qh[g];
                    const __m512i h0 = _mm512_and_si512(_mm512_srli_epi16(h, 2 * c), one);
                    const __m512i h1 = _mm512_and_si512(_mm512_srli_epi16(h, 2 * c + 1), one);
                    lo[g] = _mm512_or_si512(lo[g], _mm512_slli_epi16(h0, 4));
                    hi[g] = _mm512_or_si512(hi[g], _mm512_slli_epi16(h1, 4));
                }
                _mm512_store_si512(p->qs[b][16 * c + g], lo[g]);
                _mm512_store_si512(p->qs[b][16 * c + 8 + g], hi[g]);
            }
            _mm512_store_si512(p->corr[b][2 * c], offset_corr(lo, 8));
            _mm512_store_si512(p->corr[b][2 * c + 1], offset_corr(hi, 8));
        }
        /* scales: per row, scalar (16 rows x 12 bytes; noise next to the codes) */
        for (int r = 0; r < PR; r++) {
            float d = 0.0f, dmin = 0.0f;
            uint64_t sc = 0, mn = 0;
            if (m >> r & 1) {
                const uint8_t *br = blk + (size_t)r * stride;
                d = f16_load(br + offsetof(block_q4_K, d));
                dmin = f16_load(br + offsetof(block_q4_K, dmin));
                kq_unpack_q4k_scales(br + offsetof(block_q4_K, scales), &sc, &mn);
            }
            for (int s = 0; s < 8; s++) {
                const int32_t mi = (int32_t)(mn >> (8 * s) & 0xff);
                p->dsc[b][s][r] = d * (float)(sc >> (8 * s) & 0xff);
                p->mins[b][s][r] = mi | mi << 16;
            }
            p->dmin[b][r] = dmin;
        }
    }
}

/* 16 rows x C tokens over kb super-blocks against Q8_K activations (float d, qs, bsums).
 * Per super-block: f = sum over sub-blocks of isum * d * sc (float), mins = sum m * (bsum pair)
 * (vpdpwssd on the two 16-element bsums of each sub-block), result da * (f - dmin * mins). */
static inline __attribute__((always_inline)) void tile_q45k(const q45k_panel *p, int kb,
                                                            const uint8_t *a, size_t a_stride,
                                                            float *y, size_t ldy, __mmask16 m,
                                                            bool add, const int C) {
    __m512 acc[TC], f[TC];
    for (int t = 0; t < C; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < kb; b++) {
        const uint8_t *ab = a + (size_t)b * sizeof(block_q8_K);
        const uint8_t *aq = ab + offsetof(block_q8_K, qs);
        __m512i s[TC];
        for (int t = 0; t < C; t++) f[t] = _mm512_setzero_ps();
        for (int sb = 0; sb < 8; sb++) {
            const __m512i corr = _mm512_load_si512(p->corr[b][sb]);
            for (int t = 0; t < C; t++) s[t] = corr;
            for (int j = 0; j < 8; j++) {
                const __m512i wj = _mm512_load_si512(p->qs[b][8 * sb + j]);
                for (int t = 0; t < C; t++)
                    s[t] =
                        _mm512_dpbusd_epi32(s[t], bcast32(aq + t * a_stride + 32 * sb + 4 * j), wj);
            }
            const __m512 dsc = _mm512_load_ps(p->dsc[b][sb]);
            for (int t = 0; t < C; t++) f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), dsc, f[t]);
        }
        const uint8_t *bs = ab + offsetof(block_q8_K, bsums);
        for (int t = 0; t < C; t++) s[t] = _mm512_setzero_si512();
        for (int sb = 0; sb < 8; sb++) {
            const __m512i mn = _mm512_load_si512(p->mins[b][sb]);
            for (int t = 0; t < C; t++)
                s[t] = _mm512_dpwssd_epi32(s[t], mn, bcast32(bs + t * a_stride + 4 * sb));
        }
        const __m512 dmin = _mm512_load_ps(p->dmin[b]);
        for (int t = 0; t < C; t++) {
            const __m512 v = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(s[t]), dmin, f[t]);
            acc[t] = _mm512_fmadd_ps(v, bcast_f32(ab + t * a_stride), acc[t]);
        }
    }
    store_tile(acc, y, ldy, m, add, C);
}

static void pack_q4_K(q45k_panel *p, const uint8_t *w, size_t stride, __mmask16 m, int kb) {
    pack_q45k(p, w, stride, m, kb, false);
}
static void pack_q5_K(q45k_panel *p, const uint8_t *w, size_t stride, __mmask16 m, int kb) {
    pack_q45k(p, w, stride, m, kb, true);
}
DEFINE_GEMM(gemm_q4_K_avx512, q45k_panel, K_KB, QK_K, sizeof(block_q4_K), sizeof(block_q8_K),
            pack_q4_K, tile_q45k)
DEFINE_GEMM(gemm_q5_K_avx512, q45k_panel, K_KB, QK_K, sizeof(block_q5_K), sizeof(block_q8_K),
            pack_q5_K, tile_q45k)

/* ---------------------------------------------------------------------------------- Q6_K */

typedef struct {
    int8_t qs[K_KB][64][64];    /* as Q4_K: values q - 32 */
    int32_t corr[K_KB][16][PR]; /* per 16-element sub-block */
    float dsc[K_KB][16][PR];    /* d * scale (signed) */
} q6k_panel;

static void pack_q6_K(q6k_panel *p, const uint8_t *w, size_t stride, __mmask16 m, int kb) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i m3 = _mm512_set1_epi8(3), b32 = _mm512_set1_epi8(32);
    for (int b = 0; b < kb; b++) {
        const uint8_t *blk = w + (size_t)b * sizeof(block_q6_K);
        /* element 128h + 32k + l: nibble k/2 of ql[64h + 32(k&1) + l], bits 2k..2k+1 of
         * qh[32h + l] above it, minus 32 */
        for (int h = 0; h < 2; h++) {
            __m512i qhv[8], qlv[2][8];
            load_rows_t(blk + offsetof(block_q6_K, qh) + 32 * h, stride, m, 32, qhv);
            for (int k1 = 0; k1 < 2; k1++)
                load_rows_t(blk + 64 * h + 32 * k1, stride, m, 32, qlv[k1]);
            for (int g = 0; g < 8; g++) {
                const __m512i qh = qhv[g];
                for (int k1 = 0; k1 < 2; k1++) {
                    const __m512i ql = qlv[k1][g];
                    for (int k2 = 0; k2 < 2; k2++) {
                        const int k = 2 * k2 + k1;
                        const __m512i lo = _mm512_and_si512(_mm512_srli_epi16(ql, 4 * k2), m4);
                        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(qh, 2 * k), m3);
                        const __m512i v =
                            _mm512_sub_epi8(_mm512_or_si512(lo, _mm512_slli_epi16(hi, 4)), b32);
                        _mm512_store_si512(p->qs[b][32 * h + 8 * k + g], v);
                    }
                }
            }
        }
        for (int s = 0; s < 16; s++) {
            __m512i v[4];
            for (int j = 0; j < 4; j++) v[j] = _mm512_load_si512(p->qs[b][4 * s + j]);
            _mm512_store_si512(p->corr[b][s], offset_corr(v, 4));
        }
        for (int r = 0; r < PR; r++) {
            if (!(m >> r & 1)) {
                for (int s = 0; s < 16; s++) p->dsc[b][s][r] = 0.0f;
                continue;
            }
            const uint8_t *br = blk + (size_t)r * stride;
            const float d = f16_load(br + offsetof(block_q6_K, d));
            for (int s = 0; s < 16; s++)
                p->dsc[b][s][r] = d * (float)(int8_t)br[offsetof(block_q6_K, scales) + s];
        }
    }
}

/* 16 rows x C tokens over kb super-blocks: sixteen 16-element sub-blocks of 4 slices each. */
static inline __attribute__((always_inline)) void tile_q6_K(const q6k_panel *p, int kb,
                                                            const uint8_t *a, size_t a_stride,
                                                            float *y, size_t ldy, __mmask16 m,
                                                            bool add, const int C) {
    __m512 acc[TC], f[TC];
    for (int t = 0; t < C; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < kb; b++) {
        const uint8_t *ab = a + (size_t)b * sizeof(block_q8_K);
        const uint8_t *aq = ab + offsetof(block_q8_K, qs);
        for (int t = 0; t < C; t++) f[t] = _mm512_setzero_ps();
        for (int sb = 0; sb < 16; sb++) {
            __m512i s[TC];
            const __m512i corr = _mm512_load_si512(p->corr[b][sb]);
            for (int t = 0; t < C; t++) s[t] = corr;
            for (int j = 0; j < 4; j++) {
                const __m512i wj = _mm512_load_si512(p->qs[b][4 * sb + j]);
                for (int t = 0; t < C; t++)
                    s[t] =
                        _mm512_dpbusd_epi32(s[t], bcast32(aq + t * a_stride + 16 * sb + 4 * j), wj);
            }
            const __m512 dsc = _mm512_load_ps(p->dsc[b][sb]);
            for (int t = 0; t < C; t++) f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), dsc, f[t]);
        }
        for (int t = 0; t < C; t++)
            acc[t] = _mm512_fmadd_ps(f[t], bcast_f32(ab + t * a_stride), acc[t]);
    }
    store_tile(acc, y, ldy, m, add, C);
}

DEFINE_GEMM(gemm_q6_K_avx512, q6k_panel, K_KB, QK_K, sizeof(block_q6_K), sizeof(block_q8_K),
            pack_q6_K, tile_q6_K)
