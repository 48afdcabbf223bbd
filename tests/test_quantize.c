/* The quantizer: float and legacy types come out byte-identical to the reference kit's files
 * (same format rules), K-quants and *_K_M mixes are at least as close to the F32 model as the
 * reference quantizer's files, MXFP4 and the MXFP4_MOE mix about as close as its Q4_0 / Q4_K_M,
 * and bad requests are refused with a message.
 *
 * usage: test_quantize REF_DIR */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "gguf.h"
#include "quant_plan.h"
#include "test.h"

static const char *ref;
static char tmp_path[64];

static void model_path(char *buf, size_t n, const char *type) {
    snprintf(buf, n, "%s/models/tiny-llama-spm-%s.gguf", ref, type);
}

/* Quantizes the kit model `model` (a file name without .gguf) to tmp_path. */
static bool quantize_model(const char *model, const char *type) {
    char in[512], err[ENGINE_ERR_LEN];
    snprintf(in, sizeof in, "%s/models/%s.gguf", ref, model);
    bool ok = engine_quantize(in, tmp_path, type, err, sizeof err);
    CHECKF(ok, "%s: %s", type, err);
    return ok;
}

static bool quantize(const char *type) {
    return quantize_model("tiny-llama-spm-F32", type);
}

static void test_exact_types_match_reference_bytes(void) {
    static const char *types[] = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (!quantize(types[i])) continue;
        char theirs[512], err[256];
        model_path(theirs, sizeof theirs, types[i]);
        gguf_file *a = gguf_open(tmp_path, err, sizeof err),
                  *b = gguf_open(theirs, err, sizeof err);
        CHECKF(a && b, "%s", err);
        int differ = 0;
        for (uint64_t t = 0; a && b && t < b->n_tensors; t++) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)b->tensors[t].name.len,
                     b->tensors[t].name.ptr);
            const gguf_tensor *x = gguf_find_tensor(a, name), *y = &b->tensors[t];
            differ += !x || x->type != y->type || x->nbytes != y->nbytes ||
                      memcmp(x->data, y->data, y->nbytes) != 0;
        }
        CHECKF(a && b && differ == 0, "%s: %d tensors differ from the reference file", types[i],
               differ);
        gguf_close(a);
        gguf_close(b);
    }
}

/* RMS over the full vocabulary of the last-position logits of every kit prompt, against F32. */
static double rms_vs_f32(const char *path, json_t *prompts, const float *f32, int nv) {
    char err[ENGINE_ERR_LEN];
    engine_model *m = engine_model_load(path, err, sizeof err);
    CHECKF(m != NULL, "%s: %s", path, err);
    if (!m) return INFINITY;
    double ss = 0.0;
    size_t count = 0;
    for (size_t p = 0; p < json_array_size(prompts); p++) {
        json_t *ids = json_object_get(json_array_get(prompts, p), "ids");
        int32_t v[512];
        int n = (int)json_array_size(ids);
        for (int i = 0; i < n && i < 512; i++)
            v[i] = (int32_t)json_integer_value(json_array_get(ids, i));
        engine_ctx *c = engine_ctx_new(m, NULL, err, sizeof err);
        if (c && engine_eval(c, v, n, false, err, sizeof err)) {
            const float *l = engine_logits(c, -1);
            for (int k = 0; k < nv; k++, count++)
                ss += (l[k] - f32[p * nv + k]) * (l[k] - f32[p * nv + k]);
        }
        engine_ctx_free(c);
    }
    engine_model_free(m);
    return sqrt(ss / (count ? count : 1));
}

/* The kit's last-position logits of every prompt of `model` (np * nv floats, NULL on failure). */
static float *load_logits(const char *model, json_t **prompts, json_t **doc, int *nv) {
    char path[512];
    snprintf(path, sizeof path, "%s/outputs/%s.json", ref, model);
    json_error_t je;
    *doc = json_load_file(path, JSON_ALLOW_NUL, &je);
    *nv = *doc ? (int)json_integer_value(json_object_get(*doc, "n_vocab")) : 0;
    *prompts = json_object_get(*doc, "prompts");
    size_t np = json_array_size(*prompts);
    float *logits = malloc(np * (size_t)(*nv ? *nv : 1) * sizeof(float));
    snprintf(path, sizeof path, "%s/outputs/%s.last_logits.bin", ref, model);
    FILE *f = fopen(path, "rb");
    bool ok = *doc && f && logits && fread(logits, sizeof(float), np * *nv, f) == np * *nv;
    CHECKF(ok, "reference logits of %s", model);
    if (f) fclose(f);
    if (!ok) free(logits);
    return ok ? logits : NULL;
}

