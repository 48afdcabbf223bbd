/* workspace/executeCommand hearth.index and hearth.ask, and re-indexing on didSave.
 *
 * These run in the chat lane of the one scheduler thread (runtime/), completion in the FIM lane:
 * between two answer tokens (and between two index batches) the long job yields, and the
 * completions waiting then run inline before it goes on. The chat model is loaded on the first
 * hearth.ask and unloaded after chat_idle_s seconds without one.
 *
 * Protocol (what editor clients rely on):
 *   hearth.index, arguments [] or [{"root"?}]: $/progress begin/report/end on params.workDoneToken,
 *     or on a token the server creates (window/workDoneProgress/create) when the client supports
 *     it; reports carry "files", "filesTotal", "chunks" besides the message. Result {root, files,
 *     added, changed, deleted, unchanged, chunks, vectors, seconds}.
 *   hearth.ask, arguments ["question"] or [{"question", "k"?, "mode"?, "maxTokens"?}]: the answer
 *     streams as hearth/answer notifications {token, text, done: false}; the last one is
 *     {token, text: "", done: true, sources: Location[]}. token is params.workDoneToken if the
 *     client sent one, else the request's id. Result {answer, sources: Location[]}.
 * The scheduler thread sees only the plain C job data; JSON is built on the loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

/* ---- helpers ---- */

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

static void replace(char **slot, const char *value) {
    free(*slot);
    *slot = dup_or_null(value);
}

static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* file:///a%20b -> /a b; NULL for other schemes or an encoded NUL. */
static char *uri_to_path(const char *uri) {
    if (strncmp(uri, "file://", 7)) return NULL;
    const char *p = uri + 7;
    if (*p != '/') p = strchr(p, '/'); /* file://host/path: the host is ignored */
    if (!p) return NULL;
    char *out = malloc(strlen(p) + 1), *o = out;
    for (; out && *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 && (hi || lo)) {
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    if (out) *o = 0;
    return out;
}

char *lsp_path_to_uri(const char *root, const char *rel) {
    size_t n = strlen(root) + strlen(rel) + 2;
    char *out = malloc(7 + 3 * n + 1), *o = out;
    if (!out) return NULL;
    o += sprintf(o, "file://");
    for (int part = 0; part < 2; part++) {
        const char *p = part ? rel : root;
        if (part) *o++ = '/';
        for (; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                strchr("-._~/", c))
                *o++ = (char)c;
            else
                o += sprintf(o, "%%%02X", c);
        }
    }
    *o = 0;
    return out;
}

