/* textDocument/inlineCompletion and textDocument/completion, answered by completion/ in the
 * scheduler's FIM lane. The loop copies what the job needs (settings, the text around the cursor)
 * into the job; the completion jobs alone use the completion engine (model + KV cache): they run
 * one at a time on the scheduler thread (inline in a chat job's yield, never in each other's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "completion.h"
#include "index.h"
#include "lsp_internal.h"

/* Bytes of text around the cursor handed to the worker: far more than the token budgets use, so
 * the prompt is the same as with the whole document, without copying a huge file per keystroke. */
#define PREFIX_BYTES (256 * 1024)
#define SUFFIX_BYTES (64 * 1024)

/* Cross-file context (completion_gather decides what; the job owns copies). */
#define MAX_CHUNKS COMPLETION_CONTEXT_CHUNKS

struct lsp_worker {
    runtime_registry *rt; /* the server's (outlives the worker) */
    engine_model *model;  /* acquired from rt for engine; NULL when none is loaded */
    completion_engine *engine;
    char *path; /* the model name engine holds (or failed to load: then engine is NULL) */
    char err[LSP_ERR_LEN];
    /* Read once at start, then only read (both threads): the configuration file's completion
     * backend (runtime_backend_load). With an openai one, completions go to that server
     * (completion_run_remote). */
    models_config cfg;
    const models_backend *remote;      /* NULL = the local engine */
    char cfg_err[MODELS_ERR_LEN + 64]; /* why the configuration was not used; "" = fine */
    bool down_shown;                   /* loop thread only: the backend-down message was shown */
};

static void load_config(lsp_worker *w) {
    char err[MODELS_ERR_LEN];
    runtime_backend be;
    if (!runtime_backend_load(&w->cfg, MODELS_ROLE_COMPLETION, NULL, false, &be, err, sizeof err))
        snprintf(w->cfg_err, sizeof w->cfg_err, "configuration: %s", err);
    w->remote = be.remote;
}

lsp_worker *lsp_worker_new(runtime_registry *rt) {
    lsp_worker *w = calloc(1, sizeof(lsp_worker));
    if (w) {
        w->rt = rt;
        load_config(w);
    }
    return w;
}

/* Scheduler thread: drops the engine and its model (unloaded unless another role uses it). */
static void worker_unload(lsp_worker *w) {
    completion_free(w->engine);
    w->engine = NULL;
    runtime_model_release(w->rt, w->model);
    w->model = NULL;
    runtime_sweep(w->rt);
}

void lsp_worker_free(lsp_worker *w) {
    if (!w) return;
    worker_unload(w);
    free(w->path);
    models_config_free(&w->cfg);
    free(w);
}

typedef struct {
    char *model_path;
    completion_params params; /* its model_path is unset: model_path above is the one */
    double t_received;        /* when the loop received the request (ms, monotonic) */
    double queue_ms;          /* from then until the scheduler started it */
    char *prefix, *suffix;
    size_t prefix_len, suffix_len;
    char *language_id; /* the document's (trimming parses with its grammar); may be NULL */
    completion_chunk chunks[MAX_CHUNKS]; /* texts and paths owned (malloc'd) */
    int n_chunks;
    bool inline_reply; /* inlineCompletion (else completion) */
    json_t *stream;    /* loop thread: the client's token for partial suggestions, or NULL */
    bool posted;       /* worker: a partial went out (the remote backend can no longer fall back) */
    int n_partials;    /* loop thread: hearth/inlineCompletionPartial notifications sent */
    bool fell_back;    /* the remote backend was down: the local model answered */
    int64_t line, character;
    bool ok;
    completion_result res;
    char err[LSP_ERR_LEN];
    const char *why;    /* prefill jobs: what asked for it (ahead.c) */
    int debug_chunk_ms; /* prefill jobs: each chunk waits this long first (tests) */
} complete_data;

