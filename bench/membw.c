/* hearth-membw: streaming read bandwidth of this machine, the roofline decode is judged against.
 *
 * Decode reads every weight byte once per token, so its ceiling is (read bandwidth) / (bytes per
 * token). This program reads a buffer far larger than the last-level cache with 256-bit loads,
 * split into one contiguous slice per thread (as the engine's matrix-vector kernels split rows),
 * and prints the median GB/s (1e9 bytes/s) of several passes for 1..T threads. */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const uint8_t *base;
    size_t bytes;
    pthread_barrier_t *start;
    uint64_t checksum; /* keeps the loads from being optimised away */
} slice;

__attribute__((target("avx2"))) static uint64_t read_slice(const uint8_t *p, size_t bytes) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 128 <= bytes; i += 128) {
        a0 = _mm256_xor_si256(a0, _mm256_load_si256((const __m256i *)(p + i)));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256((const __m256i *)(p + i + 32)));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256((const __m256i *)(p + i + 64)));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    __m256i x = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    return (uint64_t)_mm256_extract_epi64(x, 0) ^ (uint64_t)_mm256_extract_epi64(x, 3);
}

static void *reader(void *arg) {
    slice *s = arg;
    pthread_barrier_wait(s->start);
    s->checksum = read_slice(s->base, s->bytes);
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One pass over the whole buffer by n threads; returns GB/s, or -1 if threads fail to start. */
static double one_pass(const uint8_t *buf, size_t bytes, int n, uint64_t *sink) {
    pthread_t tid[64];
    slice sl[64];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    size_t per = bytes / (size_t)n / 128 * 128;
    int started = 0;
    for (int i = 0; i < n; i++) {
        sl[i] = (slice){buf + (size_t)i * per, per, &start, 0};
        if (pthread_create(&tid[i], NULL, reader, &sl[i]) != 0) break;
        started++;
    }
    if (started < n) { /* cannot happen on a sane machine; do not leave threads at the barrier */
        fprintf(stderr, "hearth-membw: could not start %d threads\n", n);
        exit(1);
    }
    pthread_barrier_wait(&start);
    double t0 = now_s();
    for (int i = 0; i < n; i++) pthread_join(tid[i], NULL);
    double dt = now_s() - t0;
    pthread_barrier_destroy(&start);
    for (int i = 0; i < n; i++) *sink ^= sl[i].checksum;
    return (double)per * n / dt / 1e9;
}

/* Stored once at exit so the compiler must perform every load. */
static volatile uint64_t observed_sink;

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long parse_arg(const char *opt, const char *v, long lo, long hi) {
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || x < lo || x > hi) {
        fprintf(stderr, "hearth-membw: %s expects an integer in [%ld, %ld]\n", opt, lo, hi);
        exit(2);
    }
    return x;
}

int main(int argc, char **argv) {
    long mib = 1024, threads = 2, reps = 7;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(o, "-s"))
            mib = parse_arg(o, v, 64, 1 << 16);
        else if (!strcmp(o, "-t"))
            threads = parse_arg(o, v, 1, 64);
        else if (!strcmp(o, "-r"))
            reps = parse_arg(o, v, 1, 64);
        else {
            fprintf(stderr, "usage: hearth-membw [-s MiB (1024)] [-t THREADS (2)] [-r REPS (7)] "
                            "[--json]\n  prints the median read GB/s for 1..THREADS threads\n");
            return 2;
        }
        i++;
    }
    size_t bytes = (size_t)mib << 20;
    uint8_t *buf = aligned_alloc(64, bytes);
    if (!buf) {
        fprintf(stderr, "hearth-membw: cannot allocate %ld MiB\n", mib);
        return 1;
    }
    memset(buf, 0x5a, bytes); /* fault every page in before timing */
    uint64_t sink = 0;
    if (!json)
        printf("| threads | read GB/s (median of %ld) | min | max |\n|---|---|---|---|\n", reps);
    for (int n = 1; n <= threads; n++) {
        double s[64];
        one_pass(buf, bytes, n, &sink); /* warm-up */
        for (int r = 0; r < reps; r++) s[r] = one_pass(buf, bytes, n, &sink);
        qsort(s, (size_t)reps, sizeof(double), by_value);
        if (json)
            printf("{\"test\": \"read\", \"n_threads\": %d, \"gb_per_s\": %.2f, \"min\": %.2f, "
                   "\"max\": %.2f, \"mib\": %ld}\n",
                   n, s[reps / 2], s[0], s[reps - 1], mib);
        else
            printf("| %d | %.2f | %.2f | %.2f |\n", n, s[reps / 2], s[0], s[reps - 1]);
    }
    free(buf);
    observed_sink = sink;
    return 0;
}
