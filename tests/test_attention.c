/* The SIMD attention loops equal the scalar references (within 1e-5 relative of sum |q k|). */
#include <math.h>
#include <stdlib.h>

#include "fp16.h"
#include "kernels/attn_kernels.h"
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
        float wide_a[256], wide_b[256];
        ref->widen_f16(wide_a, k16, n);
        simd->widen_f16(wide_b, k16, n);
        for (int i = 0; i < n; i++) CHECKF(wide_a[i] == wide_b[i], "widen n=%d i=%d", n, i);
        for (int i = 0; i < n; i++)
            CHECKF(fabsf(out_a[i] - out_b[i]) <= 1e-5f * (fabsf(out_a[i]) + 1.0f), "axpy n=%d i=%d",
                   n, i);
    }
}

int main(void) {
    test_attention_simd_matches_scalar();
    return test_summary("test_attention");
}