static void complete_data_free(void *p) {
    complete_data *d = p;
    free(d->model_path);
    free(d->prefix);
    free(d->suffix);
    free(d->language_id);
    for (int i = 0; i < d->n_chunks; i++) {
        free((char *)d->chunks[i].text);
        free((char *)d->chunks[i].path);
    }
    completion_result_free(&d->res);
    json_decref(d->stream);
    free(d);
}

/* Worker: (re)loads the model when the setting changed (through the registry: a path, a file
 * in the models dir or a catalogue name); remembers a failure for that name. */
static bool worker_load(lsp_worker *w, const complete_data *d, const char *name, char *err,
                        size_t errlen) {
    if (!name) {
        snprintf(err, errlen,
                 "the completion backend is down and there is no local model to "
                 "fall back to (set completion.local_model in the configuration)");
        return false;
    }
    if (w->path && !strcmp(w->path, name)) {
        if (!w->engine) snprintf(err, errlen, "%s", w->err);
        return w->engine != NULL;
    }
    worker_unload(w);
    free(w->path);
    w->path = strdup(name);
    w->model = runtime_model_acquire(w->rt, name, MODELS_ROLE_COMPLETION, w->err, sizeof w->err);
    if (w->model) w->engine = completion_new(w->model, &d->params, w->err, sizeof w->err);
    if (!w->engine) {
        worker_unload(w);
        snprintf(err, errlen, "%s", w->err);
    }
    return w->engine != NULL;
}

static bool job_cancelled(void *user) {
    return lsp_job_cancelled(user);
}

static double now_ms(void) {
    return (double)uv_hrtime() / 1e6;
}

/* ---- streaming: the suggestion so far, worker -> loop -> client ----
 *
 * A client asks for it per request with params.hearth.stream = a token of its choice (a string
 * of at most 256 bytes or an integer); while the model generates, the server sends
 *   hearth/inlineCompletionPartial {token, text}
 * where text is the whole suggestion so far (not a delta: the loop may skip states when it is
 * behind, and a client can show each one as it is), each a strict extension of the previous and
 * a prefix of the final reply's insertText (completion/ sends only what trimming keeps whatever
 * follows). The reply ends the stream and is the same as without streaming; nothing follows it,
 * and a cancelled request gets no more partials. Opting in per request with a client-chosen
 * token (rather than once in initializationOptions with the request's id) keeps the server
 * stateless about it and serves clients whose request API hides JSON-RPC ids (VS Code's). */

#define STREAM_TOKEN_MAX 256

/* Worker: a copy of the text so far for the loop (the final reply ends at an emitted NUL, so
 * the partial does too). */
static void complete_partial(const char *text, size_t len, void *user) {
    len = strnlen(text, len);
    char *msg = malloc(len + 1);
    if (!msg) return; /* the next one, or the reply, says it */
    memcpy(msg, text, len);
    msg[len] = '\0';
    index_utf8_sanitize(msg, len); /* as the reply's text (complete_done): a prefix of it */
    ((complete_data *)((lsp_job *)user)->data)->posted = true;
    lsp_job_post(user, msg);
}

static void complete_post(lsp_server *s, lsp_job *j, void *msg) {
    complete_data *d = j->data;
    if (lsp_job_cancelled(j) || !d->stream) return;
    d->n_partials++;
    lsp_notify(s, "hearth/inlineCompletionPartial",
               json_pack("{s:O, s:s}", "token", d->stream, "text", (const char *)msg));
}

/* Loop: params.hearth.stream of an inlineCompletion request; false (after answering id) when it
 * is not a token. */
static bool stream_token(lsp_server *s, json_t *id, json_t *params, complete_data *d) {
    json_t *t = json_object_get(json_object_get(params, "hearth"), "stream");
    if (!t) return true;
    if (!(json_is_integer(t) || (json_is_string(t) && json_string_length(t) <= STREAM_TOKEN_MAX))) {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS,
                        "hearth.stream must be an integer or a string of at most %d bytes",
                        STREAM_TOKEN_MAX);
        return false;
    }
    d->stream = json_incref(t);
    return true;
}

