/* Prefill tile kernels for AVX2 + FMA + F16C, 2- to 6-bit types: Q4_0 Q4_1 Q5_0 Q5_1 MXFP4
 * (against Q8_0 / Q8_1 activations) and Q2_K Q3_K Q4_K Q5_K Q6_K (against Q8_K). See gemm_kernels.h
 * for the scheme and gemm_avx2.c for the Q8_0 kernel this generalises.
 *
 * Panel: 8 weight rows, one per 32-bit lane of a ymm; register tile: 8 rows x 4 tokens. The
 * panel holds every code decoded to one byte, unsigned where the type allows it:
 *   - Q4_1 Q5_1 Q4_K Q5_K: the codes q >= 0 as they are (the offsets m / mins are applied in
 *     float / through Q8_K's bsums), so maddubs multiplies them with the signed activations;
 *   - Q6_K / Q3_K: codes 0..63 / 0..7 unbiased; the -32 / -4 comes back as
 *     -32 / -4 * sum(scale * bsum) per row; Q2_K's mins as dmin * sum(m * bsum);
 *   - Q4_0 Q5_0: signed q - 8 / q - 16, kept as |w| and w, the sign moved onto the activation
 *     (vpsignb, as for Q8_0; activations are in [-127, 127]); MXFP4 likewise, its codes mapped
 *     to twice their E2M1 values (-12..12) by one vpshufb.
 * The small codes let several maddubs results add up in int16 before the widening madd (G
 * slices per group; the bounds are given at each type), and for K-quants that madd multiplies
 * by the sub-block scale instead of 1, so a whole super-block sums in int32 and is scaled by
 * floats once. Every integer sum is the exact one of the scalar reference. */
#include "gemm_kernels.h"
#include "gemm_avx2_common.h"

#include "kquants_kernels.h"
#include "legacy_kernels.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

/* Lane r: byte offset r * stride (only lanes in the mask are ever used). */
static inline __m256i row_offsets(size_t stride) {
    return _mm256_mullo_epi32(_mm256_set1_epi32((int)stride),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* 4 bytes at p + r * stride for each row r in the mask, 0 elsewhere. */
static inline __m256i gather(const uint8_t *p, __m256i idx, __m256i mask) {
    return _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(const void *)p, idx,
                                       mask, 1);
}

/* The f16 in the low half of each lane, as float. */
static inline __m256 low_f16(__m256i v) {
    const __m256i lo = _mm256_shuffle_epi8(
        v, _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8,
                            9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1));
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(lo, 0x08)));
}

/* MXFP4: 2^(e - 128) (mxfp4_half_scale) of the E8M0 byte in the low byte of each lane, 0 in
 * lanes outside the mask (rows past the end). */
static inline __m256 mxfp4_half_scales(__m256i v, __m256i mask) {
    const __m256i e = _mm256_and_si256(v, _mm256_set1_epi32(0xff));
    const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
    const __m256i tiny = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e); /* e = 0, 1 */
    __m256i bits = _mm256_blendv_epi8(normal, tiny, _mm256_cmpgt_epi32(_mm256_set1_epi32(2), e));
    bits = _mm256_blendv_epi8(bits, _mm256_set1_epi32(0x7fc00000),
                              _mm256_cmpeq_epi32(e, _mm256_set1_epi32(0xff)));
    return _mm256_castsi256_ps(_mm256_and_si256(bits, mask));
}

/* Bits 0..3 of each lane's x -> bit 4 of bytes 0..3 (copies x << 7i never collide). */
static inline __m256i nibble_bits_to_bit4(__m256i x) {
    const __m256i t = _mm256_and_si256(x, _mm256_set1_epi32(0xf));
    const __m256i spread = _mm256_mullo_epi32(t, _mm256_set1_epi32(0x00204081));
    return _mm256_slli_epi32(_mm256_and_si256(spread, _mm256_set1_epi32(0x01010101)), 4);
}

