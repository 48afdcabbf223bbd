/* Prefill tile kernels (type_traits.gemm) against the scalar vec_dot reference, for every type
 * that has one and every ISA this CPU supports: odd token counts, row counts that are not
 * multiples of the panel, K long enough to need several K-chunks.
 *   - unit scales (every block scale 1, offsets small integers): every result is an exact integer,
 * so the kernel must equal the reference bit for bit (while the sums stay below 2^24);
 *   - real scales: within 1e-5 of the sum of |w_i * a_i| (only the float order differs).
 * `test_gemm bench [TYPE]` instead prints single-thread GMAC/s per kernel (n = 512 tokens;
 * with TYPE that type's kernels only);
 * `test_gemm bench-small` only the small-batch comparison with vec_dot. */
#include "test.h"

#include "engine.h"
#include "fp16.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) * (1.0 / 9007199254740992.0));
}

static void *xalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) abort();
    return p;
}

static void put16(uint8_t *p, uint16_t v) {
    memcpy(p, &v, 2);
}

/* Rewrites the scales of every block of a row so that all products are exact integers:
 * d = 1 (and the _1/K-quant offsets 0 or 1). Returns false for types this test cannot do. */
static bool unit_scales(tensor_type t, uint8_t *row, int64_t n) {
    const type_traits *tr = quant_traits(t);
    const int64_t nb = n / tr->block_size;
    const uint16_t one = fp32_to_fp16(1.0f);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = row + b * tr->type_size;
        switch (t) {
        case TT_Q8_0:
        case TT_Q4_0:
        case TT_Q5_0:
            put16(blk, one);
            break;
        case TT_Q4_1:
        case TT_Q5_1:
            put16(blk, one), put16(blk + 2, one);
            break;
        case TT_Q8_1: /* s is only ever multiplied by the weights' m: any integer will do */
            put16(blk, one), put16(blk + 2, fp32_to_fp16((float)(b % 7 - 3)));
            break;
        case TT_Q4_K:
        case TT_Q5_K:
            put16(blk, one), put16(blk + 2, one);
            break;
        case TT_Q2_K: /* d = dmin = 1; the 4-bit scales and mins are integers */
            put16(blk + 80, one), put16(blk + 82, one);
            break;
        case TT_Q3_K: /* d = 1; the 6-bit signed scales are integers */
            put16(blk + 108, one);
            break;
        case TT_Q6_K: /* d = 1 and small signed sub-block scales keep the sums below 2^24 */
            put16(blk + 208, one);
            for (int i = 0; i < 16; i++) blk[192 + i] = (uint8_t)(int8_t)(i % 5 - 2);
            break;
        case TT_MXFP4: /* e = 128: 2^(e - 127) = 2, each E2M1 value doubled, all integers */
            blk[0] = 128;
            break;
        case TT_Q8_K: {
            const float f = 1.0f;
            memcpy(blk, &f, 4);
            break;
        }
        default:
            return false;
        }
    }
    return true;
}

/* Exact (bit-for-bit) comparisons made per weight type: each kernel must have some. */
static long exact_checks[TT_COUNT];

typedef struct {
    int64_t n;  /* elements per row */
    int nr, nc; /* weight rows, tokens */
    bool unit;  /* exact-integer check */
} shape;