/* The request completion/ gets for a job (completion and prefill alike: the same prompt). */
static completion_request request_of(lsp_job *j, const complete_data *d) {
    return (completion_request){
        .prefix = d->prefix,
        .prefix_len = d->prefix_len,
        .suffix = d->suffix,
        .suffix_len = d->suffix_len,
        .cancelled = job_cancelled,
        .user = j,
        .path = j->uri && !strncmp(j->uri, "file://", 7) ? j->uri + 7 : j->uri,
        .chunks = d->chunks,
        .n_chunks = d->n_chunks,
        .language_id = d->language_id,
        .partial = d->stream ? complete_partial : NULL, /* set before submitting: read-only now */
    };
}

static void complete_run(lsp_job *j, void *worker_state) {
    lsp_worker *w = worker_state;
    complete_data *d = j->data;
    d->queue_ms = now_ms() - d->t_received;
    completion_request r = request_of(j, d);
    const char *path = d->model_path;
    if (d->params.remote && d->prefix) {
        runtime_backend be; /* the remote server, with the given model as its fallback */
        runtime_backend_choose(&w->cfg, MODELS_ROLE_COMPLETION, d->model_path, false, &be);
        d->ok = completion_run_remote(&d->params, &r, &d->res, d->err, sizeof d->err);
        /* after partial text went out, another model's answer would not continue it */
        if (d->ok || !runtime_backend_falls_back(&be, d->res.backend_down, d->posted)) return;
        d->fell_back = true; /* the local model, loaded now if it is not yet */
        completion_result_free(&d->res);
        memset(&d->res, 0, sizeof d->res);
        d->params.remote = NULL;
        path = be.local;
    }
    if (!worker_load(w, d, path, d->err, sizeof d->err)) return;
    completion_set_params(w->engine, &d->params);
    if (!d->prefix) { /* a load-only job */
        d->ok = true;
        return;
    }
    d->ok = completion_run(w->engine, &r, &d->res, d->err, sizeof d->err);
}

/* firstTokenMs and totalMs count from the request's arrival (queueMs is the wait for the
 * worker); promptMs and genMs are the engine's own times. */
static json_t *stats_json(const complete_data *d) {
    const completion_result *r = &d->res;
    if (r->remote) /* no KV cache here: the server's token counts and the times */
        return json_pack("{s:b, s:i, s:i, s:f, s:f, s:f, s:i, s:i}", "remote", 1, "nPrompt",
                         r->n_prompt, "nGenerated", r->n_generated, "firstTokenMs",
                         d->queue_ms + r->first_token_ms, "totalMs", d->queue_ms + r->total_ms,
                         "queueMs", d->queue_ms, "nChunks", r->n_chunks, "nPartials",
                         d->n_partials);
    json_t *o = json_pack("{s:i, s:i, s:i, s:i, s:f, s:f}", "nPrompt", r->n_prompt, "nReused",
                          r->n_reused, "nEvaluated", r->n_evaluated, "nGenerated", r->n_generated,
                          "promptMs", r->prompt_ms, "genMs", r->gen_ms);
    json_t *more = json_pack("{s:f, s:f, s:f, s:i, s:i, s:b, s:b}", "firstTokenMs",
                             d->queue_ms + r->first_token_ms, "totalMs", d->queue_ms + r->total_ms,
                             "queueMs", d->queue_ms, "nChunks", r->n_chunks, "shrink", r->shrink,
                             "cached", r->cached, "kvReuse", d->params.kv_reuse);
    json_object_set_new(more, "remote", json_false());
    json_object_set_new(more, "nShifted", json_integer(r->n_shifted));
    json_object_set_new(more, "stale", json_boolean(r->stale));
    json_object_set_new(more, "capped", json_boolean(r->capped));
    json_object_set_new(more, "nDrafted", json_integer(r->n_drafted));
    json_object_set_new(more, "nDraftAccepted", json_integer(r->n_draft_accepted));
    json_object_set_new(more, "fallback", json_boolean(d->fell_back));
    json_object_set_new(more, "nPartials", json_integer(d->n_partials));
    json_object_update(o, more);
    json_decref(more);
    return o;
}