/* The shared driver: panels of 8 rows (1 when strides overflow int32 gather offsets), K-chunks
 * of at most KBMAX blocks of QKB elements, tiles of 4 tokens and one remainder tile (TILE gets
 * a constant token count so it unrolls). add: accumulate into y (K-chunks after the first). */
#define DEFINE_GEMM(NAME, PANEL, KBMAX, QKB, WBLK, ABLK, PACK, TILE)                               \
    void NAME(int64_t n, int nr, int nc, const void *vw, size_t w_stride, const void *va,          \
              size_t a_stride, float *y, size_t ldy) {                                             \
        const uint8_t *w = vw, *a = va;                                                            \
        const int64_t nb = n / (QKB);                                                              \
        const int64_t chunks = (nb + (KBMAX)-1) / (KBMAX);                                         \
        const int step = w_stride <= (size_t)INT32_MAX / PR ? PR : 1;                              \
        _Alignas(32) PANEL panel;                                                                  \
        for (int r0 = 0; r0 < nr; r0 += step) {                                                    \
            const int rows = nr - r0 < step ? nr - r0 : step;                                      \
            const uint8_t *wp = w + (size_t)r0 * w_stride;                                         \
            for (int64_t c = 0; c < chunks; c++) {                                                 \
                const int64_t b0 = nb * c / chunks;                                                \
                const int kb = (int)(nb * (c + 1) / chunks - b0);                                  \
                PACK(&panel, wp + (size_t)b0 * (WBLK), w_stride, rows, kb);                        \
                const uint8_t *ac = a + (size_t)b0 * (ABLK);                                       \
                float *yc = y + r0;                                                                \
                const bool add = c > 0;                                                            \
                int t = 0;                                                                         \
                for (; t + TC <= nc; t += TC)                                                      \
                    TILE(&panel, kb, ac + t * a_stride, a_stride, yc + t * ldy, ldy, rows, add,    \
                         TC);                                                                      \
                ac += t * a_stride;                                                                \
                yc += t * ldy;                                                                     \
                switch (nc - t) {                                                                  \
                case 3:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, rows, add, 3);                         \
                    break;                                                                         \
                case 2:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, rows, add, 2);                         \
                    break;                                                                         \
                case 1:                                                                            \
                    TILE(&panel, kb, ac, a_stride, yc, ldy, rows, add, 1);                         \
                    break;                                                                         \
                default:                                                                           \
                    break;                                                                         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* Writes (or adds) the C finished accumulators of a tile, rows [0, rows) only. */
static inline __attribute__((always_inline)) void store_tile(__m256 *acc, float *y, size_t ldy,
                                                             int rows, bool add, const int C) {
    if (rows == PR) { /* full panel: plain moves (vmaskmovps was ~4 % of the Q5_K tile) */
        for (int t = 0; t < C; t++) {
            float *yt = y + t * ldy;
            if (add) acc[t] = _mm256_add_ps(acc[t], _mm256_loadu_ps(yt));
            _mm256_storeu_ps(yt, acc[t]);
        }
        return;
    }
    const __m256i mask = row_mask(rows);
    for (int t = 0; t < C; t++) {
        float *yt = y + t * ldy;
        if (add) acc[t] = _mm256_add_ps(acc[t], _mm256_maskload_ps(yt, mask));
        _mm256_maskstore_ps(yt, mask, acc[t]);
    }
}

/* Sum over slices [j0, j0 + G) of maddubs(panel slice, activation bytes) in int16, per token:
 * q[j] is the panel's slice j (unsigned), sg[j] (when SIGNED) the signed codes whose signs move
 * onto the activations; aq + 4j + t * a_stride the activation bytes of slice j, token t. */
static inline __attribute__((always_inline)) void
group_sums(__m256i *h, const uint8_t (*q)[32], const int8_t (*sg)[32], int j0, const int G,
           const uint8_t *aq, size_t a_stride, const int C, const bool SIGNED) {
    for (int t = 0; t < C; t++) h[t] = _mm256_setzero_si256(); /* folded into the first add */
    for (int j = j0; j < j0 + G; j++) {
        const __m256i uw = _mm256_load_si256((const __m256i *)q[j]);
        const __m256i sw = SIGNED ? _mm256_load_si256((const __m256i *)sg[j]) : uw;
        for (int t = 0; t < C; t++) {
            __m256i av = bcast32(aq + t * a_stride + 4 * j);
            if (SIGNED) av = _mm256_sign_epi8(av, sw);
            h[t] = _mm256_add_epi16(h[t], _mm256_maddubs_epi16(uw, av));
            KEEP_IN_REGISTER(h[t]);
        }
    }
}

/* ---------------------------------------------------------- Q4_0 Q4_1 Q5_0 Q5_1 MXFP4 */

/* Blocks per K-chunk: 576 bytes each, ~36 KiB per panel. */
#define LEG_KB 64

typedef struct {
    uint8_t q[LEG_KB][8]
             [32]; /* block b, slice j: lane r = codes 4j..4j+3 of row r (|w| if signed) */
    int8_t sg[LEG_KB][8][32]; /* Q4_0 Q5_0 MXFP4: the signed codes */
    float d[LEG_KB][PR];      /* row r's block scale (0 past the last row; MXFP4: 2^(e-128)) */
    float m[LEG_KB][PR];      /* the _1 types' block offset */
} leg_panel;

static inline __attribute__((always_inline)) void
pack_legacy(leg_panel *p, const uint8_t *w, size_t stride, int rows, int kb, const int T) {
    const size_t bsz = T == TT_Q4_0   ? sizeof(block_q4_0)
                       : T == TT_Q4_1 ? sizeof(block_q4_1)
                       : T == TT_Q5_0 ? sizeof(block_q5_0)
                       : T == TT_Q5_1 ? sizeof(block_q5_1)
                                      : sizeof(block_mxfp4);
    const size_t qs = T == TT_Q4_0   ? offsetof(block_q4_0, qs)
                      : T == TT_Q4_1 ? offsetof(block_q4_1, qs)
                      : T == TT_Q5_0 ? offsetof(block_q5_0, qs)
                      : T == TT_Q5_1 ? offsetof(block_q5_1, qs)
                                     : offsetof(block_mxfp4, qs);
    const size_t qh = T == TT_Q5_0 ? offsetof(block_q5_0, qh) : offsetof(block_q5_1, qh);
    const bool five = T == TT_Q5_0 || T == TT_Q5_1, one = T == TT_Q4_1 || T == TT_Q5_1;
    const __m256i idx = row_offsets(stride), mask = row_mask(rows), m4 = _mm256_set1_epi8(0x0f);
    const __m256i doubled = _mm256_setr_epi8(MXFP4_DOUBLED_VALUES, MXFP4_DOUBLED_VALUES);
    for (int b = 0; b < kb; b++) {
        const uint8_t *blk = w + (size_t)b * bsz;
        __m256i v[8];
        /* byte l of qs: element l (low nibble) and l + 16 (high nibble) */
        for (int k = 0; k < 4; k++) {
            const __m256i q = gather(blk + qs + 4 * k, idx, mask);
            v[k] = _mm256_and_si256(q, m4);
            v[k + 4] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        }
        if (five) {
            const __m256i h = gather(blk + qh, idx, mask); /* bit j: fifth bit of element j */
            for (int j = 0; j < 8; j++)
                v[j] = _mm256_or_si256(v[j], nibble_bits_to_bit4(_mm256_srli_epi32(h, 4 * j)));
        }
        for (int j = 0; j < 8; j++) {
            if (!one) {
                v[j] = T == TT_MXFP4
                           ? _mm256_shuffle_epi8(doubled, v[j])
                           : _mm256_sub_epi8(v[j], _mm256_set1_epi8(T == TT_Q4_0 ? 8 : 16));
                _mm256_store_si256((__m256i *)p->sg[b][j], v[j]);
                v[j] = _mm256_abs_epi8(v[j]);
            }
            _mm256_store_si256((__m256i *)p->q[b][j], v[j]);
        }
        if (T == TT_MXFP4)
            _mm256_store_ps(p->d[b], mxfp4_half_scales(gather(blk, idx, mask), mask));
        else
            _mm256_store_ps(p->d[b], low_f16(gather(blk, idx, mask)));
        if (one) _mm256_store_ps(p->m[b], low_f16(gather(blk + 2, idx, mask)));
    }
}

/* 8 rows x C tokens over kb blocks. Int16 groups of G slices: |w| * |a| <= 16 * 127 for Q4_0
 * and Q5_0 (8 slices: 8 * 2 * 2032 = 32512), 15 * 127 for Q4_1 (8 slices), 31 * 127 for Q5_1
 * (4 slices: 31496), 12 * 127 for MXFP4 (8 slices: 24384). ONE: Q8_1 activations (d, s, qs) add m *
 * s per block. */
static inline __attribute__((always_inline)) void tile_legacy(const leg_panel *p, int kb,
                                                              const uint8_t *a, size_t a_stride,
                                                              float *y, size_t ldy, int rows,
                                                              bool add, const int C, const int T) {
    const bool ONE = T == TT_Q4_1 || T == TT_Q5_1, SIGNED = !ONE;
    const int G = T == TT_Q5_1 ? 4 : 8;
    const size_t ablk = ONE ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t aqs = ONE ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[TC];
    for (int t = 0; t < C; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < kb; b++) {
        const uint8_t *ab = a + (size_t)b * ablk;
        __m256i s[TC], h[TC];
        for (int j0 = 0; j0 < 8; j0 += G) {
            group_sums(h, p->q[b], p->sg[b], j0, G, ab + aqs, a_stride, C, SIGNED);
            for (int t = 0; t < C; t++) {
                const __m256i w32 = _mm256_madd_epi16(h[t], ones);
                s[t] = j0 == 0 ? w32 : _mm256_add_epi32(s[t], w32);
            }
        }
        const __m256 dw = _mm256_load_ps(p->d[b]);
        for (int t = 0; t < C; t++) {
            const __m256 sc = _mm256_mul_ps(dw, _mm256_set1_ps(f16_load(ab + t * a_stride)));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), sc, acc[t]);
        }
        if (ONE) {
            const __m256 mw = _mm256_load_ps(p->m[b]);
            for (int t = 0; t < C; t++)
                acc[t] =
                    _mm256_fmadd_ps(mw, _mm256_set1_ps(f16_load(ab + t * a_stride + 2)), acc[t]);
        }
    }
    store_tile(acc, y, ldy, rows, add, C);
}

