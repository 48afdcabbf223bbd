/* hearth serve: the OpenAI-compatible HTTP service (see serve/serve.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "models.h"
#include "serve.h"

static const cli_opt OPTS[] = {
    CLI_OPT_MODEL,
    {NULL, "--embedding-model", "MODEL", "serve /v1/embeddings with this model"},
    {NULL, "--index", "DIR", "serve /v1/search from DIR's index (repeatable)"},
    {NULL, "--host", "ADDR", "address to bind (default 127.0.0.1)"},
    {NULL, "--port", "N", "port (default 8080; 0: any free one)"},
    {NULL, "--api-key", "KEY", "required bearer key (default: $HEARTH_API_KEY)"},
    {NULL, "--name", "NAME", "the model's name in the API (default: the catalogue name)"},
    {NULL, "--template", "NAME",
     "chat template: chatml, qwen3, llama3 or harmony (default: the model's)"},
    CLI_OPT_THREADS,
    {NULL, "--parallel", "N", "requests decoded together (default 16)"},
    {"-c", "--ctx", "N", "one sequence's context size"},
    {NULL, "--kv-size", "N", "positions of the shared KV cache (default 4 x --ctx)"},
    {NULL, "--batch", "N", "tokens per forward batch (default 256)"},
    {NULL, "--max-prompt", "N", "longest prompt in tokens"},
    {NULL, "--max-queue", "N", "requests waiting at most (default 64)"},
    {NULL, "--max-body", "BYTES", "largest request body"},
    {NULL, "--max-header", "BYTES", "largest request header"},
    {NULL, "--request-timeout-ms", "MS", "time to receive a request (default 10000)"},
    {"-q", "--quiet", NULL, "no request log"},
    CLI_OPT_END};

static const cli_cmd CMD = {
    "serve", "[MODEL] [options]\n-m MODEL [options]",
    "POST /v1/completions (suffix: fill-in-the-middle), /v1/fim, /v1/chat/completions,\n"
    "/v1/embeddings (needs --embedding-model), /v1/search (needs --index); GET /v1/models,\n"
    "/health. With only --index, no model is loaded until a vector query needs the index's.\n"
    "Binding anything but a loopback address requires --api-key (or HEARTH_API_KEY).\n",
    OPTS};

typedef struct {
    const char *flag;
    long lo, hi;
    size_t offset; /* into serve_params; an int field unless big */
    bool big;      /* a size_t field */
} int_opt;

static const int_opt INT_OPTS[] = {
    {"--port", 0, 65535, offsetof(serve_params, port), false},
    {"-t", 1, 256, offsetof(serve_params, n_threads), false},
    {"--parallel", 1, 256, offsetof(serve_params, n_parallel), false},
    {"-c", 16, 1 << 20, offsetof(serve_params, n_ctx), false},
    {"--kv-size", 16, 1 << 24, offsetof(serve_params, kv_positions), false},
    {"--batch", 1, 4096, offsetof(serve_params, n_batch), false},
    {"--max-prompt", 1, 1 << 20, offsetof(serve_params, max_prompt), false},
    {"--max-queue", 1, 1 << 16, offsetof(serve_params, max_queue), false},
    {"--request-timeout-ms", 1, 3600000, offsetof(serve_params, request_timeout_ms), false},
    {"--max-body", 1024, 1L << 30, offsetof(serve_params, max_body), true},
    {"--max-header", 1024, 1 << 20, offsetof(serve_params, max_header), true},
};

static void on_listening(const char *host, int port, void *user) {
    (void)user;
    fprintf(stderr, "hearth serve: listening on http://%s:%d\n", host, port);
    fflush(stderr);
}

/* Sets a numeric option; 1 if a is not one, 0 on success, 2 after printing an error. */
static int set_int(serve_params *p, const char *a, const char *val) {
    for (size_t k = 0; k < sizeof INT_OPTS / sizeof INT_OPTS[0]; k++) {
        if (strcmp(a, INT_OPTS[k].flag)) continue;
        long v;
        if (!cli_int(a, val, INT_OPTS[k].lo, INT_OPTS[k].hi, &v)) return 2;
        char *field = (char *)p + INT_OPTS[k].offset;
        if (INT_OPTS[k].big)
            *(size_t *)(void *)field = (size_t)v;
        else
            *(int *)(void *)field = (int)v;
        return 0;
    }
    return 1;
}

int cmd_serve(int argc, char **argv) {
    serve_params p;
    serve_params_init(&p);
    p.port = 8080;
    p.api_key = getenv("HEARTH_API_KEY");
    for (int i = 1; i < argc; i++) {
        const char *a, *val;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &a, &val);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG) {
            if (val && p.model_path) return cli_error(val, "unexpected argument"), 2;
            if (val) p.model_path = val;
            continue;
        }
        if (!strcmp(a, "-q")) {
            p.quiet = true;
            continue;
        }
        if (!strcmp(a, "--index")) {
            if (p.n_index_roots == SERVE_MAX_INDEXES)
                return cli_error(a, "at most %d indexes", SERVE_MAX_INDEXES), 2;
            p.index_roots[p.n_index_roots++] = val;
            continue;
        }
        int r = set_int(&p, a, val);
        if (r == 2) return 2;
        if (r == 0) continue;
        const char **dst = !strcmp(a, "-m")                  ? &p.model_path
                           : !strcmp(a, "--embedding-model") ? &p.embed_model_path
                           : !strcmp(a, "--host")            ? &p.host
                           : !strcmp(a, "--api-key")         ? &p.api_key
                           : !strcmp(a, "--name")            ? &p.model_name
                           : !strcmp(a, "--template")        ? &p.chat_template
                                                             : NULL;
        if (dst) *dst = val;
    }
    /* catalogue names and files in the models dir work as well as paths */
    char err[MODELS_ERR_LEN + MODELS_PATH_LEN], *model = NULL, *embed = NULL;
    if (p.model_path && !(model = models_resolve(p.model_path, err, sizeof err)))
        return cli_error(p.model_path, "%s", err);
    if (p.embed_model_path && !(embed = models_resolve(p.embed_model_path, err, sizeof err))) {
        free(model);
        return cli_error(p.embed_model_path, "%s", err);
    }
    if (model && !p.model_name && !strchr(p.model_path, '/') && !strstr(p.model_path, ".gguf"))
        p.model_name = p.model_path; /* a catalogue name names the model */
    p.model_path = model;
    p.embed_model_path = embed;
    p.on_listening = on_listening;
    bool ok = serve_run(&p, err, sizeof err);
    free(model);
    free(embed);
    return ok ? 0 : cli_error("serve", "%s", err);
}
