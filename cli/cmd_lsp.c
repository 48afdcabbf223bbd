/* hearth lsp: the Language Server Protocol server on stdin/stdout (see lsp/lsp.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "cli_remote.h"
#include "lsp.h"

static const cli_opt OPTS[] = {
    {"-m", "--model", "MODEL", "the completion model (default: the configured or installed one)"},
    {NULL, "--completion-model", "MODEL", "the same as --model"},
    {NULL, "--chat-model", "MODEL", "the chat model for code actions"},
    {NULL, "--embedding-model", "MODEL", "the embedding model for repository context"},
    CLI_OPT_THREADS,
    {"-c", "--ctx", "N", "completion context size"},
    {NULL, "--max-tokens", "N", "tokens per completion at most"},
    {NULL, "--max-prompt-ms", "MS", "time budget of a prompt's evaluation (500; 0 = none)"},
    {NULL, "--max-gen-ms", "MS", "time cap of a suggestion's generation (2000; 0 = none)"},
    {NULL, "--context-tokens", "N", "cross-file context tokens (0 = off)"},
    {NULL, "--no-kv-reuse", NULL, "evaluate every prompt whole (no completion cache)"},
    {NULL, "--classic-layout", NULL, "the cursor line before the suffix (for comparisons)"},
    {NULL, "--no-prefill-ahead", NULL, "do not evaluate the next prompt ahead of the request"},
    {NULL, "--chat-idle", "SECONDS", "unload the chat model after this long unused"},
    {NULL, "--simd", "avx512|avx2|scalar", "cap the kernels' instruction set (as bench does)"},
    {NULL, "--stdio", NULL, "accepted and ignored (generic LSP clients pass it)"},
    CLI_OPT_END};

static const cli_cmd CMD = {
    "lsp", "[options]",
    "Speaks LSP over stdin/stdout. initializationOptions (completionModel, threads, contextSize,\n"
    "maxTokens, maxPromptMs, maxGenMs, contextTokens, kvReuse, lineInMiddle, lookupDraft,\n"
    "prefillAhead, "
    "modelStatus: send hearth/model notifications as the completion model loads)\n"
    "override these flags. A completion role with \"backend\": \"openai\" in the configuration\n"
    "file sends completions to that server instead (README: Team setup).\n",
    OPTS};

int cmd_lsp(int argc, char **argv) {
    lsp_options opt;
    lsp_options_init(&opt);
    for (int i = 1; i < argc; i++) {
        const char *a, *val;
        long v;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &a, &val);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG) return cli_error(val ? val : "--", "unexpected argument"), 2;
        if (!strcmp(a, "--stdio")) continue; /* what generic LSP clients append */
        if (!strcmp(a, "--no-prefill-ahead")) {
            opt.no_prefill_ahead = true;
            continue;
        }
        if (!strcmp(a, "--no-kv-reuse") || !strcmp(a, "--classic-layout")) {
            *(a[2] == 'n' ? &opt.no_kv_reuse : &opt.classic_layout) = true;
            continue;
        }
        if (!strcmp(a, "--simd")) {
            if (!engine_set_simd_limit(val))
                return cli_error(a, "'%s': expected avx512, avx2 or scalar", val), 2;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--completion-model"))
            opt.completion_model = val;
        else if (!strcmp(a, "--chat-model"))
            opt.chat_model = val;
        else if (!strcmp(a, "--embedding-model"))
            opt.embedding_model = val;
        else if (!strcmp(a, "--chat-idle")) {
            if (!cli_int(a, val, 1, 1 << 24, &v)) return 2;
            opt.chat_idle_s = (int)v;
        } else if (!strcmp(a, "-t")) {
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
        } else if (!strcmp(a, "--max-gen-ms")) {
            if (!cli_int(a, val, 0, 600000, &v)) return 2;
            opt.max_gen_ms = (int)v;
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
