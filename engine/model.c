/* Loading a model: read hyperparameters, check every tensor's presence, shape and type, and keep
 * views into the mapping. Nothing is copied except 1-D tensors stored in a non-f32 type. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

static const arch_desc ARCHS[] = {
    {"llama", FAMILY_DECODER, ROPE_NORM, false, false, false, false},
    {"qwen2", FAMILY_DECODER, ROPE_NEOX, true, false, false, false},
    {"qwen3", FAMILY_DECODER, ROPE_NEOX, false, true, false, false},
    {"qwen3moe", FAMILY_DECODER, ROPE_NEOX, false, true, true, false},
    {"gpt-oss", FAMILY_DECODER, ROPE_NEOX, true, false, true, true},
    {"bert", FAMILY_BERT, ROPE_NONE, true, false, false, false},
    {"nomic-bert", FAMILY_BERT, ROPE_NEOX, false, false, false, false},
};

bool model_fail(loader *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, l->errlen, fmt, ap);
    va_end(ap);
    return false;
}

/* Integer hyperparameter "<arch>.<key>"; missing and !required leaves *out unchanged. */
static bool hparam_i32(loader *l, const char *key, int32_t *out, bool required, int32_t lo,
                       int32_t hi) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", l->m->arch_name, key);
    int64_t v;
    if (!gguf_get_i64(l->m->file, full, &v)) {
        if (gguf_find(l->m->file, full))
            return model_fail(l, "metadata %s has a non-integer type", full);
        if (required) return model_fail(l, "missing required metadata key %s", full);
        return true;
    }
    if (v < lo || v > hi)
        return model_fail(l, "metadata %s = %" PRId64 " is out of range [%d, %d]", full, v, lo, hi);
    *out = (int32_t)v;
    return true;
}

static bool hparam_f32(loader *l, const char *key, float *out, float lo, float hi) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", l->m->arch_name, key);
    double v;
    if (!gguf_get_f64(l->m->file, full, &v)) {
        if (gguf_find(l->m->file, full))
            return model_fail(l, "metadata %s has a non-float type", full);
        return true;
    }
    if (!(v >= lo && v <= hi)) return model_fail(l, "metadata %s = %g is out of range", full, v);
    *out = (float)v;
    return true;
}

static bool read_arch(loader *l) {
    engine_model *m = l->m;
    gguf_str s;
    if (!gguf_get_str(m->file, "general.architecture", &s))
        return model_fail(l, "missing required metadata key general.architecture");
    snprintf(m->arch_name, sizeof m->arch_name, "%.*s", (int)(s.len < 31 ? s.len : 31), s.ptr);
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (gguf_str_eq(s, ARCHS[i].name)) m->arch = &ARCHS[i];
    if (!m->arch)
        return model_fail(
            l,
            "unsupported architecture '%s' (supported: llama, qwen2, qwen3, qwen3moe, "
            "gpt-oss, bert, nomic-bert)",
            m->arch_name);
    if (gguf_get_str(m->file, "general.name", &s))
        snprintf(m->model_name, sizeof m->model_name, "%.*s", (int)(s.len < 127 ? s.len : 127),
                 s.ptr);
    m->info.arch = m->arch_name;
    m->info.name = m->model_name;
    return true;
}

/* YaRN as llama.cpp computes it (ggml_rope_yarn_corr_dims): the pairs whose wavelength fits
 * between beta_fast and beta_slow turns over the original context blend from the original to the
 * interpolated frequency; the ends are floored and ceiled there (OpenAI's reference code keeps
 * them fractional; the GGUF engines floor, and GGUF files are what we must agree with). */
