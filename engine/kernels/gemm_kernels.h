/* Prefill (matrix x matrix) tile kernels, private to engine/. gemm.c puts them into the type
 * table; they are defined in gemm_<isa>.c, compiled for that ISA, and only ever called on CPUs
 * that have it (so nothing here may run before the CPU check).
 *
 * Contract of every gemm_* (see gemm_fn in quant.h): y[t * ldy + r] = dot(weight row r,
 * activation row t) for r < nr, t < nc, over n elements; activation rows are the weight type's
 * vec_dot_type rows after the same ISA's gemm_prep (if it has one). Integer block sums equal the
 * scalar reference exactly; only the float scaling and summation order differ.
 *
 * Scheme shared by the kernels: a panel of P weight rows (one vector lane per row) is repacked,
 * a K-chunk at a time, into a stack buffer so that one vector holds the same 4 consecutive
 * elements of all P rows. A register tile of P rows x T tokens then costs one vector load per
 * 4 elements of the panel (reused by T tokens) and one 4-byte broadcast per 4 elements of each
 * token (reused by P rows), with one integer accumulator per token. The repacking is paid once
 * per panel and K-chunk for all tokens of the call. Nothing is repacked at load: weights stay
 * in the mapping and decode (one token) keeps using vec_dot. */
#ifndef HEARTH_GEMM_KERNELS_H
#define HEARTH_GEMM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define GEMM_DECLARE(isa, type)                                                                    \
    void gemm_##type##_##isa(int64_t n, int nr, int nc, const void *w, size_t w_stride,            \
                             const void *a, size_t a_stride, float *y, size_t ldy);

GEMM_DECLARE(avx2, q8_0)
GEMM_DECLARE(avx2, q4_0) /* gemm_lowbit_avx2.c */
GEMM_DECLARE(avx2, q4_1)
GEMM_DECLARE(avx2, q5_0)
GEMM_DECLARE(avx2, q5_1)
GEMM_DECLARE(avx2, mxfp4)
GEMM_DECLARE(avx2, q2_K)
GEMM_DECLARE(avx2, q3_K)
GEMM_DECLARE(avx2, q4_K)
GEMM_DECLARE(avx2, q5_K)
GEMM_DECLARE(avx2, q6_K)

GEMM_DECLARE(avx512, q8_0)
GEMM_DECLARE(avx512, q4_0)
GEMM_DECLARE(avx512, q4_1)
GEMM_DECLARE(avx512, q5_0)
GEMM_DECLARE(avx512, q5_1)
GEMM_DECLARE(avx512, mxfp4)
GEMM_DECLARE(avx512, q4_K)
GEMM_DECLARE(avx512, q5_K)
GEMM_DECLARE(avx512, q6_K)
#undef GEMM_DECLARE

/* AVX-512: activations become unsigned (code + 128) so vpdpbusd multiplies them with the
 * signed weights directly; the kernels take 128 * sum(weights) back out per block. One per
 * activation type (Q8_0, Q8_1, Q8_K). */
void gemm_prep_q8_0_avx512(void *a, int64_t n);
void gemm_prep_q8_1_avx512(void *a, int64_t n);
void gemm_prep_q8_K_avx512(void *a, int64_t n);

#endif
