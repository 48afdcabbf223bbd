/* gpt-oss end to end on synthesized models (hearth synth --like tiny-gpt-oss): the sliding
 * window reaches exactly n_swa positions back (a token just outside it changes nothing, one
 * just inside does), the full layers see everything, logits are finite, greedy decoding is
 * deterministic, one token at a time equals the batch, the paged path equals the one-sequence
 * path, scalar kernels equal SIMD within tolerance, and cached positions refuse to move.
 * With tests/data/gpt-oss/ (llama.cpp's logits of the same synthesized files), also within the
 * reference kit's tolerances of llama.cpp. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "test.h"

enum { WINDOW = 16, N_VOCAB = 512, N_PROMPT = 40 };

static char dir[64];

static engine_model *synth_load(const char *type, int layers, uint64_t seed, char *path) {
    char err[ENGINE_ERR_LEN];
    snprintf(path, 128, "%s/tiny-gpt-oss-%s-%d-%llu.gguf", dir, type, layers,
             (unsigned long long)seed);
    engine_synth_params p = {
        .like = "tiny-gpt-oss", .type = type, .n_layers = layers, .seed = seed};
    if (!engine_synth(&p, path, err, sizeof err)) {
        fprintf(stderr, "synth: %s\n", err);
        return NULL;
    }
    engine_model *m = engine_model_load(path, err, sizeof err);
    if (!m) fprintf(stderr, "load: %s\n", err);
    return m;
}

static void prompt_ids(int32_t *ids, int n, unsigned seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        ids[i] = (int32_t)((seed >> 8) % 256); /* byte tokens */
    }
}

/* Logits of every position of ids (n x N_VOCAB) in out, one batch or one token at a time. */
static bool eval_all(const engine_model *m, const int32_t *ids, int n, bool one_by_one,
                     float *out) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = 256;
    cp.n_threads = 2;
    cp.kv_type = ENGINE_KV_F32;
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    bool ok = c != NULL;
    for (int i = 0; ok && i < (one_by_one ? n : 1); i++) {
        int count = one_by_one ? 1 : n;
        ok = engine_eval(c, ids + i, count, true, err, sizeof err);
        for (int t = 0; ok && t < count; t++)
            memcpy(out + (size_t)(i + t) * N_VOCAB, engine_logits(c, t), N_VOCAB * sizeof(float));
    }
    if (!ok) fprintf(stderr, "eval: %s\n", err);
    engine_ctx_free(c);
    return ok;
}

/* One layer (layer 0 slides): the last token's logits ignore the token WINDOW positions back and
 * change with the one WINDOW - 1 back. Two layers (layer 1 attends to all): both matter. */
static void test_window_reach(void) {
    char path[128];
    int32_t ids[N_PROMPT];
    static float base[N_PROMPT * N_VOCAB], changed[N_PROMPT * N_VOCAB];
    size_t last = (size_t)(N_PROMPT - 1) * N_VOCAB;
    for (int layers = 1; layers <= 2; layers++) {
        engine_model *m = synth_load("F32", layers, 5, path);
        CHECK(m != NULL);
        if (!m) continue;
        prompt_ids(ids, N_PROMPT, 9);
        CHECK(eval_all(m, ids, N_PROMPT, false, base));
        for (int back = WINDOW - 1; back <= WINDOW; back++) {
            int32_t alt[N_PROMPT];
            memcpy(alt, ids, sizeof alt);
            alt[N_PROMPT - 1 - back] = (alt[N_PROMPT - 1 - back] + 101) % 256;
            CHECK(eval_all(m, alt, N_PROMPT, false, changed));
            float d = test_max_diff(base + last, changed + last, N_VOCAB);
            bool seen = back < WINDOW || layers == 2;
            CHECKF(seen ? d > 1e-3f : d == 0.0f, "%d layer(s), token %d back: logits moved %g",
                   layers, back, d);
        }
        engine_model_free(m);
    }
}

/* The same logits evaluated through a paged context (block tables, 8-row blocks). */
static bool eval_paged(const engine_model *m, const int32_t *ids, int n, float *out) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = 2;
    cp.kv_type = ENGINE_KV_F32;
    engine_paged_params pp = {.n_seq_max = 2, .n_blocks = 32, .block_size = 8};
    engine_ctx *c = engine_ctx_new_paged(m, &cp, &pp, err, sizeof err);
    int32_t seq = c ? engine_seq_new(c, err, sizeof err) : -1;
    engine_seq_token toks[N_PROMPT];
    for (int i = 0; i < n; i++) toks[i] = (engine_seq_token){seq, ids[i], true};
    bool ok = seq >= 0 && engine_eval_seqs(c, toks, n, err, sizeof err);
    for (int t = 0; ok && t < n; t++)
        memcpy(out + (size_t)t * N_VOCAB, engine_seq_logits(c, t), N_VOCAB * sizeof(float));
    if (!ok) fprintf(stderr, "paged: %s\n", err);
    engine_ctx_free(c);
    return ok;
}