static bool read_yarn(loader *l, float factor) {
    engine_model *m = l->m;
    rope_spec *r = &m->rope;
    int32_t orig = m->info.n_ctx_train;
    float beta_fast = 32.0f, beta_slow = 1.0f, attn_factor = 1.0f, log_mul = 0.0f;
    if (!hparam_i32(l, "rope.scaling.original_context_length", &orig, false, 1, 1 << 24) ||
        !hparam_f32(l, "rope.scaling.yarn_beta_fast", &beta_fast, 1e-3f, 1e6f) ||
        !hparam_f32(l, "rope.scaling.yarn_beta_slow", &beta_slow, 1e-3f, 1e6f) ||
        !hparam_f32(l, "rope.scaling.attn_factor", &attn_factor, 1e-3f, 1e3f) ||
        !hparam_f32(l, "rope.scaling.yarn_log_multiplier", &log_mul, -1e3f, 1e3f))
        return false;
    if (log_mul != 0.0f) return model_fail(l, "rope.scaling.yarn_log_multiplier is not supported");
    if (!(factor >= 1.0f)) return model_fail(l, "yarn rope scaling factor %g is below 1", factor);
    if (!(r->freq_base > 1.0f)) return model_fail(l, "yarn rope scaling needs rope.freq_base > 1");
    float n = (float)r->n_rot, two_ln_base = 2.0f * logf(r->freq_base);
    float lo = floorf(n * logf((float)orig / (beta_fast * 2.0f * (float)M_PI)) / two_ln_base);
    float hi = ceilf(n * logf((float)orig / (beta_slow * 2.0f * (float)M_PI)) / two_ln_base);
    r->yarn = true;
    r->corr_lo = lo > 0.0f ? lo : 0.0f;
    r->corr_hi = hi < n - 1.0f ? hi : n - 1.0f;
    r->mscale = attn_factor * (1.0f + 0.1f * logf(factor));
    m->info.rope_yarn = factor;
    return true;
}

/* Rope scaling: none, linear and yarn; others would silently compute wrong values. */
static bool read_rope_scaling(loader *l) {
    engine_model *m = l->m;
    char key[128];
    gguf_str s;
    m->rope_freq_scale = 1.0f;
    m->rope = (rope_spec){m->arch->rope, m->n_rot, m->info.rope_freq_base, 1.0f, false, 0, 0, 1};
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch_name);
    bool has_type = gguf_get_str(m->file, key, &s);
    if (has_type && !gguf_str_eq(s, "none") && !gguf_str_eq(s, "linear") && !gguf_str_eq(s, "yarn"))
        return model_fail(l, "rope scaling type '%.*s' is not supported (none, linear, yarn)",
                          (int)s.len, s.ptr);
    float factor = 1.0f;
    if (!hparam_f32(l, "rope.scaling.factor", &factor, 0.0f, 1e6f)) return false;
    bool scaled = has_type && !gguf_str_eq(s, "none") && factor > 0.0f;
    if (scaled) m->rope_freq_scale = 1.0f / factor;
    m->rope.freq_scale = m->rope_freq_scale;
    if (scaled && gguf_str_eq(s, "yarn")) return read_yarn(l, factor);
    return true;
}

/* gpt-oss: every swa_period-th layer attends to everything, the others to the last n_swa
 * positions (the token itself included). */
static bool read_sliding_window(loader *l) {
    engine_model *m = l->m;
    if (!m->arch->oai_moe) return true;
    m->swa_period = 2;
    if (!hparam_i32(l, "attention.sliding_window", &m->n_swa, true, 1, 1 << 24)) return false;
    m->info.n_swa = m->n_swa;
    char key[96];
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", m->arch_name);
    if (gguf_get_arr(m->file, key))
        return model_fail(l, "metadata %s as a per-layer array is not supported", key);
    return hparam_i32(l, "attention.sliding_window_pattern", &m->swa_period, false, 0, 1 << 16);
}

static bool read_moe(loader *l) {
    engine_model *m = l->m;
    engine_model_info *in = &m->info;
    if (!m->arch->moe) return true;
    if (!hparam_i32(l, "expert_count", &in->n_expert, true, 1, 4096) ||
        !hparam_i32(l, "expert_used_count", &in->n_expert_used, true, 1, in->n_expert) ||
        !hparam_i32(l, "expert_feed_forward_length", &in->n_ff_exp, true, 1, 1 << 20))
        return false;
    if (in->n_expert_used > 64)
        return model_fail(l, "expert_used_count %d > 64", in->n_expert_used);
    char key[96];
    snprintf(key, sizeof key, "%s.expert_weights_norm", m->arch_name);
    m->expert_weights_norm = true; /* qwen3moe normalises the top-k weights by definition */
    gguf_get_bool(m->file, key, &m->expert_weights_norm);
    return true;
}

