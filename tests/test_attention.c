/* The SIMD attention loops and activations equal their scalar references; the tiled attention
 * equals the row-at-a-time one over cache types, group sizes, masks, paging and tile boundaries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attend.h"
#include "context.h"
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
    static float o_ref[N], o_simd[N], o_up[N]; /* gpt-oss's clamped SwiGLU: both sides of +-7 */
    for (int i = 0; i < N; i++) {
        o_ref[i] = o_simd[i] = rnd(&seed) * 12.0f;
        o_up[i] = rnd(&seed) * 10.0f;
    }
    op_swiglu_oai_scalar(o_ref, o_up, N);
    act_swiglu_oai_avx2(o_simd, o_up, N);
    for (int i = 0; i < N; i++)
        CHECKF(fabsf(o_ref[i] - o_simd[i]) <= 1e-5f * fabsf(o_ref[i]) + 1e-30f,
               "swiglu_oai %d: %g vs %g", i, o_ref[i], o_simd[i]);
    float clamp_in[3] = {9.0f, -1.0f, 100.0f}, clamp_up[3] = {8.0f, -9.0f, -2.0f};
    op_swiglu_oai_scalar(clamp_in, clamp_up, 3); /* gate capped at 7 above only, up at +-7 */
    CHECK(fabsf(clamp_in[0] - 7.0f / (1.0f + expf(-1.702f * 7.0f)) * 8.0f) < 1e-5f);
    CHECK(fabsf(clamp_in[1] - -1.0f / (1.0f + expf(1.702f)) * -6.0f) < 1e-5f);
    CHECK(fabsf(clamp_in[2] - 7.0f / (1.0f + expf(-1.702f * 7.0f)) * -1.0f) < 1e-5f);
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

/* ---- tiled attention vs row attention ---- */

/* One random attention problem: n query tokens; sequence s holds positions [0, len[s]) of which
 * its last tokens are the batch's; a contiguous cache packs the sequences back to back (lo = the
 * sequence's first row, as embed.c does), a paged one gives each its own shuffled block table. */
typedef struct {
    int hd, H, KV, n_seq, len[2], n_query[2];
    engine_kv_type kv_type;
    int kv_block; /* 0: contiguous */
    bool causal;
    float q_scale;
} attn_case;

typedef struct {
    attn_batch b;
    uint8_t *k, *v;
    float *q;
    int32_t *lo, *hi, *blocks[2];
    const int32_t *tok_blocks[512];
    int n;
} attn_problem;

static void store_row(engine_kv_type t, uint8_t *dst, const float *src, int count) {
    if (t == ENGINE_KV_F32)
        memcpy(dst, src, (size_t)count * sizeof(float));
    else if (t == ENGINE_KV_Q8_0)
        attn_quantize_q8_0(dst, src, (size_t)count);
    else
        for (int i = 0; i < count; i++) ((uint16_t *)(void *)dst)[i] = fp32_to_fp16(src[i]);
}

