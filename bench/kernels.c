/* hearth-kernels: single-thread speed of every decode kernel (one weight row times one quantized
 * activation row, vec_dot), per tensor type and instruction set, in GB/s of weight bytes.
 *
 * Two working sets: rows that stay in L2 (what the kernel can compute: its ceiling) and rows
 * streamed from DRAM (256 MiB, far beyond the last-level cache: what decode sees). A kernel
 * whose L2 figure is below the machine's per-core read bandwidth (hearth-membw -t 1) is
 * compute-bound in decode; one above it is limited by memory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant.h"

static const tensor_type TYPES[] = {TT_F32,  TT_F16,  TT_BF16, TT_Q4_0, TT_Q4_1, TT_Q5_0, TT_Q5_1,
                                    TT_Q8_0, TT_Q2_K, TT_Q3_K, TT_Q4_K, TT_Q5_K, TT_Q6_K, TT_MXFP4};

/* Stored once at exit so the compiler must perform every dot product. */
static volatile float observed_sink;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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

int main(int argc, char **argv) {
    int64_t cols = 4096;
    bool json = false;
    const char *only = NULL; /* -t NAME: that type only */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "-c") && i + 1 < argc && atol(argv[i + 1]) >= 256 &&
                 atol(argv[i + 1]) % 256 == 0)
            cols = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: hearth-kernels [-c COLS (4096, a multiple of 256)] [-t TYPE] "
                            "[--json]\n"
                            "  single-thread vec_dot GB/s per tensor type and instruction set\n");
            return 2;
        }
    }
    quant_init();
    float sink = 0.0f;
    if (!json) printf("| type | isa | L2 GB/s | DRAM GB/s |\n|---|---|---|---|\n");
    for (int isa = ISA_SCALAR; isa <= (int)quant_cpu_isa(); isa++) {
        quant_set_isa_cap((kernel_isa)isa);
        for (size_t k = 0; k < sizeof TYPES / sizeof TYPES[0]; k++) {
            const type_traits *tr = quant_traits(TYPES[k]);
            if (only && strcmp(only, tr->name) != 0) continue;
            if (!tr->vec_dot[isa] && isa != ISA_SCALAR) continue; /* falls back: nothing new */
            double l2 = 0, dram = 0;
            if (!measure(TYPES[k], cols, &l2, &dram, &sink)) {
                fprintf(stderr, "hearth-kernels: out of memory for %s\n", tr->name);
                return 1;
            }
            if (json)
                printf("{\"type\": \"%s\", \"isa\": \"%s\", \"cols\": %lld, \"l2_gb_per_s\": %.2f, "
                       "\"dram_gb_per_s\": %.2f}\n",
                       tr->name, quant_isa_name((kernel_isa)isa), (long long)cols, l2, dram);
            else
                printf("| %s | %s | %.1f | %.1f |\n", tr->name, quant_isa_name((kernel_isa)isa), l2,
                       dram);
            fflush(stdout);
        }
    }
    observed_sink = sink;
    return 0;
}
