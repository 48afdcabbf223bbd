/* Synthetic models: random weights with the exact shapes of public models, so tests, benchmarks
 * and first runs need no downloads. Weight scales follow the reference kit's generator (matrices
 * 1/sqrt(fan_in), norm gains 1 + 0.1 N(0,1), output 5/sqrt(n_embd)) so next-token
 * distributions are peaked rather than uniform. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "gguf.h"
#include "quant.h"
#include "quant_plan.h"

typedef struct {
    const char *name, *arch;
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx;
    float rope_base, rms_eps;
    bool tied;
    int32_t n_expert, n_expert_used, n_ff_exp; /* qwen3moe */
    int32_t pooling;                           /* embedding models: <arch>.pooling_type */
    bool no_output;                            /* embedding models have no output projection */
    int32_t n_swa;                             /* gpt-oss: sliding window of alternate layers */
    float yarn_factor;                         /* gpt-oss: YaRN scaling factor, */
    int32_t yarn_orig_ctx;                     /* over this original context */
} model_shape;

#define QWEN   151936
#define DENSE  0, 0, 0, -1, false
#define NO_SWA 0, 0.0f, 0
/* Hyperparameters as published in each model's config. */
/* clang-format off */
static const model_shape SHAPES[] = {
    /* name                  arch        vocab   embd  L   H   KV  hd   ff     ctx    rope  eps   tied */
    {"qwen2.5-coder-0.5b",   "qwen2",    QWEN,   896,  24, 14, 2,  64,  4864,  32768, 1e6f, 1e-6f, true,  DENSE, NO_SWA},
    {"qwen2.5-coder-1.5b",   "qwen2",    QWEN,   1536, 28, 12, 2,  128, 8960,  32768, 1e6f, 1e-6f, true,  DENSE, NO_SWA},
    {"qwen2.5-coder-3b",     "qwen2",    QWEN,   2048, 36, 16, 2,  128, 11008, 32768, 1e6f, 1e-6f, true,  DENSE, NO_SWA},
    {"qwen2.5-coder-7b",     "qwen2",    152064, 3584, 28, 28, 4,  128, 18944, 32768, 1e6f, 1e-6f, false, DENSE, NO_SWA},
    {"qwen3-0.6b",           "qwen3",    QWEN,   1024, 28, 16, 8,  128, 3072,  40960, 1e6f, 1e-6f, true,  DENSE, NO_SWA},
    {"qwen3-1.7b",           "qwen3",    QWEN,   2048, 28, 16, 8,  128, 6144,  40960, 1e6f, 1e-6f, true,  DENSE, NO_SWA},
    /*                                                                                     experts used ff_exp pooling no_output */
    {"qwen3-30b-a3b",        "qwen3moe", QWEN,   2048, 48, 32, 4,  128, 6144,  40960, 1e6f, 1e-6f, false, 128, 8, 768, -1, false, NO_SWA},
    {"qwen3-embedding-0.6b", "qwen3",    QWEN,   1024, 28, 16, 8,  128, 3072,  32768, 1e6f, 1e-6f, true,  0, 0, 0, ENGINE_POOL_LAST, true, NO_SWA},
    {"bge-small-en-v1.5",    "bert",     30522,  384,  12, 12, 12, 32,  1536,  512,   0.0f, 1e-12f, false, 0, 0, 0, ENGINE_POOL_CLS, true, NO_SWA},
    {"tiny-llama",           "llama",    512,    256,  2,  4,  2,  64,  768,   2048,  1e4f, 1e-5f, false, DENSE, NO_SWA},
    {"tiny-qwen2",           "qwen2",    512,    256,  2,  4,  2,  64,  512,   2048,  1e6f, 1e-6f, true,  DENSE, NO_SWA},
    {"tiny-qwen3",           "qwen3",    512,    256,  2,  4,  2,  64,  512,   2048,  1e6f, 1e-6f, false, DENSE, NO_SWA},
    {"tiny-qwen3moe",        "qwen3moe", 512,    256,  2,  4,  2,  64,  768,   2048,  1e6f, 1e-6f, false, 8, 2, 256, -1, false, NO_SWA},
    {"tiny-bert",            "bert",     512,    64,   2,  2,  2,  32,  256,   512,   0.0f, 1e-12f, false, 0, 0, 0, ENGINE_POOL_CLS, true, NO_SWA},
    {"nomic-embed-text-v1.5", "nomic-bert", 30522, 768, 12, 12, 12, 64, 3072, 2048, 1000.0f, 1e-12f, false, 0, 0, 0, ENGINE_POOL_MEAN, true, NO_SWA},
    {"tiny-nomic-bert",      "nomic-bert", 512,  64,   2,  2,  2,  32,  256,   2048,  1000.0f, 1e-12f, false, 0, 0, 0, ENGINE_POOL_MEAN, true, NO_SWA},
    /*                                                                                     experts used ff_exp pooling no_output window yarn orig */
    {"gpt-oss-20b",          "gpt-oss",  201088, 2880, 24, 64, 8,  64,  2880,  131072, 150000.0f, 1e-5f, false, 32, 4, 2880, -1, false, 128, 32.0f, 4096},
    /* ours: q wider than the embedding as in the real one, 4 query heads per kv head, a short
     * window so that short prompts reach past it */
    {"tiny-gpt-oss",         "gpt-oss",  512,    256,  4,  8,  2,  64,  256,   131072, 150000.0f, 1e-5f, false, 8, 4, 256, -1, false, 16, 32.0f, 4096},
};
/* clang-format on */
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

