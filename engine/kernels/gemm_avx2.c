/* Prefill tile kernels for AVX2 + FMA + F16C. See gemm_kernels.h for the scheme.
 *
 * Panel: 8 weight rows, one per 32-bit lane of a ymm. Register tile: 8 rows x 4 tokens (4 int32
 * and 4 float accumulators; AVX2 has 16 vector registers). AVX2 has no u8 x s8 dot product that
 * cannot saturate on full-range int8 codes, so the kernel keeps the vec_dot trick: the panel
 * holds |w| (unsigned) and w, the sign of w is moved onto the activation (vpsignb), maddubs sums
 * pairs of |w| * (+-a) in int16 (|w| <= 128, |a| <= 127: at most 32512, no saturation) and madd
 * widens to int32. Activations are used as the quantizer wrote them (no gemm_prep). */
#include "gemm_kernels.h"
#include "gemm_avx2_common.h"

#include "legacy_kernels.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

/* ------------------------------------------------------------------------------------- Q8_0 */

/* Blocks per K-chunk: the panel (576 bytes per block) stays ~54 KiB, on the stack, in L2. */
#define Q8_KB 96

typedef struct {
    uint8_t absq[Q8_KB][8][32]; /* block b, slice j: lane r = |bytes 4j..4j+3| of row r */
    int8_t q[Q8_KB][8][32];     /* the same with signs */
    float d[Q8_KB][PR];         /* row r's block scale (0 for rows past the end) */
} q8_0_panel;

/* Repacks blocks [b0, b0 + kb) of nr <= 8 rows; rows past nr pack as zero. */
static void pack_q8_0(q8_0_panel *p, const uint8_t *w, size_t stride, int nr, int64_t b0, int kb) {
    const __m256i mask = row_mask(nr);
    const bool gather_ok = stride <= (size_t)INT32_MAX / PR;
    const __m256i idx = _mm256_mullo_epi32(_mm256_set1_epi32(gather_ok ? (int)stride : 0),
                                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i zero = _mm256_setzero_si256();
    for (int b = 0; b < kb; b++) {
        const size_t off = (size_t)(b0 + b) * sizeof(block_q8_0);
        if (!gather_ok) { /* rows > 256 MiB: not in practice, but stay correct */
            for (int j = 0; j < 8; j++)
                for (int r = 0; r < PR; r++) {
                    int32_t v = 0;
                    if (r < nr) memcpy(&v, w + r * stride + off + 2 + 4 * j, 4);
                    memcpy(&p->q[b][j][4 * r], &v, 4);
                }
            for (int r = 0; r < PR; r++)
                p->d[b][r] = r < nr ? f16_load(w + r * stride + off) : 0.0f;
        } else {
            for (int j = 0; j < 8; j++) {
                const __m256i v = _mm256_mask_i32gather_epi32(
                    zero, (const int *)(const void *)(w + off + 2 + 4 * j), idx, mask, 1);
                _mm256_store_si256((__m256i *)p->q[b][j], v);
            }
            /* the f16 scale is the low half of the block's first 4 bytes (little-endian) */
            const __m256i dh = _mm256_mask_i32gather_epi32(
                zero, (const int *)(const void *)(w + off), idx, mask, 1);
            const __m128i d16 = _mm256_castsi256_si128(_mm256_permute4x64_epi64(
                _mm256_shuffle_epi8(dh, _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1,
                                                         -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12, 13,
                                                         -1, -1, -1, -1, -1, -1, -1, -1)),
                0x08));
            _mm256_store_ps(p->d[b], _mm256_cvtph_ps(d16));
        }
        for (int j = 0; j < 8; j++)
            _mm256_store_si256((__m256i *)p->absq[b][j],
                               _mm256_abs_epi8(_mm256_load_si256((const __m256i *)p->q[b][j])));
    }
}

/* One register tile: 8 rows x C tokens over kb blocks (C constant at each call site). */
static inline __attribute__((always_inline)) void tile_q8_0(const q8_0_panel *p, int kb,
                                                            const uint8_t *a, size_t a_stride,
                                                            float *y, size_t ldy, int rows,
                                                            bool add, const int C) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[TC];
    for (int t = 0; t < C; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < kb; b++) {
        const uint8_t *ab = a + (size_t)b * sizeof(block_q8_0);
        __m256i s[TC];
        for (int t = 0; t < C; t++) s[t] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            const __m256i uw = _mm256_load_si256((const __m256i *)p->absq[b][j]);
            const __m256i sw = _mm256_load_si256((const __m256i *)p->q[b][j]);
            for (int t = 0; t < C; t++) {
                const __m256i av = _mm256_sign_epi8(bcast32(ab + t * a_stride + 2 + 4 * j), sw);
                s[t] =
                    _mm256_add_epi32(s[t], _mm256_madd_epi16(_mm256_maddubs_epi16(uw, av), ones));
            }
        }
        const __m256 dw = _mm256_load_ps(p->d[b]);
        for (int t = 0; t < C; t++) {
            const __m256 sc = _mm256_mul_ps(dw, _mm256_set1_ps(f16_load(ab + t * a_stride)));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), sc, acc[t]);
        }
    }
    const __m256i mask = row_mask(rows);
    for (int t = 0; t < C; t++) {
        float *yt = y + t * ldy;
        if (add) acc[t] = _mm256_add_ps(acc[t], _mm256_maskload_ps(yt, mask));
        _mm256_maskstore_ps(yt, mask, acc[t]);
    }
}

static void tokens_q8_0(const q8_0_panel *p, int kb, const uint8_t *a, size_t a_stride, int nc,
                        float *y, size_t ldy, int rows, bool add) {
    int t = 0;
    for (; t + TC <= nc; t += TC)
        tile_q8_0(p, kb, a + t * a_stride, a_stride, y + t * ldy, ldy, rows, add, TC);
    a += t * a_stride;
    y += t * ldy;
    switch (nc - t) {
    case 3:
        tile_q8_0(p, kb, a, a_stride, y, ldy, rows, add, 3);
        break;
    case 2:
        tile_q8_0(p, kb, a, a_stride, y, ldy, rows, add, 2);
        break;
    case 1:
        tile_q8_0(p, kb, a, a_stride, y, ldy, rows, add, 1);
        break;
    default:
        break;
    }
}

void gemm_q8_0_avx2(int64_t n, int nr, int nc, const void *vw, size_t w_stride, const void *va,
                    size_t a_stride, float *y, size_t ldy) {
    const uint8_t *w = vw, *a = va;
    const int64_t nb = n / QK_LEGACY;
    const int64_t chunks = (nb + Q8_KB - 1) / Q8_KB;
    _Alignas(32) q8_0_panel panel;
    for (int r0 = 0; r0 < nr; r0 += PR) {
        const int rows = nr - r0 < PR ? nr - r0 : PR;
        const uint8_t *wp = w + (size_t)r0 * w_stride;
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t b0 = nb * c / chunks, b1 = nb * (c + 1) / chunks;
            const int kb = (int)(b1 - b0);
            pack_q8_0(&panel, wp, w_stride, rows, b0, kb);
            tokens_q8_0(&panel, kb, a + (size_t)b0 * sizeof(block_q8_0), a_stride, nc, y + r0, ldy,
                        rows, c > 0);
        }
    }
}