static json_t *reply_json(const complete_data *d) {
    json_t *pos =
        json_pack("{s:I, s:I}", "line", (json_int_t)d->line, "character", (json_int_t)d->character);
    json_t *range = json_pack("{s:O, s:O}", "start", pos, "end", pos);
    json_decref(pos);
    json_t *items = json_array();
    const char *text = d->res.text;
    if (d->inline_reply && text[0])
        json_array_append_new(items, json_pack("{s:s, s:o}", "insertText", text, "range", range));
    else if (text[0])
        json_array_append_new(items, json_pack("{s:s, s:i, s:s, s:{s:o, s:s}}", "label", text,
                                               "kind", 1, "insertText", text, "textEdit", "range",
                                               range, "newText", text));
    else
        json_decref(range);
    /* "hearth" is ours (clients ignore unknown fields): what the KV cache saved, for tests and
     * the benchmark. */
    if (d->inline_reply) return json_pack("{s:o, s:o}", "items", items, "hearth", stats_json(d));
    return json_pack("{s:b, s:o, s:o}", "isIncomplete", 1, "items", items, "hearth", stats_json(d));
}

/* The remote backend did not answer (and there is no fallback): an error on the request naming
 * the server, and a message the user sees once per outage. */
static void remote_down(lsp_server *s, lsp_job *j, const complete_data *d) {
    /* d->err names the URL and says the backend is down */
    lsp_reply_error(s, j->id, LSP_REQUEST_FAILED, "completion: %s", d->err);
    lsp_log(s, LSP_LOG_ERROR, "completion: %s", d->err);
    if (s->worker->down_shown) return;
    s->worker->down_shown = true;
    char msg[LSP_ERR_LEN * 2];
    snprintf(msg, sizeof msg,
             "hearth: completion server not answering: %s. Completions are off until it is "
             "back (configure \"fallback\": \"local\" to use a local model meanwhile).",
             d->err);
    lsp_notify(s, "window/showMessage", json_pack("{s:i, s:s}", "type", 1, "message", msg));
}

/* hearth/model {state: loading|loaded|failed|cancelled, model, message?}, to clients that set
 * initializationOptions.modelStatus: the completion model's
 * load as our plugins show it (the status bar, the ghost-text indicator, one notification on
 * failure); unlike $/progress it needs no token handshake, which a client may not have ready
 * while it is still waiting for initialize's reply. */
static void model_state(lsp_server *s, const char *state, const char *model, const char *message) {
    if (!s->model_status) return; /* our plugins ask for it; other clients get no hearth/ noise */
    json_t *p = json_pack("{s:s}", "state", state);
    if (p && model) json_object_set_new(p, "model", json_string(model));
    if (p && message) json_object_set_new(p, "message", json_string(message));
    lsp_notify(s, "hearth/model", p);
}

