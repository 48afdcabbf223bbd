/* K-quant tensor types: Q2_K..Q6_K weights and the Q8_K activations they are dotted with.
 * Scalar reference dequantization, quantizers and dot products; layouts and element order are
 * documented in kernels/kquants_kernels.h. SIMD kernels live in kernels/kquants_<isa>.c. */
#include "quant.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "fp16.h"
#include "kernels/kquants_kernels.h"

/* Round to nearest, ties to even, for |v| < 2^22: the same rounding as cvtps2dq, so the SIMD
 * Q8_K quantizer can be byte-identical. Adding 1.5*2^23 pushes the fraction bits out. */
static inline int nearest_int(float v) {
    return (int)((v + 12582912.0f) - 12582912.0f);
}

static inline int clampi(int v, int lo, int hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* ---------------------------------------------------------------- Q8_K (activations) */

static void quantize_q8_K(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        /* The signed value of largest magnitude (first one on ties) maps to -127. */
        float amax = 0.0f, max = 0.0f;
        for (int i = 0; i < QK_K; i++) {
            const float ax = fabsf(x[i]);
            if (ax > amax) {
                amax = ax;
                max = x[i];
            }
        }
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int i = 0; i < QK_K; i++) {
            float v = iscale * x[i];
            /* clamp in float first so NaN/inf cannot reach the int conversion */
            v = v > -128.0f ? v : -128.0f;
            v = v < 127.0f ? v : 127.0f;
            y[b].qs[i] = (int8_t)nearest_int(v);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int s = 0;
            for (int i = 0; i < 16; i++) s += y[b].qs[16 * g + i];
            y[b].bsums[g] = (int16_t)s;
        }
        y[b].d = 1.0f / iscale;
    }
}

static void dequantize_q8_K(const void *vx, float *y, int64_t n) {
    const block_q8_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++)
        for (int i = 0; i < QK_K; i++) *y++ = x[b].d * x[b].qs[i];
}

static void vec_dot_q8_K_q8_K(int64_t n, float *s, const void *vw, const void *va) {
    const block_q8_K *w = vw, *a = va;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t isum = 0;
        for (int i = 0; i < QK_K; i++) isum += w[b].qs[i] * a[b].qs[i];
        sum += w[b].d * a[b].d * (float)isum;
    }
    *s = sum;
}

/* ---------------------------------------------------------------- sub-block fitting */

/* Least-squares (s, off) for x ~ s*q + off given the codes q, with off <= 0 (the format's
 * mins are subtracted, so only a non-positive offset is representable). Returns the squared
 * error, or -1 if the codes are all equal or the scale comes out negative. */
static float ls_affine(const float *x, const uint8_t *q, int n, float *s_out, float *off_out) {
    float sq = 0, sqq = 0, sx = 0, sxq = 0;
    for (int i = 0; i < n; i++) {
        sq += q[i];
        sqq += (float)q[i] * q[i];
        sx += x[i];
        sxq += x[i] * q[i];
    }
    const float det = (float)n * sqq - sq * sq;
    if (det <= 0.0f) return -1.0f;
    float s = ((float)n * sxq - sq * sx) / det;
    float off = (sqq * sx - sq * sxq) / det;
    if (off > 0.0f) { /* refit the scale alone */
        off = 0.0f;
        s = sxq / sqq;
    }
    if (s <= 0.0f) return -1.0f;
    float err = 0.0f;
    for (int i = 0; i < n; i++) {
        const float e = s * q[i] + off - x[i];
        err += e * e;
    }
    *s_out = s;
    *off_out = off;
    return err;
}

/* Fit x ~ s*q - m with q in [0, nmax], s >= 0, m >= 0 over n <= 32 values. Tries grid
 * spacings around the min..max range, solves least squares for each, then polishes the best
 * by alternating code assignment and refitting (a few Lloyd steps). */