static bool read_hparams(loader *l) {
    engine_model_info *in = &l->m->info;
    in->n_ctx_train = 4096;
    in->rope_freq_base = 10000.0f;
    in->rms_eps = 1e-5f;
    if (!hparam_i32(l, "embedding_length", &in->n_embd, true, 1, 1 << 16) ||
        !hparam_i32(l, "block_count", &in->n_layer, true, 1, 4096) ||
        !hparam_i32(l, "attention.head_count", &in->n_head, true, 1, 4096) ||
        !hparam_i32(l, "context_length", &in->n_ctx_train, false, 1, 1 << 24) ||
        !hparam_i32(l, "feed_forward_length", &in->n_ff, false, 1, 1 << 20))
        return false;
    in->n_head_kv = in->n_head;
    in->head_dim = in->n_embd / in->n_head;
    if (!hparam_i32(l, "attention.head_count_kv", &in->n_head_kv, false, 1, in->n_head) ||
        !hparam_i32(l, "attention.key_length", &in->head_dim, false, 1, 1 << 12))
        return false;
    int32_t vlen = in->head_dim;
    if (!hparam_i32(l, "attention.value_length", &vlen, false, 1, 1 << 12)) return false;
    if (vlen != in->head_dim)
        return model_fail(l, "attention.value_length %d differs from key_length %d (unsupported)",
                          vlen, in->head_dim);
    if (in->n_head / in->n_head_kv > 64)
        return model_fail(l, "%d query heads per kv head (at most 64 are supported)",
                          in->n_head / in->n_head_kv);
    if (in->n_head % in->n_head_kv != 0)
        return model_fail(l, "head_count %d is not a multiple of head_count_kv %d", in->n_head,
                          in->n_head_kv);
    if (in->head_dim % 2 != 0) return model_fail(l, "head dimension %d is odd", in->head_dim);
    l->m->n_rot = in->head_dim;
    if (!hparam_i32(l, "rope.dimension_count", &l->m->n_rot, false, 2, in->head_dim) ||
        !hparam_f32(l, "rope.freq_base", &in->rope_freq_base, 1.0f, 1e12f) ||
        !hparam_f32(l, "attention.layer_norm_rms_epsilon", &in->rms_eps, 0.0f, 1.0f))
        return false;
    if (l->m->n_rot % 2 != 0) return model_fail(l, "rope.dimension_count %d is odd", l->m->n_rot);
    l->m->pooling = l->m->arch->family == FAMILY_BERT ? ENGINE_POOL_CLS : ENGINE_POOL_NONE;
    l->m->norm_eps = 1e-12f;
    if (!hparam_i32(l, "pooling_type", &l->m->pooling, false, 0, 4) ||
        !hparam_f32(l, "attention.layer_norm_epsilon", &l->m->norm_eps, 0.0f, 1.0f))
        return false;
    if (l->m->arch->family == FAMILY_BERT) in->rms_eps = l->m->norm_eps; /* shown by info */
    return read_rope_scaling(l) && read_moe(l) && read_sliding_window(l);
}

const gguf_tensor *model_find_tensor(loader *l, const char *name, bool required) {
    const gguf_tensor *t = gguf_find_tensor(l->m->file, name);
    if (!t && required) model_fail(l, "missing required tensor %s", name);
    return t;
}

