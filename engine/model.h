/* The loaded model: hyperparameters, architecture flags and weight views into the mapping.
 * Private to engine/. */
#ifndef HEARTH_MODEL_H
#define HEARTH_MODEL_H

#include "engine.h"
#include "gguf.h"
#include "quant.h"
#include "tokenizer.h"

typedef enum { ROPE_NORM = 0, ROPE_NEOX = 2, ROPE_NONE = -1 } rope_kind;

/* How positions turn a head's vector: pair i of the first n_rot dims turns by pos * f_i,
 * f_i = freq_base^(-2i/n_rot) * freq_scale (linear scaling). YaRN (gpt-oss) blends each pair
 * between the interpolated and the original frequency by a ramp over pairs [corr_lo, corr_hi]
 * and scales cos/sin by mscale (the file's rope.scaling.attn_factor times 1 + 0.1 ln factor). */
typedef struct {
    rope_kind kind;
    int32_t n_rot;
    float freq_base, freq_scale;
    bool yarn;
    float corr_lo, corr_hi, mscale;
} rope_spec;

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
    /* gpt-oss: learned attention sinks, biases on the output projection, router and experts,
     * the FFN norm named post_attention_norm, the clamped SwiGLU, softmax over the chosen
     * experts' logits, alternating sliding-window layers, output.weight required */
    bool oai_moe;
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
    /* gpt-oss: per-head sink logits [n_head], router bias [n_expert], expert biases
     * [n_expert][n_ff_exp] (gate, up) and [n_expert][n_embd] (down); bo is attn_output.bias */
    const float *sinks, *router_b, *gate_exps_b, *up_exps_b, *down_exps_b;
    bool swa; /* attends to the last n_swa positions only */
} layer_weights;

struct engine_model {
    gguf_file *file;
    tokenizer *tok;
    const arch_desc *arch;
    engine_model_info info;
    char arch_name[32], model_name[128];
    int32_t n_rot;            /* rotated dims per head */
    float rope_freq_scale;    /* 1 / scaling factor */
    rope_spec rope;           /* everything op_rope needs */
    int32_t n_swa;            /* sliding window of the swa layers (positions), 0: none */
    int32_t swa_period;       /* layer l slides when l % swa_period < swa_period - 1 (0: all) */
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