static void test_kquants_as_close_as_reference(void) {
    static const char *types[] = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M", "Q5_K_M"};
    json_t *R, *prompts;
    int nv;
    float *f32 = load_logits("tiny-llama-spm-F32", &prompts, &R, &nv);
    for (size_t i = 0; f32 && i < sizeof types / sizeof types[0]; i++) {
        if (!quantize(types[i])) continue;
        char theirs[512];
        model_path(theirs, sizeof theirs, types[i]);
        double ours = rms_vs_f32(tmp_path, prompts, f32, nv),
               ref_q = rms_vs_f32(theirs, prompts, f32, nv);
        printf("%-7s RMS logit error vs F32: ours %.4f, reference quantizer %.4f\n", types[i], ours,
               ref_q);
        CHECKF(ours <= 1.25 * ref_q, "%s: ours %.4f vs reference %.4f", types[i], ours, ref_q);
    }
    free(f32);
    json_decref(R);
}

/* MXFP4 everywhere: about as close to F32 as the reference quantizer's Q4_0 (4.5 bits per
 * weight to MXFP4's 4.25, with a finer scale but a coarser grid at the top). */
static void test_mxfp4_close_to_f32(void) {
    json_t *R, *prompts;
    int nv;
    float *f32 = load_logits("tiny-llama-spm-F32", &prompts, &R, &nv);
    if (f32 && quantize("MXFP4")) {
        char theirs[512];
        model_path(theirs, sizeof theirs, "Q4_0");
        double ours = rms_vs_f32(tmp_path, prompts, f32, nv),
               q40 = rms_vs_f32(theirs, prompts, f32, nv);
        printf("MXFP4   RMS logit error vs F32: %.4f (reference Q4_0: %.4f)\n", ours, q40);
        CHECKF(ours <= 1.5 * q40, "MXFP4: %.4f vs Q4_0 %.4f", ours, q40);
    }
    free(f32);
    json_decref(R);
}

/* MXFP4_MOE on the kit's MoE model: expert stacks MXFP4, the router and 1-D tensors F32, every
 * other matrix Q8_0; its logits as close to F16 as the reference quantizer's Q4_K_M. */
static void test_mxfp4_moe_mix(void) {
    json_t *R, *prompts;
    int nv;
    float *f16 = load_logits("tiny-qwen3moe-F16", &prompts, &R, &nv);
    if (f16 && quantize_model("tiny-qwen3moe-F16", "MXFP4_MOE")) {
        char err[256];
        gguf_file *g = gguf_open(tmp_path, err, sizeof err);
        CHECKF(g != NULL, "%s", err);
        int experts = 0, wrong = 0;
        for (uint64_t t = 0; g && t < g->n_tensors; t++) {
            const gguf_tensor *x = &g->tensors[t];
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)x->name.len, x->name.ptr);
            const bool exps = strstr(name, "_exps.") != NULL;
            const uint32_t want = exps                                            ? TT_MXFP4
                                  : x->n_dims < 2 || strstr(name, "ffn_gate_inp") ? TT_F32
                                                                                  : TT_Q8_0;
            experts += exps;
            if (x->type != want && wrong++ < 3)
                CHECKF(false, "%s is type %u, want %u", name, x->type, want);
        }
        int64_t ft = 0;
        CHECK(g && gguf_get_i64(g, "general.file_type", &ft) && ft == 38);
        CHECKF(experts == 6 && wrong == 0, "%d expert stacks, %d tensors of the wrong type",
               experts, wrong);
        gguf_close(g);
        char theirs[512];
        snprintf(theirs, sizeof theirs, "%s/models/tiny-qwen3moe-Q4_K_M.gguf", ref);
        double ours = rms_vs_f32(tmp_path, prompts, f16, nv),
               q4km = rms_vs_f32(theirs, prompts, f16, nv);
        printf("MXFP4_MOE RMS logit error vs F16: %.4f (reference Q4_K_M: %.4f)\n", ours, q4km);
        CHECKF(ours <= 1.5 * q4km, "MXFP4_MOE: %.4f vs Q4_K_M %.4f", ours, q4km);
    }
    free(f16);
    json_decref(R);
}

