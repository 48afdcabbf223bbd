/* AVX2 + FMA activations: SiLU-gated (SwiGLU) and GELU (tanh form) with a vector exp.
 * exp(x) = 2^n * e^r with n = round(x / ln 2), |r| <= ln2 / 2, e^r by a degree-6 polynomial
 * (relative error ~2e-7, below float rounding of the callers' results). */
#include <immintrin.h>
#include <math.h>

#include "act_kernels.h"

static inline __m256 exp_ps(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* r = x - n ln2, with ln2 split in two so the product stays exact */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* x / (1 + exp(-z)) */
static inline __m256 times_sigmoid(__m256 x, __m256 z) {
    __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), z)));
    return _mm256_div_ps(x, d);
}

void act_swiglu_avx2(float *gate, const float *up, int64_t len) {
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(times_sigmoid(g, g), _mm256_loadu_ps(up + i)));
    }
    for (; i < len; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void act_swiglu_oai_avx2(float *gate, const float *up, int64_t len) {
    const __m256 limit = _mm256_set1_ps(7.0f), neg = _mm256_set1_ps(-7.0f);
    const __m256 alpha = _mm256_set1_ps(1.702f), one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 x = _mm256_min_ps(_mm256_loadu_ps(gate + i), limit);
        __m256 y = _mm256_min_ps(_mm256_max_ps(_mm256_loadu_ps(up + i), neg), limit);
        __m256 glu = times_sigmoid(x, _mm256_mul_ps(alpha, x));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(glu, _mm256_add_ps(y, one)));
    }
    for (; i < len; i++) {
        float x = fminf(gate[i], 7.0f), y = fminf(fmaxf(up[i], -7.0f), 7.0f);
        gate[i] = x / (1.0f + expf(-1.702f * x)) * (y + 1.0f);
    }
}

/* 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) */
void act_gelu_avx2(float *x, int64_t len) {
    const __m256 k2 = _mm256_set1_ps(2.0f * 0.7978845608028654f), c = _mm256_set1_ps(0.044715f);
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 u2 = _mm256_mul_ps(k2, _mm256_fmadd_ps(_mm256_mul_ps(c, v), _mm256_mul_ps(v, v), v));
        _mm256_storeu_ps(x + i, times_sigmoid(v, u2));
    }
    for (; i < len; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * v * (1.0f + 0.044715f * v * v)));
    }
}

float act_exp_shift_avx2(float *x, int64_t n, float shift) {
    __m256 acc = _mm256_setzero_ps(), m = _mm256_set1_ps(shift);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    float sum = _mm_cvtss_f32(s4);
    for (; i < n; i++) sum += x[i] = expf(x[i] - shift);
    return sum;
}