#define LEGACY(T, name, ablock)                                                                    \
    static void pack_##name(leg_panel *p, const uint8_t *w, size_t stride, int rows, int kb) {     \
        pack_legacy(p, w, stride, rows, kb, T);                                                    \
    }                                                                                              \
    static inline __attribute__((always_inline)) void tile_##name(                                 \
        const leg_panel *p, int kb, const uint8_t *a, size_t a_stride, float *y, size_t ldy,       \
        int rows, bool add, const int C) {                                                         \
        tile_legacy(p, kb, a, a_stride, y, ldy, rows, add, C, T);                                  \
    }                                                                                              \
    DEFINE_GEMM(gemm_##name##_avx2, leg_panel, LEG_KB, QK_LEGACY, sizeof(block_##name),            \
                sizeof(ablock), pack_##name, tile_##name)

LEGACY(TT_Q4_0, q4_0, block_q8_0)
LEGACY(TT_Q5_0, q5_0, block_q8_0)
LEGACY(TT_Q4_1, q4_1, block_q8_1)
LEGACY(TT_Q5_1, q5_1, block_q8_1)
LEGACY(TT_MXFP4, mxfp4, block_q8_0)

/* ------------------------------------------------------------------------ Q4_K / Q5_K */

/* Super-blocks per K-chunk: ~2.3 KiB each, ~37 KiB per panel. */
#define K_KB 16

typedef struct {
    uint8_t q[K_KB][64][32]; /* super-block b, slice j: lane r = codes 4j..4j+3 of row r */
    int16_t sc[K_KB][8][16]; /* sub-block (32 elements) scale, twice per lane (madd pair) */
    int16_t mn[K_KB][8][16]; /* sub-block min, twice per lane */
    float d[K_KB][PR], dmin[K_KB][PR];
} q45k_panel;

static inline __attribute__((always_inline)) void
pack_q45k(q45k_panel *p, const uint8_t *w, size_t stride, int rows, int kb, const bool five) {
    const size_t bsz = five ? sizeof(block_q5_K) : sizeof(block_q4_K);
    const size_t qs = five ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs);
    const __m256i idx = row_offsets(stride), mask = row_mask(rows);
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    for (int b = 0; b < kb; b++) {
        const uint8_t *blk = w + (size_t)b * bsz;
        /* chunk c (64 elements): qs[32c + l] low nibble = element 64c + l, high = 64c + 32 + l;
         * Q5_K's fifth bits: bit 2c / 2c + 1 of qh[l] */
        for (int g = 0; g < 8; g++) {
            const __m256i h = five ? gather(blk + offsetof(block_q5_K, qh) + 4 * g, idx, mask)
                                   : _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                const __m256i q = gather(blk + qs + 32 * c + 4 * g, idx, mask);
                __m256i lo = _mm256_and_si256(q, m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                if (five) {
                    const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(h, 2 * c), one);
                    const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(h, 2 * c + 1), one);
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(h0, 4));
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(h1, 4));
                }
                _mm256_store_si256((__m256i *)p->q[b][16 * c + g], lo);
                _mm256_store_si256((__m256i *)p->q[b][16 * c + 8 + g], hi);
            }
        }
        /* scales: per row, scalar (8 rows x 12 bytes; noise next to the codes) */
        for (int r = 0; r < PR; r++) {
            float d = 0.0f, dmin = 0.0f;
            uint64_t sc = 0, mn = 0;
            if (r < rows) {
                const uint8_t *br = blk + (size_t)r * stride;
                d = f16_load(br + offsetof(block_q4_K, d));
                dmin = f16_load(br + offsetof(block_q4_K, dmin));
                kq_unpack_q4k_scales(br + offsetof(block_q4_K, scales), &sc, &mn);
            }
            for (int s = 0; s < 8; s++) {
                p->sc[b][s][2 * r] = p->sc[b][s][2 * r + 1] = (int16_t)(sc >> (8 * s) & 0xff);
                p->mn[b][s][2 * r] = p->mn[b][s][2 * r + 1] = (int16_t)(mn >> (8 * s) & 0xff);
            }
            p->d[b][r] = d;
            p->dmin[b][r] = dmin;
        }
    }
}