const char *engine_synth_shape_name(int i) {
    return i >= 0 && i < (int)N_SHAPES ? SHAPES[i].name : NULL;
}

typedef struct {
    uint64_t state;
} rng;

static double rng_uniform(rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static void fill_normal(rng *r, float *x, size_t n, float mean, float std) {
    for (size_t i = 0; i < n; i += 2) {
        double u = rng_uniform(r), v = rng_uniform(r), m = sqrt(-2.0 * log(u));
        x[i] = mean + std * (float)(m * cos(2 * M_PI * v));
        if (i + 1 < n) x[i + 1] = mean + std * (float)(m * sin(2 * M_PI * v));
    }
}

typedef struct {
    gguf_writer *w;
    rng r;
    const quant_plan *plan;
    int n_layer;
    bool tied; /* a decoder whose logits go through token_embd */
    char *err;
    size_t errlen;
    const engine_synth_params *p; /* for its progress callback */
} synth_state;

/* After each layer: the caller's progress callback, if any. */
static void layer_done(const synth_state *s, int layer) {
    if (s->p->progress) s->p->progress(layer + 1, s->n_layer, s->p->user);
}

/* A tensor of n_mat matrices of rows x cols (n_mat > 1: a 3-D expert stack). */
static bool add_stack(synth_state *s, const char *name, int layer, int64_t cols, int64_t rows,
                      int64_t n_mat, float mean, float std) {
    size_t n = (size_t)cols * (size_t)rows * (size_t)n_mat;
    float *x = malloc(n * sizeof(float));
    if (!x) {
        snprintf(s->err, s->errlen, "out of memory for %s", name);
        return false;
    }
    if (s->p->bag_of_words && strcmp(name, "token_embd.weight")) std = 0; /* identity layers */
    fill_normal(&s->r, x, n, mean, std);
    tensor_type t = quant_plan_keeps_f32(name, rows == 1 ? 1 : 2)
                        ? TT_F32
                        : quant_plan_type(s->plan, name, layer, s->n_layer, cols, s->tied);
    size_t row_bytes = quant_row_size(t, cols);
    int64_t all_rows = rows * n_mat;
    void *q = t == TT_F32 ? (void *)x : malloc(row_bytes * (size_t)all_rows);
    bool ok = q != NULL;
    for (int64_t i = 0; ok && t != TT_F32 && i < all_rows; i++)
        quant_traits(t)->from_float(x + i * cols, (uint8_t *)q + i * row_bytes, cols);
    uint64_t ne[3] = {(uint64_t)cols, (uint64_t)rows, (uint64_t)n_mat};
    uint32_t dims = n_mat > 1 ? 3 : rows == 1 ? 1 : 2;
    if (ok)
        ok = gguf_writer_add_tensor(s->w, name, t, dims, ne, q, s->err, s->errlen);
    else
        snprintf(s->err, s->errlen, "out of memory for %s", name);
    if (q != x) free(q);
    free(x);
    return ok;
}

static bool add_tensor(synth_state *s, const char *name, int layer, int64_t cols, int64_t rows,
                       float mean, float std) {
    return add_stack(s, name, layer, cols, rows, 1, mean, std);
}

static bool add_ffn(synth_state *s, const model_shape *sh, int l) {
    int64_t e = sh->n_embd, ff = sh->n_ff, fx = sh->n_ff_exp, X = sh->n_expert;
    char n[96];
#define T(suffix, cols, rows, k, std)                                                              \
    (snprintf(n, sizeof n, "blk.%d." suffix, l), add_stack(s, n, l, cols, rows, k, 0.0f, std))
    if (X > 0)
        return T("ffn_gate_inp.weight", e, X, 1, 3.0f / sqrtf((float)e)) &&
               T("ffn_gate_exps.weight", e, fx, X, 1.0f / sqrtf((float)e)) &&
               T("ffn_up_exps.weight", e, fx, X, 1.0f / sqrtf((float)e)) &&
               T("ffn_down_exps.weight", fx, e, X, 1.0f / sqrtf((float)fx));
    return T("ffn_gate.weight", e, ff, 1, 1.0f / sqrtf((float)e)) &&
           T("ffn_up.weight", e, ff, 1, 1.0f / sqrtf((float)e)) &&
           T("ffn_down.weight", ff, e, 1, 1.0f / sqrtf((float)ff));
#undef T
}

/* BERT: biases everywhere, post-attention and post-FFN LayerNorms (gain and bias). */
static bool add_bert_layer(synth_state *s, const model_shape *sh, int l) {
    int64_t e = sh->n_embd, ff = sh->n_ff;
    float se = 1.0f / sqrtf((float)e), sf = 1.0f / sqrtf((float)ff);
    char n[96];
#define T(suffix, cols, rows, mean, std)                                                           \
    (snprintf(n, sizeof n, "blk.%d." suffix, l), add_tensor(s, n, l, cols, rows, mean, std))
    return T("attn_q.weight", e, e, 0.0f, se) && T("attn_q.bias", e, 1, 0.0f, 0.05f) &&
           T("attn_k.weight", e, e, 0.0f, se) && T("attn_k.bias", e, 1, 0.0f, 0.05f) &&
           T("attn_v.weight", e, e, 0.0f, se) && T("attn_v.bias", e, 1, 0.0f, 0.05f) &&
           T("attn_output.weight", e, e, 0.0f, se) && T("attn_output.bias", e, 1, 0.0f, 0.05f) &&
           T("attn_output_norm.weight", e, 1, 1.0f, 0.1f) &&
           T("attn_output_norm.bias", e, 1, 0.0f, 0.05f) && T("ffn_up.weight", e, ff, 0.0f, se) &&
           T("ffn_up.bias", ff, 1, 0.0f, 0.05f) && T("ffn_down.weight", ff, e, 0.0f, sf) &&
           T("ffn_down.bias", e, 1, 0.0f, 0.05f) &&
           T("layer_output_norm.weight", e, 1, 1.0f, 0.1f) &&
           T("layer_output_norm.bias", e, 1, 0.0f, 0.05f);
#undef T
}

/* nomic-bert: fused QKV, no biases, SwiGLU; post-LayerNorms as BERT. */
static bool add_nomic_layer(synth_state *s, const model_shape *sh, int l) {
    int64_t e = sh->n_embd, ff = sh->n_ff;
    float se = 1.0f / sqrtf((float)e), sf = 1.0f / sqrtf((float)ff);
    char n[96];
#define T(suffix, cols, rows, mean, std)                                                           \
    (snprintf(n, sizeof n, "blk.%d." suffix, l), add_tensor(s, n, l, cols, rows, mean, std))
    return T("attn_qkv.weight", e, 3 * e, 0.0f, se) && T("attn_output.weight", e, e, 0.0f, se) &&
           T("attn_output_norm.weight", e, 1, 1.0f, 0.1f) &&
           T("attn_output_norm.bias", e, 1, 0.0f, 0.05f) && T("ffn_up.weight", e, ff, 0.0f, se) &&
           T("ffn_gate.weight", e, ff, 0.0f, se) && T("ffn_down.weight", ff, e, 0.0f, sf) &&
           T("layer_output_norm.weight", e, 1, 1.0f, 0.1f) &&
           T("layer_output_norm.bias", e, 1, 0.0f, 0.05f);
#undef T
}

/* gpt-oss: biases on q/k/v/o, per-head sinks, the norm before the experts named
 * post_attention_norm, router and expert biases. */
static bool add_oai_layer(synth_state *s, const model_shape *sh, int l) {
    int64_t e = sh->n_embd, q = (int64_t)sh->n_head * sh->head_dim,
            kv = (int64_t)sh->n_head_kv * sh->head_dim, fx = sh->n_ff_exp, X = sh->n_expert;
    float se = 1.0f / sqrtf((float)e);
    char n[96];
#define T(suffix, cols, rows, k, mean, std)                                                        \
    (snprintf(n, sizeof n, "blk.%d." suffix, l), add_stack(s, n, l, cols, rows, k, mean, std))
    return T("attn_norm.weight", e, 1, 1, 1.0f, 0.1f) && T("attn_q.weight", e, q, 1, 0.0f, se) &&
           T("attn_q.bias", q, 1, 1, 0.0f, 0.2f) && T("attn_k.weight", e, kv, 1, 0.0f, se) &&
           T("attn_k.bias", kv, 1, 1, 0.0f, 0.2f) && T("attn_v.weight", e, kv, 1, 0.0f, se) &&
           T("attn_v.bias", kv, 1, 1, 0.0f, 0.2f) &&
           T("attn_output.weight", q, e, 1, 0.0f, 1.0f / sqrtf((float)q)) &&
           T("attn_output.bias", e, 1, 1, 0.0f, 0.05f) &&
           T("attn_sinks.weight", sh->n_head, 1, 1, 0.0f, 1.0f) &&
           T("post_attention_norm.weight", e, 1, 1, 1.0f, 0.1f) &&
           T("ffn_gate_inp.weight", e, X, 1, 0.0f, 3.0f * se) &&
           T("ffn_gate_inp.bias", X, 1, 1, 0.0f, 0.2f) &&
           T("ffn_gate_exps.weight", e, fx, X, 0.0f, se) &&
           T("ffn_gate_exps.bias", fx, X, 1, 0.0f, 0.2f) &&
           T("ffn_up_exps.weight", e, fx, X, 0.0f, se) &&
           T("ffn_up_exps.bias", fx, X, 1, 0.0f, 0.2f) &&
           T("ffn_down_exps.weight", fx, e, X, 0.0f, 1.0f / sqrtf((float)fx)) &&
           T("ffn_down_exps.bias", e, X, 1, 0.0f, 0.05f);
#undef T
}

static bool add_layer(synth_state *s, const model_shape *sh, int l) {
    if (sh->n_swa > 0) return add_oai_layer(s, sh, l);
    int64_t e = sh->n_embd, q = (int64_t)sh->n_head * sh->head_dim,
            kv = (int64_t)sh->n_head_kv * sh->head_dim;
    char n[96];
#define T(suffix, cols, rows, mean, std)                                                           \
    (snprintf(n, sizeof n, "blk.%d." suffix, l), add_tensor(s, n, l, cols, rows, mean, std))
    bool ok = T("attn_norm.weight", e, 1, 1.0f, 0.1f) &&
              T("attn_q.weight", e, q, 0.0f, 1.0f / sqrtf((float)e)) &&
              T("attn_k.weight", e, kv, 0.0f, 1.0f / sqrtf((float)e)) &&
              T("attn_v.weight", e, kv, 0.0f, 1.0f / sqrtf((float)e)) &&
              T("attn_output.weight", q, e, 0.0f, 1.0f / sqrtf((float)q)) &&
              T("ffn_norm.weight", e, 1, 1.0f, 0.1f) && add_ffn(s, sh, l);
    if (ok && !strcmp(sh->arch, "qwen2"))
        ok = T("attn_q.bias", q, 1, 0.0f, 0.2f) && T("attn_k.bias", kv, 1, 0.0f, 0.2f) &&
             T("attn_v.bias", kv, 1, 0.0f, 0.2f);
    if (ok && !strncmp(sh->arch, "qwen3", 5))
        ok = T("attn_q_norm.weight", sh->head_dim, 1, 1.0f, 0.1f) &&
             T("attn_k_norm.weight", sh->head_dim, 1, 1.0f, 0.1f);
#undef T
    return ok;
}

/* The GPT-2 byte-to-unicode spelling of byte b: printable Latin-1 bytes stand for themselves,
 * the others take code points from 256 up in byte order. Written as UTF-8 into out[3]. */
static void byte_token(int b, char out[3]) {
    int cp = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174) ? b : -1;
    if (cp < 0) {
        int k = 0;
        for (int c = 0; c < b; c++)
            k += !((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174));
        cp = 256 + k;
    }
    if (cp < 0x80)
        out[0] = (char)cp, out[1] = 0;
    else
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

/* Our own minimal byte-level vocabulary: 256 byte tokens, an end-of-text token, then "[PAD<id>]"
 * tokens of type UNUSED (as GGUF converters pad a vocabulary to its embedding) up to the shape's
 * n_vocab, so the vocabulary has exactly as many entries as token_embd has rows — which other
 * GGUF readers require. */
static bool add_builtin_vocab(synth_state *s, int32_t *n_vocab) {
    const int32_t n = *n_vocab > 257 ? *n_vocab : 257;
    enum { LEN = 16 }; /* "[PAD" + up to 10 digits + "]" + NUL */
    char **tok = calloc((size_t)n, sizeof *tok);
    char *text = malloc((size_t)n * LEN);
    int32_t *types = calloc((size_t)n, sizeof *types);
    bool ok = tok && text && types;
    for (int32_t i = 0; ok && i < n; i++) {
        tok[i] = text + (size_t)i * LEN;
        if (i < 256)
            byte_token(i, tok[i]), types[i] = 1;
        else if (i == 256)
            snprintf(tok[i], LEN, "<|endoftext|>"), types[i] = 3;
        else
            snprintf(tok[i], LEN, "[PAD%d]", (int)i), types[i] = 5;
    }
    if (ok) {
        gguf_write_str(s->w, "tokenizer.ggml.model", "gpt2");
        gguf_write_str(s->w, "tokenizer.ggml.pre", "qwen2");
        gguf_write_arr_str(s->w, "tokenizer.ggml.tokens", (const char *const *)tok, (uint64_t)n);
        gguf_write_arr_i32(s->w, "tokenizer.ggml.token_type", types, (uint64_t)n);
        gguf_write_arr_str(s->w, "tokenizer.ggml.merges", NULL, 0);
        gguf_write_u32(s->w, "tokenizer.ggml.eos_token_id", 256);
        gguf_write_bool(s->w, "tokenizer.ggml.add_bos_token", false);
        *n_vocab = n;
    } else {
        snprintf(s->err, s->errlen, "out of memory");
    }
    free(tok);
    free(text);
    free(types);
    return ok;
}

/* tokenizer.* from a vocabulary GGUF, or our built-in one. A vocabulary larger than the shape's
 * grows the embedding (tiny shapes with real vocabularies). */
static bool add_vocab(synth_state *s, const char *vocab_path, int32_t *n_vocab) {
    if (!vocab_path) return add_builtin_vocab(s, n_vocab);
    gguf_file *v = gguf_open(vocab_path, s->err, s->errlen);
    if (!v) return false;
    const gguf_value *tokens = gguf_get_arr(v, "tokenizer.ggml.tokens");
    bool ok = tokens && tokens->arr.n < (1u << 24);
    if (!ok) snprintf(s->err, s->errlen, "%s: no usable tokenizer.ggml.tokens", vocab_path);
    if (ok && tokens->arr.n > (uint64_t)*n_vocab) *n_vocab = (int32_t)tokens->arr.n;
    for (uint64_t i = 0; ok && i < v->n_kv; i++) {
        char key[256];
        gguf_str k = v->kv[i].key;
        if (k.len >= sizeof key || k.len < 10 || memcmp(k.ptr, "tokenizer.", 10) != 0) continue;
        memcpy(key, k.ptr, k.len);
        key[k.len] = 0;
        gguf_write_value(s->w, key, &v->kv[i].val);
    }
    gguf_close(v);
    return ok;
}

static void add_hparams(synth_state *s, const model_shape *sh, int n_layer) {
    char k[96];
    const char *a = sh->arch;
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, a), k)
    gguf_write_str(s->w, "general.architecture", a);
    gguf_write_str(s->w, "general.name", sh->name);
    gguf_write_u32(s->w, "general.file_type", s->plan->file_type);
    gguf_write_u32(s->w, "general.quantization_version", 2);
    gguf_write_u32(s->w, KEY("context_length"), (uint32_t)sh->n_ctx);
    gguf_write_u32(s->w, KEY("embedding_length"), (uint32_t)sh->n_embd);
    gguf_write_u32(s->w, KEY("block_count"), (uint32_t)n_layer);
    gguf_write_u32(s->w, KEY("feed_forward_length"), (uint32_t)sh->n_ff);
    gguf_write_u32(s->w, KEY("attention.head_count"), (uint32_t)sh->n_head);
    gguf_write_u32(s->w, KEY("attention.head_count_kv"), (uint32_t)sh->n_head_kv);
    gguf_write_u32(s->w, KEY("attention.key_length"), (uint32_t)sh->head_dim);
    gguf_write_u32(s->w, KEY("attention.value_length"), (uint32_t)sh->head_dim);
    if (sh->n_expert > 0) {
        gguf_write_u32(s->w, KEY("expert_count"), (uint32_t)sh->n_expert);
        gguf_write_u32(s->w, KEY("expert_used_count"), (uint32_t)sh->n_expert_used);
        gguf_write_u32(s->w, KEY("expert_feed_forward_length"), (uint32_t)sh->n_ff_exp);
        if (sh->n_swa == 0) gguf_write_bool(s->w, KEY("expert_weights_norm"), true);
    }
    if (sh->n_swa > 0) { /* gpt-oss, as its converter writes it */
        gguf_write_u32(s->w, KEY("attention.sliding_window"), (uint32_t)sh->n_swa);
        gguf_write_str(s->w, KEY("rope.scaling.type"), "yarn");
        gguf_write_f32(s->w, KEY("rope.scaling.factor"), sh->yarn_factor);
        gguf_write_u32(s->w, KEY("rope.scaling.original_context_length"),
                       (uint32_t)sh->yarn_orig_ctx);
        gguf_write_f32(s->w, KEY("rope.scaling.yarn_beta_fast"), 32.0f);
        gguf_write_f32(s->w, KEY("rope.scaling.yarn_beta_slow"), 1.0f);
    }
    if (sh->pooling >= 0) gguf_write_u32(s->w, KEY("pooling_type"), (uint32_t)sh->pooling);
    if (!strcmp(a, "bert") || !strcmp(a, "nomic-bert")) {
        gguf_write_f32(s->w, KEY("attention.layer_norm_epsilon"), sh->rms_eps);
        gguf_write_bool(s->w, KEY("attention.causal"), false);
        if (sh->rope_base > 0.0f) gguf_write_f32(s->w, KEY("rope.freq_base"), sh->rope_base);
        return;
    }
    gguf_write_f32(s->w, KEY("rope.freq_base"), sh->rope_base);
    gguf_write_f32(s->w, KEY("attention.layer_norm_rms_epsilon"), sh->rms_eps);
