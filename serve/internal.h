/* Private pieces of serve/: the server, its connections, jobs and the scheduler.
 *
 * Threads: the libuv loop (HTTP, replies) and runtime/'s scheduler thread, on which every
 * inference runs by lane: /v1/fim in the FIM lane, /v1/embeddings in the embedding lane in
 * bounded slices, and continuous batching (/v1/completions, /v1/chat/completions) as the chat
 * lane's long job, which yields to the FIM and embedding work waiting after each step.
 *
 * Ownership: a job is created by the loop thread for one request and shared with the scheduler;
 * `refs` counts its holders (the connection, the scheduler, the ready list) under srv->mu and
 * the last one frees it. Fields marked [loop] are touched only by the loop thread, [sched] only
 * by the scheduler, [mu] only under srv->mu; the request part is written before the job is
 * queued and read-only after. */
#ifndef HEARTH_SERVE_INTERNAL_H
#define HEARTH_SERVE_INTERNAL_H

#include <http_parser.h>
#include <jansson.h>
#include <pthread.h>
#include <uv.h>

#include "base.h"
#include "completion.h"
#include "embed.h"
#include "engine.h"
#include "index.h"
#include "runtime.h"
#include "serve.h"

#define SERVE_MAX_STOPS    8
#define SERVE_MAX_STOP_LEN 256
#define SERVE_MAX_INPUTS   2048 /* embedding inputs per request */
#define SERVE_MAX_CONNS    1024
#define SERVE_KV_BLOCK     16 /* positions per KV block */
/* /v1/fim's cross-file context (input_extra): files per request, their text bytes in all, and
 * the bytes of a file name or language id */
#define SERVE_MAX_EXTRA       32
#define SERVE_MAX_EXTRA_BYTES (2 << 20)
#define SERVE_MAX_NAME        1024

/* A file sent with a /v1/fim request as cross-file context (all owned by the job). */
typedef struct {
    char *path, *text, *language; /* language may be NULL (then by the path's extension) */
    size_t len;
} serve_extra;

/* JOB_FIM: /v1/fim through completion/ (the LSP's path: KV reuse across requests, windows,
 * trimming), a FIM-lane job; JOB_EMBED: an embedding-lane job run slice by slice. */
typedef enum { JOB_COMPLETION, JOB_CHAT, JOB_EMBED, JOB_FIM } job_kind;

typedef struct conn conn;
typedef struct serve_server serve_server;

typedef struct serve_job {
    /* request (read-only once queued) */
    job_kind kind;
    bool stream, include_usage, base64;
    bool hide_think; /* chat with a Qwen3 template: <think> blocks are not part of the answer */
    int64_t id;
    int32_t *prompt, n_prompt;
    int32_t max_tokens;
    engine_sampler_params sampling;
    char *stops[SERVE_MAX_STOPS];
    int n_stops;
    embed_item *inputs; /* embeddings: prepared by embed/ (prompt, tokens, truncation) */
    int32_t n_in;
    /* FIM: prefix holds the whole document, the cursor at prefix_len, suffix_len bytes after it
     * (suffix is NULL: the suffix is prefix + prefix_len) */
    char *prefix, *suffix;
    size_t prefix_len, suffix_len;
    char *path, *language; /* /v1/fim: the document's path and LSP languageId; may be NULL */
    serve_extra *extras;   /* /v1/fim: cross-file context, in the request's order */
    int n_extras;
    int32_t max_lines; /* /v1/fim: lines offered at most; 0 = the LSP's default */
    int32_t n_cached;  /* FIM: prompt tokens kept in the KV cache from the previous request */
    /* results [mu] */
    char *out;
    size_t out_len, out_cap;
    bool done, cancel, in_ready;
    const char *finish; /* "stop" or "length" */
    int err_status;     /* != 0: failed with err_msg */
    char err_msg[640];
    int32_t n_generated, n_embd, n_prompt_total;
    float *embeddings;
    int refs;
    struct serve_job *next_ready, *next_queued;
    bool lane_started; /* [mu] a FIM/embedding job has started (counted active, not queued) */
    /* [loop] */
    conn *c;
    /* [sched] */
    void *slot;
    serve_server *srv;   /* set when submitted */
    runtime_job rt;      /* FIM and embedding jobs: the scheduler's job (cancel flag, lane) */
    int32_t n_embedded;  /* embedding inputs done so far (slices) */
    double next_step_at; /* FIM: when a step of continuous batching is due inside it */
    float *vecs;         /* their vectors, n_in x embed_dim, handed over as embeddings at the end */
    /* how run ended (its done callback finishes the job: after run the scheduler still reads
     * the job, so run must not drop the scheduler's reference) */
    const char *fin_reason;
    int fin_status; /* != 0: failed with fin_msg */
    char fin_msg[512];
} serve_job;