static void fit_affine(const float *x, int n, int nmax, float *s_out, float *m_out) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (lo > 0.0f) lo = 0.0f;
    *s_out = 0.0f;
    *m_out = -lo;
    if (hi - lo <= 0.0f) return;
    float best = FLT_MAX, bs = 0.0f, boff = lo;
    uint8_t q[32];
    for (int k = -10; k <= 10; k++) {
        const float iscale = ((float)nmax + 0.1f * (float)k) / (hi - lo);
        if (iscale <= 0.0f) continue;
        for (int i = 0; i < n; i++)
            q[i] = (uint8_t)clampi(nearest_int(iscale * (x[i] - lo)), 0, nmax);
        float s, off;
        const float err = ls_affine(x, q, n, &s, &off);
        if (err >= 0.0f && err < best) best = err, bs = s, boff = off;
    }
    for (int it = 0; it < 4 && best < FLT_MAX; it++) {
        const float is = 1.0f / bs;
        for (int i = 0; i < n; i++)
            q[i] = (uint8_t)clampi(nearest_int((x[i] - boff) * is), 0, nmax);
        float s, off;
        const float err = ls_affine(x, q, n, &s, &off);
        if (!(err >= 0.0f && err < best)) break;
        best = err, bs = s, boff = off;
    }
    if (best < FLT_MAX) {
        *s_out = bs;
        *m_out = -boff;
    }
}

/* Fit x ~ s*q with q in [-nmax, nmax-1] (s may be negative). Scans grid spacings that map the
 * largest-magnitude value to either end of the range and keeps the least-squares optimum. */
static void fit_symmetric(const float *x, int n, int nmax, float *s_out) {
    float amax = 0.0f, xm = 0.0f;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            xm = x[i];
        }
    }
    *s_out = 0.0f;
    if (amax == 0.0f) return;
    float best = -1.0f;
    for (int side = 0; side < 2; side++) {
        for (int k = -8; k <= 8; k++) {
            /* side 0: xm -> about -nmax (the longer end); side 1: xm -> about nmax-1 */
            const float target =
                side == 0 ? -((float)nmax + 0.1f * k) : (float)(nmax - 1) + 0.1f * k;
            const float iscale = target / xm;
            float sxq = 0.0f, sqq = 0.0f;
            for (int i = 0; i < n; i++) {
                const int q = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
                sxq += x[i] * q;
                sqq += (float)(q * q);
            }
            if (sqq <= 0.0f) continue;
            const float gain = sxq * sxq / sqq; /* squared error = sum(x^2) - gain */
            if (gain > best) {
                best = gain;
                *s_out = sxq / sqq;
            }
        }
    }
}

/* Super-block scale for sub-block scales quantized to [0, qmax]; returns the f16 bits and the
 * value actually stored (what dequantization will use). */
static uint16_t super_scale_unsigned(const float *v, int count, int qmax, float *used) {
    float mx = 0.0f;
    for (int i = 0; i < count; i++) mx = v[i] > mx ? v[i] : mx;
    const uint16_t h = fp32_to_fp16(mx / (float)qmax);
    *used = fp16_to_fp32(h);
    return h;
}

static int quant_unsigned(float v, float d, int qmax) {
    return d > 0.0f ? clampi(nearest_int(v / d), 0, qmax) : 0;
}

/* Signed sub-block scales in [-qneg, qneg-1]: the largest-magnitude one maps to -qneg. */
static uint16_t super_scale_signed(const float *v, int count, int qneg, float *used) {
    float amax = 0.0f, vm = 0.0f;
    for (int i = 0; i < count; i++)
        if (fabsf(v[i]) > amax) {
            amax = fabsf(v[i]);
            vm = v[i];
        }
    const uint16_t h = fp32_to_fp16(amax > 0.0f ? vm / -(float)qneg : 0.0f);
    *used = fp16_to_fp32(h);
    return h;
}

static int quant_signed(float v, float d, int qneg) {
    return d != 0.0f ? clampi(nearest_int(v / d), -qneg, qneg - 1) : 0;
}

/* Final codes for x ~ d*q - m, q in [0, nmax]. */
static void codes_affine(const float *x, int n, float d, float m, int nmax, uint8_t *q) {
    const float id = d > 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++) q[i] = (uint8_t)clampi(nearest_int((x[i] + m) * id), 0, nmax);
}