#undef KEY
}

static bool add_decoder(synth_state *s, const model_shape *sh, int n_layer) {
    float out_std = 5.0f / sqrtf((float)sh->n_embd);
    /* tied models read logits through token_embd, so it carries the output scale */
    bool ok = add_tensor(s, "token_embd.weight", -1, sh->n_embd, sh->n_vocab, 0.0f,
                         sh->tied ? out_std : 1.0f);
    for (int l = 0; ok && l < n_layer; l++) ok = add_layer(s, sh, l), layer_done(s, l);
    ok = ok && add_tensor(s, "output_norm.weight", -1, sh->n_embd, 1, 1.0f, 0.1f);
    if (ok && !sh->tied && !sh->no_output)
        ok = add_tensor(s, "output.weight", -1, sh->n_embd, sh->n_vocab, 0.0f, out_std);
    return ok;
}

static bool add_bert(synth_state *s, const model_shape *sh, int n_layer) {
    int64_t e = sh->n_embd;
    bool nomic = !strcmp(sh->arch, "nomic-bert");
    bool ok = add_tensor(s, "token_embd.weight", -1, e, sh->n_vocab, 0.0f, 1.0f) &&
              add_tensor(s, "token_types.weight", -1, e, 2, 0.0f, 0.5f) &&
              (nomic || add_tensor(s, "position_embd.weight", -1, e, sh->n_ctx, 0.0f, 0.5f)) &&
              add_tensor(s, "token_embd_norm.weight", -1, e, 1, 1.0f, 0.1f) &&
              add_tensor(s, "token_embd_norm.bias", -1, e, 1, 0.0f, 0.05f);
    for (int l = 0; ok && l < n_layer; l++)
        ok = nomic ? add_nomic_layer(s, sh, l) : add_bert_layer(s, sh, l), layer_done(s, l);
    return ok;
}