static void complete_done(lsp_server *s, lsp_job *j) {
    complete_data *d = j->data;
    if (!j->id) {                      /* model loading */
        bool latest = s->loading == j; /* an older load's end must not end the newer progress */
        if (latest) s->loading = NULL;
        if (!j->started) { /* cancelled at shutdown */
            if (latest) lsp_progress_end(s, "cancelled");
            if (latest) model_state(s, "cancelled", d->model_path, NULL);
            return;
        }
        if (latest)
            model_state(s, d->ok ? "loaded" : "failed", d->model_path, d->ok ? NULL : d->err);
        if (d->ok)
            lsp_log(s, LSP_LOG_INFO, "completion model loaded: %s", d->model_path);
        else
            lsp_show_error(s, "hearth: %s", d->err);
        if (latest) lsp_progress_end(s, d->ok ? "loaded" : d->err);
        return;
    }
    /* cancelled or superseded: even a suggestion finished in the meantime is for a state of the
     * document the editor has left (it stays in the completion cache) */
    if (lsp_job_cancelled(j)) {
        lsp_reply_error(s, j->id, LSP_REQUEST_CANCELLED, "cancelled");
        lsp_log(s, LSP_LOG_DEBUG,
                "completion: cancelled after %d generated tokens, %d partials (prompt %d tokens, "
                "%d evaluated, windows halved %d times)",
                d->res.n_generated, d->n_partials, d->res.n_prompt, d->res.n_evaluated,
                d->res.shrink);
        return;
    }
    if (!d->ok && d->res.backend_down) {
        remote_down(s, j, d);
        return;
    }
    if (d->params.remote && d->ok) s->worker->down_shown = false; /* it answers again */
    if (d->fell_back && d->ok)
        lsp_log(s, LSP_LOG_INFO, "completion: the backend %s is down: answered by the local model",
                s->worker->remote->base_url);
    if (!d->ok) {
        lsp_reply_error(s, j->id, LSP_REQUEST_FAILED, "completion: %s", d->err);
        lsp_log(s, LSP_LOG_ERROR, "completion: %s", d->err);
        return;
    }
    /* JSON strings are UTF-8; a model can emit bytes that are not (random weights do) */
    index_utf8_sanitize(d->res.text, strlen(d->res.text));
    lsp_log(s, LSP_LOG_DEBUG,
            "completion: prompt %d tokens (%d reused, %d evaluated, windows halved %d times), "
            "%d generated%s, %.1f + %.1f ms",
            d->res.n_prompt, d->res.n_reused, d->res.n_evaluated, d->res.shrink, d->res.n_generated,
            d->res.capped ? " (capped)" : "", d->res.prompt_ms, d->res.gen_ms);
    lsp_reply(s, j->id, reply_json(d));
    if (d->res.stale || d->res.shrink > 0) lsp_ahead_stale(s, j->uri, d->line, d->character);
}

static lsp_job *complete_job(lsp_server *s) {
    lsp_job *j = lsp_job_new("complete", RUNTIME_LANE_FIM, complete_run, complete_done);
    complete_data *d = calloc(1, sizeof *d);
    if (!j || !d || (s->model_path && !(d->model_path = strdup(s->model_path)))) {
        free(d);
        lsp_job_free(j);
        return NULL;
    }
    completion_params_init(&d->params);
    d->params.n_threads = s->opt.n_threads;
    d->params.n_ctx = s->opt.n_ctx;
    d->params.kv_reuse = !s->opt.no_kv_reuse;
    d->params.kv_shift = !s->opt.no_kv_shift;
    d->params.line_in_middle = !s->opt.classic_layout;
    d->params.max_prompt_ms = s->opt.max_prompt_ms;
    d->params.max_gen_ms = s->opt.max_gen_ms;
    d->params.assumed_tokens_per_ms = s->ahead.debug_tokens_per_ms;
    d->params.max_tokens = s->opt.max_tokens;
    d->params.lookup_draft = s->opt.lookup_draft;
    d->params.context_tokens = s->opt.context_tokens;
    d->params.remote = s->worker ? s->worker->remote : NULL;
    d->t_received = now_ms();
    j->data = d;
    j->free_data = complete_data_free;
    j->post = complete_post;
    j->free_msg = free;
    return j;
}

static char *copy(const char *p, size_t n) {
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, p, n);
        c[n] = '\0';
    }
    return c;
}

/* Cuts a window start/end so it does not split a UTF-8 sequence. */
static size_t char_start(const char *t, size_t len, size_t i) {
    while (i < len && ((unsigned char)t[i] & 0xC0) == 0x80) i++;
    return i;
}

static const char *uri_path(const char *uri) {
    return strncmp(uri, "file://", 7) ? uri : uri + 7;
}