/* Final codes for x ~ d*q, q in [-nmax, nmax-1]. */
static void codes_symmetric(const float *x, int n, float d, int nmax, int8_t *q) {
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++) q[i] = (int8_t)clampi(nearest_int(x[i] * id), -nmax, nmax - 1);
}

/* ---------------------------------------------------------------- Q2_K */

static void quantize_q2_K(const float *x, void *vy, int64_t n) {
    block_q2_K *y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float s[16], m[16], d, dmin;
        uint8_t q[QK_K];
        for (int j = 0; j < 16; j++) fit_affine(x + 16 * j, 16, 3, &s[j], &m[j]);
        y[b].d = super_scale_unsigned(s, 16, 15, &d);
        y[b].dmin = super_scale_unsigned(m, 16, 15, &dmin);
        for (int j = 0; j < 16; j++) {
            const int sc = quant_unsigned(s[j], d, 15), mn = quant_unsigned(m[j], dmin, 15);
            y[b].scales[j] = (uint8_t)(sc | (mn << 4));
            codes_affine(x + 16 * j, 16, d * sc, dmin * mn, 3, q + 16 * j);
        }
        memset(y[b].qs, 0, sizeof y[b].qs);
        for (int i = 0; i < QK_K; i++) { /* i = 128h + 32j + l */
            const int h = i / 128, j = (i / 32) % 4, l = i % 32;
            y[b].qs[32 * h + l] |= (uint8_t)(q[i] << (2 * j));
        }
    }
}

static void dequantize_q2_K(const void *vx, float *y, int64_t n) {
    const block_q2_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float d = fp16_to_fp32(x[b].d), dmin = fp16_to_fp32(x[b].dmin);
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) {
                    const uint8_t sc = x[b].scales[8 * h + 2 * j + l / 16];
                    const float dl = d * (float)(sc & 15), ml = dmin * (float)(sc >> 4);
                    *y++ = dl * (float)((x[b].qs[32 * h + l] >> (2 * j)) & 3) - ml;
                }
    }
}

static void vec_dot_q2_K_q8_K(int64_t n, float *s, const void *vw, const void *va) {
    const block_q2_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t isum = 0, msum = 0;
        const int8_t *q8 = a[b].qs;
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 2; k++) {
                    int32_t sub = 0;
                    for (int l = 16 * k; l < 16 * k + 16; l++)
                        sub += ((w[b].qs[32 * h + l] >> (2 * j)) & 3) * q8[128 * h + 32 * j + l];
                    isum += (w[b].scales[8 * h + 2 * j + k] & 15) * sub;
                }
        for (int j = 0; j < 16; j++) msum += (w[b].scales[j] >> 4) * a[b].bsums[j];
        sum += a[b].d * fp16_to_fp32(w[b].d) * (float)isum -
               a[b].d * fp16_to_fp32(w[b].dmin) * (float)msum;
    }
    *s = sum;
}

/* ---------------------------------------------------------------- Q3_K */

static void quantize_q3_K(const float *x, void *vy, int64_t n) {
    block_q3_K *y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float s[16], d;
        int8_t q[QK_K];
        uint8_t v[16];
        for (int j = 0; j < 16; j++) fit_symmetric(x + 16 * j, 16, 4, &s[j]);
        y[b].d = super_scale_signed(s, 16, 32, &d);
        for (int j = 0; j < 16; j++) {
            const int sc = quant_signed(s[j], d, 32);
            v[j] = (uint8_t)(sc + 32);
            codes_symmetric(x + 16 * j, 16, d * sc, 4, q + 16 * j);
        }
        memset(y[b].scales, 0, sizeof y[b].scales);
        for (int j = 0; j < 16; j++) {
            y[b].scales[j % 8] |= (uint8_t)((v[j] & 15) << (j < 8 ? 0 : 4));
            y[b].scales[8 + j % 4] |= (uint8_t)((v[j] >> 4) << (2 * (j / 4)));
        }
        memset(y[b].qs, 0, sizeof y[b].qs);
        memset(y[b].hmask, 0, sizeof y[b].hmask);
        for (int i = 0; i < QK_K; i++) {
            const int h = i / 128, j = (i / 32) % 4, l = i % 32, u = q[i] + 4;
            y[b].qs[32 * h + l] |= (uint8_t)((u & 3) << (2 * j));
            y[b].hmask[l] |= (uint8_t)((u >> 2) << (4 * h + j));
        }
    }
}

