/* Block layouts of the "legacy" GGUF types (32 elements per block) and the SIMD kernels for them.
 * Private to engine/. f16 fields are stored as raw uint16_t bits; every struct is packed by
 * construction (2-byte fields first, then byte arrays), so rows must be 2-byte aligned, which
 * GGUF data (32-byte aligned, even block sizes) and our buffers always are. */
#ifndef HEARTH_LEGACY_KERNELS_H
#define HEARTH_LEGACY_KERNELS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define QK_LEGACY 32

/* value = (q - 8) * d; qs[j] holds element j (low nibble) and element j + 16 (high nibble). */
typedef struct {
    uint16_t d;
    uint8_t qs[16];
} block_q4_0;

/* value = q * d + m. */
typedef struct {
    uint16_t d, m;
    uint8_t qs[16];
} block_q4_1;

/* value = (q - 16) * d; bit j of the little-endian 32-bit qh is bit 4 of element j. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_0;

/* value = q * d + m, q as in Q5_0. */
typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_1;

/* value = q * d. */
typedef struct {
    uint16_t d;
    int8_t qs[32];
} block_q8_0;

/* value = q * d; s = d * sum(q) (what the _1 weight types need for their offset m). */
typedef struct {
    uint16_t d, s;
    int8_t qs[32];
} block_q8_1;

/* MXFP4, the OCP Microscaling FP4 format (GGUF type 39): value = E2M1(code) * 2^(e - 127), e an
 * E8M0 exponent (bias 127, no sign, no mantissa). qs as in Q4_0: qs[j] holds element j (low
 * nibble) and element j + 16 (high nibble). An E2M1 code is sign (bit 3), exponent (bits 2-1,
 * bias 1) and mantissa (bit 0): magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6. e = 0xFF is E8M0's NaN,
 * which by the spec makes every value of the block NaN. 17 bytes: rows have no alignment. */
typedef struct {
    uint8_t e;
    uint8_t qs[16];
} block_mxfp4;

/* Each code's E2M1 value times two: integers, so blocks dot with Q8_0 activations in integer
 * arithmetic, the 1/2 going into the scale (mxfp4_half_scale). */
#define MXFP4_DOUBLED_VALUES 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12

/* 2^(e - 128), half the block scale, by E8M0 byte: float bits, exact (2^-128 and 2^-127 are
 * subnormals); NaN for e = 0xFF, so the block's products are NaN as the spec says. A table (in
 * quant_mxfp4.c) because the dots need it once per 32 elements: one load beats the branches. */
#define MXFP4_HALF_SCALE_BITS(e)                                                                   \
    ((e) == 255 ? 0x7fc00000u : (e) < 2 ? 0x00200000u << ((e)&1) : (uint32_t)((e)-1) << 23)
extern const uint32_t quant_mxfp4_half_scale_bits[256];

static inline float mxfp4_half_scale(uint8_t e) {
    float f;
    memcpy(&f, &quant_mxfp4_half_scale_bits[e], sizeof f);
    return f;
}

static_assert(sizeof(block_q4_0) == 18, "Q4_0 block size");
static_assert(sizeof(block_q4_1) == 20, "Q4_1 block size");
static_assert(sizeof(block_q5_0) == 22, "Q5_0 block size");
static_assert(sizeof(block_q5_1) == 24, "Q5_1 block size");
static_assert(sizeof(block_q8_0) == 34, "Q8_0 block size");
static_assert(sizeof(block_q8_1) == 36, "Q8_1 block size");
static_assert(sizeof(block_mxfp4) == 17, "MXFP4 block size");

/* SIMD kernels (kernels/legacy_<isa>.c). Same contracts as the scalar ones in quant_legacy.c
 * (quant_mxfp4.c for MXFP4):
 * n is a multiple of 32, activations come from our Q8 quantizers (values in [-127, 127]). */
void legacy_avx2_q4_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q4_1_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q5_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q5_1_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q8_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_mxfp4_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q8_0_quantize(const float *x, void *y, int64_t n);
void legacy_avx2_q8_1_quantize(const float *x, void *y, int64_t n);

void legacy_avx512_q4_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_q4_1_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_q5_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_q5_1_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_q8_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_mxfp4_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_q8_0_quantize(const float *x, void *y, int64_t n);
void legacy_avx512_q8_1_quantize(const float *x, void *y, int64_t n);

/* Multi-row forms (vec_dot_multi_fn in quant.h), bit-identical to the one-row dots above. */
#define LEGACY_MULTI(isa, type)                                                                    \
    void legacy_##isa##_##type##_dot_multi(int64_t n, int nt, float *s, size_t s_stride,           \
                                           const void *w, const void *a, size_t a_stride);
LEGACY_MULTI(avx2, q4_0)
LEGACY_MULTI(avx2, q4_1)
LEGACY_MULTI(avx2, q5_0)
LEGACY_MULTI(avx2, q5_1)
LEGACY_MULTI(avx2, q8_0)
LEGACY_MULTI(avx2, mxfp4)
LEGACY_MULTI(avx512, q4_0)
LEGACY_MULTI(avx512, q4_1)
LEGACY_MULTI(avx512, q5_0)
LEGACY_MULTI(avx512, q5_1)
LEGACY_MULTI(avx512, q8_0)
LEGACY_MULTI(avx512, mxfp4)
#undef LEGACY_MULTI

#endif
