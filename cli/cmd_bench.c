/* hearth bench: prefill (ppN) and decode (tgN) tokens/s, median of repeats, like llama-bench. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "options.h"

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of n (<= 64) samples; the samples keep their order. */
static double median_of(const double *samples, int n) {
    double sorted[64];
    memcpy(sorted, samples, sizeof(double) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(double), by_value);
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/* Tokens/s of one repeat: prefill evaluates n tokens in batches; decode n tokens one by one.
 * Both start after the first bench_depth cached positions (-d, filled once beforehand). */
static int32_t bench_depth;
static double run_once(engine_ctx *c, const int32_t *ids, int n, bool prefill, char *err,
                       size_t errlen) {
    engine_kv_keep(c, bench_depth);
    int32_t held = engine_n_past(c); /* a sliding-window model keeps less: fill it again */
    bool ok =
        held >= bench_depth || engine_eval(c, ids + held, bench_depth - held, false, err, errlen);
    double t0 = cli_now_s();
    if (prefill) ok = engine_eval(c, ids, n, false, err, errlen);
    for (int i = 0; ok && !prefill && i < n; i++)
        ok = engine_eval(c, &ids[i], 1, false, err, errlen);
    return ok ? n / (cli_now_s() - t0) : -1.0;
}

static bool bench_test(engine_ctx *c, const engine_model_info *in, const char *model,
                       const int32_t *ids, int n, bool prefill, int reps, int threads, bool json) {
    char err[ENGINE_ERR_LEN], name[32];
    double samples[64];
    snprintf(name, sizeof name, "%s%d", prefill ? "pp" : "tg", n);
    if (run_once(c, ids, n < 16 ? n : 16, prefill, err, sizeof err) < 0) /* warm-up */
        return cli_error("bench", "%s", err), false;
    cli_progress prog;
    cli_progress_init(&prog);
    for (int r = 0; r < reps; r++) {
        cli_progress_show(&prog, "bench: %s run %d/%d...", name, r + 1, reps);
        prog.last = -1; /* each run is worth a redraw */
        samples[r] = run_once(c, ids, n, prefill, err, sizeof err);
        if (samples[r] < 0) return cli_progress_clear(&prog), cli_error("bench", "%s", err), false;
    }
    cli_progress_clear(&prog);
    double median = median_of(samples, reps);
    if (json) {
        printf("{\"test\": \"%s\", \"tokens_per_s\": %.3f, \"samples\": [", name, median);
        for (int r = 0; r < reps; r++) printf(r ? ", %.3f" : "%.3f", samples[r]);
        printf("], \"n_threads\": %d, \"model\": \"%s\", \"simd\": \"%s\", "
               "\"decode_bytes_per_token\": %llu, \"weight_bytes\": %llu",
               threads, model, engine_simd_name(), (unsigned long long)in->decode_bytes,
               (unsigned long long)in->weight_bytes);
        if (!prefill) printf(", \"decode_gb_per_s\": %.2f", median * in->decode_bytes / 1e9);
        printf("}\n");
    } else if (prefill) {
        printf("| %-32s | %6s | %2d | %10.2f |            |\n", model, name, threads, median);
    } else { /* decode streams decode_bytes per token: the roofline comparison */
        printf("| %-32s | %6s | %2d | %10.2f | %10.2f |\n", model, name, threads, median,
               median * in->decode_bytes / 1e9);
    }
    fflush(stdout);
    return true;
}

/* Embedding throughput: `chunks` texts of `len` tokens (code chunks of realistic length) per
 * engine_embed_batch call, as indexing calls it. */
static bool bench_embed(engine_ctx *c, const engine_model_info *in, const char *model,
                        const int32_t *ids, int chunks, int len, int reps, int threads, bool json) {
    char err[ENGINE_ERR_LEN], name[48];
    const int32_t **texts = malloc((size_t)chunks * sizeof *texts);
    int32_t *lens = malloc((size_t)chunks * sizeof *lens);
    float *out = malloc((size_t)chunks * (size_t)in->n_embd * sizeof(float));
    double samples[64];
    bool ok = texts && lens && out;
    for (int i = 0; ok && i < chunks; i++) texts[i] = ids + (i % 7), lens[i] = len;
    for (int r = 0; ok && r < reps; r++) {
        double t0 = cli_now_s();
        ok = engine_embed_batch(c, texts, lens, chunks, ENGINE_POOL_DEFAULT, out, err, sizeof err);
        samples[r] = chunks / (cli_now_s() - t0);
    }
    if (!ok) cli_error("bench", "%s", texts && lens && out ? err : "out of memory");
    if (ok) {
        double med = median_of(samples, reps);
        snprintf(name, sizeof name, "embed%dx%d", chunks, len);
        if (json)
            printf("{\"test\": \"%s\", \"texts_per_s\": %.3f, \"tokens_per_s\": %.3f, "
                   "\"n_threads\": %d, \"model\": \"%s\"}\n",
                   name, med, med * len, threads, model);
        else
            printf("| %-32s | %12s | %2d | %10.2f texts/s | %10.1f tokens/s |\n", model, name,
                   threads, med, med * len);
    }
    free(texts);
    free(lens);
    free(out);
    return ok;
}

static const cli_opt OPTS[] = {
    CLI_OPT_MODEL,
    {"-p", "--n-prompt", "N", "prompt tokens of the prefill test (default 512; 0 skips it)"},
    {"-n", "--n-gen", "N", "tokens of the decode test (default 128; 0 skips it)"},
    CLI_OPT_THREADS,
    {"-r", "--repetitions", "N", "runs of each test (default 3)"},
    {"-d", "--depth", "N", "run both tests after N positions already in the KV cache"},
    {NULL, "--kv-type", "TYPE", "KV cache type: f16 (default), f32 or q8_0"},
    {NULL, "--simd", "avx512|avx2|scalar", "cap the kernels' instruction set (to compare paths)"},
    {NULL, "--json", NULL, "one JSON object per test"},
    CLI_OPT_END};

static const cli_cmd CMD = {
    "bench", "[MODEL] [options]\n-m MODEL [options]",
    "Embedding models are measured on batches of 32 texts of min(p, 256) tokens.\n", OPTS};

int cmd_bench(int argc, char **argv) {
    const char *model = NULL;
    long p = 512, n = 128, threads = 0, reps = 3, depth = 0;
    engine_kv_type kv = ENGINE_KV_F16;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG) {
            if (v && model) return cli_error(v, "unexpected argument (the model is given)"), 2;
            if (v) model = v;
            continue;
        }
        if (!strcmp(o, "--json")) {
            json = true;
            continue;
        }
        if (!strcmp(o, "-m"))
            model = v;
        else if (!strcmp(o, "-p")) {
            if (!cli_int(o, v, 0, 1 << 16, &p)) return 2;
        } else if (!strcmp(o, "-n")) {
            if (!cli_int(o, v, 0, 1 << 16, &n)) return 2;
        } else if (!strcmp(o, "-t")) {
            if (!cli_int(o, v, 1, 256, &threads)) return 2;
        } else if (!strcmp(o, "-d")) {
            if (!cli_int(o, v, 0, 1 << 20, &depth)) return 2;
        } else if (!strcmp(o, "--kv-type")) {
            if (!cli_kv_type(o, v, &kv)) return 2;
        } else if (!strcmp(o, "-r")) {
            if (!cli_int(o, v, 1, 64, &reps)) return 2;
        } else if (!strcmp(o, "--simd")) {
            if (!engine_set_simd_limit(v))
                return cli_error(o, "'%s': expected avx512, avx2 or scalar", v), 2;
        } else
            return cli_error(o, "unknown option"), 2;
    }
    if (!model) return cli_error("bench", "missing MODEL (or -m MODEL)"), 2;
    engine_model *m = cli_load_model(model);
    if (!m) return 1;
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = (int32_t)(threads ? threads : engine_physical_cores());
    cp.n_ctx = (int32_t)(depth + (p > n ? p : n) + 16);
    cp.kv_type = kv;
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    long n_ids = depth > (p > n ? p : n) ? depth : (p > n ? p : n);
    int32_t *ids = malloc((size_t)n_ids * sizeof(int32_t) + 64);
    int rc =
        c && ids ? 0 : (c ? cli_error("bench", "out of memory") : cli_error("context", "%s", err));
    int32_t nv = engine_model_get_info(m)->n_vocab;
    for (long i = 0; ids && i < n_ids; i++) ids[i] = (int32_t)((i * 7919 + 13) % nv);
    if (rc == 0 && depth > 0 && !engine_eval(c, ids, (int32_t)depth, false, err, sizeof err))
        rc = cli_error("bench", "%s", err);
    bench_depth = (int32_t)depth;
    const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
    const engine_model_info *in = engine_model_get_info(m);
    if (rc == 0 && !json) {
        printf("model %s: %.1f MB of weights, %.1f MB streamed per decoded token%s, simd %s\n",
               base, in->weight_bytes / 1e6, in->decode_bytes / 1e6,
               in->n_expert ? " (routed experts only)" : "", engine_simd_name());
        if (engine_model_pooling(m) != ENGINE_POOL_NONE) {
            printf("| %-32s | %12s | %2s | %18s | %19s |\n", "model", "test", "t", "texts/s",
                   "tokens/s");
            printf("|----------------------------------|--------------|----|--------------------|"
                   "---------------------|\n");
        } else {
            printf("| %-32s | %6s | %2s | %10s | %10s |\n", "model", "test", "t", "tokens/s",
                   "GB/s");
            printf(
                "|----------------------------------|--------|----|------------|------------|\n");
        }
    }
    if (rc == 0 && engine_model_pooling(m) != ENGINE_POOL_NONE) { /* an embedding model */
        rc = bench_embed(c, in, base, ids, 32, p > 0 && p < 256 ? (int)p : 256, (int)reps,
                         cp.n_threads, json)
                 ? 0
                 : 1;
        p = n = 0;
    }
    if (rc == 0 && p > 0 &&
        !bench_test(c, in, base, ids, (int)p, true, (int)reps, cp.n_threads, json))
        rc = 1;
    if (rc == 0 && n > 0 &&
        !bench_test(c, in, base, ids, (int)n, false, (int)reps, cp.n_threads, json))
        rc = 1;
    free(ids);
    engine_ctx_free(c);
    engine_model_free(m);
    return rc;
}
