/* hearth lsp: the Language Server Protocol server on stdin/stdout (see lsp/lsp.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lsp.h"

static int usage(FILE *f, int code) {
    fprintf(f, "usage: hearth lsp [--completion-model PATH] [--threads N] [--ctx N]\n"
               "  Speaks LSP over stdin/stdout. initializationOptions (completionModel, threads,\n"
               "  contextSize) override these flags.\n");
    return code;
}

int cmd_lsp(int argc, char **argv) {
    lsp_options opt;
    lsp_options_init(&opt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        if (!strcmp(a, "--stdio")) continue; /* what generic LSP clients append */
        const char *val = NULL;
        if (!strcmp(a, "--completion-model") || !strcmp(a, "--threads") || !strcmp(a, "--ctx")) {
            if (!(val = cli_value(argc, argv, &i))) return 2;
        } else {
            cli_error("lsp", "unknown option %s", a);
            return usage(stderr, 2);
        }
        if (!strcmp(a, "--completion-model"))
            opt.completion_model = val;
        else if (!strcmp(a, "--threads")) {
            if (!cli_int(a, val, 1, 1024, &v)) return 2;
            opt.n_threads = (int)v;
        } else {
            if (!cli_int(a, val, 64, 1 << 20, &v)) return 2;
            opt.n_ctx = (int)v;
        }
    }
    char err[LSP_ERR_LEN];
    int code = lsp_server_run(&opt, 0, 1, err, sizeof err);
    if (code < 0) return cli_error("lsp", "%s", err);
    return code;
}