static void problem_make(attn_problem *p, const attn_case *tc, unsigned seed) {
    memset(p, 0, sizeof *p);
    int kvw = tc->KV * tc->hd, qw = tc->H * tc->hd, rows = 0, n = 0;
    size_t row_bytes = kv_bytes_of(tc->kv_type, (size_t)kvw);
    int per_seq_blocks[2] = {0, 0};
    for (int s = 0; s < tc->n_seq; s++) {
        n += tc->n_query[s];
        per_seq_blocks[s] = tc->kv_block ? (tc->len[s] + tc->kv_block - 1) / tc->kv_block : 0;
        rows += tc->kv_block ? per_seq_blocks[s] * tc->kv_block : tc->len[s];
    }
    p->n = n;
    p->k = calloc((size_t)rows, row_bytes);
    p->v = calloc((size_t)rows, row_bytes);
    p->q = malloc((size_t)n * qw * sizeof(float));
    p->lo = malloc((size_t)n * sizeof(int32_t));
    p->hi = malloc((size_t)n * sizeof(int32_t));
    float *row = malloc((size_t)kvw * sizeof(float));
    int n_blocks = per_seq_blocks[0] + per_seq_blocks[1], taken = 0, t = 0, base = 0;
    for (int s = 0; s < tc->n_seq && tc->kv_block; s++)
        p->blocks[s] = malloc((size_t)per_seq_blocks[s] * sizeof(int32_t));
    for (int i = 0; i < n_blocks && tc->kv_block; i++) /* the sequences' blocks interleaved, */
        for (int s = 0; s < tc->n_seq; s++)            /* taken from the top of the cache down */
            if (i < per_seq_blocks[s]) p->blocks[s][i] = n_blocks - 1 - taken++;
    for (int s = 0; s < tc->n_seq; s++) {
        for (int j = 0; j < tc->len[s]; j++) {
            size_t phys = tc->kv_block ? (size_t)p->blocks[s][j / tc->kv_block] * tc->kv_block +
                                             (size_t)(j % tc->kv_block)
                                       : (size_t)(base + j);
            for (int i = 0; i < kvw; i++) row[i] = rnd(&seed) * 2.0f;
            store_row(tc->kv_type, p->k + phys * row_bytes, row, kvw);
            for (int i = 0; i < kvw; i++) row[i] = rnd(&seed);
            store_row(tc->kv_type, p->v + phys * row_bytes, row, kvw);
        }
        int first = tc->len[s] - tc->n_query[s], off = tc->kv_block ? 0 : base;
        for (int i = 0; i < tc->n_query[s]; i++, t++) {
            p->lo[t] = off;
            p->hi[t] = off + (tc->causal ? first + i + 1 : tc->len[s]);
            p->tok_blocks[t] = p->blocks[s];
            for (int d = 0; d < qw; d++) p->q[(size_t)t * qw + d] = rnd(&seed) * tc->q_scale;
        }
        base += tc->len[s];
    }
    free(row);
    p->b = (attn_batch){.n_head = tc->H,
                        .n_head_kv = tc->KV,
                        .head_dim = tc->hd,
                        .kv_type = tc->kv_type,
                        .k = p->k,
                        .v = p->v,
                        .kv_block = tc->kv_block,
                        .tok_blocks = tc->kv_block ? p->tok_blocks : NULL,
                        .lo = p->lo,
                        .hi = p->hi,
                        .q = p->q,
                        .causal = tc->causal};
}

static void problem_free(attn_problem *p) {
    free(p->k);
    free(p->v);
    free(p->q);
    free(p->lo);
    free(p->hi);
    free(p->blocks[0]);
    free(p->blocks[1]);
}

/* out = the batch's attention: rows (tq 0) or tiles of at most tq tokens, with kernels k */
static void run_attention(attn_problem *p, const attn_kernels *k, int tq, float *out) {
    attn_batch b = p->b;
    b.out = out;
    b.kern = k;
    int G = b.n_head / b.n_head_kv, stride = 0;
    for (int t = 0; t < p->n; t++) stride = p->hi[t] > stride ? p->hi[t] : stride;
    if (tq == 0) {
        float *scores = malloc((size_t)G * stride * sizeof(float)), row[ATTN_MAX_HEAD_DIM];
        for (int t = 0; t < p->n; t++)
            for (int g = 0; g < b.n_head_kv; g++)
                attend_rows(&b, t, g, scores, (size_t)stride, row);
        free(scores);
        return;
    }
    int32_t starts[513];
    float *scratch = malloc(attn_tile_scratch_floats(G, b.head_dim) * sizeof(float));
    int count = attn_tiles(&b, p->n, tq, starts);
    for (int i = 0; i < count; i++) {
        CHECK(starts[i + 1] - starts[i] <= tq);
        for (int g = 0; g < b.n_head_kv; g++)
            attend_tile(&b, starts[i], starts[i + 1] - starts[i], g, scratch);
    }
    free(scratch);
}

static const char *KV_NAMES[] = {"f16", "f32", "q8_0"};