/* A matrix of `rows` rows of `cols` elements (GGUF ne = {cols, rows}). */
bool model_get_weight(loader *l, weight *w, const char *name, int64_t cols, int64_t rows,
                      bool required) {
    memset(w, 0, sizeof *w);
    const gguf_tensor *t = model_find_tensor(l, name, required);
    if (!t) return !required;
    if (t->n_dims != 2 || t->ne[0] != (uint64_t)cols || t->ne[1] != (uint64_t)rows)
        return model_fail(l,
                          "tensor %s has shape [%" PRIu64 ", %" PRIu64 ", %" PRIu64
                          "], expected [%" PRId64 ", %" PRId64 "]",
                          name, t->ne[0], t->ne[1], t->ne[2], cols, rows);
    const type_traits *tr = quant_traits((int)t->type);
    /* Q8_1 and Q8_K exist only as quantized activations; no model stores weights in them */
    if (!tr->vec_dot[ISA_SCALAR] || t->type == TT_Q8_1 || t->type == TT_Q8_K)
        return model_fail(l, "tensor %s: type %s cannot be used for matrix products", name,
                          tr->name);
    w->data = t->data;
    w->type = (tensor_type)t->type;
    w->cols = cols;
    w->rows = rows;
    w->row_bytes = quant_row_size(w->type, cols);
    return true;
}

/* n_expert matrices of rows x cols stacked in one 3-D tensor. */
static bool get_experts(loader *l, expert_weights *x, const char *name, int64_t cols, int64_t rows,
                        int32_t n_expert) {
    memset(x, 0, sizeof *x);
    const gguf_tensor *t = model_find_tensor(l, name, true);
    if (!t) return false;
    if (t->n_dims != 3 || t->ne[0] != (uint64_t)cols || t->ne[1] != (uint64_t)rows ||
        t->ne[2] != (uint64_t)n_expert)
        return model_fail(l,
                          "tensor %s has shape [%" PRIu64 ", %" PRIu64 ", %" PRIu64
                          "], expected [%" PRId64 ", %" PRId64 ", %d]",
                          name, t->ne[0], t->ne[1], t->ne[2], cols, rows, n_expert);
    const type_traits *tr = quant_traits((int)t->type);
    if (!tr->vec_dot[ISA_SCALAR] || t->type == TT_Q8_1 || t->type == TT_Q8_K)
        return model_fail(l, "tensor %s: type %s cannot be used for matrix products", name,
                          tr->name);
    x->first = (weight){t->data, (tensor_type)t->type, cols, rows,
                        quant_row_size((tensor_type)t->type, cols)};
    x->n_expert = n_expert;
    x->stride = x->first.row_bytes * (size_t)rows;
    return true;
}

/* A tensor of n0 floats (n1 0) or n1 rows of n0 (GGUF ne = {n0, n1}); converted to f32 (and
 * owned) if stored in another type. */
static bool get_floats(loader *l, const float **out, const char *name, int64_t n0, int64_t n1,
                       bool required) {
    *out = NULL;
    const gguf_tensor *t = model_find_tensor(l, name, required);
    if (!t) return !required;
    if (t->n_dims != (n1 ? 2u : 1u) || t->ne[0] != (uint64_t)n0 ||
        t->ne[1] != (uint64_t)(n1 ? n1 : 1))
        return model_fail(
            l, "tensor %s has shape [%" PRIu64 ", %" PRIu64 "], expected [%" PRId64 "%s]", name,
            t->ne[0], t->ne[1], n0, n1 ? ", rows" : "");
    size_t n = (size_t)n0 * (size_t)(n1 ? n1 : 1);
    if (t->type == TT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data;
        return true;
    }
    if (n1 && n0 % quant_traits((int)t->type)->block_size != 0)
        return model_fail(l, "tensor %s: rows do not fill whole blocks", name);
    engine_model *m = l->m;
    float *buf = malloc(n * sizeof(float));
    float **owned = realloc(m->owned, (size_t)(m->n_owned + 1) * sizeof *owned);
    if (!buf || !owned) {
        free(buf);
        if (owned) m->owned = owned;
        return model_fail(l, "out of memory converting %s", name);
    }
    m->owned = owned;
    m->owned[m->n_owned++] = buf;
    quant_traits((int)t->type)->to_float(t->data, buf, (int64_t)n);
    *out = buf;
    return true;
}

bool model_get_vector(loader *l, const float **out, const char *name, int64_t n, bool required) {
    return get_floats(l, out, name, n, 0, required);
}

