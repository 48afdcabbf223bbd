/* hearth-index-latency: query latency inside one process, per call (index_search: open the
 * store, load the embedding model, read the FAISS file, search, close) against a long-lived
 * index_searcher (opened once; each query embeds and searches).
 *
 * usage: hearth-index-latency ROOT QUESTIONS.jsonl [-n ROUNDS] [-t THREADS] [--mode M]
 * ROOT holds an index with vectors (bench/index/latency.py --prepare-only makes one with
 * random vectors of the model's dimension); each line of QUESTIONS.jsonl has a "q". Prints
 * p50/p95/mean milliseconds per mode and way: index_search per call (ROUNDS passes), a searcher's
 * first pass (each query embedded), its later passes (query vectors from embed/'s cache: the
 * search alone). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index.h"

#define MAX_Q 256

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The "q" strings of a JSONL file (no escapes beyond \" are expected in questions). */
static int read_questions(const char *path, char **qs) {
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    while (f && n < MAX_Q && fgets(line, sizeof line, f)) {
        char *s = strstr(line, "\"q\": \"");
        if (!s) continue;
        s += 6;
        char *e = s;
        while (*e && !(*e == '"' && e[-1] != '\\')) e++;
        qs[n++] = strndup(s, (size_t)(e - s));
    }
    if (f) fclose(f);
    return n;
}

static void report(const char *mode, const char *way, double *ms, int n) {
    qsort(ms, (size_t)n, sizeof *ms, by_value);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += ms[i];
    printf("| %s | %s | %d | %.2f | %.2f | %.2f |\n", mode, way, n, ms[n / 2],
           ms[(int)((n - 1) * 0.95)], sum / n);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: hearth-index-latency ROOT QUESTIONS.jsonl [-n ROUNDS] "
                        "[-t THREADS] [--mode lexical|vector|hybrid]\n");
        return 2;
    }
    const char *root = argv[1], *only = NULL;
    int rounds = 3, threads = 2;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) rounds = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--mode")) only = argv[i + 1];
    }
    char *qs[MAX_Q], err[INDEX_ERR_LEN];
    int nq = read_questions(argv[2], qs);
    double *ms = malloc(sizeof *ms * (size_t)(nq * (rounds > 0 ? rounds : 1) + 1));
    if (nq == 0 || !ms) return fprintf(stderr, "no questions in %s\n", argv[2]), 1;
    static const char *const NAMES[] = {"lexical", "vector", "hybrid"};
    static const index_mode MODES[] = {INDEX_MODE_LEXICAL, INDEX_MODE_VECTOR, INDEX_MODE_HYBRID};
    printf("| mode | way | queries | p50 ms | p95 ms | mean ms |\n|---|---|---|---|---|---|\n");
    for (int m = 0; m < 3; m++) {
        if (only && strcmp(only, NAMES[m])) continue;
        int n = 0;
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < nq; i++) {
                index_search_params p = {
                    .root = root, .query = qs[i], .k = 10, .mode = MODES[m], .n_threads = threads};
                index_hit *h = NULL;
                int32_t nh = 0;
                double t = now_ms();
                if (!index_search(&p, &h, &nh, err, sizeof err))
                    return fprintf(stderr, "index_search: %s\n", err), 1;
                ms[n++] = now_ms() - t;
                index_hits_free(h, nh);
            }
        report(NAMES[m], "index_search per call", ms, n);
        index_searcher_params sp = {.root = root, .n_threads = threads};
        double t0 = now_ms();
        index_searcher *s = index_searcher_open(&sp, err, sizeof err);
        if (!s) return fprintf(stderr, "index_searcher_open: %s\n", err), 1;
        double open_ms = now_ms() - t0;
        /* The first pass embeds every query; later passes find the query vectors in the
         * service's cache, so they time the search alone. */
        double first = 0;
        for (int r = 0; r < (rounds > 1 ? 2 : 1); r++) {
            n = 0;
            for (int rr = r; rr < (r == 0 ? 1 : rounds); rr++)
                for (int i = 0; i < nq; i++) {
                    index_query q = {qs[i], 10, MODES[m], 0};
                    index_hit *h = NULL;
                    int32_t nh = 0;
                    double t = now_ms();
                    if (!index_searcher_search(s, &q, &h, &nh, err, sizeof err))
                        return fprintf(stderr, "index_searcher_search: %s\n", err), 1;
                    ms[n++] = now_ms() - t;
                    if (r == 0 && n == 1) first = ms[0];
                    index_hits_free(h, nh);
                }
            report(NAMES[m], r == 0 ? "index_searcher" : "index_searcher, query vector cached", ms,
                   n);
        }
        index_searcher_stats st = index_searcher_get_stats(s);
        printf("| %s | searcher: open %.1f ms, first query %.1f ms, %lld vectors, %lld loads "
               "| | | | |\n",
               NAMES[m], open_ms, first, (long long)st.vectors, (long long)st.vector_loads);
        index_searcher_close(s);
    }
    for (int i = 0; i < nq; i++) free(qs[i]);
    free(ms);
    return 0;
}