/* 8 rows x C tokens over kb super-blocks against Q8_K (float d, qs, bsums). Per super-block:
 * S = sum over sub-blocks of sc * isum (the madd by the scale pair), M = sum of m * bsums,
 * result da * (d * S - dmin * M). Int16 groups: codes <= 15 (Q4_K, 8 slices: 8 * 2 * 15 * 128
 * = 30720) or 31 (Q5_K, 4 slices: 31744); S <= 8 * 2 * 2 * 32767 * 63 in int32. M is formed
 * per token after the codes: in front of them it cost more (Q4_K 124 GMAC/s after, 111 before). */
static inline __attribute__((always_inline)) void tile_q45k(const q45k_panel *p, int kb,
                                                            const uint8_t *a, size_t a_stride,
                                                            float *y, size_t ldy, int rows,
                                                            bool add, const int C, const int G) {
    __m256 acc[TC];
    for (int t = 0; t < C; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < kb; b++) {
        const uint8_t *ab = a + (size_t)b * sizeof(block_q8_K);
        const uint8_t *bs = ab + offsetof(block_q8_K, bsums);
        __m256i s[TC], h[TC];
        for (int t = 0; t < C; t++) s[t] = _mm256_setzero_si256();
        for (int sb = 0; sb < 8; sb++) {
            const __m256i sc = _mm256_load_si256((const __m256i *)p->sc[b][sb]);
            for (int j0 = 8 * sb; j0 < 8 * sb + 8; j0 += G) {
                group_sums(h, p->q[b], NULL, j0, G, ab + offsetof(block_q8_K, qs), a_stride, C,
                           false);
                for (int t = 0; t < C; t++) s[t] = add32_kept(s[t], _mm256_madd_epi16(h[t], sc));
            }
        }
        const __m256 dw = _mm256_load_ps(p->d[b]), dmin = _mm256_load_ps(p->dmin[b]);
        for (int t = 0; t < C; t++) {
            const __m256 da = _mm256_set1_ps(f32_load(ab + t * a_stride));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dw, da), acc[t]);
            s[t] = _mm256_setzero_si256();
            for (int sb = 0; sb < 8; sb++)
                s[t] = add32_kept(
                    s[t], _mm256_madd_epi16(_mm256_load_si256((const __m256i *)p->mn[b][sb]),
                                            bcast32(bs + t * a_stride + 4 * sb)));
            acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dmin, da), acc[t]);
        }
    }
    store_tile(acc, y, ldy, rows, add, C);
}

