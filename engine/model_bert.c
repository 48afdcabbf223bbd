/* Loading BERT-family encoders: bert (absolute positions, biases, GELU) and nomic-bert (rotary,
 * fused QKV, no biases, SwiGLU). Both are post-LayerNorm with token-type embeddings. */
#include <stdio.h>
#include <stdlib.h>

#include "loader.h"

/* The name of layer i's tensor `suffix`, in the caller's buffer `name`. */
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, i), name)

/* Norms after attention and after the FFN, each a gain and a bias. */
static bool load_norms(loader *l, layer_weights *L, int i, int64_t e) {
    char name[96];
    return model_get_vector(l, &L->attn_out_norm, NAME("attn_output_norm.weight"), e, true) &&
           model_get_vector(l, &L->attn_out_norm_b, NAME("attn_output_norm.bias"), e, true) &&
           model_get_vector(l, &L->out_norm, NAME("layer_output_norm.weight"), e, true) &&
           model_get_vector(l, &L->out_norm_b, NAME("layer_output_norm.bias"), e, true);
}

static bool load_bert_layer(loader *l, layer_weights *L, int i, int64_t e, int64_t ff) {
    char name[96];
    return model_get_weight(l, &L->wq, NAME("attn_q.weight"), e, e, true) &&
           model_get_vector(l, &L->bq, NAME("attn_q.bias"), e, true) &&
           model_get_weight(l, &L->wk, NAME("attn_k.weight"), e, e, true) &&
           model_get_vector(l, &L->bk, NAME("attn_k.bias"), e, true) &&
           model_get_weight(l, &L->wv, NAME("attn_v.weight"), e, e, true) &&
           model_get_vector(l, &L->bv, NAME("attn_v.bias"), e, true) &&
           model_get_weight(l, &L->wo, NAME("attn_output.weight"), e, e, true) &&
           model_get_vector(l, &L->bo, NAME("attn_output.bias"), e, true) &&
           model_get_weight(l, &L->w_up, NAME("ffn_up.weight"), e, ff, true) &&
           model_get_vector(l, &L->ffn_up_b, NAME("ffn_up.bias"), ff, true) &&
           model_get_weight(l, &L->w_down, NAME("ffn_down.weight"), ff, e, true) &&
           model_get_vector(l, &L->ffn_down_b, NAME("ffn_down.bias"), e, true) &&
           load_norms(l, L, i, e);
}

/* nomic-bert's fused projection holds the q, k and v rows one after another. */
static bool load_nomic_layer(loader *l, layer_weights *L, int i, int64_t e, int64_t ff) {
    char name[96];
    weight qkv;
    if (!model_get_weight(l, &qkv, NAME("attn_qkv.weight"), e, 3 * e, true)) return false;
    L->wq = L->wk = L->wv = qkv;
    L->wq.rows = L->wk.rows = L->wv.rows = e;
    L->wk.data += (size_t)e * qkv.row_bytes;
    L->wv.data += 2 * (size_t)e * qkv.row_bytes;
    return model_get_weight(l, &L->wo, NAME("attn_output.weight"), e, e, true) &&
           model_get_weight(l, &L->w_up, NAME("ffn_up.weight"), e, ff, true) &&
           model_get_weight(l, &L->w_gate, NAME("ffn_gate.weight"), e, ff, true) &&
           model_get_weight(l, &L->w_down, NAME("ffn_down.weight"), ff, e, true) &&
           load_norms(l, L, i, e);
}
#undef NAME

static bool load_globals(loader *l, bool nomic) {
    engine_model *m = l->m;
    engine_model_info *in = &m->info;
    const gguf_tensor *tt = model_find_tensor(l, "token_types.weight", true);
    if (!tt) return false;
    int64_t n_types = tt->n_dims == 2 ? (int64_t)tt->ne[1] : 0;
    if (in->n_head_kv != in->n_head)
        return model_fail(l, "%s with head_count_kv %d != head_count %d", m->arch_name,
                          in->n_head_kv, in->n_head);
    return model_get_weight(l, &m->tok_embd, "token_embd.weight", in->n_embd, in->n_vocab, true) &&
           model_get_weight(l, &m->token_types, "token_types.weight", in->n_embd, n_types, true) &&
           (nomic || model_get_weight(l, &m->pos_embd, "position_embd.weight", in->n_embd,
                                      in->n_ctx_train, true)) &&
           model_get_vector(l, &m->tok_norm, "token_embd_norm.weight", in->n_embd, true) &&
           model_get_vector(l, &m->tok_norm_b, "token_embd_norm.bias", in->n_embd, true);
}

bool model_load_bert_tensors(loader *l) {
    engine_model *m = l->m;
    bool nomic = m->arch->rope != ROPE_NONE;
    if (!load_globals(l, nomic)) return false;
    m->layers = calloc((size_t)m->info.n_layer, sizeof *m->layers);
    if (!m->layers) return model_fail(l, "out of memory");
    for (int i = 0; i < m->info.n_layer; i++) {
        layer_weights *L = &m->layers[i];
        bool ok = nomic ? load_nomic_layer(l, L, i, m->info.n_embd, m->info.n_ff)
                        : load_bert_layer(l, L, i, m->info.n_embd, m->info.n_ff);
        if (!ok) return false;
    }
    return true;
}