struct serve_server {
    serve_params p;
    runtime_registry *rt;              /* where model and embed_model come from (shared) */
    engine_model *model, *embed_model; /* borrowed from rt for the server's life */
    engine_ctx *ctx;                   /* [sched] paged context */
    embed_service *embed;   /* /v1/embeddings (thread-safe; run on the scheduler thread) */
    completion_engine *fim; /* [sched] /v1/fim; NULL when the model has no FIM tokens */
    char fim_why[256];      /* why fim is NULL */
    char model_name[256], embed_name[256];
    int32_t n_ctx;
    int32_t kv_blocks; /* blocks in the paged KV pool (SERVE_KV_BLOCK positions each) */
    long created;
    /* loop */
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake;
    uv_signal_t sig_int, sig_term;
    int n_conns;
    int n_parsing; /* POST bodies on a worker thread now (for /health) */
    int64_t next_id;
    runtime_sched *rs; /* the one inference thread (runtime/): lanes FIM > embeddings > chat */
    /* shared [mu] */
    pthread_mutex_t mu;
    bool stopping;
    bool batch_live;                                 /* the batching job is queued or running */
    serve_job *queue_head, *queue_tail, *ready_head; /* the queue: generation jobs waiting */
    int n_queued, n_active;                          /* every kind of job */
    int64_t n_cancelled, n_served;
    int64_t n_embed_slices; /* embedding slices run (for /health) */
    /* prompt tokens the tokenizer made for completion, chat and FIM prompts, refused ones
     * included (for /health: tokenizing stops just past the prompt limit, so an oversized
     * prompt adds about limit + 1) */
    int64_t n_prompt_tokens_tokenized;
    double embed_tok_per_s; /* scheduler thread: the last slice's speed, sizes the next */
    void *sched;            /* [sched] the batching state (sched.c) */
    /* /v1/search (search.c): set up before the loop runs, read-only after; a searcher is
     * thread-safe (its own mutex) */
    index_searcher *searchers[SERVE_MAX_INDEXES];
    char *search_roots[SERVE_MAX_INDEXES]; /* their real paths */
    int n_searchers;
    embed_service *search_embed; /* queries' embedder over embed_model (or NULL) */
    /* Test hook (HEARTH_TEST_FIM_STEPS=1): a FIM runs a batching step at every check instead of
     * by time, so a test of the interleaving does not depend on the machine's speed. */
    bool test_fim_steps;
    /* Test hook (HEARTH_TEST_PARSE_GATE=path, HEARTH_TEST_PARSE_GATE_BYTES=n): the worker that
     * parses and tokenizes a body of at least n bytes waits while path exists (or until the
     * server stops), so a test holds a big prompt's tokenizing and checks that the loop serves
     * other requests meanwhile, without depending on how long tokenizing takes. */
    const char *test_parse_gate;
    size_t test_parse_gate_bytes;
    /* Test hook (HEARTH_TEST_BATCH_GATE=path): the batching job waits while path exists before
     * it admits requests, so a test queues several and has them admitted in one step. */
    const char *test_batch_gate;
};

/* ---- jobs (job.c) ---- */
serve_job *serve_job_new(job_kind kind);
/* Drops one reference [mu held]; frees the job at zero. */
void serve_job_unref_locked(serve_job *j);
/* Appends generated text and puts the job on the ready list [mu held]. */
void serve_job_push_text_locked(serve_server *s, serve_job *j, const char *text, size_t n);
void serve_job_mark_ready_locked(serve_server *s, serve_job *j);

/* ---- server.c ---- */
/* A test hook's gate (any thread): waits while the file path exists, or until the server stops;
 * returns at once when path is NULL. */
void serve_test_gate_wait(serve_server *s, const char *path);
/* For /health: each model file the registry loaded, with its load count (any thread). */
json_t *serve_models_health(serve_server *s);