/* gpt-oss: attention sinks, the output projection's, router's and experts' biases. */
static bool load_oai_extras(loader *l, layer_weights *L, int i) {
    const engine_model_info *in = &l->m->info;
    char n[6][96];
    static const char *names[6] = {"attn_sinks.weight",  "attn_output.bias", "ffn_gate_inp.bias",
                                   "ffn_gate_exps.bias", "ffn_up_exps.bias", "ffn_down_exps.bias"};
    for (int k = 0; k < 6; k++) snprintf(n[k], sizeof n[k], "blk.%d.%s", i, names[k]);
    int32_t period = l->m->swa_period; /* 0: every layer slides (as llama.cpp reads it) */
    L->swa = l->m->n_swa > 0 && (period == 0 || i % period < period - 1);
    l->m->info.n_swa_layers += L->swa;
    return get_floats(l, &L->sinks, n[0], in->n_head, 0, true) &&
           get_floats(l, &L->bo, n[1], in->n_embd, 0, true) &&
           get_floats(l, &L->router_b, n[2], in->n_expert, 0, true) &&
           get_floats(l, &L->gate_exps_b, n[3], in->n_ff_exp, in->n_expert, true) &&
           get_floats(l, &L->up_exps_b, n[4], in->n_ff_exp, in->n_expert, true) &&
           get_floats(l, &L->down_exps_b, n[5], in->n_embd, in->n_expert, true);
}

static bool load_experts(loader *l, layer_weights *L, int i) {
    const engine_model_info *in = &l->m->info;
    int64_t e = in->n_embd, ff = in->n_ff_exp;
    char n[4][96];
    snprintf(n[0], sizeof n[0], "blk.%d.ffn_gate_inp.weight", i);
    snprintf(n[1], sizeof n[1], "blk.%d.ffn_gate_exps.weight", i);
    snprintf(n[2], sizeof n[2], "blk.%d.ffn_up_exps.weight", i);
    snprintf(n[3], sizeof n[3], "blk.%d.ffn_down_exps.weight", i);
    return model_get_weight(l, &L->router, n[0], e, in->n_expert, true) &&
           get_experts(l, &L->gate_exps, n[1], e, ff, in->n_expert) &&
           get_experts(l, &L->up_exps, n[2], e, ff, in->n_expert) &&
           get_experts(l, &L->down_exps, n[3], ff, e, in->n_expert);
}

static bool load_layer(loader *l, int i) {
    const engine_model_info *in = &l->m->info;
    layer_weights *L = &l->m->layers[i];
    int64_t e = in->n_embd, q = (int64_t)in->n_head * in->head_dim,
            kv = (int64_t)in->n_head_kv * in->head_dim, ff = in->n_ff;
    bool bias = l->m->arch->qkv_bias, qkn = l->m->arch->qk_norm;
    char n[14][96];
    static const char *names[14] = {
        "attn_norm.weight",   "attn_q.weight",      "attn_k.weight",   "attn_v.weight",
        "attn_output.weight", "attn_q.bias",        "attn_k.bias",     "attn_v.bias",
        "attn_q_norm.weight", "attn_k_norm.weight", "ffn_norm.weight", "ffn_gate.weight",
        "ffn_up.weight",      "ffn_down.weight"};
    for (int k = 0; k < 14; k++) snprintf(n[k], sizeof n[k], "blk.%d.%s", i, names[k]);
    if (l->m->arch->oai_moe) /* the norm before the experts, by its gpt-oss name */
        snprintf(n[10], sizeof n[10], "blk.%d.post_attention_norm.weight", i);
    return model_get_vector(l, &L->attn_norm, n[0], e, true) &&
           model_get_weight(l, &L->wq, n[1], e, q, true) &&
           model_get_weight(l, &L->wk, n[2], e, kv, true) &&
           model_get_weight(l, &L->wv, n[3], e, kv, true) &&
           model_get_weight(l, &L->wo, n[4], q, e, true) &&
           model_get_vector(l, &L->bq, n[5], q, bias) &&
           model_get_vector(l, &L->bk, n[6], kv, bias) &&
           model_get_vector(l, &L->bv, n[7], kv, bias) &&
           model_get_vector(l, &L->q_norm, n[8], in->head_dim, qkn) &&
           model_get_vector(l, &L->k_norm, n[9], in->head_dim, qkn) &&
           model_get_vector(l, &L->ffn_norm, n[10], e, true) &&
           (!l->m->arch->oai_moe || load_oai_extras(l, L, i)) &&
           (l->m->arch->moe ? load_experts(l, L, i)
                            : model_get_weight(l, &L->w_gate, n[11], e, ff, true) &&
                                  model_get_weight(l, &L->w_up, n[12], e, ff, true) &&
                                  model_get_weight(l, &L->w_down, n[13], ff, e, true));
}