static bool has_index(const char *root) {
    char path[4096], *dir = index_dir(root);
    snprintf(path, sizeof path, "%s/index.sqlite", dir ? dir : "");
    free(dir);
    return access(path, F_OK) == 0;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- the worker -> loop stream ---- */

void lsp_commands_stream_push(lsp_commands *c, stream_msg *m) {
    uv_mutex_lock(&c->lock);
    m->next = NULL;
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    uv_mutex_unlock(&c->lock);
    uv_async_send(&c->async);
}

static void msg_free(stream_msg *m) {
    if (!m) return;
    free(m->token);
    free(m->text);
    free(m);
}

static void send_progress(lsp_server *s, const char *token, json_t *value) {
    json_t *tok = json_loads(token, JSON_DECODE_ANY, NULL);
    if (tok)
        lsp_notify(s, "$/progress", json_pack("{s:o, s:o}", "token", tok, "value", value));
    else
        json_decref(value);
}

static json_t *report_value(const stream_msg *m) {
    char text[128];
    snprintf(text, sizeof text, "%lld/%lld files, %lld chunks", (long long)m->files_done,
             (long long)m->files_total, (long long)m->chunks);
    int pct = m->files_total ? (int)(100 * m->files_done / m->files_total) : 0;
    return json_pack("{s:s, s:s, s:i, s:I, s:I, s:I}", "kind", "report", "message", text,
                     "percentage", pct, "files", (json_int_t)m->files_done, "filesTotal",
                     (json_int_t)m->files_total, "chunks", (json_int_t)m->chunks);
}

static void deliver(lsp_commands *c, stream_msg *m) {
    if (m->kind == MSG_ANSWER) {
        json_t *tok = json_loads(m->token, JSON_DECODE_ANY, NULL);
        if (tok)
            lsp_notify(c->s, "hearth/answer",
                       json_pack("{s:o, s:s, s:b}", "token", tok, "text", m->text, "done", 0));
        msg_free(m);
        return;
    }
    index_progress_state *p = &c->prog;
    if (!p->active || p->ended || m->serial != p->serial) {
        msg_free(m);
    } else if (p->acked) {
        send_progress(c->s, p->token, report_value(m));
        msg_free(m);
    } else { /* keep the newest until the client agrees to the token */
        msg_free(p->last);
        p->last = m;
    }
}

/* Loop thread: everything the workers queued, in order. */
void lsp_commands_drain(lsp_commands *c) {
    for (;;) {
        uv_mutex_lock(&c->lock);
        stream_msg *m = c->head;
        if (m) c->head = m->next;
        if (!c->head) c->tail = NULL;
        uv_mutex_unlock(&c->lock);
        if (!m) return;
        deliver(c, m);
    }
}

static void on_stream(uv_async_t *a) {
    lsp_commands_drain(a->data);
}

/* ---- index progress tokens ---- */

static void progress_begin(lsp_commands *c) {
    send_progress(c->s, c->prog.token,
                  json_pack("{s:s, s:s, s:s, s:b, s:i}", "kind", "begin", "title", "Indexing",
                            "message", "walking the repository", "cancellable", 0, "percentage",
                            0));
}

static void progress_finish(lsp_commands *c, const char *message) {
    index_progress_state *p = &c->prog;
    if (!p->active || p->ended) return;
    if (!p->acked) {
        replace(&p->end_message, message);
        return;
    }
    send_progress(c->s, p->token, json_pack("{s:s, s:s}", "kind", "end", "message", message));
    p->ended = true;
}

/* A new index build takes the progress over (the previous one is ended first). */
static void progress_open(lsp_commands *c, json_t *work_done_token) {
    static unsigned serial;
    progress_finish(c, "superseded");
    index_progress_state *p = &c->prog;
    msg_free(p->last);
    free(p->end_message);
    *p = (index_progress_state){.serial = ++serial};
    char *tok = work_done_token ? json_dumps(work_done_token, JSON_ENCODE_ANY) : NULL;
    if (tok && strlen(tok) < sizeof p->token) {
        snprintf(p->token, sizeof p->token, "%s", tok);
        p->active = p->acked = true;
        progress_begin(c);
    } else if (!tok && c->s->client_progress) {
        snprintf(p->token, sizeof p->token, "\"hearth/index/%u\"", p->serial);
        p->active = p->created_by_us = true;
        json_t *t = json_loads(p->token, JSON_DECODE_ANY, NULL);
        lsp_send(c->s, json_pack("{s:s, s:O, s:s, s:{s:o}}", "jsonrpc", "2.0", "id", t, "method",
                                 "window/workDoneProgress/create", "params", "token", t));
    }
    free(tok);
}

bool lsp_commands_response(lsp_server *s, json_t *id) {
    lsp_commands *c = s->commands;
    if (!c || !c->prog.active || !c->prog.created_by_us || c->prog.acked) return false;
    char *text = json_dumps(id, JSON_ENCODE_ANY);
    bool ours = text && !strcmp(text, c->prog.token);
    free(text);
    if (!ours) return false;
    c->prog.acked = true;
    progress_begin(c);
    if (c->prog.last) {
        send_progress(s, c->prog.token, report_value(c->prog.last));
        msg_free(c->prog.last);
        c->prog.last = NULL;
    }
    if (c->prog.end_message) progress_finish(c, c->prog.end_message);
    return true;
}

/* ---- hearth.index and re-indexing on save ---- */

typedef struct {
    lsp_commands *c;
    lsp_job *job;
    char *root, *embed_model;
    int n_threads;
    bool reply;      /* a hearth.index request (else a didSave re-index: log only) */
    unsigned serial; /* its progress (index_progress_state.serial) */
    double last_report;
    bool ok;
    index_build_stats st;
    char err[INDEX_ERR_LEN];
} index_data;

static void index_data_free(void *p) {
    index_data *d = p;
    index_build_stats_free(&d->st);
    free(d->root);
    free(d->embed_model);
    free(d);
}

static void on_index_progress(const index_progress *p, void *user) {
    index_data *d = user;
    lsp_job_yield(d->job); /* between batches: completion first (cancel: index_cancelled) */
    double t = now_s();
    if (!d->reply || (!p->final && t - d->last_report < PROGRESS_EVERY)) return;
    d->last_report = t;
    stream_msg *m = calloc(1, sizeof *m);
    if (!m) return;
    *m = (stream_msg){MSG_PROGRESS,   NULL,      NULL,      p->files_done,
                      p->files_total, p->chunks, d->serial, NULL};
    lsp_commands_stream_push(d->c, m);
}

static bool index_cancelled(void *user) {
    return lsp_job_cancelled(((index_data *)user)->job);
}

/* The embedding model comes from the registry, shared with hearth.ask (and completion when it
 * is the same file): a model file is loaded once per process. */
static void index_run(lsp_job *j, void *worker_state) {
    index_data *d = j->data;
    d->job = j;
    char *name = d->embed_model ? strdup(d->embed_model) : index_embed_model(d->root);
    embed_service *embed = NULL;
    bool wants_vectors = name != NULL;
    if (name) embed = lsp_bg_embedder(worker_state, name, d->n_threads, d->err, sizeof d->err);
    free(name);
    if (wants_vectors && !embed) return;
    bg_worker *w = worker_state;
    index_build_params p = {.root = d->root,
                            .embed_model = embed ? w->embed_file : NULL,
                            .embed = embed,
                            .n_threads = d->n_threads,
                            .progress = on_index_progress,
                            .cancelled = index_cancelled,
                            .user = d};
    d->ok = index_build(&p, &d->st, d->err, sizeof d->err);
}

static void index_done(lsp_server *s, lsp_job *j) {
    index_data *d = j->data;
    lsp_commands *c = s->commands;
    lsp_commands_drain(c); /* the last reports go out before the end */
    if (!j->started) snprintf(d->err, sizeof d->err, "cancelled");
    bool ok = j->started && d->ok;
    char summary[256];
    snprintf(summary, sizeof summary, "%lld files, %lld chunks written",
             (long long)d->st.files_indexed, (long long)d->st.chunks_written);
    if (!d->reply) {
        if (ok)
            lsp_log(s, LSP_LOG_INFO,
                    "re-indexed %s: %lld added, %lld changed, %lld deleted, %lld unchanged",
                    d->root, (long long)d->st.added, (long long)d->st.changed,
                    (long long)d->st.deleted, (long long)d->st.unchanged);
        else
            lsp_log(s, LSP_LOG_WARNING, "re-index of %s: %s", d->root, d->err);
        return;
    }
    if (d->serial == c->prog.serial) progress_finish(c, ok ? summary : d->err);
    if (!ok) {
        lsp_reply_error(s, j->id, lsp_job_cancelled(j) ? LSP_REQUEST_CANCELLED : LSP_REQUEST_FAILED,
                        "hearth.index: %s", d->err);
        return;
    }
    lsp_reply(s, j->id,
              json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "root", d->root, "files",
                        (json_int_t)d->st.files_indexed, "added", (json_int_t)d->st.added,
                        "changed", (json_int_t)d->st.changed, "deleted", (json_int_t)d->st.deleted,
                        "unchanged", (json_int_t)d->st.unchanged, "chunks",
                        (json_int_t)d->st.chunks_written, "vectors",
                        (json_int_t)d->st.vectors_written, "seconds", d->st.seconds));
}