static bool add_chunk(complete_data *d, const completion_chunk *from) {
    completion_chunk *c = &d->chunks[d->n_chunks];
    char *text = copy(from->text, from->len), *path = strdup(from->path);
    if (!text || !path) {
        free(text);
        free(path);
        return false;
    }
    *c = (completion_chunk){path, text, from->len};
    d->n_chunks++;
    return true;
}

static completion_doc doc_of(const lsp_doc *d) {
    return (completion_doc){.path = uri_path(d->uri),
                            .text = d->text,
                            .len = d->len,
                            .tree = lsp_syntax_tree(d->syntax),
                            .language_id = d->language_id,
                            .touched = d->touched,
                            .last_edit = d->last_edit};
}

/* Hands the open documents (the list's order: the most recently opened first) to completion/'s
 * context policy and copies the chunks it picks into the job. */
static void gather_context(lsp_server *s, const lsp_doc *doc, size_t cursor, complete_data *d) {
    if (s->opt.context_tokens < 0) return;
    int n = 0;
    for (const lsp_doc *o = s->docs; o; o = o->next) n += o != doc;
    completion_doc *docs = n ? malloc((size_t)n * sizeof *docs) : NULL;
    if (n && !docs) return;
    int k = 0;
    for (const lsp_doc *o = s->docs; o; o = o->next)
        if (o != doc) docs[k++] = doc_of(o);
    completion_doc self = doc_of(doc);
    completion_chunk found[MAX_CHUNKS];
    int nc = completion_gather(&self, cursor, docs, n, found, MAX_CHUNKS);
    for (int i = 0; i < nc; i++)
        if (!add_chunk(d, &found[i])) break;
    free(docs);
}

/* Copies what a job at byte off of doc needs: the text around it, the language, the cross-file
 * context, the (clamped) position and the uri. False when out of memory. */
static bool fill_at(lsp_server *s, const lsp_doc *doc, size_t off, lsp_job *j) {
    complete_data *d = j->data;
    size_t ps = off > PREFIX_BYTES ? char_start(doc->text, off, off - PREFIX_BYTES) : 0;
    size_t se = doc->len - off > SUFFIX_BYTES ? off + SUFFIX_BYTES : doc->len;
    while (se > off && se < doc->len && ((unsigned char)doc->text[se] & 0xC0) == 0x80) se--;
    d->prefix = copy(doc->text + ps, off - ps);
    d->prefix_len = off - ps;
    d->suffix = copy(doc->text + off, se - off);
    d->suffix_len = se - off;
    d->language_id = doc->language_id ? strdup(doc->language_id) : NULL;
    gather_context(s, doc, off, d);
    lsp_doc_position(doc, off, s->enc, &d->line, &d->character); /* the clamped position */
    j->uri = strdup(doc->uri);
    return d->prefix && d->suffix && j->uri;
}

static void handle_complete(lsp_server *s, json_t *id, json_t *params, bool inline_reply) {
    lsp_doc *doc = lsp_params_doc(s, id, params);
    if (!doc) return;
    json_int_t line, ch;
    json_error_t je;
    if (json_unpack_ex(params, &je, 0, "{s:{s:I, s:I}}", "position", "line", &line, "character",
                       &ch) ||
        line < 0 || ch < 0) {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS, "position: %s",
                        line < 0 || ch < 0 ? "negative" : je.text);
        return;
    }
    if (!s->model_path && !(s->worker && s->worker->remote)) {
        lsp_reply_error(s, id, LSP_REQUEST_FAILED,
                        "no completion model: set initializationOptions"
                        ".completionModel or --completion-model");
        return;
    }
    lsp_job *j = complete_job(s);
    if (!j) {
        lsp_reply_error(s, id, LSP_INTERNAL_ERROR, "out of memory");
        return;
    }
    complete_data *d = j->data;
    size_t off = lsp_doc_offset(doc, line, ch, s->enc);
    d->inline_reply = inline_reply;
    if (inline_reply && !stream_token(s, id, params, d)) {
        lsp_job_free(j);
        return;
    }
    j->id = json_incref(id);
    if (!fill_at(s, doc, off, j)) {
        lsp_job_free(j);
        lsp_reply_error(s, id, LSP_INTERNAL_ERROR, "out of memory");
        return;
    }
    lsp_ahead_requested(s, doc, off); /* prefills stop: this request goes first */
    lsp_submit(s, j);                 /* cancels this document's older completion */
}

