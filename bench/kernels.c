/* hearth-kernels: single-thread speed of every decode kernel (one weight row times one quantized
 * activation row, vec_dot) and every prefill tile kernel (gemm), per tensor type and instruction
 * set, against the int8 multiply-add ceiling of that instruction set (kernels_peak.c).
 *
 * Decode, in GB/s of weight bytes, two working sets: rows that stay in L2 (what the kernel can
 * compute: its ceiling) and rows streamed from DRAM (256 MiB, far beyond the last-level cache:
 * what decode sees). A kernel whose L2 figure is below the machine's per-core read bandwidth
 * (hearth-membw -t 1) is compute-bound in decode; one above it is limited by memory. Its L2
 * figure is also given in GMAC/s (weights per second) and as a share of the ISA's peak.
 *
 * Prefill tiles, in GMAC/s: GEMM_ROWS weight rows (in L2) times GEMM_TOKENS activation rows,
 * panel repacking included, best of a few runs, and the share of the peak. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels_peak.h"
#include "quant.h"

enum { GEMM_ROWS = 256, GEMM_TOKENS = 256, GEMM_REPS = 7 };

static const tensor_type TYPES[] = {TT_F32,  TT_F16,  TT_BF16, TT_Q4_0, TT_Q4_1, TT_Q5_0, TT_Q5_1,
                                    TT_Q8_0, TT_Q2_K, TT_Q3_K, TT_Q4_K, TT_Q5_K, TT_Q6_K, TT_MXFP4};

/* Stored once at exit so the compiler must perform every dot product. */
static volatile float observed_sink;

/* This thread's CPU time: on a shared machine, time the scheduler gives to other processes does
 * not count (their use of caches and memory still does). */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best of `reps` passes of `passes` sweeps over `rows` rows: GB/s of weight bytes read. */
static double sweep(vec_dot_fn dot, int64_t cols, const uint8_t *w, size_t row_bytes, size_t rows,
                    const void *act, int passes, int reps, float *sink) {
    double best = 0.0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (int p = 0; p < passes; p++)
            for (size_t i = 0; i < rows; i++) {
                float s;
                dot(cols, &s, w + i * row_bytes, act);
                *sink += s;
            }
        double gbs = (double)passes * (double)rows * (double)row_bytes / (now_s() - t0) / 1e9;
        best = gbs > best ? gbs : best;
    }
    return best;
}

/* Measures one type on the active ISA; false when the type has no kernel or memory is short. */
static bool measure(tensor_type t, int64_t cols, double *l2, double *dram, float *sink) {
    const type_traits *tr = quant_traits(t);
    size_t row_bytes = quant_row_size(t, cols);
    size_t act_bytes = quant_row_size(tr->vec_dot_type, cols);
    size_t dram_rows = ((size_t)256 << 20) / row_bytes, l2_rows = ((size_t)512 << 10) / row_bytes;
    float *x = malloc((size_t)cols * sizeof(float));
    uint8_t *row = malloc(row_bytes), *w = malloc(dram_rows * row_bytes), *act = malloc(act_bytes);
    bool ok = x && row && w && act && row_bytes > 0;
    if (ok) {
        for (int64_t i = 0; i < cols; i++) x[i] = sinf((float)i * 0.37f) * 2.0f;
        tr->from_float(x, row, cols);
        for (size_t r = 0; r < dram_rows; r++) memcpy(w + r * row_bytes, row, row_bytes);
        for (int64_t i = 0; i < cols; i++) x[i] = cosf((float)i * 0.11f);
        quant_from_float(tr->vec_dot_type)(x, act, cols);
        vec_dot_fn dot = quant_vec_dot(t);
        *l2 = sweep(dot, cols, w, row_bytes, l2_rows, act, 64, 5, sink);
        *dram = sweep(dot, cols, w, row_bytes, dram_rows, act, 1, 3, sink);
    }
    free(x);
    free(row);
    free(w);
    free(act);
    return ok;
}