void lsp_commands_submit_bg(lsp_server *s, lsp_job *j) {
    if (j->uri && j->kind) lsp_cancel_jobs(s, j->uri, j->kind);
    j->state = &s->commands->worker;
    j->live_next = s->live;
    s->live = j;
    lsp_sched_submit(s->sched, j);
}

/* root: the argument's, else the workspace's; NULL after answering id with an error. */
const char *lsp_commands_root_for(lsp_server *s, json_t *id, json_t *arg) {
    const char *root = json_string_value(json_object_get(arg, "root"));
    if (!root) root = s->commands->root;
    if (!root)
        lsp_reply_error(s, id, LSP_INVALID_PARAMS,
                        "no workspace root: initialize with rootUri or workspaceFolders, or pass "
                        "{\"root\": PATH}");
    return root;
}

static bool submit_index(lsp_server *s, json_t *id, const char *root) {
    lsp_job *j = lsp_job_new(id ? "index" : "reindex", RUNTIME_LANE_CHAT, index_run, index_done);
    index_data *d = calloc(1, sizeof *d);
    if (!j || !d || !(d->root = strdup(root)) ||
        (s->commands->embed_model && !(d->embed_model = strdup(s->commands->embed_model))) ||
        !(j->uri = strdup(root))) {
        if (d) index_data_free(d);
        lsp_job_free(j);
        return false;
    }
    d->c = s->commands;
    d->n_threads = s->opt.n_threads;
    d->reply = id != NULL;
    d->serial = s->commands->prog.serial;
    j->data = d;
    j->free_data = index_data_free;
    j->id = id ? json_incref(id) : NULL;
    lsp_commands_submit_bg(s, j);
    return true;
}