/* ---- prefill: the next request's prompt, evaluated ahead of it (ahead.c decides when) ---- */

/* Between prefill chunks. Tests slow a tiny model's prefill down to a big model's pace
 * (debugPrefillChunkMs): each chunk first waits, watching the cancel flag. */
static bool prefill_cancelled(void *user) {
    lsp_job *j = user;
    const complete_data *d = j->data;
    struct timespec ms = {0, 1000 * 1000};
    for (int t = 0; t < d->debug_chunk_ms && !lsp_job_cancelled(j); t++) nanosleep(&ms, NULL);
    return lsp_job_cancelled(j);
}

static void prefill_run(lsp_job *j, void *worker_state) {
    lsp_worker *w = worker_state;
    complete_data *d = j->data;
    if (w->remote || !worker_load(w, d, d->model_path, d->err, sizeof d->err)) return;
    completion_set_params(w->engine, &d->params);
    completion_request r = request_of(j, d);
    r.cancelled = prefill_cancelled;
    d->ok = completion_prefill(w->engine, &r, &d->res, d->err, sizeof d->err);
}

static void prefill_done(lsp_server *s, lsp_job *j) {
    complete_data *d = j->data;
    lsp_prefill_stats *st = &s->ahead.stats;
    const completion_result *r = &d->res;
    if (!j->started || r->cancelled)
        st->cancelled++;
    else if (!d->ok)
        st->failed++;
    else
        st->finished++;
    st->evaluated += r->n_evaluated;
    st->refreshed += r->n_refreshed;
    st->last_why = d->why;
    st->last_prompt = r->n_prompt;
    st->last_reused = r->n_reused;
    st->last_evaluated = r->n_evaluated;
    st->last_ms = r->total_ms;
    if (j->started)
        lsp_log(s, LSP_LOG_DEBUG,
                "prefill (%s): prompt %d tokens (%d reused, %d evaluated, %d refreshed)%s, "
                "%.1f ms",
                d->why, r->n_prompt, r->n_reused, r->n_evaluated, r->n_refreshed,
                r->cancelled ? ", cancelled" : "", r->total_ms);
}

bool lsp_prefill_submit(lsp_server *s, const lsp_doc *doc, size_t off, const char *why) {
    if (!s->model_path || !s->worker || s->worker->remote) return false; /* nothing local to warm */
    lsp_job *j = complete_job(s);
    if (!j) return false;
    j->kind = "prefill";
    j->run = prefill_run;
    j->done = prefill_done;
    complete_data *d = j->data;
    d->why = why;
    d->debug_chunk_ms = s->ahead.debug_chunk_ms;
    if (!fill_at(s, doc, off, j)) {
        lsp_job_free(j);
        return false;
    }
    lsp_submit(s, j);
    return true;
}

static void inline_completion(lsp_server *s, json_t *id, json_t *params) {
    handle_complete(s, id, params, true);
}

static void completion(lsp_server *s, json_t *id, json_t *params) {
    handle_complete(s, id, params, false);
}

