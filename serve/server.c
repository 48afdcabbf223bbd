/* serve_run: parameters, models and contexts, the libuv loop (listener, the scheduler's wake-up,
 * signals) and an orderly stop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

void serve_params_init(serve_params *p) {
    memset(p, 0, sizeof *p);
}

static bool is_loopback(const char *host) {
    return !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

static bool check_params(serve_params *p, char *err, size_t errlen) {
    if (!p->host || !strcmp(p->host, "localhost")) p->host = "127.0.0.1";
    if (!p->n_parallel) p->n_parallel = 16;
    if (!p->n_batch) p->n_batch = 256;
    if (!p->max_queue) p->max_queue = 64;
    if (!p->max_body) p->max_body = 4 << 20;
    if (!p->max_header) p->max_header = 16 << 10;
    if (!p->request_timeout_ms) p->request_timeout_ms = 10000;
    const char *bad = !p->model_path && !p->embed_model_path && !p->n_index_roots
                          ? "no model or index given"
                      : p->port < 0 || p->port > 65535           ? "port must be 0..65535"
                      : p->n_parallel < 1 || p->n_parallel > 256 ? "parallel must be 1..256"
                      : p->n_batch < 1 || p->n_batch > 4096      ? "batch must be 1..4096"
                      : p->n_ctx < 0 || p->kv_positions < 0      ? "negative context size"
                      : p->max_prompt < 0 || p->max_queue < 1    ? "bad prompt or queue limit"
                      : p->request_timeout_ms < 1                ? "bad request time-out"
                      : !is_loopback(p->host) && !p->api_key     ? "binding to a non-loopback "
                                                                   "address requires --api-key"
                      : p->api_key && !p->api_key[0]             ? "the API key is empty"
                                                                 : NULL;
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return false;
    }
    if (p->chat_template && !engine_chat_template_known(p->chat_template)) {
        snprintf(err, errlen, "unknown chat template '%s' (known: chatml, qwen3, llama3, harmony)",
                 p->chat_template);
        return false;
    }
    return true;
}

static void name_of(const char *path, const char *given, char *out, size_t n) {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(out, n, "%s", given ? given : base);
    size_t len = strlen(out);
    if (!given && len > 5 && !strcmp(out + len - 5, ".gguf")) out[len - 5] = 0;
}

static bool load_main(serve_server *s, char *err, size_t errlen) {
    serve_params *p = &s->p;
    s->model = runtime_model_acquire(s->rt, p->model_path, MODELS_ROLE_COMPLETION, err, errlen);
    if (!s->model) return false;
    const engine_model_info *in = engine_model_get_info(s->model);
    int32_t n_ctx = p->n_ctx ? p->n_ctx : (in->n_ctx_train < 4096 ? in->n_ctx_train : 4096);
    if (!p->kv_positions) p->kv_positions = 4 * n_ctx;
    if (p->kv_positions < n_ctx) n_ctx = p->kv_positions;
    if (!p->max_prompt || p->max_prompt > n_ctx - 1) p->max_prompt = n_ctx - 1;
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = p->n_threads;
    cp.n_batch = p->n_batch;
    engine_paged_params pp = {p->n_parallel,
                              (p->kv_positions + SERVE_KV_BLOCK - 1) / SERVE_KV_BLOCK,
                              SERVE_KV_BLOCK, n_ctx};
    s->ctx = engine_ctx_new_paged(s->model, &cp, &pp, err, errlen);
    if (!s->ctx) return false;
    s->n_ctx = n_ctx;
    s->kv_blocks = pp.n_blocks;
    if (p->max_prompt < 1) {
        snprintf(err, errlen, "the context is too small");
        return false;
    }
    name_of(p->model_path, p->model_name, s->model_name, sizeof s->model_name);
    /* /v1/fim: the LSP's completion engine over the same model, for every FIM family */
    if (completion_fim_supported(s->model, s->fim_why, sizeof s->fim_why)) {
        completion_params fp;
        completion_params_init(&fp);
        fp.n_threads = p->n_threads;
        fp.n_ctx = n_ctx;
        s->fim = completion_new(s->model, &fp, s->fim_why, sizeof s->fim_why);
    }
    if (!s->fim && !p->quiet) fprintf(stderr, "hearth serve: no /v1/fim: %s\n", s->fim_why);
    return true;
}

/* The embedding model stays loaded here as before; embed/ owns everything above it (its
 * context, prompts, truncation, batching). */
static bool load_embedder(serve_server *s, char *err, size_t errlen) {
    s->embed_model =
        runtime_model_acquire(s->rt, s->p.embed_model_path, MODELS_ROLE_EMBEDDING, err, errlen);
    if (!s->embed_model) return false;
    name_of(s->p.embed_model_path, NULL, s->embed_name, sizeof s->embed_name);
    embed_params ep = embed_default_params();
    ep.n_threads = s->p.n_threads;
    ep.name = s->embed_name;
    s->embed = embed_new_local(s->embed_model, &ep, err, errlen);
    return s->embed != NULL;
}