static void pack_q4_K(q45k_panel *p, const uint8_t *w, size_t stride, int rows, int kb) {
    pack_q45k(p, w, stride, rows, kb, false);
}
static void pack_q5_K(q45k_panel *p, const uint8_t *w, size_t stride, int rows, int kb) {
    pack_q45k(p, w, stride, rows, kb, true);
}
static inline __attribute__((always_inline)) void tile_q4_K(const q45k_panel *p, int kb,
                                                            const uint8_t *a, size_t a_stride,
                                                            float *y, size_t ldy, int rows,
                                                            bool add, const int C) {
    tile_q45k(p, kb, a, a_stride, y, ldy, rows, add, C, 8);
}
static inline __attribute__((always_inline)) void tile_q5_K(const q45k_panel *p, int kb,
                                                            const uint8_t *a, size_t a_stride,
                                                            float *y, size_t ldy, int rows,
                                                            bool add, const int C) {
    tile_q45k(p, kb, a, a_stride, y, ldy, rows, add, C, 4);
}
DEFINE_GEMM(gemm_q4_K_avx2, q45k_panel, K_KB, QK_K, sizeof(block_q4_K), sizeof(block_q8_K),
            pack_q4_K, tile_q4_K)
DEFINE_GEMM(gemm_q5_K_avx2, q45k_panel, K_KB, QK_K, sizeof(block_q5_K), sizeof(block_q8_K),
            pack_q5_K, tile_q5_K)

