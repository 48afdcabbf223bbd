/* The server: a libuv loop reading framed JSON-RPC from the client, dispatching it by lifecycle
 * state, and writing replies. Everything here runs on the loop thread. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "completion.h"
#include "lsp_internal.h"

void lsp_options_init(lsp_options *o) {
    memset(o, 0, sizeof *o);
    o->lookup_draft = COMPLETION_LOOKUP_DRAFT; /* completion/'s defaults, as every front end */
    o->max_prompt_ms = COMPLETION_MAX_PROMPT_MS;
    o->max_gen_ms = COMPLETION_MAX_GEN_MS;
}

/* ---- writing ---- */

typedef struct {
    uv_write_t req;
    char *data;
} write_req;

static void on_written(uv_write_t *req, int status) {
    (void)status; /* a client that went away is noticed by the reader (EOF) */
    write_req *w = (write_req *)req;
    free(w->data);
    free(w);
}

void lsp_send(lsp_server *s, json_t *msg) {
    char *body = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (body && s->sink) s->sink(s->sink_user, body, strlen(body));
    if (!body || !s->out || uv_is_closing((uv_handle_t *)s->out)) {
        free(body);
        return;
    }
    write_req *w = calloc(1, sizeof *w);
    size_t n = 0;
    if (w) w->data = lsp_frame_encode(body, strlen(body), &n);
    free(body);
    if (!w || !w->data) {
        free(w);
        return;
    }
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->req, s->out, &buf, 1, on_written)) {
        free(w->data);
        free(w);
    }
}

static json_t *envelope(json_t *id) {
    return json_pack("{s:s, s:O}", "jsonrpc", "2.0", "id", id ? id : json_null());
}

void lsp_reply(lsp_server *s, json_t *id, json_t *result) {
    json_t *msg = envelope(id);
    json_object_set_new(msg, "result", result ? result : json_null());
    lsp_send(s, msg);
}