static void check_case(const attn_case *tc, unsigned seed) {
    attn_problem p;
    problem_make(&p, tc, seed);
    size_t count = (size_t)p.n * tc->H * tc->hd;
    float *rows = malloc(count * 4), *tiled = malloc(count * 4), *ref = malloc(count * 4),
          *single = malloc(count * 4), *avx2 = malloc(count * 4);
    const attn_kernels *scalar = attn_kernels_for(ISA_SCALAR, tc->hd);
    const attn_kernels *simd = attn_kernels_for(quant_cpu_isa(), tc->hd);
    int tq = attn_tile_tokens(tc->H / tc->KV, tc->hd);
    run_attention(&p, simd, 0, rows);
    run_attention(&p, simd, tq, tiled);
    run_attention(&p, scalar, tq, ref);
    run_attention(&p, simd, 1, single);
    run_attention(&p, attn_kernels_for(quant_cpu_isa() < ISA_AVX2 ? ISA_SCALAR : ISA_AVX2, tc->hd),
                  tq, avx2);
    float worst_rows = 0.0f, worst_ref = 0.0f, worst_avx2 = 0.0f;
    bool alone = true;
    for (size_t i = 0; i < count; i++) {
        worst_rows = fmaxf(worst_rows, fabsf(tiled[i] - rows[i]));
        worst_ref = fmaxf(worst_ref, fabsf(tiled[i] - ref[i]));
        worst_avx2 = fmaxf(worst_avx2, fabsf(tiled[i] - avx2[i]));
        alone = alone && tiled[i] == single[i]; /* a row's result ignores its tile neighbours */
    }
    /* outputs are convex mixtures of V rows in [-1, 1]: an absolute bound fits. The transposed
     * score loops are the same FMA chains on every ISA, so AVX-512 and AVX2 agree exactly there. */
    bool same_isa =
        attn_tile_dots(tc->H / tc->KV, tc->causal) ? worst_avx2 <= 2e-5f : worst_avx2 == 0.0f;
    CHECKF(worst_rows <= 2e-5f && worst_ref <= 2e-5f && alone && same_isa,
           "hd %d G %d kv %s block %d %s len %d+%d queries %d+%d: tiled vs rows %g, vs scalar %g, "
           "vs AVX2 %g, one token per tile %s",
           tc->hd, tc->H / tc->KV, KV_NAMES[tc->kv_type], tc->kv_block,
           tc->causal ? "causal" : "full", tc->len[0], tc->len[1], tc->n_query[0], tc->n_query[1],
           worst_rows, worst_ref, worst_avx2, alone ? "same" : "differs");
    free(rows);
    free(tiled);
    free(ref);
    free(single);
    free(avx2);
    problem_free(&p);
}

/* One sequence: its last (up to 150) positions are the batch, over key counts around the key-tile
 * size and several tiles long, G = 1 and 7, head sizes 64, 128 and 40 (AVX2's 8-lane remainder,
 * no Q8_0 there: it needs multiples of 32), every cache type, contiguous and paged (16-row blocks),
 * causal and not; the longest with sharper scores so the running max keeps moving. */
static void test_tiled_attention_matches_rows(void) {
    const int lens[] = {1, ATTN_TILE_KEYS - 1, ATTN_TILE_KEYS, ATTN_TILE_KEYS + 1, 333};
    const int groups[][2] = {{2, 2}, {14, 2}}; /* G = 1 and G = 7 */
    const int head_dims[] = {64, 128, 40};
    unsigned seed = 21;
    for (int hdi = 0; hdi < 3; hdi++)
        for (int gi = 0; gi < 2; gi++)
            for (int kv = 0; kv < 3; kv++)
                for (int paged = 0; paged < 2; paged++)
                    for (int causal = 0; causal < 2; causal++)
                        for (int li = 0; li < 5; li++) {
                            if (kv == ENGINE_KV_Q8_0 && head_dims[hdi] % KV_Q8_BLOCK) continue;
                            attn_case tc = {.hd = head_dims[hdi],
                                            .H = groups[gi][0],
                                            .KV = groups[gi][1],
                                            .n_seq = 1,
                                            .len = {lens[li], 0},
                                            .n_query = {lens[li] < 150 ? lens[li] : 150, 0},
                                            .kv_type = (engine_kv_type)kv,
                                            .kv_block = paged ? 16 : 0,
                                            .causal = causal != 0,
                                            .q_scale = li == 4 ? 6.0f : 2.0f};
                            check_case(&tc, seed++);
                        }
}

/* Packed batches: two sequences in one batch, each token only its own sequence's rows (embed.c's
 * packing in a contiguous cache; engine_eval_seqs' block tables in a paged one, small blocks). */
static void test_tiled_attention_packed_sequences(void) {
    unsigned seed = 5;
    for (int G = 1; G <= 7; G += 6)
        for (int kv = 0; kv < 3; kv++)
            for (int paged = 0; paged < 2; paged++)
                for (int causal = 0; causal < 2; causal++) {
                    attn_case tc = {.hd = 64,
                                    .H = 2 * G,
                                    .KV = 2,
                                    .n_seq = 2,
                                    .len = {70, 150},
                                    .n_query = {23, 41},
                                    .kv_type = (engine_kv_type)kv,
                                    .kv_block = paged ? 16 : 0,
                                    .causal = causal != 0,
                                    .q_scale = 3.0f};
                    check_case(&tc, seed++);
                    tc.kv_block = paged ? 8 : 0;
                    /* a whole short sequence, then the other's tail */
                    tc.len[0] = tc.n_query[0] = 9;
                    check_case(&tc, seed++);
                }
}

/* Attention sinks (gpt-oss): per query head a logit that joins the softmax with no value. Row
 * and tiled paths, every kernel set, against a double-precision reference; the same reference
 * with each head given its neighbour's sink, or no sink, must be far off (the test can fail). */