static void command_index(lsp_server *s, json_t *id, json_t *params, json_t *arg) {
    const char *root = lsp_commands_root_for(s, id, arg);
    if (!root) return;
    progress_open(s->commands, json_object_get(params, "workDoneToken"));
    if (!submit_index(s, id, root)) {
        progress_finish(s->commands, "out of memory");
        lsp_reply_error(s, id, LSP_INTERNAL_ERROR, "out of memory");
    }
}

void lsp_commands_did_save(lsp_server *s, const char *uri) {
    lsp_commands *c = s->commands;
    char *path = c && s->sched && c->root ? uri_to_path(uri) : NULL;
    size_t n = c && c->root ? strlen(c->root) : 0;
    /* Only files of the workspace, and only once it has an index (hearth.index makes one). */
    if (path && !strncmp(path, c->root, n) && path[n] == '/' && has_index(c->root) &&
        !submit_index(s, NULL, c->root))
        lsp_log(s, LSP_LOG_ERROR, "re-index: out of memory");
    free(path);
}

/* ---- workspace/executeCommand ---- */

static void execute_command(lsp_server *s, json_t *id, json_t *params) {
    const char *cmd = json_string_value(json_object_get(params, "command"));
    json_t *args = json_object_get(params, "arguments");
    json_t *arg = json_array_get(args, 0); /* NULL when absent */
    if (!cmd) {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS, "executeCommand needs a string command");
    } else if (!s->commands || !s->sched) {
        lsp_reply_error(s, id, LSP_REQUEST_FAILED, "%s: not available in this server", cmd);
    } else if (args && !json_is_array(args)) {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS, "arguments must be an array");
    } else if (!strcmp(cmd, "hearth.index")) {
        command_index(s, id, params, arg);
    } else if (!strcmp(cmd, "hearth.ask")) {
        lsp_command_ask(s, id, params, arg);
    } else {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS, "unknown command %s", cmd);
    }
}

const lsp_method lsp_command_methods[] = {
    {"workspace/executeCommand", execute_command, true},
    {NULL, NULL, false},
};

json_t *lsp_commands_capability(void) {
    return json_pack("{s:[s, s]}", "commands", "hearth.ask", "hearth.index");
}

/* Says at once when a model name does not resolve (a few stat calls; the load is on use). */
static void check_model(lsp_server *s, const char *name, models_role role) {
    char err[RUNTIME_ERR_LEN];
    char *path = name ? runtime_resolve(name, role, err, sizeof err) : NULL;
    if (name && !path) lsp_show_error(s, "hearth: %s", err);
    free(path);
}