void lsp_reply_error(lsp_server *s, json_t *id, int code, const char *fmt, ...) {
    char text[LSP_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *msg = envelope(id);
    json_object_set_new(msg, "error", json_pack("{s:i, s:s}", "code", code, "message", text));
    lsp_send(s, msg);
}

void lsp_notify(lsp_server *s, const char *method, json_t *params) {
    json_t *msg = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
    json_object_set_new(msg, "params", params ? params : json_object());
    lsp_send(s, msg);
}

void lsp_log(lsp_server *s, int type, const char *fmt, ...) {
    char text[LSP_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    lsp_notify(s, "window/logMessage", json_pack("{s:i, s:s}", "type", type, "message", text));
}

void lsp_show_error(lsp_server *s, const char *fmt, ...) {
    char text[2 * LSP_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    lsp_notify(s, "window/showMessage", json_pack("{s:i, s:s}", "type", 1, "message", text));
    lsp_notify(s, "window/logMessage", json_pack("{s:i, s:s}", "type", 1, "message", text));
}

/* ---- jobs ---- */

void lsp_submit(lsp_server *s, lsp_job *j) {
    if (j->uri && j->kind) lsp_cancel_jobs(s, j->uri, j->kind);
    if (!j->state) j->state = s->worker;
    j->live_next = s->live;
    s->live = j;
    lsp_sched_submit(s->sched, j);
}

void lsp_cancel_jobs(lsp_server *s, const char *uri, const char *kind) {
    for (lsp_job *j = s->live; j; j = j->live_next) {
        if (uri && (!j->uri || strcmp(j->uri, uri))) continue;
        if (kind && (!j->kind || strcmp(j->kind, kind))) continue;
        runtime_job_cancel(&j->rt);
    }
}

void lsp_live_remove(lsp_server *s, lsp_job *j) {
    for (lsp_job **p = &s->live; *p; p = &(*p)->live_next)
        if (*p == j) {
            *p = j->live_next;
            return;
        }
}

static void cancel_request(lsp_server *s, json_t *id, json_t *params) {
    (void)id;
    json_t *target = json_object_get(params, "id");
    for (lsp_job *j = s->live; j; j = j->live_next)
        if (j->id && target && json_equal(j->id, target)) runtime_job_cancel(&j->rt);
}

/* ---- lifecycle ---- */

static void on_closed(uv_handle_t *h) {
    (void)h;
}

static void on_out_shutdown(uv_shutdown_t *req, int status) {
    (void)status;
    uv_close((uv_handle_t *)req->handle, on_closed);
}

/* Stops reading, stops the scheduler (answering its requests), flushes and closes. */
static void server_stop(lsp_server *s, int exit_code) {
    if (s->stopping) return;
    s->stopping = true;
    s->exit_code = exit_code;
    if (s->in) {
        uv_read_stop(s->in);
        uv_close((uv_handle_t *)s->in, on_closed);
    }
    lsp_cancel_jobs(s, NULL, NULL);
    lsp_ahead_stop(s);
    if (s->sched) lsp_sched_stop(s->sched); /* the jobs' last stream messages are queued */
    lsp_commands_stop(s->commands);
    if (s->out && uv_shutdown(&s->out_shutdown, s->out, on_out_shutdown))
        uv_close((uv_handle_t *)s->out, on_closed);
}

static void handle_shutdown(lsp_server *s, json_t *id, json_t *params) {
    (void)params;
    s->state = LSP_STATE_SHUTDOWN;
    lsp_cancel_jobs(s, NULL, NULL);
    lsp_reply(s, id, NULL);
}

static const lsp_method *find_method(const char *name) {
    static const lsp_method *const tables[] = {lsp_doc_methods, lsp_complete_methods,
                                               lsp_command_methods, lsp_ahead_methods};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const lsp_method *m = tables[t]; m->method; m++)
            if (!strcmp(m->method, name)) return m;
    return NULL;
}

/* Requests have an id (then exactly one reply is owed), notifications do not. */
static void dispatch(lsp_server *s, const char *method, json_t *id, json_t *params) {
    if (!strcmp(method, "exit")) {
        server_stop(s, s->state == LSP_STATE_SHUTDOWN ? 0 : 1);
        return;
    }
    if (!strcmp(method, "$/cancelRequest")) {
        cancel_request(s, id, params);
        return;
    }
    if (s->state == LSP_STATE_NEW && strcmp(method, "initialize")) {
        if (id) lsp_reply_error(s, id, LSP_SERVER_NOT_INITIALIZED, "server not initialized");
        return; /* notifications before initialize are dropped, as the spec says */
    }
    if (s->state == LSP_STATE_SHUTDOWN) {
        if (id) lsp_reply_error(s, id, LSP_INVALID_REQUEST, "server is shutting down");
        return;
    }
    if (!strcmp(method, "initialize") || !strcmp(method, "shutdown")) {
        if (!id) return;
        if (!strcmp(method, "shutdown"))
            handle_shutdown(s, id, params);
        else if (s->state != LSP_STATE_NEW)
            lsp_reply_error(s, id, LSP_INVALID_REQUEST, "initialize was already received");
        else
            lsp_handle_initialize(s, id, params);
        return;
    }
    const lsp_method *m = find_method(method);
    if (!m) {
        if (id) lsp_reply_error(s, id, LSP_METHOD_NOT_FOUND, "unknown method %s", method);
        return; /* unknown notifications ("$/..." or not) may be ignored */
    }
    if (m->request != (id != NULL)) {
        if (id)
            lsp_reply_error(s, id, LSP_INVALID_REQUEST, "%s is a notification", method);
        else
            lsp_log(s, LSP_LOG_WARNING, "%s is a request but came without an id", method);
        return;
    }
    m->fn(s, id, params);
}

/* Checks the JSON-RPC envelope; answers what is malformed. */
static void handle_message(lsp_server *s, const char *body, size_t len) {
    json_error_t je;
    json_t *msg = lsp_json_parse(body, len, &je);
    if (!msg) {
        lsp_reply_error(s, NULL, LSP_PARSE_ERROR, "invalid JSON: %s (line %d, column %d)", je.text,
                        je.line, je.column);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    json_t *params = json_object_get(msg, "params");
    json_t *version = json_object_get(msg, "jsonrpc");
    if (json_is_null(params)) params = NULL; /* what clients send for "no params" */
    if (id && !json_is_integer(id) && !json_is_string(id)) id = NULL;
    if (!json_is_object(msg)) {
        lsp_reply_error(s, NULL, LSP_INVALID_REQUEST, "a message must be a JSON object");
    } else if (!json_is_string(version) || strcmp(json_string_value(version), "2.0")) {
        lsp_reply_error(s, id, LSP_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
    } else if (!method && id && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
        /* a response to a request of ours: only progress tokens ask for one (an error reply
         * means no progress is shown, which needs no action) */
        if (!json_object_get(msg, "error") && !lsp_progress_response(s, id))
            lsp_commands_response(s, id);
    } else if (!json_is_string(method) || (json_object_get(msg, "id") && !id)) {
        lsp_reply_error(s, id, LSP_INVALID_REQUEST,
                        "a request needs a string method and an "
                        "integer or string id");
    } else if (params && !json_is_object(params) && !json_is_array(params)) {
        if (id) lsp_reply_error(s, id, LSP_INVALID_PARAMS, "params must be an object or array");
    } else {
        dispatch(s, json_string_value(method), id, params);
    }
    json_decref(msg);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    lsp_server *s = h->data;
    *buf = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

void lsp_server_feed(lsp_server *s, const char *data, size_t n) {
    if (!lsp_framer_push(&s->framer, data, n)) {
        lsp_framer_free(&s->framer); /* out of memory: drop what is buffered, keep serving */
        lsp_log(s, LSP_LOG_ERROR, "out of memory reading a message; input dropped");
        return;
    }
    while (!s->stopping) {
        const char *body;
        size_t len;
        char err[LSP_ERR_LEN];
        lsp_frame_status st = lsp_framer_next(&s->framer, &body, &len, err, sizeof err);
        if (st == LSP_FRAME_MORE) break;
        if (st == LSP_FRAME_BAD)
            lsp_reply_error(s, NULL, LSP_PARSE_ERROR, "bad frame: %s", err);
        else
            handle_message(s, body, len);
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    lsp_server *s = stream->data;
    if (nread < 0) { /* EOF or error: the client is gone */
        server_stop(s, s->state == LSP_STATE_SHUTDOWN ? 0 : 1);
        return;
    }
    lsp_server_feed(s, buf->base, (size_t)nread);
}

/* ---- start-up ---- */

static uv_stream_t *open_stream(uv_loop_t *loop, int fd, bool readable, char *err, size_t errlen) {
    uv_handle_type t = uv_guess_handle(fd);
    if (t == UV_NAMED_PIPE) {
        uv_pipe_t *p = malloc(sizeof *p);
        if (p && !uv_pipe_init(loop, p, 0) && !uv_pipe_open(p, fd)) return (uv_stream_t *)p;
        free(p);
    } else if (t == UV_TTY) {
        uv_tty_t *tty = malloc(sizeof *tty);
        if (tty && !uv_tty_init(loop, tty, fd, readable)) return (uv_stream_t *)tty;
        free(tty);
    }
    snprintf(err, errlen, "%s must be a pipe or a terminal", readable ? "stdin" : "stdout");
    return NULL;
}

static void free_handle(uv_handle_t *h) {
    free(h);
}

static void server_free(lsp_server *s) {
    while (s->docs) {
        lsp_doc *d = s->docs;
        s->docs = d->next;
        lsp_doc_free(d);
    }
    lsp_framer_free(&s->framer);
    lsp_sched_free(s->sched);
    lsp_commands_free(s->commands);
    lsp_worker_free(s->worker);
    runtime_registry_free(s->rt); /* after the workers released their models */
    lsp_progress_free(s->progress);
    lsp_ahead_free(s);
    free(s->model_path);
    free(s);
}

static bool server_start(lsp_server *s, int in_fd, int out_fd, char *err, size_t errlen) {
    s->in = open_stream(&s->loop, in_fd, true, err, errlen);
    if (!s->in) return false;
    s->out = open_stream(&s->loop, out_fd, false, err, errlen);
    if (!s->out) return false;
    s->in->data = s->out->data = s;
    s->rt = runtime_registry_new(0); /* idle models: the chat idle timer, then a sweep */
    s->worker = s->rt ? lsp_worker_new(s->rt) : NULL;
    if (!s->worker) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    s->sched = lsp_sched_new(s, &s->loop, err, errlen);
    if (!s->sched) return false;
    s->commands = lsp_commands_new(s, err, errlen);
    if (!s->commands) return false;
    int rc = uv_read_start(s->in, on_alloc, on_read);
    if (rc) snprintf(err, errlen, "cannot read stdin: %s", uv_strerror(rc));
    return rc == 0;
}

int lsp_server_run(const lsp_options *opt, int in_fd, int out_fd, char *err, size_t errlen) {
    if (!lsp_syntax_check(err, errlen)) return -1;
    signal(SIGPIPE, SIG_IGN); /* a client that vanishes must not kill us mid-write */
    lsp_server *s = calloc(1, sizeof *s);
    if (!s || uv_loop_init(&s->loop)) {
        free(s);
        snprintf(err, errlen, "cannot create the event loop");
        return -1;
    }
    s->opt = *opt;
    if (opt->completion_model) s->model_path = strdup(opt->completion_model);
    bool ok = server_start(s, in_fd, out_fd, err, errlen);
    if (!ok) {
        if (s->sched) lsp_sched_stop(s->sched);
        lsp_commands_stop(s->commands);
        if (s->in) uv_close((uv_handle_t *)s->in, free_handle);
        if (s->out) uv_close((uv_handle_t *)s->out, free_handle);
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    int code = ok ? s->exit_code : -1;
    if (ok) {
        free(s->in);
        free(s->out);
    }
    uv_loop_close(&s->loop);
    server_free(s);
    return code;
}

/* ---- detached servers (fuzzing, unit tests): no streams, replies are dropped ---- */

lsp_server *lsp_server_new_detached(char *err, size_t errlen) {
    lsp_server *s = calloc(1, sizeof *s);
    if (!s || uv_loop_init(&s->loop)) {
        free(s);
        snprintf(err, errlen, "cannot create the event loop");
        return NULL;
    }
    s->rt = runtime_registry_new(0);
    s->worker = s->rt ? lsp_worker_new(s->rt) : NULL;
    s->sched = s->worker ? lsp_sched_new(s, &s->loop, err, errlen) : NULL;
    if (!s->sched) {
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        server_free(s);
        return NULL;
    }
    return s;
}

int lsp_server_free_detached(lsp_server *s) {
    server_stop(s, s->state == LSP_STATE_SHUTDOWN ? 0 : 1);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    int code = s->exit_code;
    uv_loop_close(&s->loop);
    server_free(s);
    return code;
}