static void dequantize_q3_K(const void *vx, float *y, int64_t n) {
    const block_q3_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float d = fp16_to_fp32(x[b].d);
        uint8_t sc[16];
        kq_unpack_q3k_scales(x[b].scales, sc);
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) {
                    const float dl = d * (float)(sc[8 * h + 2 * j + l / 16] - 32);
                    const int lo = (x[b].qs[32 * h + l] >> (2 * j)) & 3;
                    const int hi = (x[b].hmask[l] >> (4 * h + j)) & 1;
                    *y++ = dl * (float)(lo - (hi ? 0 : 4));
                }
    }
}

static void vec_dot_q3_K_q8_K(int64_t n, float *s, const void *vw, const void *va) {
    const block_q3_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t sc[16];
        kq_unpack_q3k_scales(w[b].scales, sc);
        const int8_t *q8 = a[b].qs;
        int32_t isum = 0;
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 2; k++) {
                    int32_t sub = 0;
                    for (int l = 16 * k; l < 16 * k + 16; l++) {
                        const int lo = (w[b].qs[32 * h + l] >> (2 * j)) & 3;
                        const int hi = (w[b].hmask[l] >> (4 * h + j)) & 1;
                        sub += (lo - (hi ? 0 : 4)) * q8[128 * h + 32 * j + l];
                    }
                    isum += (sc[8 * h + 2 * j + k] - 32) * sub;
                }
        sum += a[b].d * fp16_to_fp32(w[b].d) * (float)isum;
    }
    *s = sum;
}

/* ---------------------------------------------------------------- Q4_K / Q5_K */

static void pack_q4k_scales(const int sc[8], const int mn[8], uint8_t out[12]) {
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        out[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        out[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fits, packs d/dmin/scales, returns codes. */
static void quantize_q45_block(const float *x, int nmax, uint16_t *dh, uint16_t *dminh,
                               uint8_t scales[12], uint8_t q[QK_K]) {
    float s[8], m[8], d, dmin;
    int sc[8], mn[8];
    for (int j = 0; j < 8; j++) fit_affine(x + 32 * j, 32, nmax, &s[j], &m[j]);
    *dh = super_scale_unsigned(s, 8, 63, &d);
    *dminh = super_scale_unsigned(m, 8, 63, &dmin);
    for (int j = 0; j < 8; j++) {
        sc[j] = quant_unsigned(s[j], d, 63);
        mn[j] = quant_unsigned(m[j], dmin, 63);
        codes_affine(x + 32 * j, 32, d * sc[j], dmin * mn[j], nmax, q + 32 * j);
    }
    pack_q4k_scales(sc, mn, scales);
}

static void quantize_q4_K(const float *x, void *vy, int64_t n) {
    block_q4_K *y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        uint8_t q[QK_K];
        quantize_q45_block(x, 15, &y[b].d, &y[b].dmin, y[b].scales, q);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[b].qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    }
}

static void quantize_q5_K(const float *x, void *vy, int64_t n) {
    block_q5_K *y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        uint8_t q[QK_K];
        quantize_q45_block(x, 31, &y[b].d, &y[b].dmin, y[b].scales, q);
        memset(y[b].qh, 0, sizeof y[b].qh);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                const int q0 = q[64 * c + l], q1 = q[64 * c + 32 + l];
                y[b].qs[32 * c + l] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
                y[b].qh[l] |= (uint8_t)(((q0 >> 4) << (2 * c)) | ((q1 >> 4) << (2 * c + 1)));
            }
    }
}