/* Settings from initializationOptions or workspace/didChangeConfiguration's settings.hearth. */
static void apply_settings(lsp_server *s, json_t *o) {
    json_t *model = json_object_get(o, "completionModel");
    json_t *threads = json_object_get(o, "threads"), *ctx = json_object_get(o, "contextSize");
    if (json_is_string(model)) {
        char *p = strdup(json_string_value(model));
        if (p) {
            free(s->model_path);
            s->model_path = p;
        }
    }
    if (json_is_integer(threads) && json_integer_value(threads) > 0 &&
        json_integer_value(threads) <= 1024)
        s->opt.n_threads = (int)json_integer_value(threads);
    if (json_is_integer(ctx) && json_integer_value(ctx) >= 64 &&
        json_integer_value(ctx) <= (1 << 20))
        s->opt.n_ctx = (int)json_integer_value(ctx);
    json_t *reuse = json_object_get(o, "kvReuse"), *layout = json_object_get(o, "lineInMiddle");
    json_t *budget = json_object_get(o, "maxPromptMs"), *maxt = json_object_get(o, "maxTokens");
    json_t *cx = json_object_get(o, "contextTokens"), *lookup = json_object_get(o, "lookupDraft");
    if (json_is_integer(lookup) && json_integer_value(lookup) >= 0 &&
        json_integer_value(lookup) <= 64)
        s->opt.lookup_draft = (int)json_integer_value(lookup); /* 0 = off, as everywhere */
    if (json_is_integer(cx) && json_integer_value(cx) >= 0 && json_integer_value(cx) <= 65536)
        s->opt.context_tokens = json_integer_value(cx) ? (int)json_integer_value(cx) : -1;
    if (json_is_boolean(reuse)) s->opt.no_kv_reuse = !json_is_true(reuse);
    json_t *shift = json_object_get(o, "kvShift");
    if (json_is_boolean(shift)) s->opt.no_kv_shift = !json_is_true(shift);
    if (json_is_boolean(layout)) s->opt.classic_layout = !json_is_true(layout);
    if (json_is_integer(budget) && json_integer_value(budget) >= 0 &&
        json_integer_value(budget) <= 600000)
        s->opt.max_prompt_ms = (int)json_integer_value(budget);
    if (json_is_integer(maxt) && json_integer_value(maxt) > 0 && json_integer_value(maxt) <= 4096)
        s->opt.max_tokens = (int)json_integer_value(maxt);
    json_t *cap = json_object_get(o, "maxGenMs");
    if (json_is_integer(cap) && json_integer_value(cap) >= 0 && json_integer_value(cap) <= 600000)
        s->opt.max_gen_ms = (int)json_integer_value(cap);
}

void lsp_complete_configure(lsp_server *s, json_t *options) {
    if (json_is_object(options)) apply_settings(s, options);
    if (json_is_object(options)) lsp_ahead_settings(s, options);
    if (s->worker && s->worker->cfg_err[0]) lsp_log(s, LSP_LOG_ERROR, "%s", s->worker->cfg_err);
    if (s->worker && s->worker->remote) { /* a local model loads only if the server is down */
        lsp_log(s, LSP_LOG_INFO, "completion: remote backend %s (model %s)",
                s->worker->remote->base_url,
                s->worker->remote->model ? s->worker->remote->model : "-");
        return;
    }
    if (!s->model_path) return;
    lsp_job *j = complete_job(s); /* load now, so the first keystroke does not wait for it */
    if (!j) return;
    lsp_progress_start(s, "hearth: loading the completion model", s->model_path);
    model_state(s, "loading", s->model_path, NULL);
    s->loading = j;
    lsp_submit(s, j);
}

static void did_change_configuration(lsp_server *s, json_t *id, json_t *params) {
    (void)id;
    json_t *hearth = json_object_get(json_object_get(params, "settings"), "hearth");
    if (json_is_object(hearth)) lsp_complete_configure(s, hearth);
    if (json_is_object(hearth)) lsp_commands_settings(s, hearth);
}

const lsp_method lsp_complete_methods[] = {
    {"textDocument/inlineCompletion", inline_completion, true},
    {"textDocument/completion", completion, true},
    {"workspace/didChangeConfiguration", did_change_configuration, false},
    {NULL, NULL, false},
};
