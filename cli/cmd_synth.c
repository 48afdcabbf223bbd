/* hearth synth: a random-weight model with the shapes of a public model. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static const cli_opt OPTS[] = {
    {NULL, "--like", "NAME", "the public model whose shapes to copy (see below)"},
    {NULL, "--type", "TYPE", "tensor type or mix, as hearth quantize takes"},
    {NULL, "--vocab", "GGUF", "take the vocabulary from this model (default: a byte-level one)"},
    {NULL, "--layers", "N", "layers (default: the shape's own)"},
    {NULL, "--seed", "S", "random seed of the weights"},
    {NULL, "--bag-of-words", NULL,
     "encoders: identity layers over random token vectors (see below)"},
    {"-o", "--output", "FILE", "the GGUF to write"},
    CLI_OPT_END};

static const cli_cmd CMD = {"synth", "--like NAME --type TYPE -o OUT.gguf [options]", NULL, OPTS};

/* What follows the options in --help: the names and types there are. */
static void usage_names(FILE *f) {
    fprintf(f, "\nNAME:");
    for (int i = 0; engine_synth_shape_name(i); i++) fprintf(f, " %s", engine_synth_shape_name(i));
    fprintf(f,
            "\nTYPE: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K MXFP4 "
            "Q4_K_M Q5_K_M MXFP4_MOE\n"
            "Without --vocab the model gets a minimal byte-level vocabulary, padded with unused\n"
            "[PAD<id>] tokens to the shape's vocabulary size.\n"
            "--bag-of-words: an embedding model whose cosine measures shared tokens (mean of\n"
            "random token vectors), meaningful without training; for retrieval benchmarks.\n");
}

static void on_layer(int32_t done, int32_t n, void *user) {
    cli_progress_show(user, "synth: layer %d/%d", done, n);
}

int cmd_synth(int argc, char **argv) {
    engine_synth_params p = {0};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        long l;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return usage_names(stdout), 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG) return cli_error(v ? v : "--", "unexpected argument"), 2;
        if (!strcmp(o, "--like"))
            p.like = v;
        else if (!strcmp(o, "--type"))
            p.type = v;
        else if (!strcmp(o, "--vocab"))
            p.vocab_path = v;
        else if (!strcmp(o, "--bag-of-words"))
            p.bag_of_words = true;
        else if (!strcmp(o, "-o"))
            out = v;
        else if (!strcmp(o, "--layers")) {
            if (!cli_int(o, v, 1, 1000, &l)) return 2;
            p.n_layers = (int32_t)l;
        } else if (!strcmp(o, "--seed")) {
            if (!cli_int(o, v, 0, 0x7fffffffL, &l)) return 2;
            p.seed = (uint64_t)l;
        } else
            return cli_error(o, "unknown option (try 'hearth synth --help')"), 2;
    }
    if (!p.like || !p.type || !out)
        return cli_error("synth", "--like, --type and -o are required"), 2;
    char err[ENGINE_ERR_LEN];
    cli_progress prog;
    cli_progress_init(&prog);
    p.progress = on_layer;
    p.user = &prog;
    bool ok = engine_synth(&p, out, err, sizeof err);
    cli_progress_clear(&prog);
    if (!ok) return cli_error("synth", "%s", err);
    fprintf(stderr, "hearth: wrote %s (%s, %s)\n", out, p.like, p.type);
    return 0;
}
