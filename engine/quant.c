/* The type table and run-time kernel selection. Block layouts are the GGUF format's. */
#include "quant.h"

#include <pthread.h>

static quant_registry registry;
static kernel_isa cpu_isa = ISA_SCALAR;
static kernel_isa isa_cap = ISA_AVX512;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void set_type(tensor_type t, const char *name, int64_t block, size_t size, tensor_type dot) {
    type_traits *tr = &registry.t[t];
    tr->name = name;
    tr->block_size = block;
    tr->type_size = size;
    tr->vec_dot_type = dot;
}

static kernel_isa detect_isa(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return ISA_SCALAR;
    /* F16C has no __builtin_cpu_supports name in gcc 12; every AVX2 CPU here has it. */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vnni"))
        return ISA_AVX512;
    return ISA_AVX2;
}

static void init_table(void) {
    set_type(TT_F32, "F32", 1, 4, TT_F32);
    set_type(TT_F16, "F16", 1, 2, TT_F16);
    set_type(TT_BF16, "BF16", 1, 2, TT_BF16);
    set_type(TT_Q4_0, "Q4_0", 32, 2 + 16, TT_Q8_0);
    set_type(TT_Q4_1, "Q4_1", 32, 2 + 2 + 16, TT_Q8_1);
    set_type(TT_Q5_0, "Q5_0", 32, 2 + 4 + 16, TT_Q8_0);
    set_type(TT_Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, TT_Q8_1);
    set_type(TT_Q8_0, "Q8_0", 32, 2 + 32, TT_Q8_0);
    set_type(TT_Q8_1, "Q8_1", 32, 2 + 2 + 32, TT_Q8_1);
    set_type(TT_Q2_K, "Q2_K", 256, 16 + 64 + 2 + 2, TT_Q8_K);
    set_type(TT_Q3_K, "Q3_K", 256, 32 + 64 + 12 + 2, TT_Q8_K);
    set_type(TT_Q4_K, "Q4_K", 256, 2 + 2 + 12 + 128, TT_Q8_K);
    set_type(TT_Q5_K, "Q5_K", 256, 2 + 2 + 12 + 32 + 128, TT_Q8_K);
    set_type(TT_Q6_K, "Q6_K", 256, 128 + 64 + 16 + 2, TT_Q8_K);
    set_type(TT_Q8_K, "Q8_K", 256, 4 + 256 + 32, TT_Q8_K);
    set_type(TT_MXFP4, "MXFP4", 32, 1 + 16, TT_Q8_0);
    quant_register_float(&registry);
    quant_register_legacy(&registry);
    quant_register_kquants(&registry);
    quant_register_mxfp4(&registry);
    quant_register_gemm(&registry);
    cpu_isa = detect_isa();
}

void quant_init(void) {
    pthread_once(&init_once, init_table);
}

kernel_isa quant_cpu_isa(void) {
    quant_init();
    return cpu_isa;
}

const type_traits *quant_traits(int type) {
    quant_init();
    if (type < 0 || type >= TT_COUNT || registry.t[type].name == NULL) return NULL;
    return &registry.t[type];
}

static kernel_isa effective_isa(void) {
    return cpu_isa < isa_cap ? cpu_isa : isa_cap;
}

vec_dot_fn quant_vec_dot(tensor_type t) {
    quant_init();
    const type_traits *tr = &registry.t[t];
    for (int isa = effective_isa(); isa > ISA_SCALAR; isa--)
        if (tr->vec_dot[isa]) return tr->vec_dot[isa];
    return tr->vec_dot[ISA_SCALAR];
}

vec_dot_multi_fn quant_vec_dot_multi(tensor_type t) {
    quant_init();
    const type_traits *tr = &registry.t[t];
    for (int isa = effective_isa(); isa > ISA_SCALAR; isa--)
        if (tr->vec_dot[isa]) return tr->vec_dot_multi[isa];
    return tr->vec_dot_multi[ISA_SCALAR];
}

from_float_fn quant_from_float(tensor_type t) {
    quant_init();
    const type_traits *tr = &registry.t[t];
    for (int isa = effective_isa(); isa > ISA_SCALAR; isa--)
        if (tr->from_float_isa[isa]) return tr->from_float_isa[isa];
    return tr->from_float;
}

kernel_isa quant_set_isa_cap(kernel_isa cap) {
    quant_init();
    isa_cap = cap;
    return effective_isa();
}

kernel_isa quant_active_isa(void) {
    quant_init();
    return effective_isa();
}

const char *quant_isa_name(kernel_isa isa) {
    static const char *names[ISA_COUNT] = {"scalar", "avx2", "avx512"};
    return (isa >= 0 && isa < ISA_COUNT) ? names[isa] : "?";
}

size_t quant_row_size(tensor_type t, int64_t n) {
    const type_traits *tr = quant_traits(t);
    if (!tr || n < 0 || n % tr->block_size != 0) return 0;
    return (size_t)(n / tr->block_size) * tr->type_size;
}
