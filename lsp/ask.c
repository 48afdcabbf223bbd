/* hearth.ask in the scheduler's chat lane: retrieve from the workspace index, load the chat model
 * if it is not loaded yet, and stream the answer as hearth/answer notifications, yielding to
 * completion between tokens (see commands.c for the protocol). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

typedef struct {
    lsp_commands *c;
    lsp_job *job;
    char *root, *question, *chat_model, *embed_model, *token;
    int32_t k, n_predict, n_ctx, n_threads;
    index_mode mode;
    /* results */
    index_hit *hits;
    int32_t n_hits;
    bool *used;
    char *answer;
    size_t answer_len;
    bool ok;
    char err[INDEX_ERR_LEN];
} ask_data;

static void ask_data_free(void *p) {
    ask_data *d = p;
    index_hits_free(d->hits, d->n_hits);
    free(d->used);
    free(d->answer);
    free(d->root);
    free(d->question);
    free(d->chat_model);
    free(d->embed_model);
    free(d->token);
    free(d);
}

static void searcher_free(bg_worker *w) {
    index_searcher_close(w->searcher);
    free(w->searcher_root);
    w->searcher = NULL;
    w->searcher_root = NULL;
    w->searcher_embed = NULL;
}

static void embedder_free(bg_worker *w) {
    searcher_free(w); /* it may borrow the service */
    embed_free(w->embed);
    runtime_model_release(w->rt, w->embed_model);
    if (w->embed_model) runtime_sweep(w->rt);
    free(w->embed_path);
    free(w->embed_file);
    w->embed = NULL;
    w->embed_model = NULL;
    w->embed_path = NULL;
    w->embed_file = NULL;
}

static void chat_free(bg_worker *w) {
    runtime_model_release(w->rt, w->chat);
    if (w->chat) runtime_sweep(w->rt);
    free(w->chat_path);
    w->chat = NULL;
    w->chat_path = NULL;
}

void lsp_bg_worker_free(bg_worker *w) { /* the registry (w->rt) is the server's: it stays */
    searcher_free(w);
    chat_free(w);
    embedder_free(w);
}

embed_service *lsp_bg_embedder(bg_worker *w, const char *name, int n_threads, char *err,
                               size_t errlen) {
    if (w->embed && !strcmp(w->embed_path, name)) return w->embed;
    embedder_free(w);
    char *path = NULL, why[RUNTIME_ERR_LEN];
    if (lsp_embed_path(name, &path, err, errlen)) {
        w->embed_model = runtime_model_acquire(w->rt, path, MODELS_ROLE_EMBEDDING, why, sizeof why);
        if (w->embed_model)
            w->embed = index_embed_new(w->embed_model, path, n_threads, err, errlen);
        else
            snprintf(err, errlen, "%.500s", why);
    }
    w->embed_path = w->embed ? strdup(name) : NULL;
    w->embed_file = w->embed_path ? path : NULL;
    if (!w->embed_file) {
        free(path);
        embedder_free(w);
        if (!err[0]) snprintf(err, errlen, "out of memory");
    }
    return w->embed;
}

/* Worker: the embedding service for a question (the configured model, else the index's own);
 * NULL when the search needs none (lexical, or an index without vectors: index_search then says
 * what is missing). */
static embed_service *embedder(bg_worker *w, const ask_data *d, char *err, size_t errlen) {
    if (d->mode == INDEX_MODE_LEXICAL) return NULL;
    char *name = d->embed_model ? strdup(d->embed_model) : index_embed_model(d->root);
    if (!name) return NULL;
    embed_service *e = lsp_bg_embedder(w, name, d->n_threads, err, errlen);
    free(name);
    return e;
}

/* Worker: the chat model (a path, a file in the models dir or a catalogue name), loaded on
 * first use through the registry (a different name replaces it; the embedding model stays). */
static engine_model *chat_model(bg_worker *w, const char *name, char *err, size_t errlen) {
    if (w->chat && !strcmp(w->chat_path, name)) return w->chat;
    chat_free(w);
    char why[RUNTIME_ERR_LEN];
    w->chat = runtime_model_acquire(w->rt, name, MODELS_ROLE_CHAT, why, sizeof why);
    if (!w->chat) {
        snprintf(err, errlen, "%.500s", why);
        return NULL;
    }
    w->chat_path = strdup(name);
    if (!w->chat_path) chat_free(w);
    return w->chat;
}

bool lsp_embed_path(const char *name, char **path, char *err, size_t errlen) {
    *path = NULL;
    if (!name) return true;
    char why[RUNTIME_ERR_LEN];
    *path = runtime_resolve(name, MODELS_ROLE_EMBEDDING, why, sizeof why);
    if (!*path) snprintf(err, errlen, "%.500s", why);
    return *path != NULL;
}

/* Worker: the open searcher of root over embed (NULL: lexical only), reopened when the root
 * or the service changes; a lexical question reuses whichever searcher root has. */
