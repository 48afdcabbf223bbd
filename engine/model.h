/* The loaded model: hyperparameters, architecture flags and weight views into the mapping.
 * Private to engine/. */
#ifndef HEARTH_MODEL_H
#define HEARTH_MODEL_H

#include "engine.h"
#include "gguf.h"
#include "quant.h"
#include "tokenizer.h"

typedef enum { ROPE_NORM = 0, ROPE_NEOX = 2 } rope_kind;

/* What distinguishes one architecture family from another: data, not code. */
typedef struct {
    const char *name;
    rope_kind rope;
    bool qkv_bias; /* attn_{q,k,v}.bias required */
    bool qk_norm;  /* attn_{q,k}_norm.weight: RMSNorm over each head's vector */
} arch_desc;

/* A 2-D weight: rows of `cols` elements, each row_bytes long, in the mapped file. */
typedef struct {
    const uint8_t *data;
    tensor_type type;
    int64_t cols, rows;
    size_t row_bytes;
} weight;

typedef struct {
    const float *attn_norm;       /* [n_embd] */
    weight wq, wk, wv, wo;        /* q: n_embd -> n_head*hd, k/v: -> n_head_kv*hd, o: back */
    const float *bq, *bk, *bv;    /* optional biases (qwen2) */
    const float *q_norm, *k_norm; /* [hd] (qwen3) */
    const float *ffn_norm;        /* [n_embd] */
    weight w_gate, w_up, w_down;  /* n_embd -> n_ff, n_ff -> n_embd */
} layer_weights;

struct engine_model {
    gguf_file *file;
    tokenizer *tok;
    const arch_desc *arch;
    engine_model_info info;
    char arch_name[32], model_name[128];
    int32_t n_rot;         /* rotated dims per head */
    float rope_freq_scale; /* 1 / linear scaling factor */
    weight tok_embd, output;
    const float *output_norm;
    layer_weights *layers;
    float **owned; /* 1-D tensors converted to f32 at load */
    int n_owned;
    uint64_t type_counts[TT_COUNT], type_bytes[TT_COUNT];
};

#endif
