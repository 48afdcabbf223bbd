/* Forward-pass operations. Matrix products split rows across threads; the rest is cheap. */
#include "ops.h"
#include "kernels/act_kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

typedef struct {
    const weight *w;
    const float *x;
    float *y;
    uint8_t *xq;
    size_t xq_row;
    int n;
    gemm_fn gemm;         /* prefill tile kernel, or NULL: one vec_dot per (row, token) */
    gemm_prep_fn prep;    /* the tile kernel's activation conversion, or NULL */
    int panel;            /* the tile kernel's panel height: threads get whole panels */
    atomic_long next_run; /* gemm_rows: the next run of panels to take */
} matmul_job;

static void quantize_rows(void *arg, int ith, int nth) {
    matmul_job *j = arg;
    tensor_type vt = quant_traits(j->w->type)->vec_dot_type;
    from_float_fn q = quant_from_float(vt);
    long b, e;
    pool_split(j->n, ith, nth, &b, &e);
    for (long t = b; t < e; t++) {
        q(j->x + t * j->w->cols, j->xq + t * j->xq_row, j->w->cols);
        if (j->prep) j->prep(j->xq + t * j->xq_row, j->w->cols);
    }
}

static void dot_rows(void *arg, int ith, int nth) {
    matmul_job *j = arg;
    const weight *w = j->w;
    vec_dot_fn dot = quant_vec_dot(w->type);
    long b, e;
    pool_split(w->rows, ith, nth, &b, &e);
    for (long r = b; r < e; r++) {
        const uint8_t *row = w->data + (size_t)r * w->row_bytes;
        for (int t = 0; t < j->n; t++)
            dot(w->cols, &j->y[(size_t)t * w->rows + r], row, j->xq + t * j->xq_row);
    }
}

/* Threads take runs of whole panels (all tokens each) from a shared counter: the tile kernel
 * reads every weight byte once per call and the (shared, read-only) activations from cache, and
 * when a thread is descheduled (an editor, a compiler on the same cores) the others take over
 * its share instead of waiting for it. */
enum { GEMM_RUNS_PER_THREAD = 4 };

static void gemm_rows(void *arg, int ith, int nth) {
    matmul_job *j = arg;
    const weight *w = j->w;
    (void)ith;
    long panels = (w->rows + j->panel - 1) / j->panel;
    long run = (panels + (long)nth * GEMM_RUNS_PER_THREAD - 1) / ((long)nth * GEMM_RUNS_PER_THREAD);
    for (;;) {
        long b = atomic_fetch_add_explicit(&j->next_run, 1, memory_order_relaxed) * run;
        if (b >= panels) return;
        long e = b + run < panels ? b + run : panels;
        b *= j->panel;
        e = e * j->panel < w->rows ? e * j->panel : w->rows;
        j->gemm(w->cols, (int)(e - b), j->n, w->data + (size_t)b * w->row_bytes, w->row_bytes,
                j->xq, j->xq_row, j->y + b, (size_t)w->rows);
    }
}

/* Below this many tokens one vec_dot per (row, token): the tile kernels repack every weight
 * panel once per call, which a handful of tokens does not amortize (`test_gemm bench-small`:
 * break-even at 2-4 tokens on AVX-512, ~6-8 on AVX2). Kept at 8 rather than lowered because
 * speculative decoding keeps its verification batches below it, so that they sum each product
 * in the same order as 1-token decoding (engine/generate.c). */
#define GEMM_MIN_TOKENS 8
_Static_assert(GEMM_MIN_TOKENS - 1 <= VEC_DOT_MULTI_MAX, "small batches fit the multi-row dots");

/* The tile kernel of the best ISA <= the active one, for batches of GEMM_MIN_TOKENS or more
 * (decode keeps vec_dot, which streams the weights once either way). */
static void pick_gemm(matmul_job *j) {
    const type_traits *tr = quant_traits(j->w->type);
    if (j->n < GEMM_MIN_TOKENS) return;
    for (int isa = quant_active_isa(); isa > ISA_SCALAR; isa--)
        if (tr->gemm[isa]) {
            j->gemm = tr->gemm[isa];
            j->prep = tr->gemm_prep[isa];
            j->panel = tr->gemm_rows[isa] > 0 ? tr->gemm_rows[isa] : 1;
            return;
        }
}

/* ---- small batches (decode, speculative verification): one pool round per group ----
 * The caller quantizes the few activation rows itself (microseconds: cheaper than a barrier),
 * then the threads take chunks of weight rows from a shared counter until none are left, over
 * all weights of the group at once. Taking chunks rather than fixed shares keeps both cores busy
 * to the end when one of them is slowed (memory contention, a neighbour), and one round for
 * q/k/v or gate/up halves the barriers per layer. Each (row, token) is still one vec_dot, so
 * the result does not depend on which thread computed it. */