/* Q4_K and Q5_K share everything but the fifth bit; qh == NULL means Q4_K. */
static void dequant_q45(uint16_t dh, uint16_t dminh, const uint8_t *scales, const uint8_t *qs,
                        const uint8_t *qh, float *y) {
    const float d = fp16_to_fp32(dh), dmin = fp16_to_fp32(dminh);
    uint64_t sc64, mn64;
    kq_unpack_q4k_scales(scales, &sc64, &mn64);
    for (int j = 0; j < 8; j++) {
        const int c = j / 2, shift = 4 * (j & 1);
        const float dl = d * (float)((sc64 >> (8 * j)) & 0xff);
        const float ml = dmin * (float)((mn64 >> (8 * j)) & 0xff);
        for (int l = 0; l < 32; l++) {
            int q = (qs[32 * c + l] >> shift) & 15;
            if (qh) q += ((qh[l] >> j) & 1) << 4;
            *y++ = dl * (float)q - ml;
        }
    }
}

static void dequantize_q4_K(const void *vx, float *y, int64_t n) {
    const block_q4_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K)
        dequant_q45(x[b].d, x[b].dmin, x[b].scales, x[b].qs, NULL, y);
}

static void dequantize_q5_K(const void *vx, float *y, int64_t n) {
    const block_q5_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K)
        dequant_q45(x[b].d, x[b].dmin, x[b].scales, x[b].qs, x[b].qh, y);
}

static float dot_q45_block(uint16_t dh, uint16_t dminh, const uint8_t *scales, const uint8_t *qs,
                           const uint8_t *qh, const block_q8_K *a) {
    uint64_t sc64, mn64;
    kq_unpack_q4k_scales(scales, &sc64, &mn64);
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; j++) {
        const int c = j / 2, shift = 4 * (j & 1);
        int32_t sub = 0;
        for (int l = 0; l < 32; l++) {
            int q = (qs[32 * c + l] >> shift) & 15;
            if (qh) q += ((qh[l] >> j) & 1) << 4;
            sub += q * a->qs[32 * j + l];
        }
        isum += (int32_t)((sc64 >> (8 * j)) & 0xff) * sub;
        msum += (int32_t)((mn64 >> (8 * j)) & 0xff) * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
    }
    return a->d * fp16_to_fp32(dh) * (float)isum - a->d * fp16_to_fp32(dminh) * (float)msum;
}

static void vec_dot_q4_K_q8_K(int64_t n, float *s, const void *vw, const void *va) {
    const block_q4_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++)
        sum += dot_q45_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, NULL, &a[b]);
    *s = sum;
}

static void vec_dot_q5_K_q8_K(int64_t n, float *s, const void *vw, const void *va) {
    const block_q5_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++)
        sum += dot_q45_block(w[b].d, w[b].dmin, w[b].scales, w[b].qs, w[b].qh, &a[b]);
    *s = sum;
}

/* ---------------------------------------------------------------- Q6_K */

static void quantize_q6_K(const float *x, void *vy, int64_t n) {
    block_q6_K *y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float s[16], d;
        int8_t q[QK_K];
        for (int j = 0; j < 16; j++) fit_symmetric(x + 16 * j, 16, 32, &s[j]);
        y[b].d = super_scale_signed(s, 16, 128, &d);
        for (int j = 0; j < 16; j++) {
            const int sc = quant_signed(s[j], d, 128);
            y[b].scales[j] = (int8_t)sc;
            codes_symmetric(x + 16 * j, 16, d * sc, 32, q + 16 * j);
        }
        memset(y[b].ql, 0, sizeof y[b].ql);
        memset(y[b].qh, 0, sizeof y[b].qh);
        for (int i = 0; i < QK_K; i++) { /* i = 128h + 32k + l */
            const int h = i / 128, k = (i / 32) % 4, l = i % 32, u = q[i] + 32;
            y[b].ql[64 * h + 32 * (k & 1) + l] |= (uint8_t)((u & 15) << (4 * (k >> 1)));
            y[b].qh[32 * h + l] |= (uint8_t)((u >> 4) << (2 * k));
        }
    }
}