/* ------------------------------------------------ Q2_K Q3_K Q6_K: 16-element sub-blocks */

typedef struct {
    uint8_t q[K_KB][64][32];  /* as Q4_K: unsigned codes (Q2_K 0..3, Q3_K 0..7, Q6_K 0..63) */
    int16_t sc[K_KB][16][16]; /* sub-block scale, twice per lane */
    int16_t pr[K_KB][8][16];  /* per lane, the pair for sub-blocks 2k, 2k + 1 (madd against
                                 bsums 2k, 2k + 1): Q2_K the mins, Q3_K / Q6_K the scales */
    float d[K_KB][PR], dmin[K_KB][PR];
} k16_panel;

/* Element 128h + 32k + l of a Q6_K super-block: nibble k/2 of ql[64h + 32(k&1) + l], bits
 * 2k..2k+1 of qh[32h + l] above it. Q3_K: bits 2k..2k+1 of qs[32h + l], plus 4 when bit 4h + k
 * of hmask[l] is set (the stored code is that minus 4). Q2_K: bits 2k..2k+1 of qs[32h + l]. */
static inline __attribute__((always_inline)) void
pack_codes16(k16_panel *p, int b, const uint8_t *blk, __m256i idx, __m256i mask, const int T) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3), m1 = _mm256_set1_epi8(1);
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < 8; g++) {
            if (T == TT_Q6_K) {
                const __m256i qh =
                    gather(blk + offsetof(block_q6_K, qh) + 32 * h + 4 * g, idx, mask);
                for (int k1 = 0; k1 < 2; k1++) {
                    const __m256i ql = gather(blk + 64 * h + 32 * k1 + 4 * g, idx, mask);
                    for (int k2 = 0; k2 < 2; k2++) {
                        const int k = 2 * k2 + k1;
                        const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(ql, 4 * k2), m4);
                        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m3);
                        _mm256_store_si256((__m256i *)p->q[b][32 * h + 8 * k + g],
                                           _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)));
                    }
                }
                continue;
            }
            const size_t qs = T == TT_Q3_K ? offsetof(block_q3_K, qs) : offsetof(block_q2_K, qs);
            const __m256i q = gather(blk + qs + 32 * h + 4 * g, idx, mask);
            const __m256i hm = T == TT_Q3_K ? gather(blk + 4 * g, idx, mask) : q;
            for (int k = 0; k < 4; k++) {
                __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3);
                if (T == TT_Q3_K) {
                    const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + k), m1);
                    v = _mm256_or_si256(v, _mm256_slli_epi16(hb, 2));
                }
                _mm256_store_si256((__m256i *)p->q[b][32 * h + 8 * k + g], v);
            }
        }
}

