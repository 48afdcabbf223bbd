/* textDocument/inlineCompletion and textDocument/completion, answered by completion/ on the
 * worker thread. The loop copies what the worker needs (settings, the text around the cursor)
 * into the job; the worker alone owns the completion engine (model + KV cache). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "completion.h"
#include "lsp_internal.h"

/* Bytes of text around the cursor handed to the worker: far more than the token budgets use, so
 * the prompt is the same as with the whole document, without copying a huge file per keystroke. */
#define PREFIX_BYTES (256 * 1024)
#define SUFFIX_BYTES (64 * 1024)

struct lsp_worker {
    completion_engine *engine;
    char *path; /* the model engine holds (or failed to load: then engine is NULL) */
    char err[LSP_ERR_LEN];
};

lsp_worker *lsp_worker_new(void) {
    return calloc(1, sizeof(lsp_worker));
}

void lsp_worker_free(lsp_worker *w) {
    if (!w) return;
    completion_free(w->engine);
    free(w->path);
    free(w);
}

typedef struct {
    char *model_path;
    int n_threads, n_ctx;
    char *prefix, *suffix;
    size_t prefix_len, suffix_len;
    bool inline_reply; /* inlineCompletion (else completion) */
    int64_t line, character;
    bool ok;
    completion_result res;
    char err[LSP_ERR_LEN];
} complete_data;

static void complete_data_free(void *p) {
    complete_data *d = p;
    free(d->model_path);
    free(d->prefix);
    free(d->suffix);
    completion_result_free(&d->res);
    free(d);
}

/* Worker: (re)loads the model when the setting changed; remembers a failure for that path. */
static bool worker_load(lsp_worker *w, const complete_data *d, char *err, size_t errlen) {
    if (w->path && !strcmp(w->path, d->model_path)) {
        if (!w->engine) snprintf(err, errlen, "%s", w->err);
        return w->engine != NULL;
    }
    completion_free(w->engine);
    free(w->path);
    w->path = strdup(d->model_path);
    completion_params p;
    completion_params_init(&p);
    p.model_path = d->model_path;
    p.n_threads = d->n_threads;
    p.n_ctx = d->n_ctx;
    w->engine = completion_new(&p, w->err, sizeof w->err);
    if (!w->engine) snprintf(err, errlen, "%s", w->err);
    return w->engine != NULL;
}

static bool job_cancelled(void *user) {
    return atomic_load(&((lsp_job *)user)->cancel);
}

static void complete_run(lsp_job *j, void *worker_state) {
    complete_data *d = j->data;
    if (!worker_load(worker_state, d, d->err, sizeof d->err)) return;
    if (!d->prefix) { /* a load-only job */
        d->ok = true;
        return;
    }
    completion_request r = {d->prefix, d->prefix_len, d->suffix, d->suffix_len, job_cancelled, j};
    d->ok =
        completion_run(((lsp_worker *)worker_state)->engine, &r, &d->res, d->err, sizeof d->err);
}

static json_t *stats_json(const completion_result *r) {
    return json_pack("{s:i, s:i, s:i, s:i, s:f, s:f}", "nPrompt", r->n_prompt, "nReused",
                     r->n_reused, "nEvaluated", r->n_evaluated, "nGenerated", r->n_generated,
                     "promptMs", r->prompt_ms, "genMs", r->gen_ms);
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
    if (d->inline_reply)
        return json_pack("{s:o, s:o}", "items", items, "hearth", stats_json(&d->res));
    return json_pack("{s:b, s:o, s:o}", "isIncomplete", 1, "items", items, "hearth",
                     stats_json(&d->res));
}

static void complete_done(lsp_server *s, lsp_job *j) {
    complete_data *d = j->data;
    if (!j->id) {                      /* model loading */
        bool latest = s->loading == j; /* an older load's end must not end the newer progress */
        if (latest) s->loading = NULL;
        if (!j->started) { /* cancelled at shutdown */
            if (latest) lsp_progress_end(s, "cancelled");
            return;
        }
        if (d->ok)
            lsp_log(s, LSP_LOG_INFO, "completion model loaded: %s", d->model_path);
        else
            lsp_log(s, LSP_LOG_ERROR, "completion model: %s", d->err);
        if (latest) lsp_progress_end(s, d->ok ? "loaded" : d->err);
        return;
    }
    if (atomic_load(&j->cancel) && (!d->ok || d->res.cancelled || !j->started)) {
        lsp_reply_error(s, j->id, LSP_REQUEST_CANCELLED, "cancelled");
        return;
    }
    if (!d->ok) {
        lsp_reply_error(s, j->id, LSP_REQUEST_FAILED, "completion: %s", d->err);
        lsp_log(s, LSP_LOG_ERROR, "completion: %s", d->err);
        return;
    }
    lsp_log(s, LSP_LOG_DEBUG,
            "completion: prompt %d tokens (%d reused, %d evaluated), %d generated, "
            "%.1f + %.1f ms",
            d->res.n_prompt, d->res.n_reused, d->res.n_evaluated, d->res.n_generated,
            d->res.prompt_ms, d->res.gen_ms);
    lsp_reply(s, j->id, reply_json(d));
}

static lsp_job *complete_job(lsp_server *s) {
    lsp_job *j = lsp_job_new("complete", complete_run, complete_done);
    complete_data *d = calloc(1, sizeof *d);
    if (!j || !d || !(d->model_path = strdup(s->model_path))) {
        free(d);
        lsp_job_free(j);
        return NULL;
    }
    d->n_threads = s->opt.n_threads;
    d->n_ctx = s->opt.n_ctx;
    j->data = d;
    j->free_data = complete_data_free;
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
    if (!s->model_path) {
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
    size_t ps = off > PREFIX_BYTES ? char_start(doc->text, off, off - PREFIX_BYTES) : 0;
    size_t se = doc->len - off > SUFFIX_BYTES ? off + SUFFIX_BYTES : doc->len;
    while (se > off && se < doc->len && ((unsigned char)doc->text[se] & 0xC0) == 0x80) se--;
    d->prefix = copy(doc->text + ps, off - ps);
    d->prefix_len = off - ps;
    d->suffix = copy(doc->text + off, se - off);
    d->suffix_len = se - off;
    lsp_doc_position(doc, off, s->enc, &d->line, &d->character); /* the clamped position */
    d->inline_reply = inline_reply;
    j->uri = strdup(doc->uri);
    j->id = json_incref(id);
    if (!d->prefix || !d->suffix || !j->uri) {
        lsp_job_free(j);
        lsp_reply_error(s, id, LSP_INTERNAL_ERROR, "out of memory");
        return;
    }
    lsp_submit(s, j); /* cancels this document's older completion */
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
}

void lsp_complete_configure(lsp_server *s, json_t *options) {
    if (json_is_object(options)) apply_settings(s, options);
    if (!s->model_path) return;
    lsp_job *j = complete_job(s); /* load now, so the first keystroke does not wait for it */
    if (!j) return;
    lsp_progress_start(s, "hearth: loading the completion model", s->model_path);
    s->loading = j;
    lsp_submit(s, j);
}

static void did_change_configuration(lsp_server *s, json_t *id, json_t *params) {
    (void)id;
    json_t *hearth = json_object_get(json_object_get(params, "settings"), "hearth");
    if (json_is_object(hearth)) lsp_complete_configure(s, hearth);
}

const lsp_method lsp_complete_methods[] = {
    {"textDocument/inlineCompletion", inline_completion, true},
    {"textDocument/completion", completion, true},
    {"workspace/didChangeConfiguration", did_change_configuration, false},
    {NULL, NULL, false},
};
