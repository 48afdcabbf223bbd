/* Tensor types: GGUF block layouts, (de)quantization and dot-product kernels.
 * Private to engine/. The numeric ids are the GGUF (ggml) type ids.
 *
 * A matrix product W (rows x n, type T) times an activation row x (n floats) works like this:
 *   1. x is quantized once into T's vec_dot_type (Q8_0, Q8_1, Q8_K, F16, BF16 or F32),
 *   2. every weight row is dotted with it by vec_dot(n, &out, w_row, x_quantized).
 * Every type has a scalar reference; SIMD versions are chosen at run time (quant_init). */
#ifndef HEARTH_QUANT_H
#define HEARTH_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TT_F32 = 0,
    TT_F16 = 1,
    TT_Q4_0 = 2,
    TT_Q4_1 = 3,
    TT_Q5_0 = 6,
    TT_Q5_1 = 7,
    TT_Q8_0 = 8,
    TT_Q8_1 = 9,
    TT_Q2_K = 10,
    TT_Q3_K = 11,
    TT_Q4_K = 12,
    TT_Q5_K = 13,
    TT_Q6_K = 14,
    TT_Q8_K = 15,
    TT_BF16 = 30,
    TT_MXFP4 = 39,
    TT_COUNT = 40
} tensor_type;

/* Instruction sets a kernel can be written for. */
typedef enum { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_COUNT = 3 } kernel_isa;

/* y[0..n) = dequantized x (n a multiple of the block size). */
typedef void (*to_float_fn)(const void *x, float *y, int64_t n);
/* Quantize n floats (a multiple of the block size) into blocks at y. */
typedef void (*from_float_fn)(const float *x, void *y, int64_t n);
/* *s = dot(w, a) over n elements; w is a row of the weight type, a a row of its vec_dot_type. */
typedef void (*vec_dot_fn)(int64_t n, float *s, const void *w, const void *a);
/* One weight row against nt <= VEC_DOT_MULTI_MAX activation rows (a_stride bytes apart):
 * s[t * s_stride] = vec_dot(n, w, a + t * a_stride), bit for bit, with the weight row unpacked
 * once for all of them (small batches: speculative verification, a few sequences). */
#define VEC_DOT_MULTI_MAX 8
typedef void (*vec_dot_multi_fn)(int64_t n, int nt, float *s, size_t s_stride, const void *w,
                                 const void *a, size_t a_stride);
/* Prefill tile kernel (matrix x matrix, n > 1 tokens): for r < nr and t < nc,
 *   y[t * ldy + r] = dot(w row r, a row t) over n elements,
 * w rows w_stride bytes apart, a rows (vec_dot_type, passed through gemm_prep) a_stride bytes
 * apart. Any nr, nc >= 1; the kernel tiles internally and reuses each weight block across tokens
 * and each activation block across rows from registers. Integer block sums equal vec_dot's. */
typedef void (*gemm_fn)(int64_t n, int nr, int nc, const void *w, size_t w_stride, const void *a,
                        size_t a_stride, float *y, size_t ldy);
/* In-place conversion of one quantized activation row (n elements) into the form gemm reads. */
typedef void (*gemm_prep_fn)(void *a, int64_t n);

typedef struct {
    const char *name;
    int64_t block_size;                        /* elements per block */
    size_t type_size;                          /* bytes per block */
    tensor_type vec_dot_type;                  /* what activations are quantized to for vec_dot */
    to_float_fn to_float;                      /* scalar reference */
    from_float_fn from_float;                  /* scalar reference quantizer */
    vec_dot_fn vec_dot[ISA_COUNT];             /* [ISA_SCALAR] always set when the type is usable */
    vec_dot_multi_fn vec_dot_multi[ISA_COUNT]; /* optional, equal to that ISA's vec_dot */
    from_float_fn from_float_isa[ISA_COUNT];   /* optional SIMD quantizers (activations) */
    /* Optional prefill kernels (engine/gemm.c registers them). gemm_prep may be NULL (rows used
     * as quantized); gemm_rows: the kernel's panel height, so threads get whole panels. */
    gemm_fn gemm[ISA_COUNT];
    gemm_prep_fn gemm_prep[ISA_COUNT];
    int gemm_rows[ISA_COUNT];
} type_traits;

/* The table each kernel family fills in. */
typedef struct {
    type_traits t[TT_COUNT];
} quant_registry;

/* Registration hooks, one per type family; each fills the scalar functions of its own types and
 * registers its SIMD kernels (files kernels/<family>_avx2.c and kernels/<family>_avx512.c, compiled
 * with those ISAs enabled; they are only ever called on CPUs that have them). quant.c has already
 * set name, block_size, type_size and vec_dot_type of every type before the hooks run.
 *   ISA_AVX2   = AVX2 + FMA + F16C
 *   ISA_AVX512 = AVX512 F + BW + DQ + VL + VNNI (plus everything AVX2 has) */
void quant_register_float(quant_registry *r);   /* F32 F16 BF16                 (quant_float.c) */
void quant_register_legacy(quant_registry *r);  /* Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 (quant_legacy.c) */
void quant_register_kquants(quant_registry *r); /* Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K (quant_k.c) */
void quant_register_mxfp4(quant_registry *r);   /* MXFP4                        (quant_mxfp4.c) */
void quant_register_gemm(quant_registry *r);    /* prefill tile kernels           (gemm.c) */

/* Detects the CPU once and builds the table (thread-safe, idempotent). */
void quant_init(void);
/* Best ISA this CPU supports, after quant_init. */
kernel_isa quant_cpu_isa(void);
/* Traits of a type, or NULL if the id is not a supported tensor type. */
const type_traits *quant_traits(int type);
/* The kernel used at run time for type t: the best registered ISA <= the CPU's (and <= the cap). */
vec_dot_fn quant_vec_dot(tensor_type t);
from_float_fn quant_from_float(tensor_type t);
/* The multi-row form of exactly the kernel quant_vec_dot(t) returns, or NULL if it has none. */
vec_dot_multi_fn quant_vec_dot_multi(tensor_type t);
/* Caps the ISA used by quant_vec_dot (for tests and `--isa`); returns the ISA in effect. */
kernel_isa quant_set_isa_cap(kernel_isa cap);
const char *quant_isa_name(kernel_isa isa);
/* The ISA quant_vec_dot selects from: min(CPU's, cap). */
kernel_isa quant_active_isa(void);

/* Bytes of a row of n elements of type t; 0 if n is not a multiple of the block size. */
size_t quant_row_size(tensor_type t, int64_t n);

#endif