static int argmax(const float *x) {
    int best = 0;
    for (int i = 1; i < N_VOCAB; i++) best = x[i] > x[best] ? i : best;
    return best;
}

/* 24 greedy tokens after the prompt (past the window) into out. */
static bool greedy(const engine_model *m, const int32_t *ids, int n, int32_t *out) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = 256;
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    bool ok = c && engine_eval(c, ids, n, false, err, sizeof err);
    for (int i = 0; ok && i < 24; i++) {
        out[i] = argmax(engine_logits(c, -1));
        ok = engine_eval(c, &out[i], 1, false, err, sizeof err);
    }
    engine_ctx_free(c);
    return ok;
}

static void test_end_to_end(const char *type, float tol_paths) {
    char path[128], err[ENGINE_ERR_LEN];
    engine_model *m = synth_load(type, 0, 1, path);
    CHECK(m != NULL);
    if (!m) return;
    const engine_model_info *in = engine_model_get_info(m);
    CHECK(!strcmp(in->arch, "gpt-oss") && in->n_expert == 8 && in->n_expert_used == 4);
    CHECK(in->n_swa == WINDOW && in->n_swa_layers == 2 && in->rope_yarn == 32.0f);
    if (!strcmp(type, "F32")) { /* hearth bench's active bytes: one token_embd row, 4 of 8 */
        uint64_t embd = 512 * 256 * 4, experts = 4 * 3 * (8 * 256 * 256 * 4 + 8 * 256 * 4);
        uint64_t unread = embd - 256 * 4 + experts / 2; /* experts: weights and their biases */
        CHECKF(in->weight_bytes - in->decode_bytes == unread, "decode bytes %llu of %llu",
               (unsigned long long)in->decode_bytes, (unsigned long long)in->weight_bytes);
    }
    int32_t ids[N_PROMPT];
    prompt_ids(ids, N_PROMPT, 3);
    static float batch[N_PROMPT * N_VOCAB], single[N_PROMPT * N_VOCAB], paged[N_PROMPT * N_VOCAB];
    size_t all = (size_t)N_PROMPT * N_VOCAB;
    CHECK(eval_all(m, ids, N_PROMPT, false, batch));
    bool finite = true;
    for (size_t i = 0; i < all; i++) finite = finite && isfinite(batch[i]);
    CHECKF(finite, "%s: non-finite logits", type);
    CHECK(eval_all(m, ids, N_PROMPT, true, single));
    CHECK(eval_paged(m, ids, N_PROMPT, paged));
    float d_single = test_max_diff(batch, single, all), d_paged = test_max_diff(batch, paged, all);
    CHECKF(d_single <= tol_paths && d_paged <= tol_paths,
           "%s: one token at a time %g, paged %g from the batch", type, d_single, d_paged);
    int32_t a[24], b[24];
    CHECK(greedy(m, ids, N_PROMPT, a) && greedy(m, ids, N_PROMPT, b));
    CHECKF(!memcmp(a, b, sizeof a), "%s: greedy decoding differs between runs", type);

    engine_ctx_params cp = engine_ctx_default_params();
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    CHECK(c && engine_eval(c, ids, 8, false, err, sizeof err));
    CHECK(c && !engine_kv_move(c, 0, 4, 4, err, sizeof err) && strstr(err, "YaRN"));
    engine_ctx_free(c);
    engine_model_free(m);
}

/* The scalar kernels against the SIMD ones on the same file (a fresh model and context each). */
static void test_scalar_matches_simd(const char *type, float tol) {
    char path[128], err[ENGINE_ERR_LEN];
    int32_t ids[N_PROMPT];
    prompt_ids(ids, N_PROMPT, 11);
    static float simd[N_PROMPT * N_VOCAB], scalar[N_PROMPT * N_VOCAB];
    engine_model *m = synth_load(type, 0, 2, path);
    CHECK(m && eval_all(m, ids, N_PROMPT, false, simd));
    engine_model_free(m);
    const char *level = engine_simd_name();
    CHECK(engine_set_simd_limit("scalar"));
    m = engine_model_load(path, err, sizeof err);
    CHECK(m && eval_all(m, ids, N_PROMPT, false, scalar));
    engine_model_free(m);
    CHECK(engine_set_simd_limit(level));
    float d = test_max_diff(simd, scalar, (size_t)N_PROMPT * N_VOCAB);
    CHECKF(d <= tol, "%s: scalar vs %s logits differ by %g", type, level, d);
}