/* Tile kernel of type t on ISA isa: GMAC/s over GEMM_ROWS x GEMM_TOKENS x cols (0: no memory). */
static double measure_gemm(tensor_type t, kernel_isa isa, int64_t cols, float *sink) {
    const type_traits *tr = quant_traits(t);
    const type_traits *at = quant_traits(tr->vec_dot_type);
    const size_t wrow = quant_row_size(t, cols), arow = quant_row_size(tr->vec_dot_type, cols);
    float *x = malloc((size_t)cols * sizeof(float));
    float *y = malloc(sizeof(float) * GEMM_ROWS * GEMM_TOKENS);
    uint8_t *w = malloc(wrow * GEMM_ROWS), *a = malloc(arow * GEMM_TOKENS);
    double best = 0.0;
    if (x && y && w && a) {
        for (int r = 0; r < GEMM_ROWS; r++) {
            for (int64_t i = 0; i < cols; i++) x[i] = sinf((float)(i * 7 + r) * 0.37f) * 2.0f;
            tr->from_float(x, w + r * wrow, cols);
        }
        for (int c = 0; c < GEMM_TOKENS; c++) {
            for (int64_t i = 0; i < cols; i++) x[i] = cosf((float)(i * 3 + c) * 0.11f);
            at->from_float(x, a + c * arow, cols);
            if (tr->gemm_prep[isa]) tr->gemm_prep[isa](a + c * arow, cols);
        }
        for (int r = 0; r < GEMM_REPS; r++) {
            const double t0 = now_s();
            tr->gemm[isa](cols, GEMM_ROWS, GEMM_TOKENS, w, wrow, a, arow, y, GEMM_ROWS);
            const double g = (double)cols * GEMM_ROWS * GEMM_TOKENS / (now_s() - t0) * 1e-9;
            best = g > best ? g : best;
            *sink += y[r];
        }
    }
    free(x), free(y), free(w), free(a);
    return best;
}

/* The ceilings, one per ISA this CPU has (the first chain of each), in ceiling[isa]. */
static void report_peaks(bool json, double ceiling[ISA_COUNT]) {
    size_t n = 0;
    const peak_chain *c = peak_chains(&n);
    if (!json) printf("| int8 chain | isa | peak GMAC/s |\n|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        if (c[i].isa > quant_cpu_isa()) continue;
        const double g = peak_measure(&c[i]);
        if (ceiling[c[i].isa] == 0.0) ceiling[c[i].isa] = g;
        if (json)
            printf("{\"peak\": \"%s\", \"isa\": \"%s\", \"gmac_per_s\": %.1f}\n", c[i].name,
                   quant_isa_name(c[i].isa), g);
        else
            printf("| %s | %s | %.1f |\n", c[i].name, quant_isa_name(c[i].isa), g);
    }
    if (!json) printf("\n");
}

static double share(double gmac, const double ceiling[ISA_COUNT], int isa) {
    return ceiling[isa] > 0.0 ? 100.0 * gmac / ceiling[isa] : 0.0;
}