/* Scales of one row (NULL: a row past the end, all zero). */
static inline __attribute__((always_inline)) void pack_scales16(k16_panel *p, int b, int r,
                                                                const uint8_t *br, const int T) {
    int16_t sc[16] = {0}, pr[16] = {0};
    float d = 0.0f, dmin = 0.0f;
    if (br && T == TT_Q6_K) {
        d = f16_load(br + offsetof(block_q6_K, d));
        for (int s = 0; s < 16; s++)
            sc[s] = pr[s] = (int16_t)(int8_t)br[offsetof(block_q6_K, scales) + s];
    } else if (br && T == TT_Q3_K) {
        uint8_t raw[16];
        d = f16_load(br + offsetof(block_q3_K, d));
        kq_unpack_q3k_scales(br + offsetof(block_q3_K, scales), raw);
        for (int s = 0; s < 16; s++) sc[s] = pr[s] = (int16_t)(raw[s] - 32);
    } else if (br) {
        d = f16_load(br + offsetof(block_q2_K, d));
        dmin = f16_load(br + offsetof(block_q2_K, dmin));
        for (int s = 0; s < 16; s++) {
            const uint8_t v = br[offsetof(block_q2_K, scales) + s];
            sc[s] = (int16_t)(v & 0xf);
            pr[s] = (int16_t)(v >> 4);
        }
    }
    for (int s = 0; s < 16; s++) {
        p->sc[b][s][2 * r] = p->sc[b][s][2 * r + 1] = sc[s];
        p->pr[b][s / 2][2 * r + s % 2] = pr[s];
    }
    p->d[b][r] = d;
    p->dmin[b][r] = dmin;
}

static inline __attribute__((always_inline)) void
pack_k16(k16_panel *p, const uint8_t *w, size_t stride, int rows, int kb, const int T) {
    const size_t bsz = T == TT_Q6_K   ? sizeof(block_q6_K)
                       : T == TT_Q3_K ? sizeof(block_q3_K)
                                      : sizeof(block_q2_K);
    const __m256i idx = row_offsets(stride), mask = row_mask(rows);
    for (int b = 0; b < kb; b++) {
        const uint8_t *blk = w + (size_t)b * bsz;
        pack_codes16(p, b, blk, idx, mask, T);
        for (int r = 0; r < PR; r++)
            pack_scales16(p, b, r, r < rows ? blk + (size_t)r * stride : NULL, T);
    }
}