/* One comparison of kernel `isa` for type t against the scalar vec_dot. */
static void check_one(tensor_type t, int isa, shape s) {
    const type_traits *tr = quant_traits(t);
    const tensor_type vt = tr->vec_dot_type;
    const size_t wrow = quant_row_size(t, s.n), arow = quant_row_size(vt, s.n);
    float *x = xalloc(sizeof(float) * (size_t)s.n);
    uint8_t *w = xalloc(wrow * (size_t)s.nr);
    uint8_t *a = xalloc(arow * (size_t)s.nc), *ag = xalloc(arow * (size_t)s.nc);
    float *wf = xalloc(sizeof(float) * (size_t)s.n * s.nr);
    float *af = xalloc(sizeof(float) * (size_t)s.n * s.nc);
    float *y = xalloc(sizeof(float) * (size_t)s.nr * s.nc);
    for (int r = 0; r < s.nr; r++) {
        for (int64_t i = 0; i < s.n; i++) x[i] = rng_uniform(-1.0f, 1.0f);
        tr->from_float(x, w + r * wrow, s.n);
        if (s.unit && !unit_scales(t, w + r * wrow, s.n)) goto done;
        tr->to_float(w + r * wrow, wf + (size_t)r * s.n, s.n);
    }
    for (int c = 0; c < s.nc; c++) {
        for (int64_t i = 0; i < s.n; i++) x[i] = rng_uniform(-1.0f, 1.0f);
        quant_traits(vt)->from_float(x, a + c * arow, s.n);
        if (s.unit && !unit_scales(vt, a + c * arow, s.n)) goto done;
        quant_traits(vt)->to_float(a + c * arow, af + (size_t)c * s.n, s.n);
    }
    memcpy(ag, a, arow * (size_t)s.nc);
    if (tr->gemm_prep[isa])
        for (int c = 0; c < s.nc; c++) tr->gemm_prep[isa](ag + c * arow, s.n);
    for (size_t i = 0; i < (size_t)s.nr * s.nc; i++) y[i] = NAN;
    /* y is given a leading dimension larger than nr: columns past nr must stay untouched */
    float *yy = xalloc(sizeof(float) * (size_t)(s.nr + 3) * s.nc);
    for (size_t i = 0; i < (size_t)(s.nr + 3) * s.nc; i++) yy[i] = -7.0f;
    tr->gemm[isa](s.n, s.nr, s.nc, w, wrow, ag, arow, yy, (size_t)s.nr + 3);
    int bad = 0;
    for (int c = 0; c < s.nc; c++) {
        for (int r = 0; r < s.nr + 3; r++) {
            const float got = yy[(size_t)c * (s.nr + 3) + r];
            if (r >= s.nr) {
                if (got != -7.0f && bad++ < 3)
                    CHECKF(false, "%s %s: wrote past row %d (token %d)", tr->name,
                           quant_isa_name(isa), s.nr, c);
                continue;
            }
            float ref;
            tr->vec_dot[ISA_SCALAR](s.n, &ref, w + r * wrow, a + c * arow);
            double mag = 0.0;
            for (int64_t i = 0; i < s.n; i++)
                mag += fabs((double)wf[(size_t)r * s.n + i] * af[(size_t)c * s.n + i]);
            /* every partial sum is bounded by mag: below 2^24 all are exact float integers */
            const bool exact = s.unit && mag < 16777216.0;
            exact_checks[t] += exact;
            const bool ok = exact ? got == ref : fabs((double)got - ref) <= 1e-5 * mag + 1e-30;
            if (!ok && bad++ < 3)
                CHECKF(false, "%s %s n=%lld nr=%d nc=%d row %d token %d: %.9g vs %.9g (mag %g)",
                       tr->name, quant_isa_name(isa), (long long)s.n, s.nr, s.nc, r, c, got, ref,
                       mag);
            test_checks++;
        }
    }
    free(yy);
done:
    free(x), free(w), free(a), free(ag), free(wf), free(af), free(y);
}

static void check_type(tensor_type t) {
    const type_traits *tr = quant_traits(t);
    const int64_t bs = tr->block_size;
    /* K: one block, a few, several K-chunks (chunks hold at most a few thousand elements) */
    const int64_t ks[] = {bs, 4 * bs, ((bs == 32 ? 3200 : 3328) / bs) * bs,
                          ((bs == 32 ? 6208 : 8960) / bs) * bs};
    const int rows[] = {1, 7, 16, 17, 37};
    const int toks[] = {2, 3, 8, 9, 13};
    for (int isa = ISA_SCALAR; isa <= (int)quant_cpu_isa(); isa++) {
        if (!tr->gemm[isa]) continue;
        for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++)
            for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
                for (size_t c = 0; c < sizeof toks / sizeof toks[0]; c++) {
                    const int64_t n = ks[k];
                    if (n > 4 * bs && (r % 2 || c % 2)) continue; /* keep the big K cheap */
                    /* exact: random-sign sums of products stay far below 2^24, where every
                     * partial float sum of integers is exact whatever the order */
                    check_one(t, isa, (shape){n, rows[r], toks[c], true});
                    check_one(t, isa, (shape){n, rows[r], toks[c], false});
                }
        /* more odd tiles */
        check_one(t, isa, (shape){8 * bs > 256 ? 8 * bs : 256, 19, 11, true});
        check_one(t, isa, (shape){8 * bs > 256 ? 8 * bs : 256, 33, 18, false});
    }
}

