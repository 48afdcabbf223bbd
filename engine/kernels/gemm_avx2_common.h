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

/* Lanes [0, rows) set: which rows of a panel exist. */
static inline __m256i row_mask(int rows) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#endif
