/* hearth quantize: a GGUF to any tensor type or mix (*_K_M, MXFP4_MOE), with per-tensor progress
 * on a terminal and a summary line (sizes, bits per weight, fallbacks, time). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "options.h"

static const cli_opt OPTS[] = {
    {NULL, "--allow-requantize", NULL, "accepted for llama-quantize habits (requantizing warns)"},
    CLI_OPT_END};

static const cli_cmd CMD = {
    "quantize", "IN.gguf OUT.gguf TYPE [options]",
    "TYPE (any case): F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K MXFP4\n"
    "      Q4_K_M Q5_K_M (mixes: Q6_K for the output and some attn_v/ffn_down)\n"
    "      MXFP4_MOE (mix: MXFP4 for MoE expert tensors, Q8_0 for the rest).\n"
    "An already quantized input is dequantized and quantized again, with a warning: quality is\n"
    "lost twice; quantize from the F16/BF16 original when you have it.\n",
    OPTS};

/* On a terminal: which tensor is being converted, and to what. */
static void on_tensor(int64_t i, int64_t n, const char *tensor, const char *type, void *user) {
    cli_progress_show(user, "[%4lld/%lld] %-40.40s %-6s", (long long)i + 1, (long long)n, tensor,
                      type);
}

/* Whether two paths name the same file (the output would replace the input it reads). */
static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static void summary(const char *in, const char *out, const char *type,
                    const engine_quantize_stats *st) {
    struct stat si, so;
    double before = stat(in, &si) == 0 ? (double)si.st_size : 0;
    double after = stat(out, &so) == 0 ? (double)so.st_size : 0;
    printf("quantized %s -> %s (%s): %.2f MB -> %.2f MB, %.2f bits per weight, %lld of %lld "
           "tensors converted, %lld fallbacks, %.1f s\n",
           in, out, type, before / 1e6, after / 1e6,
           st->n_weights ? 8.0 * (double)st->bytes_out / (double)st->n_weights : 0.0,
           (long long)st->n_converted, (long long)st->n_tensors, (long long)st->n_fallback,
           st->seconds);
}

int cmd_quantize(int argc, char **argv) {
    const char *pos[3];
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG && v && n_pos == 3) return cli_error(v, "unexpected argument"), 2;
        if (kind == CLI_ARG && v) pos[n_pos++] = v;
    }
    if (n_pos != 3) return cli_error("quantize", "usage: hearth quantize IN.gguf OUT.gguf TYPE"), 2;
    const char *in = pos[0], *out = pos[1], *type = pos[2];
    if (same_file(in, out))
        return cli_error(out, "is the input file: write the quantized model elsewhere"), 2;
    engine_quantize_params p = {.allow_requantize = true, .user = NULL};
    cli_progress prog;
    cli_progress_init(&prog);
    p.progress = on_tensor;
    p.user = &prog;
    engine_quantize_stats st;
    char err[ENGINE_ERR_LEN];
    bool ok = engine_quantize_with(in, out, type, &p, &st, err, sizeof err);
    cli_progress_clear(&prog);
    if (!ok) return cli_error(in, "%s", err);
    if (st.n_requantized)
        fprintf(stderr,
                "hearth: quantize: warning: %lld tensors of %s were quantized already and lost "
                "quality twice (quantize from the F16/BF16 original when you have it)\n",
                (long long)st.n_requantized, in);
    summary(in, out, type, &st);
    return 0;
}