/* n_ff may be absent from old files: take it from the first layer's gate. */
static bool infer_sizes(loader *l) {
    engine_model_info *in = &l->m->info;
    const gguf_tensor *emb = model_find_tensor(l, "token_embd.weight", true);
    if (!emb) return false;
    if (emb->n_dims != 2 || emb->ne[0] != (uint64_t)in->n_embd || emb->ne[1] > (1u << 24))
        return model_fail(l,
                          "tensor token_embd.weight has shape [%" PRIu64 ", %" PRIu64
                          "], expected [%d, n_vocab]",
                          emb->ne[0], emb->ne[1], in->n_embd);
    in->n_vocab = (int32_t)emb->ne[1];
    if (in->n_ff == 0 && !l->m->arch->moe && l->m->arch->family == FAMILY_DECODER) {
        const gguf_tensor *g = model_find_tensor(l, "blk.0.ffn_gate.weight", true);
        if (!g) return false;
        if (g->ne[1] > (1u << 20)) return model_fail(l, "blk.0.ffn_gate.weight is absurdly large");
        in->n_ff = (int32_t)g->ne[1];
    }
    return true;
}

static bool load_tensors(loader *l) {
    engine_model *m = l->m;
    engine_model_info *in = &m->info;
    bool bert = m->arch->family == FAMILY_BERT;
    if (!infer_sizes(l)) return false;
    if (bert) {
        return model_load_bert_tensors(l);
    }
    if (!model_get_weight(l, &m->tok_embd, "token_embd.weight", in->n_embd, in->n_vocab, true) ||
        !model_get_vector(l, &m->output_norm, "output_norm.weight", in->n_embd, true) ||
        !model_get_weight(l, &m->output, "output.weight", in->n_embd, in->n_vocab,
                          m->arch->oai_moe))
        return false;
    if (!m->output.data) {
        m->output = m->tok_embd;
        in->tied_output = true;
    }
    m->layers = calloc((size_t)in->n_layer, sizeof *m->layers);
    if (!m->layers) return model_fail(l, "out of memory");
    for (int i = 0; i < in->n_layer; i++)
        if (!load_layer(l, i)) return false;
    return true;
}

/* Bytes of a tensor that decoding one token reads. */
static uint64_t decode_share(const engine_model *m, const gguf_tensor *t) {
    if (gguf_str_eq(t->name, "token_embd.weight") && !m->info.tied_output)
        return t->nbytes / (t->ne[1] ? t->ne[1] : 1); /* one row */
    /* ffn_*_exps and their biases (gpt-oss, one row per expert): the routed experts only */
    bool expert_bias = t->n_dims == 2 && t->name.len > 10 &&
                       !memcmp(t->name.ptr + t->name.len - 10, "_exps.bias", 10);
    if (m->info.n_expert > 0 && (t->n_dims == 3 || expert_bias))
        return t->nbytes / (uint64_t)m->info.n_expert * (uint64_t)m->info.n_expert_used;
    return t->nbytes;
}