enum { CHUNKS_PER_THREAD = 2, MIN_CHUNK_BYTES = 16 << 10 };

typedef struct {
    const matmul_out *outs;
    int n_outs, n;
    long chunk_rows[MATMUL_GROUP_MAX];
    long first_chunk[MATMUL_GROUP_MAX + 1]; /* chunks of outs[o]: [first_chunk[o], [o + 1]) */
    const uint8_t *xq[MATMUL_GROUP_MAX];
    size_t xq_row[MATMUL_GROUP_MAX];
    vec_dot_fn dot[MATMUL_GROUP_MAX];
    vec_dot_multi_fn multi[MATMUL_GROUP_MAX]; /* NULL: one dot per token */
    atomic_long next_chunk;
} small_batch_job;

static void dot_chunks(void *arg, int ith, int nth) {
    small_batch_job *j = arg;
    (void)ith, (void)nth;
    for (;;) {
        long c = atomic_fetch_add_explicit(&j->next_chunk, 1, memory_order_relaxed);
        if (c >= j->first_chunk[j->n_outs]) return;
        int o = 0;
        while (c >= j->first_chunk[o + 1]) o++;
        const weight *w = j->outs[o].w;
        vec_dot_fn dot = j->dot[o];
        vec_dot_multi_fn multi = j->multi[o];
        long r = (c - j->first_chunk[o]) * j->chunk_rows[o];
        long end = r + j->chunk_rows[o] < w->rows ? r + j->chunk_rows[o] : w->rows;
        for (; r < end; r++) {
            const uint8_t *row = w->data + (size_t)r * w->row_bytes;
            float *y = &j->outs[o].y[r];
            if (multi) { /* the same sums as one vec_dot per token, the row unpacked once */
                multi(w->cols, j->n, y, (size_t)w->rows, row, j->xq[o], j->xq_row[o]);
                continue;
            }
            for (int t = 0; t < j->n; t++)
                dot(w->cols, &y[(size_t)t * w->rows], row, j->xq[o] + t * j->xq_row[o]);
        }
    }
}

/* Quantizes x once per distinct vec_dot_type of the group (into consecutive parts of xq) and
 * cuts every weight into chunks of about the same number of bytes. */
static void plan_small_batch(small_batch_job *j, threadpool *pool, const float *x, uint8_t *xq) {
    size_t total = 0;
    for (int o = 0; o < j->n_outs; o++)
        total += (size_t)j->outs[o].w->rows * j->outs[o].w->row_bytes;
    size_t target = total / ((size_t)threadpool_size(pool) * CHUNKS_PER_THREAD);
    target = target > MIN_CHUNK_BYTES ? target : MIN_CHUNK_BYTES;
    j->first_chunk[0] = 0;
    for (int o = 0; o < j->n_outs; o++) {
        const weight *w = j->outs[o].w;
        tensor_type vt = quant_traits(w->type)->vec_dot_type;
        j->xq_row[o] = quant_row_size(vt, w->cols);
        j->dot[o] = quant_vec_dot(w->type);
        j->multi[o] = j->n > 1 ? quant_vec_dot_multi(w->type) : NULL;
        j->xq[o] = NULL;
        for (int p = 0; p < o && !j->xq[o]; p++)
            if (quant_traits(j->outs[p].w->type)->vec_dot_type == vt) j->xq[o] = j->xq[p];
        if (!j->xq[o]) { /* a new activation type: quantize into the next free part of xq */
            j->xq[o] = xq;
            from_float_fn q = quant_from_float(vt);
            for (int t = 0; t < j->n; t++)
                q(x + (size_t)t * w->cols, xq + t * j->xq_row[o], w->cols);
            xq += (size_t)j->n * j->xq_row[o];
        }
        long rows = (long)(target / w->row_bytes);
        j->chunk_rows[o] = rows > 0 ? rows : 1;
        j->first_chunk[o + 1] =
            j->first_chunk[o] + (w->rows + j->chunk_rows[o] - 1) / j->chunk_rows[o];
    }
    atomic_init(&j->next_chunk, 0);
}

void op_matmul_group(threadpool *pool, const matmul_out *outs, int n_outs, const float *x, int n,
                     void *xq) {
    if (n >= GEMM_MIN_TOKENS || n_outs > MATMUL_GROUP_MAX) { /* prefill: the tile kernels */
        for (int o = 0; o < n_outs; o++) op_matmul(pool, outs[o].w, x, n, outs[o].y, xq);
        return;
    }
    small_batch_job j = {.outs = outs, .n_outs = n_outs, .n = n};
    plan_small_batch(&j, pool, x, xq);
    threadpool_run(pool, dot_chunks, &j);
}

