/* Registers the prefill tile kernels (kernels/gemm_<isa>.c) in the type table. This file is
 * compiled without ISA flags: the kernel files may use their ISA anywhere, so only function
 * addresses are taken here, and op_matmul calls them only for ISAs the CPU has. */
#include "engine.h"
#include "quant.h"

#include <string.h>

#include "kernels/gemm_kernels.h"

static void set(quant_registry *r, tensor_type t, kernel_isa isa, gemm_fn gemm, gemm_prep_fn prep,
                int rows) {
    r->t[t].gemm[isa] = gemm;
    r->t[t].gemm_prep[isa] = prep;
    r->t[t].gemm_rows[isa] = rows;
}

void quant_register_gemm(quant_registry *r) {
    /* AVX2: 8-row panels, activations as quantized (gemm_avx2.c, gemm_lowbit_avx2.c) */
    set(r, TT_Q8_0, ISA_AVX2, gemm_q8_0_avx2, NULL, 8);
    set(r, TT_Q4_0, ISA_AVX2, gemm_q4_0_avx2, NULL, 8);
    set(r, TT_Q5_0, ISA_AVX2, gemm_q5_0_avx2, NULL, 8);
    set(r, TT_Q4_1, ISA_AVX2, gemm_q4_1_avx2, NULL, 8);
    set(r, TT_Q5_1, ISA_AVX2, gemm_q5_1_avx2, NULL, 8);
    set(r, TT_MXFP4, ISA_AVX2, gemm_mxfp4_avx2, NULL, 8);
    set(r, TT_Q2_K, ISA_AVX2, gemm_q2_K_avx2, NULL, 8);
    set(r, TT_Q3_K, ISA_AVX2, gemm_q3_K_avx2, NULL, 8);
    set(r, TT_Q4_K, ISA_AVX2, gemm_q4_K_avx2, NULL, 8);
    set(r, TT_Q5_K, ISA_AVX2, gemm_q5_K_avx2, NULL, 8);
    set(r, TT_Q6_K, ISA_AVX2, gemm_q6_K_avx2, NULL, 8);
    /* AVX-512 VNNI: 16-row panels, activations offset to unsigned by gemm_prep */
    set(r, TT_Q8_0, ISA_AVX512, gemm_q8_0_avx512, gemm_prep_q8_0_avx512, 16);
    set(r, TT_Q4_0, ISA_AVX512, gemm_q4_0_avx512, gemm_prep_q8_0_avx512, 16);
    set(r, TT_Q5_0, ISA_AVX512, gemm_q5_0_avx512, gemm_prep_q8_0_avx512, 16);
    set(r, TT_Q4_1, ISA_AVX512, gemm_q4_1_avx512, gemm_prep_q8_1_avx512, 16);
    set(r, TT_Q5_1, ISA_AVX512, gemm_q5_1_avx512, gemm_prep_q8_1_avx512, 16);
    set(r, TT_MXFP4, ISA_AVX512, gemm_mxfp4_avx512, gemm_prep_q8_0_avx512, 16);
    set(r, TT_Q4_K, ISA_AVX512, gemm_q4_K_avx512, gemm_prep_q8_K_avx512, 16);
    set(r, TT_Q5_K, ISA_AVX512, gemm_q5_K_avx512, gemm_prep_q8_K_avx512, 16);
    set(r, TT_Q6_K, ISA_AVX512, gemm_q6_K_avx512, gemm_prep_q8_K_avx512, 16);
}

/* Here beside the kernel registration because choosing a kernel path is all it does. */
bool engine_set_simd_limit(const char *name) {
    for (int isa = ISA_SCALAR; isa < ISA_COUNT; isa++)
        if (!strcmp(name, quant_isa_name((kernel_isa)isa))) {
            quant_set_isa_cap((kernel_isa)isa);
            return true;
        }
    return false;
}