/* 8 rows x C tokens over kb super-blocks: sixteen 16-element sub-blocks of 4 slices. With
 * P = sum of pr * bsum (madd of the pairs against the bsums):
 *   Q6_K / Q3_K: S = sum sc * isum - BIAS * P (BIAS 32 / 4, the codes' offset), scaled by d;
 *   Q2_K:        d * sum sc * isum - dmin * P.
 * Int16 groups: Q6_K 2 slices (2 * 2 * 63 * 128 = 32256), Q3_K / Q2_K a whole sub-block (4
 * slices of codes <= 7). |S| < 2^29 in int32; everything scaled by da once per super-block. */
static inline __attribute__((always_inline)) void tile_k16(const k16_panel *p, int kb,
                                                           const uint8_t *a, size_t a_stride,
                                                           float *y, size_t ldy, int rows, bool add,
                                                           const int C, const int T) {
    const int G = T == TT_Q6_K ? 2 : 4;
    __m256 acc[TC];
    for (int t = 0; t < C; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < kb; b++) {
        const uint8_t *ab = a + (size_t)b * sizeof(block_q8_K);
        const uint8_t *bs = ab + offsetof(block_q8_K, bsums);
        __m256i s[TC], h[TC];
        for (int t = 0; t < C; t++) s[t] = _mm256_setzero_si256();
        for (int sb = 0; sb < 16; sb++) {
            const __m256i sc = _mm256_load_si256((const __m256i *)p->sc[b][sb]);
            for (int j0 = 4 * sb; j0 < 4 * sb + 4; j0 += G) {
                group_sums(h, p->q[b], NULL, j0, G, ab + offsetof(block_q8_K, qs), a_stride, C,
                           false);
                for (int t = 0; t < C; t++) s[t] = add32_kept(s[t], _mm256_madd_epi16(h[t], sc));
            }
        }
        /* then P per token, after the codes as in tile_q45k (Q2_K 117 GMAC/s, 102 before) */
        const __m256 dw = _mm256_load_ps(p->d[b]), dmin = _mm256_load_ps(p->dmin[b]);
        for (int t = 0; t < C; t++) {
            const __m256 da = _mm256_set1_ps(f32_load(ab + t * a_stride));
            __m256i pt = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++)
                pt = add32_kept(pt,
                                _mm256_madd_epi16(_mm256_load_si256((const __m256i *)p->pr[b][k]),
                                                  bcast32(bs + t * a_stride + 4 * k)));
            if (T == TT_Q2_K) {
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dw, da), acc[t]);
                acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(pt), _mm256_mul_ps(dmin, da), acc[t]);
            } else {
                s[t] = _mm256_sub_epi32(s[t], _mm256_slli_epi32(pt, T == TT_Q6_K ? 5 : 2));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dw, da), acc[t]);
            }
        }
    }
    store_tile(acc, y, ldy, rows, add, C);
}

#define K16(T, name)                                                                               \
    static void pack_##name(k16_panel *p, const uint8_t *w, size_t stride, int rows, int kb) {     \
        pack_k16(p, w, stride, rows, kb, T);                                                       \
    }                                                                                              \
    static inline __attribute__((always_inline)) void tile_##name(                                 \
        const k16_panel *p, int kb, const uint8_t *a, size_t a_stride, float *y, size_t ldy,       \
        int rows, bool add, const int C) {                                                         \
        tile_k16(p, kb, a, a_stride, y, ldy, rows, add, C, T);                                     \
    }                                                                                              \
    DEFINE_GEMM(gemm_##name##_avx2, k16_panel, K_KB, QK_K, sizeof(block_##name),                   \
                sizeof(block_q8_K), pack_##name, tile_##name)

K16(TT_Q2_K, q2_K)
K16(TT_Q3_K, q3_K)
K16(TT_Q6_K, q6_K)