static inline int q6_code(const block_q6_K *x, int i) {
    const int h = i / 128, k = (i / 32) % 4, l = i % 32;
    const int lo = (x->ql[64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 15;
    const int hi = (x->qh[32 * h + l] >> (2 * k)) & 3;
    return (lo | (hi << 4)) - 32;
}

static void dequantize_q6_K(const void *vx, float *y, int64_t n) {
    const block_q6_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float d = fp16_to_fp32(x[b].d);
        for (int i = 0; i < QK_K; i++)
            *y++ = d * (float)x[b].scales[i / 16] * (float)q6_code(&x[b], i);
    }
}

static void vec_dot_q6_K_q8_K(int64_t n, float *s, const void *vw, const void *va) {
    const block_q6_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t isum = 0;
        for (int j = 0; j < 16; j++) {
            int32_t sub = 0;
            for (int i = 16 * j; i < 16 * j + 16; i++) sub += q6_code(&w[b], i) * a[b].qs[i];
            isum += w[b].scales[j] * sub;
        }
        sum += a[b].d * fp16_to_fp32(w[b].d) * (float)isum;
    }
    *s = sum;
}

/* ---------------------------------------------------------------- registration */

static void set_scalar(quant_registry *r, tensor_type t, to_float_fn to, from_float_fn from,
                       vec_dot_fn dot) {
    r->t[t].to_float = to;
    r->t[t].from_float = from;
    r->t[t].vec_dot[ISA_SCALAR] = dot;
}

void quant_register_kquants(quant_registry *r) {
    set_scalar(r, TT_Q2_K, dequantize_q2_K, quantize_q2_K, vec_dot_q2_K_q8_K);
    set_scalar(r, TT_Q3_K, dequantize_q3_K, quantize_q3_K, vec_dot_q3_K_q8_K);
    set_scalar(r, TT_Q4_K, dequantize_q4_K, quantize_q4_K, vec_dot_q4_K_q8_K);
    set_scalar(r, TT_Q5_K, dequantize_q5_K, quantize_q5_K, vec_dot_q5_K_q8_K);
    set_scalar(r, TT_Q6_K, dequantize_q6_K, quantize_q6_K, vec_dot_q6_K_q8_K);
    set_scalar(r, TT_Q8_K, dequantize_q8_K, quantize_q8_K, vec_dot_q8_K_q8_K);
    r->t[TT_Q2_K].vec_dot[ISA_AVX2] = vec_dot_q2_K_avx2;
    r->t[TT_Q3_K].vec_dot[ISA_AVX2] = vec_dot_q3_K_avx2;
    r->t[TT_Q4_K].vec_dot[ISA_AVX2] = vec_dot_q4_K_avx2;
    r->t[TT_Q5_K].vec_dot[ISA_AVX2] = vec_dot_q5_K_avx2;
    r->t[TT_Q4_K].vec_dot_multi[ISA_AVX2] = vec_dot_multi_q4_K_avx2;
    r->t[TT_Q5_K].vec_dot_multi[ISA_AVX2] = vec_dot_multi_q5_K_avx2;
    r->t[TT_Q6_K].vec_dot[ISA_AVX2] = vec_dot_q6_K_avx2;
    r->t[TT_Q8_K].from_float_isa[ISA_AVX2] = quantize_q8_K_avx2;
    r->t[TT_Q2_K].vec_dot[ISA_AVX512] = vec_dot_q2_K_avx512;
    r->t[TT_Q3_K].vec_dot[ISA_AVX512] = vec_dot_q3_K_avx512;
    r->t[TT_Q4_K].vec_dot[ISA_AVX512] = vec_dot_q4_K_avx512;
    r->t[TT_Q5_K].vec_dot[ISA_AVX512] = vec_dot_q5_K_avx512;
    r->t[TT_Q4_K].vec_dot_multi[ISA_AVX512] = vec_dot_multi_q4_K_avx512;
    r->t[TT_Q5_K].vec_dot_multi[ISA_AVX512] = vec_dot_multi_q5_K_avx512;
    r->t[TT_Q6_K].vec_dot[ISA_AVX512] = vec_dot_q6_K_avx512;
    r->t[TT_Q8_K].from_float_isa[ISA_AVX512] = quantize_q8_K_avx512;
}
