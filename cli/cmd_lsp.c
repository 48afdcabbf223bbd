/* hearth lsp: the Language Server Protocol server on stdin/stdout (see lsp/lsp.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_remote.h"
#include "lsp.h"

static int usage(FILE *f, int code) {
    fprintf(f,
            "usage: hearth lsp [--completion-model PATH] [--threads N] [--ctx N]\n"
            "                  [--max-tokens N] [--max-prompt-ms MS] [--context-tokens N]\n"
            "                  [--no-kv-reuse] [--classic-layout] [--no-prefill-ahead]\n"
            "                  [--chat-model PATH] [--embedding-model PATH] [--chat-idle SECONDS]\n"
            "                  [--simd avx512|avx2|scalar]\n"
            "  Speaks LSP over stdin/stdout. initializationOptions (completionModel, threads,\n"
            "  contextSize, maxTokens, maxPromptMs, contextTokens, kvReuse, lineInMiddle,\n"
            "  lookupDraft: prompt-lookup tokens per step, 0 = off, prefillAhead)\n"
            "  override these flags. --context-tokens 0 turns cross-file context off;\n"
            "  --no-kv-reuse evaluates every prompt whole (and skips the completion cache);\n"
            "  --classic-layout puts the cursor line before the suffix (for comparisons);\n"
            "  --no-prefill-ahead stops evaluating the next prompt ahead of the request\n"
            "  (on open, after a newline, when idle, at hearth/cursor).\n"
            "  --simd caps the kernels' instruction set (to measure the AVX2 path on an AVX-512\n"
            "  machine, as hearth bench --simd does).\n"
            "  A completion role with \"backend\": \"openai\" in the configuration file sends\n"
            "  completions to that server instead (README: Team setup).\n");
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
        if (!strcmp(a, "--no-prefill-ahead")) {
            opt.no_prefill_ahead = true;
            continue;
        }
        if (!strcmp(a, "--no-kv-reuse") || !strcmp(a, "--classic-layout")) {
            *(a[2] == 'n' ? &opt.no_kv_reuse : &opt.classic_layout) = true;
            continue;
        }
        const char *val = NULL;
        if (!strcmp(a, "--completion-model") || !strcmp(a, "--threads") || !strcmp(a, "--ctx") ||
            !strcmp(a, "--max-tokens") || !strcmp(a, "--max-prompt-ms") ||
            !strcmp(a, "--context-tokens") || !strcmp(a, "--chat-model") ||
            !strcmp(a, "--embedding-model") || !strcmp(a, "--chat-idle") || !strcmp(a, "--simd")) {
            if (!(val = cli_value(argc, argv, &i))) return 2;
        } else {
            cli_error("lsp", "unknown option %s", a);
            return usage(stderr, 2);
        }
        if (!strcmp(a, "--simd")) {
            if (!engine_set_simd_limit(val))
                return cli_error(a, "'%s': expected avx512, avx2 or scalar", val), 2;
        } else if (!strcmp(a, "--completion-model"))
            opt.completion_model = val;
        else if (!strcmp(a, "--chat-model"))
            opt.chat_model = val;
        else if (!strcmp(a, "--embedding-model"))
            opt.embedding_model = val;
        else if (!strcmp(a, "--chat-idle")) {
            if (!cli_int(a, val, 1, 1 << 24, &v)) return 2;
            opt.chat_idle_s = (int)v;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_int(a, val, 1, 1024, &v)) return 2;
            opt.n_threads = (int)v;
        } else if (!strcmp(a, "--max-tokens")) {
            if (!cli_int(a, val, 1, 4096, &v)) return 2;
            opt.max_tokens = (int)v;
        } else if (!strcmp(a, "--context-tokens")) {
            if (!cli_int(a, val, 0, 65536, &v)) return 2;
            opt.context_tokens = v ? (int)v : -1;
        } else if (!strcmp(a, "--max-prompt-ms")) {
            if (!cli_int(a, val, 0, 600000, &v)) return 2;
            opt.max_prompt_ms = (int)v;
        } else {
            if (!cli_int(a, val, 64, 1 << 20, &v)) return 2;
            opt.n_ctx = (int)v;
        }
    }
    /* Catalogue names and files in the models dir work as paths; with no completion model
     * given, the configured or default one (qwen2.5-coder-1.5b:q5_k_m) when installed. */
    char *models[3] = {cli_model_for_role(opt.completion_model, MODELS_ROLE_COMPLETION),
                       cli_model_for_role(opt.chat_model, MODELS_ROLE_CHAT),
                       cli_model_for_role(opt.embedding_model, MODELS_ROLE_EMBEDDING)};
    if (models[0]) opt.completion_model = models[0];
    if (models[1]) opt.chat_model = models[1];
    if (models[2]) opt.embedding_model = models[2];
    char err[LSP_ERR_LEN];
    int code = lsp_server_run(&opt, 0, 1, err, sizeof err);
    for (int i = 0; i < 3; i++) free(models[i]);
    if (code < 0) return cli_error("lsp", "%s", err);
    return code;
}
