/* Block layouts of the "legacy" GGUF types (32 elements per block) and the SIMD kernels for them.
 * Private to engine/. f16 fields are stored as raw uint16_t bits; every struct is packed by
 * construction (2-byte fields first, then byte arrays), so rows must be 2-byte aligned, which
 * GGUF data (32-byte aligned, even block sizes) and our buffers always are. */
#ifndef HEARTH_LEGACY_KERNELS_H
#define HEARTH_LEGACY_KERNELS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

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

static_assert(sizeof(block_q4_0) == 18, "Q4_0 block size");
static_assert(sizeof(block_q4_1) == 20, "Q4_1 block size");
static_assert(sizeof(block_q5_0) == 22, "Q5_0 block size");
static_assert(sizeof(block_q5_1) == 24, "Q5_1 block size");
static_assert(sizeof(block_q8_0) == 34, "Q8_0 block size");
static_assert(sizeof(block_q8_1) == 36, "Q8_1 block size");

/* SIMD kernels (kernels/legacy_<isa>.c). Same contracts as the scalar ones in quant_legacy.c:
 * n is a multiple of 32, activations come from our Q8 quantizers (values in [-127, 127]). */
void legacy_avx2_q4_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q4_1_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q5_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q5_1_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q8_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx2_q8_0_quantize(const float *x, void *y, int64_t n);
void legacy_avx2_q8_1_quantize(const float *x, void *y, int64_t n);

void legacy_avx512_q4_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_q4_1_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_q5_0_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_q5_1_dot(int64_t n, float *s, const void *w, const void *a);
void legacy_avx512_q8_0_dot(int64_t n, float *s, const void *w, const void *a);
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
LEGACY_MULTI(avx512, q4_0)
LEGACY_MULTI(avx512, q4_1)
LEGACY_MULTI(avx512, q5_0)
LEGACY_MULTI(avx512, q5_1)
LEGACY_MULTI(avx512, q8_0)
#undef LEGACY_MULTI

#endif