static void sink_reference(const attn_problem *p, const float *sinks, int shift, float *out) {
    const attn_batch *b = &p->b;
    int hd = b->head_dim, H = b->n_head, G = H / b->n_head_kv;
    size_t kvw = (size_t)b->n_head_kv * hd;
    for (int t = 0; t < p->n; t++)
        for (int h = 0; h < H; h++) {
            const float *q = b->q + ((size_t)t * H + h) * hd;
            double sc[512], max = -1e300, sum = 0.0, acc[256] = {0};
            int g = h / G, lo = b->lo[t], hi = b->hi[t];
            for (int j = lo; j < hi; j++) {
                const float *k = (const float *)(const void *)b->k + (size_t)j * kvw + g * hd;
                double d = 0.0;
                for (int i = 0; i < hd; i++) d += (double)q[i] * k[i];
                sc[j] = d / sqrt((double)hd);
                max = sc[j] > max ? sc[j] : max;
            }
            double sink = sinks ? sinks[(h + shift) % H] : -1e300;
            max = sink > max ? sink : max;
            for (int j = lo; j < hi; j++) {
                double w = exp(sc[j] - max);
                const float *v = (const float *)(const void *)b->v + (size_t)j * kvw + g * hd;
                sum += w;
                for (int i = 0; i < hd; i++) acc[i] += w * v[i];
            }
            sum += sinks ? exp(sink - max) : 0.0;
            for (int i = 0; i < hd; i++) out[((size_t)t * H + h) * hd + i] = (float)(acc[i] / sum);
        }
}

static void test_attention_sinks(void) {
    const int groups[][2] = {{4, 4}, {8, 2}}; /* G = 1 (row by row in decoders) and G = 4 */
    for (int gi = 0; gi < 2; gi++)
        for (int len = 1; len <= 150; len += 149) {
            attn_case tc = {.hd = 64,
                            .H = groups[gi][0],
                            .KV = groups[gi][1],
                            .n_seq = 1,
                            .len = {len, 0},
                            .n_query = {len < 40 ? len : 40, 0},
                            .kv_type = ENGINE_KV_F32,
                            .causal = true,
                            .q_scale = 2.0f};
            attn_problem p;
            problem_make(&p, &tc, 77u + (unsigned)len);
            float sinks[8];
            for (int h = 0; h < tc.H; h++) sinks[h] = 3.0f * (float)h - 4.0f; /* -4 .. 17 */
            p.b.sinks = sinks;
            size_t count = (size_t)p.n * tc.H * tc.hd;
            float *ref = malloc(count * 4), *off = malloc(count * 4), *none = malloc(count * 4),
                  *got = malloc(count * 4);
            sink_reference(&p, sinks, 0, ref);
            sink_reference(&p, sinks, 1, off);
            sink_reference(&p, NULL, 0, none);
            float far_off = 0.0f, far_none = 0.0f;
            for (size_t i = 0; i < count; i++) {
                far_off = fmaxf(far_off, fabsf(off[i] - ref[i]));
                far_none = fmaxf(far_none, fabsf(none[i] - ref[i]));
            }
            CHECKF(far_off > 1e-2f && far_none > 1e-2f, "sinks barely matter: %g %g", far_off,
                   far_none);
            const attn_kernels *ks[2] = {attn_kernels_for(ISA_SCALAR, tc.hd),
                                         attn_kernels_for(quant_cpu_isa(), tc.hd)};
            for (int ki = 0; ki < 2; ki++)
                for (int tq = 0; tq <= 1; tq++) { /* rows, then tiles */
                    run_attention(&p, ks[ki], tq ? attn_tile_tokens(tc.H / tc.KV, tc.hd) : 0, got);
                    float worst = 0.0f;
                    for (size_t i = 0; i < count; i++) worst = fmaxf(worst, fabsf(got[i] - ref[i]));
                    CHECKF(worst <= 2e-5f, "G %d len %d %s %s: %g from the reference", tc.H / tc.KV,
                           len, ki ? "simd" : "scalar", tq ? "tiles" : "rows", worst);
                }
            free(ref);
            free(off);
            free(none);
            free(got);
            problem_free(&p);
        }
}

int main(void) {
    test_exp_shift_matches_scalar();
    test_attention_simd_matches_scalar();
    test_kv_q8_0_roundtrip_and_simd();
    test_activations_simd_match_scalar();
    test_tiled_attention_matches_rows();
    test_tiled_attention_packed_sequences();
    test_attention_sinks();
    return test_summary("test_attention");
}