void op_matmul(threadpool *pool, const weight *w, const float *x, int n, float *y, void *xq) {
    if (n < GEMM_MIN_TOKENS) {
        matmul_out one = {w, y};
        op_matmul_group(pool, &one, 1, x, n, xq);
        return;
    }
    tensor_type vt = quant_traits(w->type)->vec_dot_type;
    matmul_job j = {w, x, y, xq, quant_row_size(vt, w->cols), n, NULL, NULL, 1, 0};
    pick_gemm(&j);
    threadpool_run(pool, quantize_rows, &j);
    threadpool_run(pool, j.gemm ? gemm_rows : dot_rows, &j);
}

size_t op_matmul_scratch(int64_t cols, int n) {
    return (size_t)cols * sizeof(float) * (size_t)n;
}

void op_rmsnorm(const float *x, const float *g, float *out, int64_t dim, int n, float eps) {
    for (int t = 0; t < n; t++) {
        const float *xr = x + t * dim;
        float *o = out + t * dim;
        double ss = 0.0;
        for (int64_t i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
        float scale = 1.0f / sqrtf((float)(ss / dim) + eps);
        for (int64_t i = 0; i < dim; i++) o[i] = xr[i] * scale * g[i];
    }
}

void op_layernorm(const float *x, const float *g, const float *b, float *out, int64_t dim, int n,
                  float eps) {
    for (int t = 0; t < n; t++) {
        const float *xr = x + t * dim;
        float *o = out + t * dim;
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < dim; i++) mean += xr[i];
        mean /= (double)dim;
        for (int64_t i = 0; i < dim; i++) var += (xr[i] - mean) * (xr[i] - mean);
        float scale = (float)(1.0 / sqrt(var / (double)dim + eps));
        for (int64_t i = 0; i < dim; i++) o[i] = (float)(xr[i] - mean) * scale * g[i] + b[i];
    }
}

void op_gelu_scalar(float *x, int64_t len) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    for (int64_t i = 0; i < len; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * v * (1.0f + 0.044715f * v * v)));
    }
}

/* The activations are hot in prefill (tens of millions of exp per batch): vectorised where the
 * CPU allows, else the scalar references. */
void op_swiglu(float *gate, const float *up, int64_t len) {
    if (quant_active_isa() >= ISA_AVX2)
        act_swiglu_avx2(gate, up, len);
    else
        op_swiglu_scalar(gate, up, len);
}

void op_gelu(float *x, int64_t len) {
    if (quant_active_isa() >= ISA_AVX2)
        act_gelu_avx2(x, len);
    else
        op_gelu_scalar(x, len);
}

float op_exp_shift_scalar(float *x, int64_t n, float shift) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += x[i] = expf(x[i] - shift);
    return (float)sum;
}

float op_exp_shift(float *x, int64_t n, float shift) {
    if (quant_active_isa() >= ISA_AVX2) return act_exp_shift_avx2(x, n, shift);
    return op_exp_shift_scalar(x, n, shift);
}

void op_add_bias(float *x, const float *b, int64_t dim, int n) {
    for (int t = 0; t < n; t++)
        for (int64_t i = 0; i < dim; i++) x[t * dim + i] += b[i];
}

void op_rope_freqs(const rope_spec *r, float *freq) {
    for (int i = 0; i < r->n_rot / 2; i++) {
        float extrap = powf(r->freq_base, -2.0f * (float)i / (float)r->n_rot);
        freq[i] = extrap * r->freq_scale;
        if (!r->yarn) continue;
        /* ramp 1 keeps the original frequency (short wavelengths), 0 interpolates */
        float y = ((float)i - r->corr_lo) / fmaxf(0.001f, r->corr_hi - r->corr_lo);
        float ramp = 1.0f - fminf(1.0f, fmaxf(0.0f, y));
        freq[i] = freq[i] * (1.0f - ramp) + extrap * ramp;
    }
}

