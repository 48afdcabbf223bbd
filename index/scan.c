/* Exact inner-product scan over half-precision vectors: the resident copy a flat vector index
 * is searched through (vectors.c). A query reads n x dim x 2 bytes, half what FAISS's float
 * scan reads; the memory traffic, not the arithmetic, is what a 100k-vector scan costs. Scores
 * are exact products of the rounded vectors (a cosine moves by ~1e-3 at most, below what ranks
 * chunks apart). The scalar reference is here, the AVX2 + F16C kernel in scan_avx2.c; the
 * kernel is chosen once by what the CPU supports. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

uint16_t index_f32_to_f16(float f) {
    _Float16 h = (_Float16)f;
    uint16_t u;
    memcpy(&u, &h, sizeof u);
    return u;
}

float index_f16_to_f32(uint16_t u) {
    _Float16 h;
    memcpy(&h, &u, sizeof h);
    return (float)h;
}

void index_dot_f16_ref(const uint16_t *x, int64_t n, int32_t dim, const float *q, float *out) {
    for (int64_t i = 0; i < n; i++) {
        const uint16_t *row = x + i * dim;
        float sum = 0;
        for (int32_t j = 0; j < dim; j++) sum += index_f16_to_f32(row[j]) * q[j];
        out[i] = sum;
    }
}

static bool simd(void) {
    static int ok = -1;
    if (ok < 0)
        ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") &&
             __builtin_cpu_supports("fma");
    return ok;
}

void index_f16_from_f32_ref(const float *x, size_t n, uint16_t *out) {
    for (size_t i = 0; i < n; i++) out[i] = index_f32_to_f16(x[i]);
}

void index_f16_from_f32(const float *x, size_t n, uint16_t *out) {
    if (simd())
        index_f16_from_f32_avx2(x, n, out);
    else
        index_f16_from_f32_ref(x, n, out);
}

void index_dot_f16(const uint16_t *x, int64_t n, int32_t dim, const float *q, float *out) {
    if (simd() && dim % 8 == 0)
        index_dot_f16_avx2(x, n, dim, q, out);
    else
        index_dot_f16_ref(x, n, dim, q, out);
}

/* The k best of n scores, best first (ties: the earlier row), as ids[row] and scores; returns
 * how many (min(n, k)). An insertion into a sorted run of k: most rows fail the first test. */
int32_t index_top_k(const float *s, const int64_t *row_ids, int64_t n, int32_t k, int64_t *ids,
                    float *scores) {
    int32_t m = 0;
    for (int64_t i = 0; i < n && k > 0; i++) {
        if (m == k && s[i] <= scores[m - 1]) continue;
        int32_t j = m < k ? m++ : k - 1;
        while (j > 0 && scores[j - 1] < s[i]) {
            scores[j] = scores[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }
        scores[j] = s[i];
        ids[j] = row_ids[i];
    }
    return m;
}
