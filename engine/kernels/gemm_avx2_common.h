/* Helpers shared by the AVX2 prefill tile kernels (gemm_avx2.c, gemm_lowbit_avx2.c): included
 * only from files compiled with -mavx2 -mfma -mf16c. Panels are 8 weight rows, one per ymm lane;
 * register tiles 8 rows x 4 tokens. */
#ifndef HEARTH_GEMM_AVX2_COMMON_H
#define HEARTH_GEMM_AVX2_COMMON_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define PR 8 /* weight rows per panel (ymm lanes) */
#define TC 4 /* tokens per register tile */

static inline __m256i bcast32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

static inline float f16_load(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline float f32_load(const uint8_t *p) {
    float f;
    memcpy(&f, p, 4);
    return f;
}

/* Pins v to a register at this point of the program. Used on running sums: without it the
 * compiler reassociates a tile's chain of integer additions into a tree, computes every product
 * first and spills them to the stack (AVX2 has only 16 vector registers), which halved the
 * tiles' speed. Costs no instruction. */
#define KEEP_IN_REGISTER(v) __asm__("" : "+x"(v))

/* acc + v in int32, acc kept in a register (a running sum of the tile). */
static inline __m256i add32_kept(__m256i acc, __m256i v) {
    acc = _mm256_add_epi32(acc, v);
    KEEP_IN_REGISTER(acc);
    return acc;
}

/* Lanes [0, rows) set: which rows of a panel exist. */
static inline __m256i row_mask(int rows) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#endif