/* Pairs (2i, 2i+1) rotate in NORM mode, (i, i + n_rot/2) in NEOX mode; theta = pos * freq_i. */
void op_rope(float *x, int n, int n_heads, int head_dim, const int32_t *pos, const rope_spec *r) {
    int half = r->n_rot / 2;
    float freq[2048], mscale = r->yarn ? r->mscale : 1.0f;
    if (half > 2048) return; /* the loader bounds n_rot by head_dim <= 4096 */
    op_rope_freqs(r, freq);
    for (int t = 0; t < n; t++) {
        for (int i = 0; i < half; i++) {
            float theta = (float)pos[t] * freq[i];
            float c = cosf(theta) * mscale, s = sinf(theta) * mscale;
            for (int h = 0; h < n_heads; h++) {
                float *v = x + ((size_t)t * n_heads + h) * head_dim;
                int a = r->kind == ROPE_NEOX ? i : 2 * i;
                int b = r->kind == ROPE_NEOX ? i + half : 2 * i + 1;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}

void op_swiglu_oai_scalar(float *gate, const float *up, int64_t len) {
    for (int64_t i = 0; i < len; i++) {
        float x = fminf(gate[i], 7.0f), y = fminf(fmaxf(up[i], -7.0f), 7.0f);
        gate[i] = x / (1.0f + expf(-1.702f * x)) * (y + 1.0f);
    }
}

void op_swiglu_oai(float *gate, const float *up, int64_t len) {
    if (quant_active_isa() >= ISA_AVX2)
        act_swiglu_oai_avx2(gate, up, len);
    else
        op_swiglu_oai_scalar(gate, up, len);
}

void op_swiglu_scalar(float *gate, const float *up, int64_t len) {
    for (int64_t i = 0; i < len; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void op_get_row(const weight *w, int64_t row, float *out) {
    quant_traits(w->type)->to_float(w->data + (size_t)row * w->row_bytes, out, w->cols);
}

/* ---- element-wise operations split across threads (prefill) ---- */

enum { MT_MIN_ELEMENTS = 1 << 14 }; /* below this a pool round trip costs more than it saves */

typedef struct {
    int kind; /* 0 rmsnorm, 1 swiglu, 2 gelu, 3 rope, 4 clamped swiglu */
    float *x, *out;
    const float *g, *up;
    int64_t dim, len;
    int n, n_heads, head_dim;
    const int32_t *pos;
    float eps;
    const rope_spec *rope;
} elementwise_job;

static void elementwise_worker(void *arg, int ith, int nth) {
    elementwise_job *j = arg;
    long b, e;
    if (j->kind == 1 || j->kind == 2 || j->kind == 4) {
        /* split on 16-element boundaries so every thread's range stays vector-aligned */
        pool_split((long)(j->len + 15) / 16, ith, nth, &b, &e);
        b *= 16;
        e = e * 16 < j->len ? e * 16 : (long)j->len;
        if (b >= e) return;
        if (j->kind == 1)
            op_swiglu(j->x + b, j->up + b, e - b);
        else if (j->kind == 4)
            op_swiglu_oai(j->x + b, j->up + b, e - b);
        else
            op_gelu(j->x + b, e - b);
        return;
    }
    pool_split(j->n, ith, nth, &b, &e);
    if (b >= e) return;
    if (j->kind == 0)
        op_rmsnorm(j->x + b * j->dim, j->g, j->out + b * j->dim, j->dim, (int)(e - b), j->eps);
    else
        op_rope(j->x + (size_t)b * j->n_heads * j->head_dim, (int)(e - b), j->n_heads, j->head_dim,
                j->pos + b, j->rope);
}

void op_rmsnorm_mt(threadpool *pool, const float *x, const float *g, float *out, int64_t dim, int n,
                   float eps) {
    if ((int64_t)n * dim < MT_MIN_ELEMENTS) return op_rmsnorm(x, g, out, dim, n, eps);
    elementwise_job j = {
        .kind = 0, .x = (float *)x, .out = out, .g = g, .dim = dim, .n = n, .eps = eps};
    threadpool_run(pool, elementwise_worker, &j);
}

void op_swiglu_mt(threadpool *pool, float *gate, const float *up, int64_t len) {
    if (len < MT_MIN_ELEMENTS) return op_swiglu(gate, up, len);
    elementwise_job j = {.kind = 1, .x = gate, .up = up, .len = len};
    threadpool_run(pool, elementwise_worker, &j);
}

void op_gelu_mt(threadpool *pool, float *x, int64_t len) {
    if (len < MT_MIN_ELEMENTS) return op_gelu(x, len);
    elementwise_job j = {.kind = 2, .x = x, .len = len};
    threadpool_run(pool, elementwise_worker, &j);
}

void op_swiglu_oai_mt(threadpool *pool, float *gate, const float *up, int64_t len) {
    if (len < MT_MIN_ELEMENTS) return op_swiglu_oai(gate, up, len);
    elementwise_job j = {.kind = 4, .x = gate, .up = up, .len = len};
    threadpool_run(pool, elementwise_worker, &j);
}

void op_rope_mt(threadpool *pool, float *x, int n, int n_heads, int head_dim, const int32_t *pos,
                const rope_spec *r) {
    if ((int64_t)n * n_heads * head_dim < MT_MIN_ELEMENTS)
        return op_rope(x, n, n_heads, head_dim, pos, r);
    elementwise_job j = {
        .kind = 3, .x = x, .n = n, .n_heads = n_heads, .head_dim = head_dim, .pos = pos, .rope = r};
    threadpool_run(pool, elementwise_worker, &j);
}