bool engine_synth(const engine_synth_params *p, const char *out_path, char *err, size_t errlen) {
    const model_shape *sh = NULL;
    const quant_plan *tc = quant_plan_find(p->type);
    for (size_t i = 0; i < N_SHAPES; i++)
        if (!strcmp(p->like, SHAPES[i].name)) sh = &SHAPES[i];
    if (!sh) return snprintf(err, errlen, "unknown model shape '%s'", p->like), false;
    if (!tc) return snprintf(err, errlen, "unknown tensor type '%s'", p->type), false;
    int n_layer = p->n_layers > 0 && p->n_layers < sh->n_layer ? p->n_layers : sh->n_layer;
    quant_init();
    synth_state s = {gguf_writer_new(),
                     {p->seed * 0x2545f4914f6cdd1dull + 1},
                     tc,
                     n_layer,
                     false,
                     err,
                     errlen,
                     p};
    if (!s.w) return snprintf(err, errlen, "out of memory"), false;
    model_shape shape = *sh;
    sh = &shape;
    bool encoder = !strcmp(sh->arch, "bert") || !strcmp(sh->arch, "nomic-bert");
    if (p->bag_of_words && !encoder) {
        gguf_writer_free(s.w);
        return snprintf(err, errlen, "a bag-of-words model needs an encoder shape"), false;
    }
    if (p->bag_of_words) { /* and not named like its shape: no prompt family applies */
        shape.pooling = ENGINE_POOL_MEAN;
        shape.name = "bag-of-words";
    }
    add_hparams(&s, sh, n_layer);
    bool ok = add_vocab(&s, p->vocab_path, &shape.n_vocab);
    s.tied = !encoder && sh->tied;
    ok = ok && (encoder ? add_bert(&s, sh, n_layer) : add_decoder(&s, sh, n_layer));
    ok = ok && gguf_writer_save(s.w, out_path, err, errlen);
    gguf_writer_free(s.w);
    return ok;
}