/* llama.cpp's logits (every position of a REF_PROMPT-token prompt, one batch, F32 KV cache, flash
 * attention off: the reference kit's settings) of the same synthesized file, against ours within
 * the kit's tolerances for that kind of file (calibration/tolerances.json): every logit, the
 * log-sum-exp of each position, and the argmax wherever llama.cpp's top two are apart by more
 * than margin. */
enum { REF_PROMPT = 48 };

static double lse(const float *x) {
    double max = x[0], sum = 0.0;
    for (int i = 1; i < N_VOCAB; i++) max = x[i] > max ? x[i] : max;
    for (int i = 0; i < N_VOCAB; i++) sum += exp(x[i] - max);
    return max + log(sum);
}

static void test_against_llama_cpp(const char *data, const char *type, float tol_logit,
                                   float tol_lse, float margin) {
    char path[512], err[ENGINE_ERR_LEN];
    static float ref[REF_PROMPT * N_VOCAB], got[REF_PROMPT * N_VOCAB];
    snprintf(path, sizeof path, "%s/gpt-oss/tiny-gpt-oss-%s.llama.cpp.logits", data, type);
    FILE *f = fopen(path, "rb");
    CHECKF(f != NULL, "%s: missing", path);
    if (!f) return;
    size_t got_n = fread(ref, sizeof(float), REF_PROMPT * N_VOCAB, f);
    fclose(f);
    CHECKF(got_n == REF_PROMPT * N_VOCAB, "%s: %zu floats", path, got_n);
    engine_model *m = synth_load(type, 0, 1, path);
    int32_t ids[REF_PROMPT];
    prompt_ids(ids, REF_PROMPT, 3);
    CHECK(m && eval_all(m, ids, REF_PROMPT, false, got));
    float worst = 0.0f, worst_lse = 0.0f;
    int flips = 0;
    for (int t = 0; t < REF_PROMPT; t++) {
        const float *r = ref + (size_t)t * N_VOCAB, *g = got + (size_t)t * N_VOCAB;
        worst = fmaxf(worst, test_max_diff(r, g, N_VOCAB));
        worst_lse = fmaxf(worst_lse, (float)fabs(lse(r) - lse(g)));
        int best = argmax(r), second = best == 0 ? 1 : 0;
        for (int i = 0; i < N_VOCAB; i++) second = i != best && r[i] > r[second] ? i : second;
        flips += argmax(g) != best && r[best] - r[second] > margin;
    }
    CHECKF(worst <= tol_logit && worst_lse <= tol_lse && flips == 0,
           "%s vs llama.cpp: logits %g (tolerance %g), lse %g (%g), %d argmax flips", type, worst,
           tol_logit, worst_lse, tol_lse, flips);
    printf("%s vs llama.cpp: max |dlogit| %.4g, max |dlse| %.4g over %d positions\n", type, worst,
           worst_lse, REF_PROMPT);
    engine_model_free(m);
    (void)err;
}

int main(int argc, char **argv) {
    snprintf(dir, sizeof dir, "/tmp/hearth-gptoss-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    test_window_reach();
    /* F32: summation order only (measured: 0 between the paths, 2e-5 scalar vs AVX-512). The
     * quantized files quantize activations to Q8_0, so an ulp of difference may round one
     * element differently, and random routers have near ties that pass it on: 0.07-0.26
     * measured (the qwen3moe tiny model moves 0.16 between one token at a time and the batch);
     * held under half the reference kit's Q4_0 logit tolerance. */
    test_end_to_end("F32", 1e-4f);
    test_end_to_end("MXFP4_MOE", 0.5f);
    test_scalar_matches_simd("F32", 1e-4f);
    test_scalar_matches_simd("Q8_0", 0.5f);
    test_scalar_matches_simd("MXFP4_MOE", 0.5f);
    if (argc > 1) { /* F32: the kit's F32 tolerances; MXFP4_MOE: its Q4_0 ones */
        test_against_llama_cpp(argv[1], "F32", 0.1f, 0.03f, 0.1f);
        test_against_llama_cpp(argv[1], "MXFP4_MOE", 1.0f, 1.0f, 1.0f);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_gpt_oss");
}