/* Q8_0 weights may hold -128 (our quantizer never writes it; other writers may). */
static void check_q8_0_min_code(void) {
    const type_traits *tr = quant_traits(TT_Q8_0);
    const int64_t n = 256;
    const size_t row = quant_row_size(TT_Q8_0, n);
    const int nr = 18, nc = 5;
    uint8_t *w = xalloc(row * nr), *a = xalloc(row * nc), *ag = xalloc(row * nc);
    float *x = xalloc(sizeof(float) * n), *y = xalloc(sizeof(float) * nr * nc);
    for (int r = 0; r < nr; r++) {
        for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(-1.0f, 1.0f);
        tr->from_float(x, w + r * row, n);
        unit_scales(TT_Q8_0, w + r * row, n);
        for (int64_t b = 0; b < n / 32; b++) w[r * row + b * 34 + 2 + (r + b) % 32] = 0x80;
    }
    for (int c = 0; c < nc; c++) {
        for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(-1.0f, 1.0f);
        tr->from_float(x, a + c * row, n);
        unit_scales(TT_Q8_0, a + c * row, n);
    }
    for (int isa = ISA_AVX2; isa <= (int)quant_cpu_isa(); isa++) {
        if (!tr->gemm[isa]) continue;
        memcpy(ag, a, row * nc);
        if (tr->gemm_prep[isa])
            for (int c = 0; c < nc; c++) tr->gemm_prep[isa](ag + c * row, n);
        tr->gemm[isa](n, nr, nc, w, row, ag, row, y, nr);
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < nr; r++) {
                float ref;
                tr->vec_dot[ISA_SCALAR](n, &ref, w + r * row, a + c * row);
                CHECKF(y[c * nr + r] == ref, "Q8_0 -128 %s row %d token %d: %g vs %g",
                       quant_isa_name(isa), r, c, y[c * nr + r], ref);
            }
    }
    free(w), free(a), free(ag), free(x), free(y);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Single-thread throughput of each kernel on prefill-like shapes (weights cold as in a model:
 * a fresh matrix larger than the caches). */
static void bench(const char *only) {
    const int nc = 512;
    const int64_t shapes[][2] = {{896, 4864}, {4864, 896}, {1536, 8960}, {8960, 1536}};
    for (int t = 0; t < TT_COUNT; t++) {
        const type_traits *tr = quant_traits(t);
        if (!tr || (only && strcmp(only, tr->name) != 0)) continue;
        for (int isa = ISA_AVX2; isa <= (int)quant_cpu_isa(); isa++) {
            if (!tr->gemm[isa]) continue;
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                const int64_t n = shapes[s][0];
                const int nr = (int)shapes[s][1];
                if (n % tr->block_size) continue;
                const tensor_type vt = tr->vec_dot_type;
                const size_t wrow = quant_row_size(t, n), arow = quant_row_size(vt, n);
                /* enough copies of the matrix (> 64 MiB) that each run reads cold weights */
                const int copies = (int)(64 * 1024 * 1024 / (wrow * nr)) + 2;
                uint8_t *w = xalloc(wrow * nr * copies), *a = xalloc(arow * nc);
                float *x = xalloc(sizeof(float) * n), *y = xalloc(sizeof(float) * nr * nc);
                for (int r = 0; r < nr; r++) {
                    for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(-1.0f, 1.0f);
                    tr->from_float(x, w + r * wrow, n);
                }
                for (int k = 1; k < copies; k++) memcpy(w + wrow * nr * k, w, wrow * nr);
                for (int c = 0; c < nc; c++) {
                    for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(-1.0f, 1.0f);
                    quant_traits(vt)->from_float(x, a + c * arow, n);
                    if (tr->gemm_prep[isa]) tr->gemm_prep[isa](a + c * arow, n);
                }
                double best = 1e30;
                for (int rep = 0; rep < copies; rep++) {
                    const double t0 = now_s();
                    tr->gemm[isa](n, nr, nc, w + wrow * nr * rep, wrow, a, arow, y, nr);
                    const double dt = now_s() - t0;
                    if (dt < best) best = dt;
                }
                printf("%-5s %-6s K=%-5lld rows=%-5d tokens=%d: %6.1f GMAC/s\n", tr->name,
                       quant_isa_name(isa), (long long)n, nr, nc,
                       (double)n * nr * nc / best * 1e-9);
                free(w), free(a), free(x), free(y);
            }
        }
    }
}