json_t *serve_models_health(serve_server *s) {
    runtime_model_stat st[8];
    int n = runtime_registry_stats(s->rt, st, 8);
    json_t *a = json_array();
    for (int i = 0; i < n && i < 8 && a; i++)
        json_array_append_new(a, json_pack("{s:s, s:I, s:i, s:b}", "path", st[i].path, "loads",
                                           (json_int_t)st[i].loads, "users", st[i].users, "loaded",
                                           st[i].loaded));
    return a;
}

void serve_test_gate_wait(serve_server *s, const char *path) {
    while (path) {
        pthread_mutex_lock(&s->mu);
        bool stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stopping || access(path, F_OK) != 0) return;
        uv_sleep(5);
    }
}

/* The scheduler has news: hand every ready job's output to its connection. */
static void on_wake(uv_async_t *a) {
    serve_server *s = a->data;
    pthread_mutex_lock(&s->mu);
    serve_job *list = s->ready_head;
    s->ready_head = NULL;
    for (serve_job *j = list; j; j = j->next_ready) j->in_ready = false;
    pthread_mutex_unlock(&s->mu);
    while (list) {
        serve_job *j = list;
        list = j->next_ready;
        serve_reply_job_update(s, j);
        pthread_mutex_lock(&s->mu);
        serve_job_unref_locked(j);
        pthread_mutex_unlock(&s->mu);
    }
}

static void on_signal(uv_signal_t *sig, int signum) {
    (void)signum;
    serve_server *s = sig->data;
    serve_sched_stop(s); /* ends every running job; their final replies are flushed below */
    on_wake(&s->wake);
    uv_stop(&s->loop);
}

static void free_server(serve_server *s) {
    serve_search_close(s);
    completion_free(s->fim);
    engine_ctx_free(s->ctx);
    embed_free(s->embed);
    if (s->rt) {
        runtime_model_release(s->rt, s->model);
        runtime_model_release(s->rt, s->embed_model);
    }
    runtime_registry_free(s->rt);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static bool start(serve_server *s, char *err, size_t errlen) {
    if ((s->p.model_path && !load_main(s, err, errlen)) ||
        (s->p.embed_model_path && !load_embedder(s, err, errlen)) ||
        !serve_search_open(s, err, errlen))
        return false;
    uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    uv_signal_init(&s->loop, &s->sig_int);
    uv_signal_init(&s->loop, &s->sig_term);
    s->sig_int.data = s->sig_term.data = s;
    uv_signal_start(&s->sig_int, on_signal, SIGINT);
    uv_signal_start(&s->sig_term, on_signal, SIGTERM);
    s->test_parse_gate = getenv("HEARTH_TEST_PARSE_GATE"); /* test hooks (internal.h) */
    s->test_batch_gate = getenv("HEARTH_TEST_BATCH_GATE");
    const char *gate_bytes = getenv("HEARTH_TEST_PARSE_GATE_BYTES");
    s->test_parse_gate_bytes = gate_bytes ? strtoull(gate_bytes, NULL, 10) : 0;
    return serve_http_listen(s, err, errlen) && serve_sched_start(s, err, errlen);
}

serve_server *serve_server_new_detached(const serve_params *params, char *err, size_t errlen) {
    serve_server *s = calloc(1, sizeof *s);
    if (!s || !(s->rt = runtime_registry_new(0))) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return NULL;
    }
    s->p = *params;
    s->p.quiet = true;
    pthread_mutex_init(&s->mu, NULL);
    s->next_id = 1;
    if (!check_params(&s->p, err, errlen) || (s->p.model_path && !load_main(s, err, errlen)) ||
        (s->p.embed_model_path && !load_embedder(s, err, errlen))) {
        free_server(s);
        return NULL;
    }
    return s;
}

void serve_server_free_detached(serve_server *s) {
    if (s) free_server(s);
}

bool serve_run(const serve_params *params, char *err, size_t errlen) {
    serve_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    s->p = *params;
    s->rt = runtime_registry_new(0); /* models stay for the server's life */
    if (!s->rt) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return false;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->created = (long)time(NULL);
    s->next_id = 1;
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-write is an error return, not a death */
    uv_loop_init(&s->loop);
    bool ok = check_params(&s->p, err, errlen) && start(s, err, errlen);
    if (ok && s->p.on_listening) s->p.on_listening(s->p.host, s->p.port, s->p.user);
    if (ok) uv_run(&s->loop, UV_RUN_DEFAULT);
    serve_sched_stop(s);
    serve_http_close_all(s);
    uv_run(&s->loop, UV_RUN_DEFAULT); /* lets the close callbacks free the connections */
    uv_loop_close(&s->loop);
    free_server(s);
    return ok;
}
