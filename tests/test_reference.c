/* Holds the engine to the reference kit (../shared/reference/README.md, "How to use in tests"):
 * exact token ids, per-position logits / lse / argmax within the calibrated tolerance of the
 * model's type, full-vocabulary last-position logits, and free-running greedy decoding.
 *
 * usage: test_reference REF_DIR MODEL_STEM THREADS [--kv f32|f16|q8_0] [--model PATH]
 * (--model: evaluate another file against MODEL_STEM's reference, e.g. our own quantization) */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "test.h"

typedef struct {
    double tol_logit, tol_lse, margin, tol_all;
} tolerance;

static const char *TYPES[] = {"Q4_K_M", "Q5_K_M", "F32",  "F16",  "BF16", "Q8_0", "Q6_K", "Q5_K",
                              "Q4_K",   "Q3_K",   "Q2_K", "Q5_1", "Q5_0", "Q4_1", "Q4_0"};

static const char *KV_NAMES[] = {"f16", "f32", "q8_0"}; /* by engine_kv_type */

static const char *model_type(const char *stem) {
    if (!strncmp(stem, "stories260K", 11)) return "F32";
    size_t n = strlen(stem);
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        size_t k = strlen(TYPES[i]);
        if (n > k && stem[n - k - 1] == '-' && !strcmp(stem + n - k, TYPES[i])) return TYPES[i];
    }
    return NULL;
}

static bool load_tolerance(const char *ref, const char *type, tolerance *t) {
    char path[1024];
    snprintf(path, sizeof path, "%s/calibration/tolerances.json", ref);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je), *row = root ? json_object_get(root, type) : NULL;
    if (!row) {
        fprintf(stderr, "no tolerance for %s in %s\n", type, path);
        json_decref(root);
        return false;
    }
    t->tol_logit = json_number_value(json_object_get(row, "tol_logit"));
    t->tol_lse = json_number_value(json_object_get(row, "tol_lse"));
    t->margin = json_number_value(json_object_get(row, "margin_M"));
    t->tol_all = json_number_value(json_object_get(row, "tol_logit_all"));
    json_decref(root);
    return true;
}

static double lse_of(const float *l, int n) {
    double max = -INFINITY, s = 0.0;
    for (int i = 0; i < n; i++) max = l[i] > max ? l[i] : max;
    for (int i = 0; i < n; i++) s += exp((double)l[i] - max);
    return max + log(s);
}

