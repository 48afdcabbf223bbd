/* hearth info: what a model is and whether it fits this machine. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"

static const cli_opt OPTS[] = {
    {"-c", "--ctx", "N", "context size the memory estimate assumes (default 4096)"}, CLI_OPT_END};

static const cli_cmd CMD = {"info", "MODEL [options]", NULL, OPTS};

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    long ctx = 4096;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG && v && path) return cli_error(v, "one model at a time"), 2;
        if (kind == CLI_ARG && v) path = v;
        if (kind == CLI_OPT && !cli_int(o, v, 1, 1 << 24, &ctx)) return 2;
    }
    if (!path) return cli_error("info", "missing MODEL"), 2;
    engine_model *m = cli_open_model(path); /* it says itself whether the model fits */
    if (!m) return 1;
    const engine_model_info *in = engine_model_get_info(m);
    char types[1024];
    engine_model_describe_types(m, types, sizeof types);
    uint64_t kv16 = engine_kv_bytes(m, (int32_t)ctx, ENGINE_KV_F16);
    double ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    double need = (double)in->weight_bytes + (double)kv16;
    printf("model:        %s\n", path);
    printf("architecture: %s%s%s\n", in->arch, *in->name ? ", " : "", in->name);
    printf("parameters:   %.3f M\n", in->n_params / 1e6);
    printf("shape:        n_embd %d, n_layer %d, n_head %d (kv %d), head_dim %d, n_ff %d, n_vocab "
           "%d\n",
           in->n_embd, in->n_layer, in->n_head, in->n_head_kv, in->head_dim, in->n_ff, in->n_vocab);
    printf("rope:         base %g; rms eps %g; training context %d; output %s\n",
           in->rope_freq_base, in->rms_eps, in->n_ctx_train,
           in->tied_output ? "tied to token_embd" : "separate");
    if (in->rope_yarn > 0.0f) printf("rope scaling: YaRN x%g\n", in->rope_yarn);
    int32_t swa_rows = in->n_swa > 0 ? engine_kv_swa_rows(m, (int32_t)ctx) : 0;
    if (in->n_swa > 0) /* those layers' cache: the window and one batch, not the context */
        printf("attention:    sliding window of %d positions in %d of %d layers; their KV cache "
               "holds %d rows at %ld positions\n",
               in->n_swa, in->n_swa_layers, in->n_layer, swa_rows, ctx);
    printf("weights:      %.2f MB, mostly %s, %.2f bits per weight\n", in->weight_bytes / 1e6,
           in->file_type, in->n_params ? 8.0 * in->weight_bytes / in->n_params : 0.0);
    printf("tensor types:\n%s", types);
    printf("memory:       weights %.2f MB (mmapped) + KV cache F16 at %ld positions %.2f MB = %.2f "
           "MB; this machine has %.2f GB RAM%s\n",
           in->weight_bytes / 1e6, ctx, kv16 / 1e6, need / 1e6, ram / 1e9,
           need > ram * 0.9 ? " (DOES NOT FIT)" : "");
    printf("kernels:      %s\n", engine_simd_name());
    engine_model_free(m);
    return 0;
}