static index_searcher *searcher(bg_worker *w, const char *root, embed_service *embed,
                                int32_t n_threads, char *err, size_t errlen) {
    bool same_root = w->searcher && !strcmp(w->searcher_root, root);
    if (same_root && (!embed || embed == w->searcher_embed)) return w->searcher;
    searcher_free(w);
    index_searcher_params sp = {.root = root, .embed = embed, .n_threads = n_threads};
    w->searcher = index_searcher_open(&sp, err, errlen);
    w->searcher_root = w->searcher ? strdup(root) : NULL;
    if (w->searcher && !w->searcher_root) {
        searcher_free(w);
        snprintf(err, errlen, "out of memory");
    }
    w->searcher_embed = embed;
    return w->searcher;
}

static bool ask_emit(const char *text, size_t len, void *user) {
    ask_data *d = user;
    char *grown = realloc(d->answer, d->answer_len + len + 1);
    stream_msg *m = calloc(1, sizeof *m);
    if (!grown || !m) {
        free(m);
        return false;
    }
    d->answer = grown;
    char *piece = d->answer + d->answer_len;
    memcpy(piece, text, len);
    piece[len] = 0;
    /* JSON strings must be UTF-8: a model can emit bytes that are not (random weights do). */
    index_utf8_sanitize(piece, len);
    d->answer_len += strlen(piece); /* an emitted NUL ends the piece */
    *m = (stream_msg){MSG_ANSWER, strdup(d->token), strdup(piece), 0, 0, 0, 0, NULL};
    lsp_commands_stream_push(d->c, m);
    return lsp_job_yield(d->job); /* completion first, then the next token */
}

static void ask_run(lsp_job *j, void *worker_state) {
    ask_data *d = j->data;
    d->job = j;
    embed_service *embed = embedder(worker_state, d, d->err, sizeof d->err);
    if (!embed && d->err[0]) return;
    index_searcher *s = searcher(worker_state, d->root, embed, d->n_threads, d->err, sizeof d->err);
    index_query q = {.query = d->question, .k = d->k, .mode = d->mode};
    if (!s || !index_searcher_search(s, &q, &d->hits, &d->n_hits, d->err, sizeof d->err)) return;
    engine_model *m = chat_model(worker_state, d->chat_model, d->err, sizeof d->err);
    d->used = calloc((size_t)d->n_hits + 1, sizeof *d->used);
    d->answer = calloc(1, 1);
    if (!m || !d->used || !d->answer) {
        if (m) snprintf(d->err, sizeof d->err, "out of memory");
        return;
    }
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = d->n_ctx;
    cp.n_threads = d->n_threads;
    char why[ENGINE_ERR_LEN];
    engine_ctx *ctx = engine_ctx_new(m, &cp, why, sizeof why);
    if (!ctx) {
        snprintf(d->err, sizeof d->err, "chat context: %.400s", why);
        return;
    }
    engine_sampler_params sampling = engine_sampler_default_params();
    sampling.temperature = 0;
    char why_map[INDEX_ERR_LEN];
    char *map = index_searcher_map(s, d->hits, d->n_hits, 0, why_map, sizeof why_map);
    index_ask_request r = {.question = d->question,
                           .hits = d->hits,
                           .n_hits = d->n_hits,
                           .map = map, /* NULL (no map) is fine */
                           .used = d->used,
                           .n_predict = d->n_predict,
                           .sampling = sampling,
                           .emit = ask_emit,
                           .user = d};
    d->ok = index_ask(m, ctx, &r, d->err, sizeof d->err);
    free(map);
    engine_ctx_free(ctx);
}

/* ---- unloading the chat model when idle ---- */

static void unload_run(lsp_job *j, void *worker_state) {
    bg_worker *w = worker_state;
    j->data = w->chat ? w : NULL; /* tells done whether there was a model */
    lsp_bg_worker_free(w);
}

static void unload_done(lsp_server *s, lsp_job *j) {
    if (j->started && j->data) lsp_log(s, LSP_LOG_INFO, "chat model unloaded after idle time");
}

static void on_idle(uv_timer_t *t) {
    lsp_commands *c = t->data;
    lsp_job *j = lsp_job_new("unload", RUNTIME_LANE_CHAT, unload_run, unload_done);
    if (j) lsp_commands_submit_bg(c->s, j);
}

static void restart_idle(lsp_commands *c) {
    if (c->handles_open && c->chat_idle_s > 0)
        uv_timer_start(&c->idle, on_idle, (uint64_t)c->chat_idle_s * 1000, 0);
}