static int argmax_of(const float *l, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static double jnum(json_t *a, size_t i) {
    return json_number_value(json_array_get(a, i));
}

/* Positions (and greedy steps) outside the rules. A MoE model may have up to 2 % of its positions
 * there: a near-tie of two router logits legitimately flips an expert (kit README). */
typedef struct {
    int n_positions, n_bad;
    double worst, worst_lse, worst_all;
} tally;

static void report_bad(tally *ty, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_bad(tally *ty, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  over tolerance: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    ty->n_bad++;
}

/* A Q8_0 KV cache rounds every cached K and V element to 1/254 of its 32-block's range, so the
 * logits move further from the reference than the model type's tolerance allows. Measured worst
 * deviations with a Q8_0 cache over every kit model it runs on, at 1, 2 and 4 threads (F16-cache
 * figures in brackets): tiny-llama-spm-F32 top-10 |dlogit| 0.28 [0.007], |dlse| 0.11 [0.006],
 * full-vocab 0.19 [0.010]; tiny-qwen3-F32 0.095 / 0.049 / 0.058; on quantized weights the KV
 * error adds at most ~0.15 to the F16-cache figures. The bounds below add about 1.5x the worst
 * measured F32-model deviation to the type's. Argmax and greedy keep the type's margin (no flip
 * was seen). MoE keeps its 2 %: near-tie routing flips put at most 2 of 274 positions over. */
static void widen_for_kv_q8(tolerance *t) {
    t->tol_logit += 0.4;
    t->tol_lse += 0.2;
    t->tol_all += 0.3;
}

/* A model whose heads are not whole Q8_0 blocks: the context must refuse, naming head_dim. */
static void check_kv_q8_rejected(const engine_model *m, const engine_ctx_params *cp) {
    char err[ENGINE_ERR_LEN] = "";
    engine_ctx *c = engine_ctx_new(m, cp, err, sizeof err);
    CHECKF(c == NULL && strstr(err, "head_dim"), "Q8_0 KV with head_dim %d: '%s'",
           engine_model_get_info(m)->head_dim, err);
    engine_ctx_free(c);
    printf("Q8_0 KV cache refused as it must: %s\n", err);
}

/* Rules 1-3 of the kit README for one position. */
static void check_position(const float *E, int nv, json_t *pos, const tolerance *t, int pi, int i,
                           tally *ty) {
    json_t *top = json_object_get(pos, "top10");
    double r0 = jnum(json_array_get(top, 0), 1), r1 = jnum(json_array_get(top, 1), 1);
    bool bad = false;
    ty->n_positions++;
    for (size_t k = 0; k < json_array_size(top); k++) {
        int id = (int)jnum(json_array_get(top, k), 0);
        double d = fabs(E[id] - jnum(json_array_get(top, k), 1));
        ty->worst = d > ty->worst ? d : ty->worst;
        if (d > t->tol_logit && !bad)
            bad = true, report_bad(ty, "prompt %d pos %d id %d: |dlogit| %.4g > %g", pi, i, id, d,
                                   t->tol_logit);
    }
    double dl = fabs(lse_of(E, nv) - json_number_value(json_object_get(pos, "lse")));
    ty->worst_lse = dl > ty->worst_lse ? dl : ty->worst_lse;
    if (dl > t->tol_lse && !bad)
        bad = true, report_bad(ty, "prompt %d pos %d: |dlse| %.4g > %g", pi, i, dl, t->tol_lse);
    int am = argmax_of(E, nv), ram = (int)json_integer_value(json_object_get(pos, "argmax"));
    bool ok = am == ram;
    if (r0 - r1 < t->margin)
        for (size_t k = 0; k < json_array_size(top); k++)
            ok |= (int)jnum(json_array_get(top, k), 0) == am &&
                  jnum(json_array_get(top, k), 1) >= r0 - t->margin;
    if (!ok && !bad)
        report_bad(ty, "prompt %d pos %d: argmax %d, reference %d at margin %.3g", pi, i, am, ram,
                   r0 - r1);
}

static void check_last_logits(const float *E, int nv, const char *bin, long offset,
                              const tolerance *t, int pi, tally *ty) {
    FILE *f = fopen(bin, "rb");
    float *R = malloc((size_t)nv * sizeof(float));
    bool ok =
        f && R && fseek(f, offset * 4, SEEK_SET) == 0 && fread(R, 4, (size_t)nv, f) == (size_t)nv;
    CHECKF(ok, "cannot read %s", bin);
    double worst = 0.0;
    for (int i = 0; ok && i < nv; i++) worst = fmax(worst, fabs(E[i] - R[i]));
    ty->worst_all = fmax(ty->worst_all, worst);
    CHECKF(worst <= t->tol_all, "prompt %d: full-vocab last logits max |d| %.4g > %g", pi, worst,
           t->tol_all);
    if (f) fclose(f);
    free(R);
}

/* Free-running greedy: ids must match until the first step whose reference margin is < M. */
static void check_greedy(const engine_model *m, engine_ctx *c, json_t *p, const tolerance *t,
                         int pi, bool exact_text, tally *ty, bool moe) {
    json_t *gids = json_object_get(p, "greedy_ids"), *top2 = json_object_get(p, "greedy_top2");
    json_t *hex = json_object_get(p, "greedy_pieces_hex");
    int nv = engine_model_get_info(m)->n_vocab;
    char err[ENGINE_ERR_LEN];
    for (size_t s = 0; s < json_array_size(gids); s++) {
        json_t *t2 = json_array_get(top2, s);
        double margin = jnum(json_array_get(t2, 0), 1) - jnum(json_array_get(t2, 1), 1);
        if (margin < t->margin) break;
        int32_t id = argmax_of(engine_logits(c, -1), nv);
        int32_t want = (int32_t)jnum(gids, s);
        if (id != want) { /* for MoE, one of the allowed routing flips */
            if (moe)
                report_bad(ty, "prompt %d greedy step %zu: %d != %d", pi, s, id, want);
            else
                CHECKF(false, "prompt %d greedy step %zu: %d != %d (margin %.3g)", pi, s, id, want,
                       margin);
            return;
        }
        if (exact_text) {
            char piece[256], hx[520] = "";
            int n = engine_token_piece(m, id, true, piece, sizeof piece);
            for (int k = 0; k < n && k < 256; k++)
                snprintf(hx + 2 * k, 3, "%02x", (unsigned char)piece[k]);
            const char *rh = json_string_value(json_array_get(hex, s));
            CHECKF(rh && !strcmp(rh, hx), "prompt %d greedy step %zu: piece %s != %s", pi, s, hx,
                   rh ? rh : "?");
        }
        if (!engine_eval(c, &id, 1, false, err, sizeof err)) {
            CHECKF(false, "eval: %s", err);
            return;
        }
    }
}

static void check_prompt(const engine_model *m, const engine_ctx_params *cp, json_t *p,
                         const tolerance *t, const char *bin, int pi, bool exact_text, tally *ty,
                         bool moe) {
    json_t *jtext = json_object_get(p, "prompt");
    const char *text = json_string_value(jtext);
    json_t *rids = json_object_get(p, "ids"), *positions = json_object_get(p, "positions");
    int nv = engine_model_get_info(m)->n_vocab;
    char err[ENGINE_ERR_LEN];
    int32_t ids[4096];
    int64_t n =
        engine_tokenize(m, text, json_string_length(jtext), true, true, ids, 4096, err, sizeof err);
    bool same = n == (int64_t)json_array_size(rids);
    for (int64_t i = 0; same && i < n; i++) same = ids[i] == (int32_t)jnum(rids, (size_t)i);
    CHECKF(same, "prompt %d: token ids differ from the reference (%lld vs %zu tokens)", pi,
           (long long)n, json_array_size(rids));
    if (!same) return;
    engine_ctx *c = engine_ctx_new(m, cp, err, sizeof err);
    CHECKF(c != NULL, "context: %s", err);
    if (!c) return;
    bool ok = engine_eval(c, ids, (int32_t)n, true, err, sizeof err);
    CHECKF(ok, "eval: %s", err);
    for (int64_t i = 0; ok && i < n; i++)
        check_position(engine_logits(c, (int32_t)i), nv, json_array_get(positions, (size_t)i), t,
                       pi, (int)i, ty);
    if (ok) {
        long off = (long)json_integer_value(json_object_get(p, "last_logits_bin_offset_floats"));
        check_last_logits(engine_logits(c, -1), nv, bin, off, t, pi, ty);
        check_greedy(m, c, p, t, pi, exact_text, ty, moe);
    }
    engine_ctx_free(c);
}

/* Prompts 0 and 1 evaluated together through a paged context, their tokens interleaved so their
 * 16-position blocks interleave in the cache: every position is held to the same rules. */
static void check_paged(const engine_model *m, const engine_ctx_params *cp, json_t *prompts,
                        const tolerance *t, tally *ty) {
    enum { CAP = 256 };
    int32_t ids[2][CAP];
    int64_t n[2];
    engine_seq_token toks[2 * CAP];
    char err[ENGINE_ERR_LEN];
    if (json_array_size(prompts) < 2) return;
    for (int k = 0; k < 2; k++) {
        json_t *jt = json_object_get(json_array_get(prompts, (size_t)k), "prompt");
        n[k] = engine_tokenize(m, json_string_value(jt), json_string_length(jt), true, true, ids[k],
                               CAP, err, sizeof err);
        if (n[k] <= 0 || n[k] >= CAP) return; /* longer prompts are the classic path's to check */
    }
    engine_paged_params pp = {2, 2 * CAP / 16 + 2, 16, CAP};
    engine_ctx *c = engine_ctx_new_paged(m, cp, &pp, err, sizeof err);
    CHECKF(c != NULL, "paged context: %s", err);
    if (!c) return;
    int32_t seq[2] = {engine_seq_new(c, err, sizeof err), engine_seq_new(c, err, sizeof err)};
    int32_t nt = 0, where[2][CAP];
    for (int64_t i = 0; i < n[0] || i < n[1]; i++)
        for (int k = 0; k < 2; k++)
            if (i < n[k]) {
                where[k][i] = nt;
                toks[nt++] = (engine_seq_token){seq[k], ids[k][i], true};
            }
    bool ok = engine_eval_seqs(c, toks, nt, err, sizeof err);
    CHECKF(ok, "paged eval: %s", err);
    int nv = engine_model_get_info(m)->n_vocab;
    for (int k = 0; ok && k < 2; k++) {
        json_t *pos = json_object_get(json_array_get(prompts, (size_t)k), "positions");
        for (int64_t i = 0; i < n[k]; i++)
            check_position(engine_seq_logits(c, where[k][i]), nv, json_array_get(pos, (size_t)i), t,
                           100 + k, (int)i, ty);
    }
    engine_ctx_free(c);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_reference REF_DIR MODEL_STEM THREADS [--kv f32|f16|q8_0]\n");
        return 2;
    }
    const char *ref = argv[1], *stem = argv[2], *type = model_type(stem);
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = atoi(argv[3]);
    const char *model_path = NULL;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--kv"))
            cp.kv_type = !strcmp(argv[i + 1], "f32")    ? ENGINE_KV_F32
                         : !strcmp(argv[i + 1], "q8_0") ? ENGINE_KV_Q8_0
                                                        : ENGINE_KV_F16;
        if (!strcmp(argv[i], "--model")) model_path = argv[i + 1];
    }
    tolerance t;
    if (!type || !load_tolerance(ref, type, &t)) return 2;
    if (cp.kv_type == ENGINE_KV_Q8_0) widen_for_kv_q8(&t);
    char path[1024], bin[1024], err[ENGINE_ERR_LEN];
    snprintf(path, sizeof path, "%s/outputs/%s.json", ref, stem);
    json_error_t je;
    json_t *R = json_load_file(path, JSON_ALLOW_NUL, &je); /* prompts may hold NUL */
    if (!R) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        return 2;
    }
    snprintf(bin, sizeof bin, "%s/outputs/%s", ref,
             json_string_value(json_object_get(R, "last_logits_bin")));
    snprintf(path, sizeof path, "%s/models/%s.gguf", ref, stem);
    if (model_path) snprintf(path, sizeof path, "%s", model_path);
    engine_model *m = engine_model_load(path, err, sizeof err);
    CHECKF(m != NULL, "load %s: %s", path, err);
    if (m && cp.kv_type == ENGINE_KV_Q8_0 && engine_model_get_info(m)->head_dim % 32) {
        check_kv_q8_rejected(m, &cp);
        m = (engine_model_free(m), NULL);
    }
    tally ty = {0, 0, 0.0, 0.0, 0.0};
    bool moe = strstr(stem, "moe") != NULL;
    bool exact_text = !strcmp(type, "F32") || !strcmp(type, "F16");
    json_t *prompts = json_object_get(R, "prompts");
    for (size_t pi = 0; m && pi < json_array_size(prompts); pi++)
        check_prompt(m, &cp, json_array_get(prompts, pi), &t, bin, (int)pi, exact_text, &ty, moe);
    if (m && cp.kv_type == ENGINE_KV_Q8_0) {
        check_paged(m, &cp, prompts, &t, &ty);
        /* 34 bytes per 32 values against F16's 64: 53 % of the memory */
        uint64_t q8 = engine_kv_bytes(m, 1000, ENGINE_KV_Q8_0);
        uint64_t f16 = engine_kv_bytes(m, 1000, ENGINE_KV_F16);
        CHECKF(q8 * 64 == f16 * 34, "Q8_0 KV bytes %llu vs F16 %llu", (unsigned long long)q8,
               (unsigned long long)f16);
    }
    int allowed = moe ? ty.n_positions * 2 / 100 : 0;
    CHECKF(ty.n_bad <= allowed, "%d positions over tolerance, %d allowed", ty.n_bad, allowed);
    printf("%s (%s, %d threads, kv %s): %d positions, %d over tolerance (%d allowed), worst top10 "
           "|dlogit| %.4g (tol %g), |dlse| %.4g (tol %g), full-vocab |dlogit| %.4g (tol %g)\n",
           stem, type, cp.n_threads, KV_NAMES[cp.kv_type], ty.n_positions, ty.n_bad, allowed,
           ty.worst, t.tol_logit, ty.worst_lse, t.tol_lse, ty.worst_all, t.tol_all);
    engine_model_free(m);
    json_decref(R);
    return test_summary("test_reference");
}
