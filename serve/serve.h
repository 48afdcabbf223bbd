/* serve: hearth's OpenAI-compatible HTTP service (`hearth serve`). This header is the only door.
 *
 * One process, two threads: the libuv loop thread owns every socket (HTTP/1.1 parsing with
 * http_parser, limits, time-outs, authentication, JSON in and out) and never runs the model; the
 * scheduler thread owns the engine contexts and runs continuous batching: the sequences of all
 * active requests decode together, one batched forward pass per step, over a paged KV cache;
 * requests join and leave between steps. Results travel back to the loop through uv_async.
 *
 * Endpoints: POST /v1/completions (with `suffix`: fill-in-the-middle), POST /v1/fim,
 * POST /v1/chat/completions, POST /v1/embeddings, POST /v1/search (the repository indexes given
 * as index_roots, kept open), GET /v1/models, GET /health. */
#ifndef HEARTH_SERVE_H
#define HEARTH_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_MAX_INDEXES 8

typedef struct {
    const char *model_path;       /* completion / chat model (GGUF); may be NULL if embeddings */
    const char *embed_model_path; /* embedding model for /v1/embeddings; may be NULL */
    /* Repositories whose index /v1/search answers from (built by hearth index; the first is the
     * default, a request's "root" picks another); opened at start and kept open. */
    const char *index_roots[SERVE_MAX_INDEXES];
    int n_index_roots;
    const char *model_name;    /* id in /v1/models; NULL = the file name without .gguf */
    const char *chat_template; /* chatml | qwen3 | llama3; NULL = the model's own */
    const char *host;          /* bind address; NULL = 127.0.0.1 */
    int port;                  /* 0 = any free port (on_listening tells which) */
    const char *api_key;       /* required (Bearer) on every route when set; NULL = none.
                                  Mandatory when host is not a loopback address. */
    int n_threads;             /* engine threads; 0 = physical cores */
    int n_parallel;            /* sequences decoded together at most; 0 = 16 */
    int n_ctx;                 /* positions one sequence may hold; 0 = min(training, 4096) */
    int kv_positions;          /* positions of the shared paged KV cache; 0 = 4 x n_ctx */
    int n_batch;               /* tokens per forward pass; 0 = 256 */
    int max_prompt;            /* prompt tokens at most; 0 = n_ctx - 1 */
    int max_queue;             /* requests waiting for a slot at most; 0 = 64 */
    size_t max_body;           /* request body bytes at most; 0 = 4 MiB */
    size_t max_header;         /* request line + headers bytes at most; 0 = 16 KiB */
    int request_timeout_ms;    /* a request must be fully received within; 0 = 10000 */
    bool quiet;                /* no per-request log lines on stderr */
    /* Called once the socket listens (e.g. to print the address); may be NULL. */
    void (*on_listening)(const char *host, int port, void *user);
    void *user;
} serve_params;

void serve_params_init(serve_params *p);
/* Loads the models, listens and serves until SIGINT/SIGTERM. False with a message in err when
 * it cannot start (bad parameters, model, address in use). */
bool serve_run(const serve_params *p, char *err, size_t errlen);

#endif
