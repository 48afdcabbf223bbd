/* Which tensor type each weight gets when a model is quantized to a named type or mix
 * (shared by the quantizer and the synthetic-model generator). Private to engine/. */
#ifndef HEARTH_QUANT_PLAN_H
#define HEARTH_QUANT_PLAN_H

#include "quant.h"

typedef struct {
    const char *name; /* "Q8_0", "Q4_K_M", "MXFP4_MOE", ... */
    tensor_type base;
    bool mix;           /* *_K_M: some tensors get Q6_K */
    uint32_t file_type; /* general.file_type as GGUF tools number them */
    int experts;        /* the type of MoE expert stacks (*_exps.weight); -1: base */
} quant_plan;

/* The plan of a type name (any case), or NULL. */
const quant_plan *quant_plan_find(const char *name);
/* The type of the 2-D+ weight `name` (of layer `layer`, -1 if none) with rows of `cols`.
 * token_embd_is_output: the model has no output.weight and computes its logits through
 * token_embd (tied embeddings), so token_embd gets the output projection's type. */
tensor_type quant_plan_type(const quant_plan *p, const char *name, int layer, int n_layer,
                            int64_t cols, bool token_embd_is_output);
/* Tensors that stay F32 whatever the plan: 1-D tensors, the MoE router, position and
 * token-type embeddings, biases. */
bool quant_plan_keeps_f32(const char *name, uint32_t n_dims);

#endif