static json_t *sources_json(const ask_data *d) {
    json_t *a = json_array();
    for (int32_t i = 0; d->used && i < d->n_hits; i++) {
        if (!d->used[i]) continue;
        const index_hit *h = &d->hits[i];
        char *uri = lsp_path_to_uri(d->root, h->path);
        /* Whole lines: from the start of the first to the start of the line after the last. */
        if (uri)
            json_array_append_new(a, json_pack("{s:s, s:{s:{s:i, s:i}, s:{s:i, s:i}}}", "uri", uri,
                                               "range", "start", "line", h->start_line - 1,
                                               "character", 0, "end", "line", h->end_line,
                                               "character", 0));
        free(uri);
    }
    return a;
}

static void ask_done(lsp_server *s, lsp_job *j) {
    ask_data *d = j->data;
    lsp_commands_drain(
        s->commands); /* every piece of the answer goes out before the final message */
    json_t *token = json_loads(d->token, JSON_DECODE_ANY, NULL);
    bool ok = j->started && d->ok;
    if (!j->started) snprintf(d->err, sizeof d->err, "cancelled");
    json_t *sources = ok ? sources_json(d) : json_array();
    lsp_notify(s, "hearth/answer",
               json_pack("{s:o, s:s, s:b, s:O}", "token", token ? token : json_null(), "text", "",
                         "done", 1, "sources", sources));
    if (ok)
        lsp_reply(s, j->id, json_pack("{s:s, s:o}", "answer", d->answer, "sources", sources));
    else {
        json_decref(sources);
        lsp_reply_error(s, j->id, lsp_job_cancelled(j) ? LSP_REQUEST_CANCELLED : LSP_REQUEST_FAILED,
                        "hearth.ask: %s", d->err);
    }
    restart_idle(s->commands); /* the chat model stays loaded for chat_idle_s more */
}

/* arguments[0]: the question, or {question, k?, mode?, maxTokens?}. */
static bool parse_ask(json_t *arg, ask_data *d, char *err, size_t errlen) {
    const char *q = json_string_value(arg), *mode = NULL;
    json_int_t k = 8, max_tokens = ANSWER_TOKENS;
    json_error_t je;
    if (!q && json_unpack_ex(arg, &je, 0, "{s:s, s?I, s?s, s?I}", "question", &q, "k", &k, "mode",
                             &mode, "maxTokens", &max_tokens)) {
        snprintf(err, errlen, "hearth.ask arguments: [\"question\"] or [{\"question\": ...}]: %s",
                 je.text);
        return false;
    }
    if (!*q || k < 1 || k > 100 || max_tokens < 1 || max_tokens > 1 << 20) {
        snprintf(err, errlen, "hearth.ask: empty question, k outside 1..100 or maxTokens < 1");
        return false;
    }
    d->mode = !mode                      ? INDEX_MODE_AUTO
              : !strcmp(mode, "hybrid")  ? INDEX_MODE_HYBRID
              : !strcmp(mode, "lexical") ? INDEX_MODE_LEXICAL
              : !strcmp(mode, "vector")  ? INDEX_MODE_VECTOR
                                         : (index_mode)-1;
    if ((int)d->mode < 0) {
        snprintf(err, errlen, "hearth.ask: mode must be hybrid, lexical or vector");
        return false;
    }
    d->question = strdup(q);
    d->k = (int32_t)k;
    d->n_predict = (int32_t)max_tokens;
    return d->question != NULL;
}

void lsp_command_ask(lsp_server *s, json_t *id, json_t *params, json_t *arg) {
    lsp_commands *c = s->commands;
    char err[LSP_ERR_LEN] = "out of memory";
    const char *root = lsp_commands_root_for(s, id, arg);
    if (!root) return;
    if (!c->chat_model) {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS,
                        "hearth.ask: no chat model (initializationOptions.chatModel or "
                        "'hearth lsp --chat-model PATH')");
        return;
    }
    ask_data *d = calloc(1, sizeof *d);
    lsp_job *j = lsp_job_new("ask", RUNTIME_LANE_CHAT, ask_run, ask_done);
    json_t *wdt = json_object_get(params, "workDoneToken");
    bool ok = d && j && parse_ask(arg, d, err, sizeof err);
    if (ok) {
        d->c = c;
        d->root = strdup(root);
        d->chat_model = strdup(c->chat_model);
        d->embed_model = c->embed_model ? strdup(c->embed_model) : NULL;
        d->token = json_dumps(wdt ? wdt : id, JSON_ENCODE_ANY);
        d->n_ctx = c->chat_ctx;
        d->n_threads = s->opt.n_threads;
        ok = d->root && d->chat_model && d->token && (!c->embed_model || d->embed_model);
    }
    if (!ok) {
        if (d) ask_data_free(d);
        lsp_job_free(j);
        lsp_reply_error(s, id, LSP_INVALID_PARAMS, "%s", err);
        return;
    }
    j->data = d;
    j->free_data = ask_data_free;
    j->id = json_incref(id);
    uv_timer_stop(&c->idle);
    lsp_commands_submit_bg(s, j);
}