static void count_types(engine_model *m) {
    const gguf_file *g = m->file;
    uint64_t best = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        uint64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        m->info.n_params += n;
        m->info.weight_bytes += t->nbytes;
        m->info.decode_bytes += decode_share(m, t);
        m->type_counts[t->type]++;
        m->type_bytes[t->type] += t->nbytes;
    }
    for (int t = 0; t < TT_COUNT; t++) {
        /* the file type is the type holding most bytes among 2-D weights, which is what a
         * quantization mix is named after in practice */
        if (m->type_bytes[t] > best) {
            best = m->type_bytes[t];
            m->info.file_type = quant_traits(t)->name;
        }
    }
}

static engine_model *load(const char *path, bool vocab_only, char *err, size_t errlen) {
    engine_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    loader l = {m, err, errlen};
    m->file = gguf_open(path, err, errlen);
    bool ok = m->file && (vocab_only || (read_arch(&l) && read_hparams(&l) && load_tensors(&l)));
    if (ok) {
        m->tok = tokenizer_load(m->file, err, errlen);
        ok = m->tok != NULL;
    }
    if (ok && vocab_only) m->info.n_vocab = tokenizer_n_vocab(m->tok);
    /* some files pad the embedding matrix beyond the vocabulary; fewer rows is an error */
    if (ok && tokenizer_n_vocab(m->tok) > m->info.n_vocab)
        ok = model_fail(&l, "vocabulary has %d tokens but token_embd.weight only %d rows",
                        tokenizer_n_vocab(m->tok), m->info.n_vocab);
    if (!ok) {
        engine_model_free(m);
        return NULL;
    }
    count_types(m);
    return m;
}

engine_model *engine_model_load(const char *path, char *err, size_t errlen) {
    return load(path, false, err, errlen);
}

engine_model *engine_model_load_vocab(const char *path, char *err, size_t errlen) {
    return load(path, true, err, errlen);
}

void engine_model_free(engine_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    if (m->tok) tokenizer_free(m->tok);
    gguf_close(m->file);
    free(m);
}

const engine_model_info *engine_model_get_info(const engine_model *m) {
    return &m->info;
}

int engine_model_describe_types(const engine_model *m, char *buf, size_t buflen) {
    size_t used = 0;
    if (buflen) buf[0] = 0;
    for (int t = 0; t < TT_COUNT; t++) {
        if (!m->type_counts[t] || used >= buflen) continue;
        int n = snprintf(buf + used, buflen - used, "  %-5s %4" PRIu64 " tensors %10.2f MB\n",
                         quant_traits(t)->name, m->type_counts[t], m->type_bytes[t] / 1e6);
        if (n > 0) used += (size_t)n;
    }
    return (int)(used < buflen ? used : buflen);
}

int64_t engine_tokenize(const engine_model *m, const char *text, size_t len, bool add_special,
                        bool parse_special, int32_t *ids, int64_t max, char *err, size_t errlen) {
    return tokenizer_encode(m->tok, text, len, add_special, parse_special, ids, max, err, errlen);
}

int64_t engine_tokenize_upto(const engine_model *m, const char *text, size_t len, bool add_special,
                             bool parse_special, int32_t *ids, int64_t max, char *err,
                             size_t errlen) {
    return tokenizer_encode_ex(m->tok, text, len, add_special, parse_special, NULL, 0,
                               max > 0 ? max : 1, ids, max, err, errlen);
}

int engine_token_piece(const engine_model *m, int32_t id, bool render_special, char *buf,
                       int buflen) {
    return tokenizer_piece(m->tok, id, render_special, buf, buflen);
}

bool engine_token_is_eog(const engine_model *m, int32_t id) {
    return tokenizer_is_eog(m->tok, id);
}

int32_t engine_token_bos(const engine_model *m) {
    return tokenizer_specials_get(m->tok)->bos;
}

bool engine_adds_bos(const engine_model *m) {
    return tokenizer_specials_get(m->tok)->add_bos;
}

void engine_token_fim(const engine_model *m, engine_fim_tokens *out) {
    const tokenizer_specials *sp = tokenizer_specials_get(m->tok);
    *out = (engine_fim_tokens){sp->fim_pre, sp->fim_suf, sp->fim_mid,
                               sp->fim_pad, sp->fim_rep, sp->fim_sep};
}