void lsp_commands_settings(lsp_server *s, json_t *o) {
    lsp_commands *c = s->commands;
    if (!c) return;
    const char *chat = json_string_value(json_object_get(o, "chatModel"));
    const char *embed = json_string_value(json_object_get(o, "embeddingModel"));
    if (chat) replace(&c->chat_model, chat);
    if (embed) replace(&c->embed_model, embed);
    if (chat) check_model(s, c->chat_model, MODELS_ROLE_CHAT);
    if (embed) check_model(s, c->embed_model, MODELS_ROLE_EMBEDDING);
}

/* The workspace root (rootUri, else the first workspace folder, else rootPath) and the
 * settings of initializationOptions: chatModel, embeddingModel, chatIdleSeconds,
 * chatContextSize, indexRoot (wins over the workspace), indexLocation ("repo" or "cache"). */
void lsp_commands_configure(lsp_server *s, json_t *params) {
    lsp_commands *c = s->commands;
    if (!c) return;
    json_t *o = json_object_get(params, "initializationOptions");
    const char *uri = json_string_value(json_object_get(params, "rootUri"));
    if (!uri)
        uri = json_string_value(
            json_object_get(json_array_get(json_object_get(params, "workspaceFolders"), 0), "uri"));
    char *root = uri ? uri_to_path(uri) : NULL;
    const char *path = json_string_value(json_object_get(o, "indexRoot"));
    if (!path) path = root ? root : json_string_value(json_object_get(params, "rootPath"));
    replace(&c->root, path);
    free(root);
    if (c->root && strlen(c->root) > 1 && c->root[strlen(c->root) - 1] == '/')
        c->root[strlen(c->root) - 1] = 0;
    const char *where = json_string_value(json_object_get(o, "indexLocation"));
    if (where && !index_set_location(where))
        lsp_log(s, LSP_LOG_ERROR, "indexLocation must be \"repo\" or \"cache\", not %s", where);
    lsp_commands_settings(s, o);
    json_t *idle = json_object_get(o, "chatIdleSeconds"),
           *ctx = json_object_get(o, "chatContextSize");
    if (json_is_integer(idle) && json_integer_value(idle) >= 0 &&
        json_integer_value(idle) < 1 << 24)
        c->chat_idle_s = (int)json_integer_value(idle);
    if (json_is_integer(ctx) && json_integer_value(ctx) >= 256 &&
        json_integer_value(ctx) <= 1 << 20)
        c->chat_ctx = (int)json_integer_value(ctx);
}

/* ---- life cycle ---- */

lsp_commands *lsp_commands_new(lsp_server *s, char *err, size_t errlen) {
    lsp_commands *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->s = s;
    c->chat_idle_s = s->opt.chat_idle_s > 0 ? s->opt.chat_idle_s : CHAT_IDLE_S;
    c->chat_ctx = CHAT_CTX;
    c->chat_model = dup_or_null(s->opt.chat_model);
    c->embed_model = dup_or_null(s->opt.embedding_model);
    c->worker.rt = s->rt;
    uv_mutex_init(&c->lock);
    uv_async_init(&s->loop, &c->async, on_stream);
    uv_timer_init(&s->loop, &c->idle);
    c->async.data = c->idle.data = c;
    c->handles_open = true;
    return c;
}

void lsp_commands_stop(lsp_commands *c) {
    if (!c) return;
    if (!c->handles_open) return;
    lsp_commands_drain(c);
    c->handles_open = false;
    uv_close((uv_handle_t *)&c->async, NULL);
    uv_close((uv_handle_t *)&c->idle, NULL);
}

void lsp_commands_free(lsp_commands *c) {
    if (!c) return;
    lsp_bg_worker_free(&c->worker);
    for (stream_msg *m = c->head, *next; m; m = next) {
        next = m->next;
        msg_free(m);
    }
    msg_free(c->prog.last);
    free(c->prog.end_message);
    uv_mutex_destroy(&c->lock);
    free(c->root);
    free(c->chat_model);
    free(c->embed_model);
    free(c);
}