/* Small batches (a few re-evaluated tokens after an edit): tile kernel vs one vec_dot per
 * (row, token), single thread, K = rows = 1536, warm weights. */
static void bench_small(void) {
    const int64_t n = 1536;
    const int nr = 1536;
    const tensor_type types[] = {TT_Q8_0, TT_Q4_K, TT_Q6_K};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const type_traits *tr = quant_traits(types[ti]);
        const int isa = (int)quant_active_isa();
        if (!tr->gemm[isa]) continue;
        const tensor_type vt = tr->vec_dot_type;
        const size_t wrow = quant_row_size(types[ti], n), arow = quant_row_size(vt, n);
        uint8_t *w = xalloc(wrow * nr), *a = xalloc(arow * 16), *ag = xalloc(arow * 16);
        float *x = xalloc(sizeof(float) * n), *y = xalloc(sizeof(float) * nr * 16);
        for (int r = 0; r < nr; r++) {
            for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(-1.0f, 1.0f);
            tr->from_float(x, w + r * wrow, n);
        }
        for (int c = 0; c < 16; c++) {
            for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(-1.0f, 1.0f);
            quant_traits(vt)->from_float(x, a + c * arow, n);
        }
        memcpy(ag, a, arow * 16);
        if (tr->gemm_prep[isa])
            for (int c = 0; c < 16; c++) tr->gemm_prep[isa](ag + c * arow, n);
        const vec_dot_fn dot = quant_vec_dot(types[ti]);
        for (int nc = 2; nc <= 16; nc *= 2) {
            double tg = 1e30, tv = 1e30;
            for (int rep = 0; rep < 5; rep++) {
                double t0 = now_s();
                tr->gemm[isa](n, nr, nc, w, wrow, ag, arow, y, nr);
                double t1 = now_s();
                for (int r = 0; r < nr; r++)
                    for (int c = 0; c < nc; c++) dot(n, &y[c * nr + r], w + r * wrow, a + c * arow);
                double t2 = now_s();
                tg = t1 - t0 < tg ? t1 - t0 : tg;
                tv = t2 - t1 < tv ? t2 - t1 : tv;
            }
            printf("%-5s %-6s %2d tokens: gemm %7.1f us, vec_dot %7.1f us\n", tr->name,
                   quant_isa_name(isa), nc, tg * 1e6, tv * 1e6);
        }
        free(w), free(a), free(ag), free(x), free(y);
    }
}

/* `test_gemm model PATH...`: a whole forward pass (a 40-token prompt, so the tile kernels run)
 * with the kernels capped at each ISA this CPU has: the last token's logits of every ISA must
 * match the scalar path's. This runs the AVX2 tiles inside real models on AVX-512 machines too.
 * The bound is loose on purpose: in these tiny random-weight models a last-bit difference of
 * float order can flip the rounding of one quantized activation, which moves the logits by ~1 %
 * (measured: 1.2e-2 between the scalar and AVX-512 paths, 1e-7 without a flip); a wrong kernel
 * moves them by O(1). The kernels themselves are held exactly by the checks above. */
