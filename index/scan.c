/* Exact inner-product scan over half-precision vectors: the resident copy a flat vector index
 * is searched through (vectors.c). A query reads n x dim x 2 bytes, half what FAISS's float
 * scan reads; the memory traffic, not the arithmetic, is what a 100k-vector scan costs. Scores
 * are exact products of the rounded vectors (a cosine moves by ~1e-3 at most, below what ranks
 * chunks apart). The scalar reference is here, the AVX2 + F16C kernel in scan_avx2.c; the
 * kernel is chosen once by what the CPU supports. */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* IEEE half <-> float by their bits, rounding to nearest even: _Float16 is not there for every
 * compiler we build with (clang 14 on x86). */
uint16_t index_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) { /* a half subnormal, or zero */
        if (e < -10) return (uint16_t)sign;
        uint32_t m = man | 0x800000, shift = (uint32_t)(14 - e);
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* a carry into the exponent is right */
    return (uint16_t)(sign | h);
}

float index_f16_to_f32(uint16_t u) {
    uint32_t sign = (uint32_t)(u & 0x8000) << 16, exp = (u >> 10) & 0x1f, man = u & 0x3ff, x;
    if (exp == 0x1f)
        x = sign | 0x7f800000 | (man << 13);
    else if (exp)
        x = sign | ((exp + 112) << 23) | (man << 13);
    else if (!man)
        x = sign;
    else { /* subnormal: normalise */
        int32_t e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        x = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

void index_dot_f16_ref(const uint16_t *x, int64_t n, int32_t dim, const float *q, float *out) {
    for (int64_t i = 0; i < n; i++) {
        const uint16_t *row = x + i * dim;
        float sum = 0;
        for (int32_t j = 0; j < dim; j++) sum += index_f16_to_f32(row[j]) * q[j];
        out[i] = sum;
    }
}

/* F16C by CPUID (leaf 1, ECX bit 29): not every compiler's __builtin_cpu_supports knows it. */
static bool has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && ((c >> 29) & 1);
}

static bool simd(void) {
    static int ok = -1;
    if (ok < 0) ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
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
