/* hearth serve: the OpenAI-compatible HTTP service (see serve/serve.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "models.h"
#include "serve.h"

static int usage(FILE *f, int code) {
    fprintf(f,
            "usage: hearth serve -m MODEL [--embedding-model PATH] [--host 127.0.0.1]\n"
            "                    [--port 8080 (0: any)] [--api-key KEY] [--name NAME]\n"
            "                    [--template chatml|qwen3|llama3] [-t THREADS] [--parallel 16]\n"
            "                    [-c CTX] [--kv-size POSITIONS] [--batch 256] [--max-prompt N]\n"
            "                    [--max-queue 64] [--max-body BYTES] [--max-header BYTES]\n"
            "                    [--request-timeout-ms 10000] [-q]\n"
            "  POST /v1/completions (suffix: fill-in-the-middle), /v1/fim, /v1/chat/completions,\n"
            "  /v1/embeddings (needs --embedding-model); GET /v1/models, /health.\n"
            "  Up to --parallel requests decode together (continuous batching); -c is one\n"
            "  sequence's context, --kv-size the positions of the shared KV cache (default 4x).\n"
            "  Binding anything but a loopback address requires --api-key (or HEARTH_API_KEY).\n");
    return code;
}

typedef struct {
    const char *flag;
    long lo, hi;
    size_t offset; /* into serve_params; an int field unless big */
    bool big;      /* a size_t field */
} int_opt;

static const int_opt INT_OPTS[] = {
    {"--port", 0, 65535, offsetof(serve_params, port), false},
    {"-t", 1, 256, offsetof(serve_params, n_threads), false},
    {"--threads", 1, 256, offsetof(serve_params, n_threads), false},
    {"--parallel", 1, 256, offsetof(serve_params, n_parallel), false},
    {"-c", 16, 1 << 20, offsetof(serve_params, n_ctx), false},
    {"--ctx", 16, 1 << 20, offsetof(serve_params, n_ctx), false},
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
static int set_int(serve_params *p, const char *a, int argc, char **argv, int *i) {
    for (size_t k = 0; k < sizeof INT_OPTS / sizeof INT_OPTS[0]; k++) {
        if (strcmp(a, INT_OPTS[k].flag)) continue;
        const char *val = cli_value(argc, argv, i);
        long v;
        if (!val || !cli_int(a, val, INT_OPTS[k].lo, INT_OPTS[k].hi, &v)) return 2;
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
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        if (!strcmp(a, "-q")) {
            p.quiet = true;
            continue;
        }
        int r = set_int(&p, a, argc, argv, &i);
        if (r == 2) return 2;
        if (r == 0) continue;
        const char **dst = !strcmp(a, "-m") || !strcmp(a, "--model") ? &p.model_path
                           : !strcmp(a, "--embedding-model")         ? &p.embed_model_path
                           : !strcmp(a, "--host")                    ? &p.host
                           : !strcmp(a, "--api-key")                 ? &p.api_key
                           : !strcmp(a, "--name")                    ? &p.model_name
                           : !strcmp(a, "--template")                ? &p.chat_template
                                                                     : NULL;
        if (!dst) {
            cli_error("serve", "unknown option %s", a);
            return usage(stderr, 2);
        }
        if (!(*dst = cli_value(argc, argv, &i))) return 2;
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