/* ---- the scheduler's side (sched.c: batching, start, stop, submit; lanes.c: FIM, embeddings) */
bool serve_sched_start(serve_server *s, char *err, size_t errlen);
/* Stops the scheduler: queued jobs end with 503, running ones are asked to stop (an embedding
 * request within one slice), the thread is joined. Loop thread; idempotent. */
void serve_sched_stop(serve_server *s);
/* Queues a job (the caller keeps its own reference); false when the queue is full. */
bool serve_sched_submit(serve_server *s, serve_job *j);
void serve_sched_cancel(serve_server *s, serve_job *j);
/* Ends a job with a result or an error (status != 0) and drops the scheduler's reference. */
void serve_sched_finish(serve_server *s, serve_job *j, const char *reason, int status,
                        const char *msg);
/* From inside a FIM job (scheduler thread): one step of continuous batching (cancelled requests
 * dropped, queued ones admitted, a token of every decoding sequence and at most 16 prompt tokens,
 * so it costs the FIM little), if it has requests and the server is not stopping. Safe there: the
 * batching job is never mid-step while a FIM runs (the FIM runs inline from its yield, after a
 * step, or while it waits in its lane). */
void serve_batch_step_between(serve_server *s);
/* Submits a FIM or embedding job in its lane [mu held]; false when the scheduler stopped. */
bool serve_lane_submit_locked(serve_server *s, serve_job *j);

/* ---- HTTP connections (http.c) ---- */
bool serve_http_listen(serve_server *s, char *err, size_t errlen);
/* The fuzz target's way in: data as one connection's bytes, in two reads (split at split), on a
 * connection without a socket (replies are built and dropped); a complete request goes through
 * the router, its body parsed and checked synchronously. */
void serve_http_feed_detached(serve_server *s, const char *data, size_t n, size_t split);
bool serve_conn_detached(const conn *c);
/* A server without loop, listener or scheduler, over the models p names (the fuzz target). */
serve_server *serve_server_new_detached(const serve_params *p, char *err, size_t errlen);
void serve_server_free_detached(serve_server *s);
/* Closes the listener, the loop's other handles and every connection (their jobs cancelled). */
void serve_http_close_all(serve_server *s);
/* The request of a connection, as the router sees it. */
typedef struct {
    const char *method, *path;
    const char *body;
    size_t body_len;
    const char *authorization; /* "" when absent */
} http_request;
/* A whole response with a JSON body (takes the body). Then the connection closes. */
void serve_http_reply_json(conn *c, int status, char *body);
/* Starts a server-sent-events response (once), then sends one `data: ...` event. */
void serve_http_sse_event(conn *c, const char *data, size_t n);
/* Ends a streamed response: the connection closes once everything is written. */
void serve_http_end(conn *c);
void serve_conn_set_job(conn *c, serve_job *j);
/* True once a response (or the start of a stream) was sent. */
bool serve_http_replied(const conn *c);
serve_server *serve_conn_server(conn *c);
/* Keeps c's memory (its request, not its socket) alive while a worker thread reads it; release
 * ends that (and frees c if it closed meanwhile). Loop thread. */
void serve_conn_hold(conn *c);
void serve_conn_release(conn *c);
/* False once the connection is closing (the client left, or the server stops). */
bool serve_conn_open(const conn *c);

/* ---- /v1/search (search.c) ---- */
/* Opens a searcher per p.index_roots (after the embedding model loaded). */
bool serve_search_open(serve_server *s, char *err, size_t errlen);
void serve_search_close(serve_server *s);
/* Answers a /v1/search body (worker thread): the reply body (malloc'd, *status 200) or NULL
 * with *status and msg. */
char *serve_search_run(serve_server *s, json_t *o, int *status, char *msg, size_t n);
/* For /health: each index's root and searcher counters (queries, store opens, vector loads). */
json_t *serve_search_health(serve_server *s);

/* ---- routes and replies (api.c, reply.c) ---- */
void serve_api_handle(serve_server *s, conn *c, const http_request *r);
/* An OpenAI-shaped error body: {"error": {"message", "type", "param", "code"}}. */
char *serve_api_error_body(int status, const char *message, const char *code);
void serve_api_error(conn *c, int status, const char *message, const char *code);
/* Called on the loop thread when a job has new output or finished. */
void serve_reply_job_update(serve_server *s, serve_job *j);

#endif
