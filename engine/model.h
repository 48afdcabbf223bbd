/* The loaded model: hyperparameters, architecture flags and weight views into the mapping.
 * Private to engine/. */
#ifndef HEARTH_MODEL_H
#define HEARTH_MODEL_H

#include "engine.h"
#include "gguf.h"
#include "quant.h"
#include "tokenizer.h"

typedef enum { ROPE_NORM = 0, ROPE_NEOX = 2, ROPE_NONE = -1 } rope_kind;

/* Which forward function runs the architecture. */
typedef enum { FAMILY_DECODER, FAMILY_BERT } arch_family;

/* What distinguishes one architecture family from another: data, not code. */
typedef struct {
    const char *name;
    arch_family family;
    rope_kind rope;
    bool qkv_bias; /* attn_{q,k,v}.bias required */
    bool qk_norm;  /* attn_{q,k}_norm.weight: RMSNorm over each head's vector */
    bool moe;      /* routed experts (ffn_*_exps) instead of one dense FFN */
} arch_desc;

/* A 2-D weight: rows of `cols` elements, each row_bytes long, in the mapped file. */
typedef struct {
    const uint8_t *data;
    tensor_type type;
    int64_t cols, rows;
    size_t row_bytes;
} weight;

/* A stack of n_expert matrices of the same shape (GGUF ne = {cols, rows, n_expert}). */
typedef struct {
    weight first; /* expert 0; expert e starts e * stride bytes later */
    int32_t n_expert;
    size_t stride;
} expert_weights;

typedef struct {
    const float *attn_norm;       /* [n_embd] */
    weight wq, wk, wv, wo;        /* q: n_embd -> n_head*hd, k/v: -> n_head_kv*hd, o: back */
    const float *bq, *bk, *bv;    /* optional biases (qwen2) */
    const float *q_norm, *k_norm; /* [hd] (qwen3) */
    const float *ffn_norm;        /* [n_embd] */
    weight w_gate, w_up, w_down;  /* n_embd -> n_ff, n_ff -> n_embd */
    weight router;                /* MoE: n_embd -> n_expert logits */
    /* BERT: output bias, post-attention and post-FFN LayerNorms, FFN biases */
    const float *bo, *attn_out_norm, *attn_out_norm_b, *ffn_up_b, *ffn_down_b;
    const float *out_norm, *out_norm_b;
    expert_weights gate_exps, up_exps, down_exps; /* MoE: n_embd -> n_ff_exp -> n_embd */
} layer_weights;

struct engine_model {
    gguf_file *file;
    tokenizer *tok;
    const arch_desc *arch;
    engine_model_info info;
    char arch_name[32], model_name[128];
    int32_t n_rot;            /* rotated dims per head */
    float rope_freq_scale;    /* 1 / linear scaling factor */
    bool expert_weights_norm; /* MoE: renormalise the chosen experts' weights to sum to 1 */
    weight tok_embd, output;
    const float *output_norm;
    /* BERT: token-type and absolute-position embeddings, LayerNorm of the embeddings */
    weight token_types, pos_embd;
    const float *tok_norm, *tok_norm_b;
    float norm_eps;  /* BERT LayerNorm epsilon */
    int32_t pooling; /* <arch>.pooling_type (engine_pooling); decoders default to none */
    layer_weights *layers;
    float **owned; /* 1-D tensors converted to f32 at load */
    int n_owned;
    uint64_t type_counts[TT_COUNT], type_bytes[TT_COUNT];
};

#endif
