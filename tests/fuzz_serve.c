/* libFuzzer target: bytes from an HTTP client -> http_parser under serve's limits -> routing,
 * API key -> each endpoint's JSON checks, prompt building and tokenization (chat template, FIM
 * layout, embedding inputs), on a server without socket or scheduler (replies built, dropped).
 * The models: HEARTH_FUZZ_MODEL and HEARTH_FUZZ_EMBED (default for both: the repository's
 * stories260K.gguf, loaded once; chat through the chatml template). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static serve_server *server;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    serve_params p;
    serve_params_init(&p);
    p.model_path = getenv("HEARTH_FUZZ_MODEL") ? getenv("HEARTH_FUZZ_MODEL") : HEARTH_FUZZ_MODEL;
    p.embed_model_path = getenv("HEARTH_FUZZ_EMBED") ? getenv("HEARTH_FUZZ_EMBED") : p.model_path;
    p.chat_template = "chatml";
    p.n_threads = 1;
    p.n_parallel = 2;
    p.n_ctx = 256;
    p.max_body = 1 << 16;
    p.max_header = 4096;
    char err[1024];
    server = serve_server_new_detached(&p, err, sizeof err);
    if (!server) {
        fprintf(stderr, "fuzz_serve: %s\n", err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* two reads, split by the first byte, so requests cut anywhere are exercised too */
    size_t split = size ? (size_t)data[0] * size / 256 : 0;
    serve_http_feed_detached(server, (const char *)data, size, split);
    return 0;
}