static void check_models(int n, char **paths) {
    enum { NT = 40 };
    char err[ENGINE_ERR_LEN];
    for (int i = 0; i < n; i++) {
        engine_model *m = engine_model_load(paths[i], err, sizeof err);
        CHECKF(m != NULL, "%s: %s", paths[i], err);
        if (!m) continue;
        const int32_t nv = engine_model_get_info(m)->n_vocab;
        int32_t ids[NT];
        for (int t = 0; t < NT; t++) ids[t] = (int32_t)((t * 7919 + 13) % nv);
        float *ref = xalloc(sizeof(float) * (size_t)nv);
        for (int isa = ISA_SCALAR; isa <= (int)quant_cpu_isa(); isa++) {
            quant_set_isa_cap((kernel_isa)isa);
            engine_ctx_params p = engine_ctx_default_params();
            p.n_ctx = 64;
            p.n_threads = 2;
            engine_ctx *c = engine_ctx_new(m, &p, err, sizeof err);
            const bool ok = c && engine_eval(c, ids, NT, false, err, sizeof err);
            CHECKF(ok, "%s %s: %s", paths[i], quant_isa_name(isa), err);
            if (ok && isa == ISA_SCALAR) memcpy(ref, engine_logits(c, -1), sizeof(float) * nv);
            if (ok && isa != ISA_SCALAR) {
                const float *l = engine_logits(c, -1);
                double d2 = 0.0, r2 = 0.0;
                for (int32_t v = 0; v < nv; v++)
                    d2 += (double)(l[v] - ref[v]) * (l[v] - ref[v]), r2 += (double)ref[v] * ref[v];
                const double rel = sqrt(d2 / (r2 > 0.0 ? r2 : 1.0));
                printf("%-40s %-6s vs scalar: relative RMS difference %.2e\n",
                       strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i],
                       quant_isa_name(isa), rel);
                CHECKF(rel < 5e-2, "%s %s: logits differ from scalar (%.3g)", paths[i],
                       quant_isa_name(isa), rel);
            }
            engine_ctx_free(c);
        }
        quant_set_isa_cap(ISA_AVX512);
        free(ref);
        engine_model_free(m);
    }
}

int main(int argc, char **argv) {
    quant_init();
    if (argc > 2 && strcmp(argv[1], "model") == 0) {
        check_models(argc - 2, argv + 2);
        return test_summary("test_gemm model");
    }
    if (argc > 1 && (strcmp(argv[1], "bench") == 0 || strcmp(argv[1], "bench-small") == 0)) {
        if (strcmp(argv[1], "bench") == 0) bench(argc > 2 ? argv[2] : NULL);
        if (argc > 2) return 0; /* one type: its tile kernels only */
        bench_small();
        quant_set_isa_cap(ISA_AVX2);
        bench_small();
        return 0;
    }
    int kernels = 0;
    for (int t = 0; t < TT_COUNT; t++) {
        const type_traits *tr = quant_traits(t);
        if (!tr) continue;
        for (int isa = ISA_SCALAR; isa < ISA_COUNT; isa++)
            if (tr->gemm[isa]) {
                CHECKF(isa != ISA_SCALAR, "%s: gemm kernels are SIMD only", tr->name);
                CHECKF(tr->gemm_rows[isa] > 0, "%s: gemm_rows unset", tr->name);
                kernels++;
            }
        check_type((tensor_type)t);
        for (int isa = ISA_SCALAR; isa <= (int)quant_cpu_isa(); isa++)
            CHECKF(!tr->gemm[isa] || exact_checks[t] > 100, "%s: only %ld exact comparisons",
                   tr->name, exact_checks[t]);
    }
    CHECK(kernels > 0);
    check_q8_0_min_code();
    printf("cpu isa: %s, gemm kernels registered: %d\n", quant_isa_name(quant_cpu_isa()), kernels);
    return test_summary("test_gemm");
}
