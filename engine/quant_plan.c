/* Type choices of the quantizer: single types; the *_K_M mixes that spend more bits where the
 * error hurts most (the output projection — token_embd when the model ties them; attn_v and
 * ffn_down of some layers), as the common GGUF tools choose them; MXFP4_MOE, the gpt-oss mix:
 * MoE expert stacks in MXFP4, everything else Q8_0 (general.file_type 38, as those tools number
 * it; plain MXFP4 has no number of its own there and is written as 38 too). */
#include "quant_plan.h"

#include <string.h>
#include <strings.h>

#define ONE(name, t, ft)                                                                           \
    { name, t, false, ft, -1 }
static const quant_plan PLANS[] = {
    ONE("F32", TT_F32, 0),
    ONE("F16", TT_F16, 1),
    ONE("BF16", TT_BF16, 32),
    ONE("Q4_0", TT_Q4_0, 2),
    ONE("Q4_1", TT_Q4_1, 3),
    ONE("Q5_0", TT_Q5_0, 8),
    ONE("Q5_1", TT_Q5_1, 9),
    ONE("Q8_0", TT_Q8_0, 7),
    ONE("Q2_K", TT_Q2_K, 10),
    ONE("Q3_K", TT_Q3_K, 12),
    ONE("Q4_K", TT_Q4_K, 15),
    ONE("Q5_K", TT_Q5_K, 17),
    ONE("Q6_K", TT_Q6_K, 18),
    ONE("MXFP4", TT_MXFP4, 38),
    {"Q4_K_M", TT_Q4_K, true, 15, -1},
    {"Q5_K_M", TT_Q5_K, true, 17, -1},
    {"MXFP4_MOE", TT_Q8_0, false, 38, TT_MXFP4},
};
#undef ONE

const quant_plan *quant_plan_find(const char *name) {
    for (size_t i = 0; i < sizeof PLANS / sizeof PLANS[0]; i++)
        if (!strcasecmp(name, PLANS[i].name)) return &PLANS[i]; /* q4_k_m as well */
    return NULL;
}

/* A row length the type's blocks do not divide falls back to a legacy type of similar size. */
static tensor_type fit_type(tensor_type t, int64_t cols) {
    if (cols % quant_traits(t)->block_size == 0) return t;
    switch (t) {
    case TT_Q2_K:
    case TT_Q3_K:
        return TT_Q4_0;
    case TT_Q4_K:
        return TT_Q5_0;
    case TT_Q5_K:
        return TT_Q5_1;
    default:
        return TT_Q8_0;
    }
}

tensor_type quant_plan_type(const quant_plan *p, const char *name, int layer, int n_layer,
                            int64_t cols, bool token_embd_is_output) {
    tensor_type t = p->base;
    if (p->experts >= 0 && strstr(name, "_exps.")) t = (tensor_type)p->experts;
    if (p->mix) {
        bool more = layer >= 0 && (layer < n_layer / 8 || layer >= 7 * n_layer / 8 ||
                                   (layer - n_layer / 8) % 3 == 2);
        bool output = !strcmp(name, "output.weight") ||
                      (token_embd_is_output && !strcmp(name, "token_embd.weight"));
        if (output) t = TT_Q6_K;
        if ((strstr(name, "attn_v.") || strstr(name, "ffn_down")) && more) t = TT_Q6_K;
    }
    return fit_type(t, cols);
}

bool quant_plan_keeps_f32(const char *name, uint32_t n_dims) {
    /* 2-D biases too: gpt-oss's per-expert ones (ffn_*_exps.bias), added in f32 */
    return n_dims < 2 || strstr(name, "ffn_gate_inp") || strstr(name, "position_embd") ||
           strstr(name, "token_types") || strstr(name, ".bias");
}