static void test_refuses_bad_requests(void) {
    char in[512], err[ENGINE_ERR_LEN];
    model_path(in, sizeof in, "Q8_0");
    CHECK(!engine_quantize(in, tmp_path, "Q4_0", err, sizeof err) && strstr(err, "already Q8_0"));
    model_path(in, sizeof in, "F32");
    CHECK(!engine_quantize(in, tmp_path, "Q9", err, sizeof err) && strstr(err, "unknown type"));
}

/* The *_K_M mixes give the output projection Q6_K — token_embd when the model ties them — and
 * fall back to a legacy type where 256-element super-blocks do not divide the rows. */
static void test_mix_gives_tied_output_more_bits(void) {
    quant_init();
    const quant_plan *m = quant_plan_find("Q5_K_M"), *q8 = quant_plan_find("Q8_0");
    CHECK(quant_plan_type(m, "output.weight", -1, 24, 1536, false) == TT_Q6_K);
    CHECK(quant_plan_type(m, "token_embd.weight", -1, 24, 1536, true) == TT_Q6_K);
    CHECK(quant_plan_type(m, "token_embd.weight", -1, 24, 1536, false) == TT_Q5_K);
    CHECK(quant_plan_type(m, "token_embd.weight", -1, 24, 896, true) == TT_Q8_0);
    CHECK(quant_plan_type(m, "token_embd.weight", -1, 24, 896, false) == TT_Q5_1);
    CHECK(quant_plan_type(m, "blk.3.attn_q.weight", 3, 24, 896, true) == TT_Q5_1);
    CHECK(quant_plan_type(q8, "token_embd.weight", -1, 24, 896, true) == TT_Q8_0);
}

/* MXFP4_MOE: expert stacks MXFP4, every other matrix (output and tied token_embd too) Q8_0. */
static void test_mxfp4_moe_plan(void) {
    const quant_plan *p = quant_plan_find("MXFP4_MOE"), *m = quant_plan_find("MXFP4");
    CHECK(p && m && p->file_type == 38 && m->file_type == 38);
    if (!p || !m) return;
    CHECK(quant_plan_type(p, "blk.2.ffn_gate_exps.weight", 2, 24, 2880, false) == TT_MXFP4);
    CHECK(quant_plan_type(p, "blk.2.ffn_down_exps.weight", 2, 24, 2880, false) == TT_MXFP4);
    CHECK(quant_plan_type(p, "blk.2.ffn_up_shexp.weight", 2, 24, 2880, false) == TT_Q8_0);
    CHECK(quant_plan_type(p, "blk.2.attn_q.weight", 2, 24, 2880, false) == TT_Q8_0);
    CHECK(quant_plan_type(p, "token_embd.weight", -1, 24, 2880, true) == TT_Q8_0);
    CHECK(quant_plan_type(p, "output.weight", -1, 24, 2880, false) == TT_Q8_0);
    CHECK(quant_plan_type(m, "blk.0.attn_q.weight", 0, 24, 2880, false) == TT_MXFP4);
    CHECK(quant_plan_type(m, "blk.0.attn_q.weight", 0, 24, 2890, false) == TT_Q8_0);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    ref = argv[1];
    snprintf(tmp_path, sizeof tmp_path, "/tmp/hearth_quantize_%d.gguf", (int)getpid());
    test_exact_types_match_reference_bytes();
    test_kquants_as_close_as_reference();
    test_refuses_bad_requests();
    test_mix_gives_tied_output_more_bits();
    test_mxfp4_moe_plan();
    test_mxfp4_close_to_f32();
    test_mxfp4_moe_mix();
    unlink(tmp_path);
    return test_summary("test_quantize");
}
