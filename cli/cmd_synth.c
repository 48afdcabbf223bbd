/* hearth synth: a random-weight model with the shapes of a public model. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(void) {
    fprintf(stderr, "usage: hearth synth --like NAME --type TYPE [--vocab VOCAB.gguf] [--layers N] "
                    "[--seed S] -o OUT.gguf\n"
                    "  NAME:");
    for (int i = 0; engine_synth_shape_name(i); i++)
        fprintf(stderr, " %s", engine_synth_shape_name(i));
    fprintf(stderr,
            "\n  TYPE: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K MXFP4\n"
            "        Q4_K_M Q5_K_M MXFP4_MOE\n"
            "  without --vocab the model gets a minimal byte-level vocabulary, padded with\n"
            "  unused [PAD<id>] tokens to the shape's vocabulary size\n");
}

int cmd_synth(int argc, char **argv) {
    engine_synth_params p = {0};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        long l;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) return usage(), 2;
        if (!(v = cli_value(argc, argv, &i))) return 2;
        if (!strcmp(o, "--like"))
            p.like = v;
        else if (!strcmp(o, "--type"))
            p.type = v;
        else if (!strcmp(o, "--vocab"))
            p.vocab_path = v;
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
        return usage(), cli_error("synth", "--like, --type and -o are required"), 2;
    char err[ENGINE_ERR_LEN];
    if (!engine_synth(&p, out, err, sizeof err)) return cli_error("synth", "%s", err);
    fprintf(stderr, "hearth: wrote %s (%s, %s)\n", out, p.like, p.type);
    return 0;
}
