/* The quantizer: a float GGUF (F32/F16/BF16 weights) to any tensor type or *_K_M mix. Metadata is
 * copied; general.file_type says what the file now holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "gguf.h"
#include "quant_plan.h"

static bool is_float(uint32_t t) {
    return t == TT_F32 || t == TT_F16 || t == TT_BF16;
}

/* Layer number of "blk.N.*", -1 for tensors outside the blocks. */
static int layer_of(const char *name) {
    int l;
    return sscanf(name, "blk.%d.", &l) == 1 ? l : -1;
}

static void copy_metadata(const gguf_file *in, gguf_writer *w, const quant_plan *plan) {
    for (uint64_t i = 0; i < in->n_kv; i++) {
        char key[512];
        gguf_str k = in->kv[i].key;
        if (k.len >= sizeof key) continue;
        snprintf(key, sizeof key, "%.*s", (int)k.len, k.ptr);
        if (!strcmp(key, "general.file_type") || !strcmp(key, "general.quantization_version") ||
            !strcmp(key, "general.alignment"))
            continue;
        gguf_write_value(w, key, &in->kv[i].val);
    }
    gguf_write_u32(w, "general.file_type", plan->file_type);
    gguf_write_u32(w, "general.quantization_version", 2);
}

/* One run of the quantizer: the plan, the input's facts and the report. */
typedef struct {
    const quant_plan *plan;
    int n_layer;
    bool tied;
    bool requantize;
    engine_quantize_stats *st;
} quantize_job;

/* Converts (or copies) one tensor into the writer; *type_out names the type it got. */
static bool convert_tensor(const gguf_tensor *t, gguf_writer *w, const quantize_job *job,
                           const char **type_out, char *err, size_t errlen) {
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 255 ? t->name.len : 255), t->name.ptr);
    int64_t cols = (int64_t)t->ne[0], rows = (int64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
    bool keep = quant_plan_keeps_f32(name, t->n_dims) || (!is_float(t->type) && !job->requantize);
    int layer = layer_of(name);
    tensor_type to = keep ? (tensor_type)t->type
                          : quant_plan_type(job->plan, name, layer, job->n_layer, cols, job->tied);
    size_t in_row = quant_row_size((tensor_type)t->type, cols), out_row = quant_row_size(to, cols);
    engine_quantize_stats *st = job->st;
    st->n_tensors++;
    st->n_weights += (uint64_t)cols * (uint64_t)rows;
    st->bytes_in += in_row * (uint64_t)rows;
    st->bytes_out += out_row * (uint64_t)rows;
    *type_out = quant_traits(to)->name;
    if (to == t->type)
        return gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, err, errlen);
    st->n_converted++;
    st->n_requantized += !is_float(t->type);
    /* with no row length to fit (0), the plan names the type it meant: else a fallback */
    st->n_fallback += to != quant_plan_type(job->plan, name, layer, job->n_layer, 0, job->tied);
    if (!quant_traits((int)t->type)->to_float || !quant_traits(to)->from_float) {
        snprintf(err, errlen, "%s: cannot convert %s to %s", name, quant_traits((int)t->type)->name,
                 quant_traits(to)->name);
        return false;
    }
    float *f = malloc((size_t)cols * sizeof(float));
    uint8_t *out = malloc(out_row * (size_t)rows);
    bool ok = f && out;
    for (int64_t r = 0; ok && r < rows; r++) {
        quant_traits((int)t->type)->to_float((const uint8_t *)t->data + r * in_row, f, cols);
        quant_traits(to)->from_float(f, out + r * out_row, cols);
    }
    if (ok)
        ok = gguf_writer_add_tensor(w, name, to, t->n_dims, t->ne, out, err, errlen);
    else
        snprintf(err, errlen, "out of memory converting %s", name);
    free(f);
    free(out);
    return ok;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Quantized 2-D tensors are an error unless requantizing is allowed. */
static bool check_inputs(const gguf_file *in, bool requantize, char *err, size_t errlen) {
    for (uint64_t i = 0; !requantize && i < in->n_tensors; i++) {
        const gguf_tensor *t = &in->tensors[i];
        if (t->n_dims >= 2 && !is_float(t->type)) {
            snprintf(err, errlen, "tensor %.*s is already %s: quantize from an F32/F16/BF16 file",
                     (int)t->name.len, t->name.ptr, quant_traits((int)t->type)->name);
            return false;
        }
    }
    return true;
}

bool engine_quantize(const char *in_path, const char *out_path, const char *type, char *err,
                     size_t errlen) {
    engine_quantize_params p = {0};
    return engine_quantize_with(in_path, out_path, type, &p, NULL, err, errlen);
}

bool engine_quantize_with(const char *in_path, const char *out_path, const char *type,
                          const engine_quantize_params *p, engine_quantize_stats *stats, char *err,
                          size_t errlen) {
    double t0 = now_s();
    engine_quantize_stats local;
    quantize_job job = {.plan = quant_plan_find(type),
                        .requantize = p->allow_requantize,
                        .st = stats ? stats : &local};
    memset(job.st, 0, sizeof *job.st);
    if (!job.plan) {
        snprintf(err, errlen, "unknown type '%s'", type);
        return false;
    }
    gguf_file *in = gguf_open(in_path, err, errlen);
    if (!in) return false;
    bool ok = check_inputs(in, job.requantize, err, errlen);
    gguf_str arch = {0};
    int64_t n_layer = 0;
    if (ok && gguf_get_str(in, "general.architecture", &arch)) {
        char key[96];
        snprintf(key, sizeof key, "%.*s.block_count", (int)(arch.len < 64 ? arch.len : 64),
                 arch.ptr);
        gguf_get_i64(in, key, &n_layer);
    }
    job.n_layer = (int)n_layer;
    /* decoders without output.weight read their logits through token_embd (encoders have no
     * logits at all: their token_embd is only an embedding table) */
    bool encoder = arch.ptr && (gguf_str_eq(arch, "bert") || gguf_str_eq(arch, "nomic-bert"));
    job.tied = ok && !encoder && !gguf_find_tensor(in, "output.weight");
    gguf_writer *w = ok ? gguf_writer_new() : NULL;
    if (w) copy_metadata(in, w, job.plan);
    for (uint64_t i = 0; w && ok && i < in->n_tensors; i++) {
        const char *to = NULL;
        ok = convert_tensor(&in->tensors[i], w, &job, &to, err, errlen);
        if (ok && p->progress) {
            char name[256];
            gguf_str n = in->tensors[i].name;
            snprintf(name, sizeof name, "%.*s", (int)(n.len < 255 ? n.len : 255), n.ptr);
            p->progress((int64_t)i, (int64_t)in->n_tensors, name, to, p->user);
        }
    }
    if (w && ok) ok = gguf_writer_save(w, out_path, err, errlen);
    gguf_writer_free(w);
    gguf_close(in);
    job.st->seconds = now_s() - t0;
    return ok;
}
