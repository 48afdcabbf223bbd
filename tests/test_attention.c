/* The SIMD attention loops and activations equal their scalar references. */
#include <math.h>
#include <stdlib.h>

#include "fp16.h"
#include "kernels/act_kernels.h"
#include "kernels/attn_kernels.h"
#include "ops.h"
#include "test.h"

static float rnd(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void test_attention_simd_matches_scalar(void) {
    const attn_kernels *ref = attn_kernels_for(ISA_SCALAR, 64);
    const attn_kernels *simd = attn_kernels_for(quant_cpu_isa(), 64);
    if (simd == ref) return; /* no SIMD on this CPU: nothing to compare */
    unsigned seed = 7;
    for (int n = 8; n <= 256; n += 8) {
        float q[256], k32[256], out_a[256], out_b[256], mag = 0.0f;
        uint16_t k16[256];
        for (int i = 0; i < n; i++) {
            q[i] = rnd(&seed);
            k32[i] = rnd(&seed) * 4.0f;
            k16[i] = fp32_to_fp16(k32[i]);
            mag += fabsf(q[i] * k32[i]);
            out_a[i] = out_b[i] = rnd(&seed);
        }
        float tol = 1e-5f * (mag + 1.0f);
        CHECKF(fabsf(ref->dot_f16(q, k16, n) - simd->dot_f16(q, k16, n)) <= tol, "dot_f16 n=%d", n);
        CHECKF(fabsf(ref->dot_f32(q, k32, n) - simd->dot_f32(q, k32, n)) <= tol, "dot_f32 n=%d", n);
        ref->axpy_f16(out_a, 0.37f, k16, n);
        simd->axpy_f16(out_b, 0.37f, k16, n);
        ref->axpy_f32(out_a, -1.25f, k32, n);
        simd->axpy_f32(out_b, -1.25f, k32, n);
        float rows_a[4], rows_b[4], acc_a[256] = {0}, acc_b[256] = {0},
                                    w4[4] = {0.5f, -1, 2, 0.25f};
        uint16_t rows16[4][256];
        for (int r = 0; r < 4; r++)
            for (int i = 0; i < n; i++) rows16[r][i] = fp32_to_fp16(rnd(&seed));
        ref->rows_dot_f16(q, rows16, sizeof rows16[0], 4, n, 0.5f, rows_a);
        simd->rows_dot_f16(q, rows16, sizeof rows16[0], 4, n, 0.5f, rows_b);
        for (int r = 0; r < 4; r++) CHECKF(fabsf(rows_a[r] - rows_b[r]) <= tol, "rows_dot n=%d", n);
        ref->rows_axpy_f16(acc_a, w4, rows16, sizeof rows16[0], 4, n);
        simd->rows_axpy_f16(acc_b, w4, rows16, sizeof rows16[0], 4, n);
        for (int i = 0; i < n; i++)
            CHECKF(fabsf(acc_a[i] - acc_b[i]) <= 1e-5f * (fabsf(acc_a[i]) + 1.0f), "rows_axpy n=%d",
                   n);
        float wide_a[256], wide_b[256];
        ref->widen_f16(wide_a, k16, n);
        simd->widen_f16(wide_b, k16, n);
        for (int i = 0; i < n; i++) CHECKF(wide_a[i] == wide_b[i], "widen n=%d i=%d", n, i);
        for (int i = 0; i < n; i++)
            CHECKF(fabsf(out_a[i] - out_b[i]) <= 1e-5f * (fabsf(out_a[i]) + 1.0f), "axpy n=%d i=%d",
                   n, i);
    }
}

/* Q8_0 KV rows: quantize -> widen is within half a step (d / 2) of the input per element, and
 * the SIMD widen equals the scalar one exactly (both compute d * q in one f32 multiply). */
static void test_kv_q8_0_roundtrip_and_simd(void) {
    const attn_kernels *ref = attn_kernels_for(ISA_SCALAR, 64);
    const attn_kernels *simd = attn_kernels_for(quant_cpu_isa(), 64);
    unsigned seed = 11;
    enum { N = 256 };
    float x[N], a[N], b[N];
    kv_block_q8 blk[N / KV_Q8_BLOCK];
    CHECK(sizeof(kv_block_q8) == 34); /* the GGUF Q8_0 block */
    for (int i = 0; i < N; i++) x[i] = rnd(&seed) * (i < 32 ? 0.0f : i < 64 ? 1e-3f : 20.0f);
    attn_quantize_q8_0(blk, x, N);
    ref->widen_q8_0(a, blk, N);
    simd->widen_q8_0(b, blk, N);
    for (int i = 0; i < N; i++) {
        float amax = 0.0f;
        for (int k = i / 32 * 32; k < i / 32 * 32 + 32; k++) amax = fmaxf(amax, fabsf(x[k]));
        /* half a step, plus the f16 rounding of the scale (2^-11 relative, or 2^-24 absolute
         * where a tiny scale is subnormal in f16) times up to 127 steps */
        float tol = amax / 127.0f * 0.5f + amax * 1.0e-3f + 127.0f * 0x1p-24f;
        CHECKF(fabsf(a[i] - x[i]) <= tol, "q8_0 roundtrip %d: %g vs %g", i, a[i], x[i]);
        CHECKF(a[i] == b[i], "widen_q8_0 %d: %g vs %g", i, a[i], b[i]);
    }
}

/* The vectorised SwiGLU and GELU equal the scalar references (expf / tanhf) within 1e-5
 * relative, over the whole range activations take, including the exp clamps. */
static void test_activations_simd_match_scalar(void) {
    if (quant_cpu_isa() < ISA_AVX2) return;
    unsigned seed = 3;
    enum { N = 4099 }; /* not a multiple of 8: the tail path too */
    static float g_ref[N], g_simd[N], up[N], x_ref[N], x_simd[N], x_in[N];
    for (int i = 0; i < N; i++) {
        g_ref[i] = g_simd[i] = rnd(&seed) * (i % 7 == 0 ? 100.0f : 12.0f);
        up[i] = rnd(&seed) * 3.0f;
        x_ref[i] = x_simd[i] = x_in[i] = rnd(&seed) * (i % 5 == 0 ? 60.0f : 8.0f);
    }
    op_swiglu_scalar(g_ref, up, N);
    act_swiglu_avx2(g_simd, up, N);
    op_gelu_scalar(x_ref, N);
    act_gelu_avx2(x_simd, N);
    for (int i = 0; i < N; i++) {
        CHECKF(fabsf(g_ref[i] - g_simd[i]) <= 1e-5f * fabsf(g_ref[i]) + 1e-30f,
               "swiglu %d: %g vs %g", i, g_ref[i], g_simd[i]);
        /* for x << 0 the reference's 1 + tanh(u) cancels: allow float eps of the input's size */
        CHECKF(fabsf(x_ref[i] - x_simd[i]) <= 1e-5f * fabsf(x_ref[i]) + 1e-6f * fabsf(x_in[i]),
               "gelu %d: %g vs %g", i, x_ref[i], x_simd[i]);
    }
}

static void test_exp_shift_matches_scalar(void) {
    if (quant_cpu_isa() < ISA_AVX2) return;
    unsigned seed = 5;
    enum { N = 1003 };
    static float a[N], b[N];
    for (int i = 0; i < N; i++) a[i] = b[i] = rnd(&seed) * 30.0f;
    float sa = op_exp_shift_scalar(a, N, 25.0f), sb = act_exp_shift_avx2(b, N, 25.0f);
    CHECKF(fabsf(sa - sb) <= 1e-5f * sa, "sum %g vs %g", sa, sb);
    for (int i = 0; i < N; i++) CHECKF(fabsf(a[i] - b[i]) <= 1e-6f * a[i] + 1e-30f, "exp %d", i);
}

int main(void) {
    test_exp_shift_matches_scalar();
    test_attention_simd_matches_scalar();
    test_kv_q8_0_roundtrip_and_simd();
    test_activations_simd_match_scalar();
    return test_summary("test_attention");
}