static int report_decode(const char *only, int64_t cols, bool json, const double ceiling[],
                         float *sink) {
    if (!json)
        printf("| type | isa | L2 GB/s | DRAM GB/s | L2 GMAC/s | %% of peak |\n"
               "|---|---|---|---|---|---|\n");
    for (int isa = ISA_SCALAR; isa <= (int)quant_cpu_isa(); isa++) {
        quant_set_isa_cap((kernel_isa)isa);
        for (size_t k = 0; k < sizeof TYPES / sizeof TYPES[0]; k++) {
            const type_traits *tr = quant_traits(TYPES[k]);
            if (only && strcmp(only, tr->name) != 0) continue;
            if (!tr->vec_dot[isa] && isa != ISA_SCALAR) continue; /* falls back: nothing new */
            double l2 = 0, dram = 0;
            if (!measure(TYPES[k], cols, &l2, &dram, sink)) {
                fprintf(stderr, "hearth-kernels: out of memory for %s\n", tr->name);
                return 1;
            }
            /* weights per second: bytes per second over bytes per weight */
            const double gmac = l2 * (double)cols / (double)quant_row_size(TYPES[k], cols);
            if (json)
                printf("{\"type\": \"%s\", \"isa\": \"%s\", \"cols\": %lld, \"l2_gb_per_s\": %.2f, "
                       "\"dram_gb_per_s\": %.2f, \"l2_gmac_per_s\": %.2f, \"peak_share\": %.3f}\n",
                       tr->name, quant_isa_name((kernel_isa)isa), (long long)cols, l2, dram, gmac,
                       share(gmac, ceiling, isa) / 100.0);
            else
                printf("| %s | %s | %.1f | %.1f | %.1f | %.0f %% |\n", tr->name,
                       quant_isa_name((kernel_isa)isa), l2, dram, gmac, share(gmac, ceiling, isa));
            fflush(stdout);
        }
    }
    quant_set_isa_cap(ISA_AVX512);
    return 0;
}

static int report_gemm(const char *only, int64_t cols, bool json, const double ceiling[],
                       float *sink) {
    if (!json)
        printf("\n| tile kernel | isa | GMAC/s (%d rows x %d tokens x %lld) | %% of peak |\n"
               "|---|---|---|---|\n",
               GEMM_ROWS, GEMM_TOKENS, (long long)cols);
    for (int isa = ISA_AVX2; isa <= (int)quant_cpu_isa(); isa++)
        for (size_t k = 0; k < sizeof TYPES / sizeof TYPES[0]; k++) {
            const type_traits *tr = quant_traits(TYPES[k]);
            if ((only && strcmp(only, tr->name) != 0) || !tr->gemm[isa]) continue;
            const double g = measure_gemm(TYPES[k], (kernel_isa)isa, cols, sink);
            if (g == 0.0) {
                fprintf(stderr, "hearth-kernels: out of memory for %s\n", tr->name);
                return 1;
            }
            if (json)
                printf("{\"gemm\": \"%s\", \"isa\": \"%s\", \"cols\": %lld, \"gmac_per_s\": %.2f, "
                       "\"peak_share\": %.3f}\n",
                       tr->name, quant_isa_name((kernel_isa)isa), (long long)cols, g,
                       share(g, ceiling, isa) / 100.0);
            else
                printf("| %s | %s | %.1f | %.0f %% |\n", tr->name, quant_isa_name((kernel_isa)isa),
                       g, share(g, ceiling, isa));
            fflush(stdout);
        }
    return 0;
}

int main(int argc, char **argv) {
    int64_t cols = 4096;
    bool json = false, decode = true, gemm = true;
    const char *only = NULL; /* -t NAME: that type only */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--decode"))
            gemm = false;
        else if (!strcmp(argv[i], "--gemm"))
            decode = false;
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "-c") && i + 1 < argc && atol(argv[i + 1]) >= 256 &&
                 atol(argv[i + 1]) % 256 == 0)
            cols = atol(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: hearth-kernels [-c COLS (4096, a multiple of 256)] [-t TYPE] "
                    "[--decode | --gemm] [--json]\n"
                    "  single-thread int8 peak, then vec_dot GB/s and tile GMAC/s per tensor type\n"
                    "  and instruction set, as shares of that instruction set's peak\n");
            return 2;
        }
    }
    quant_init();
    float sink = 0.0f;
    double ceiling[ISA_COUNT] = {0};
    report_peaks(json, ceiling);
    int rc = decode ? report_decode(only, cols, json, ceiling, &sink) : 0;
    if (rc == 0 && gemm) rc = report_gemm(only, cols, json, ceiling, &sink);
    observed_sink = sink;
    return rc;
}
