/* initialize and the document methods: didOpen, didChange (incremental and full), didSave,
 * didClose, plus hearth/debugDocument and hearth/debugWork, which let tests see the server's
 * state (text, tree) and exercise the scheduler without a model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lsp_internal.h"

#define HEARTH_VERSION "0.1.0"

static bool offers_utf8(json_t *params) {
    json_t *encs = json_object_get(
        json_object_get(json_object_get(params, "capabilities"), "general"), "positionEncodings");
    size_t i;
    json_t *e;
    json_array_foreach(encs, i, e) if (json_is_string(e) &&
                                       !strcmp(json_string_value(e), "utf-8")) return true;
    return false;
}

void lsp_handle_initialize(lsp_server *s, json_t *id, json_t *params) {
    if (!json_is_object(params)) {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS, "initialize needs an object of params");
        return;
    }
    s->enc = offers_utf8(params) ? LSP_ENC_UTF8 : LSP_ENC_UTF16;
    s->client_progress = json_is_true(json_object_get(
        json_object_get(json_object_get(params, "capabilities"), "window"), "workDoneProgress"));
    s->model_status = json_is_true(
        json_object_get(json_object_get(params, "initializationOptions"), "modelStatus"));
    s->state = LSP_STATE_RUNNING;
    json_t *caps =
        json_pack("{s:s, s:{s:b, s:i, s:{s:b}}, s:{s:b, s:[]}, s:{}}", "positionEncoding",
                  s->enc == LSP_ENC_UTF8 ? "utf-8" : "utf-16", "textDocumentSync", "openClose", 1,
                  "change", 2 /* incremental */, "save", "includeText", 0, "completionProvider",
                  "resolveProvider", 0, "triggerCharacters", "inlineCompletionProvider");
    json_object_set_new(caps, "executeCommandProvider", lsp_commands_capability());
    /* inlineCompletion streams with params.hearth.stream (complete.c) */
    json_object_set_new(caps, "experimental",
                        json_pack("{s:{s:b}}", "hearth", "streamSuggestions", 1));
    lsp_reply(s, id,
              json_pack("{s:o, s:{s:s, s:s}}", "capabilities", caps, "serverInfo", "name", "hearth",
                        "version", HEARTH_VERSION));
    lsp_complete_configure(s, json_object_get(params, "initializationOptions"));
    lsp_commands_configure(s, params);
}

lsp_doc *lsp_doc_find(lsp_server *s, const char *uri) {
    for (lsp_doc *d = s->docs; d; d = d->next)
        if (!strcmp(d->uri, uri)) return d;
    return NULL;
}

static void doc_remove(lsp_server *s, const char *uri) {
    for (lsp_doc **p = &s->docs; *p; p = &(*p)->next)
        if (!strcmp((*p)->uri, uri)) {
            lsp_doc *d = *p;
            *p = d->next;
            lsp_doc_free(d);
            return;
        }
}

lsp_doc *lsp_params_doc(lsp_server *s, json_t *id, json_t *params) {
    json_error_t je;
    const char *uri;
    if (json_unpack_ex(params, &je, 0, "{s:{s:s}}", "textDocument", "uri", &uri)) {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS, "%s", je.text);
        return NULL;
    }
    lsp_doc *d = lsp_doc_find(s, uri);
    if (!d) lsp_reply_error(s, id, LSP_INVALID_PARAMS, "document not open: %s", uri);
    return d;
}

static void reparse(lsp_server *s, lsp_doc *d) {
    if (d->syntax && !lsp_syntax_parse(d->syntax, d->text, d->len))
        lsp_log(s, LSP_LOG_WARNING, "%s: no syntax tree (%s)", d->uri,
                d->len > LSP_SYNTAX_MAX_BYTES ? "over the 4 MiB parse limit"
                                              : "tree-sitter gave up");
}

static void did_open(lsp_server *s, json_t *id, json_t *params) {
    (void)id;
    json_error_t je;
    const char *uri, *lang, *text;
    size_t len;
    json_int_t version;
    if (json_unpack_ex(params, &je, 0, "{s:{s:s, s:s, s:I, s:s%}}", "textDocument", "uri", &uri,
                       "languageId", &lang, "version", &version, "text", &text, &len)) {
        lsp_log(s, LSP_LOG_ERROR, "didOpen: %s", je.text);
        return;
    }
    doc_remove(s, uri); /* a second open replaces the first */
    lsp_doc *d = lsp_doc_new(uri, lang, version, text, len);
    if (!d) {
        lsp_log(s, LSP_LOG_ERROR, "didOpen: out of memory");
        return;
    }
    d->syntax = lsp_syntax_new(lang);
    reparse(s, d);
    d->next = s->docs;
    s->docs = d;
    lsp_ahead_opened(s, d);
}

/* Checks every change before applying any, so a bad one leaves the document as it was. */
static bool changes_valid(json_t *changes, char *err, size_t errlen) {
    if (!json_is_array(changes)) {
        snprintf(err, errlen, "contentChanges must be an array");
        return false;
    }
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c) {
        json_error_t je;
        json_int_t a, b, x, y;
        const char *text;
        if (json_unpack_ex(c, &je, 0, "{s:s}", "text", &text) ||
            (json_object_get(c, "range") &&
             json_unpack_ex(c, &je, 0, "{s:{s:{s:I, s:I}, s:{s:I, s:I}}}", "range", "start", "line",
                            &a, "character", &b, "end", "line", &x, "character", &y))) {
            snprintf(err, errlen, "change %zu: %s", i, je.text);
            return false;
        }
        if (json_object_get(c, "range") && (a < 0 || b < 0 || x < 0 || y < 0)) {
            snprintf(err, errlen, "change %zu: negative position", i);
            return false;
        }
    }
    return true;
}

/* Applies one change; *end is where its text ends when it has a range (the cursor's likely
 * place), else SIZE_MAX. */
static bool apply_change(lsp_server *s, lsp_doc *d, json_t *c, size_t *end) {
    const char *text = json_string_value(json_object_get(c, "text"));
    size_t len = json_string_length(json_object_get(c, "text"));
    lsp_edit e = {0, d->len, 0};
    json_t *range = json_object_get(c, "range");
    if (range) {
        json_t *a = json_object_get(range, "start"), *b = json_object_get(range, "end");
        e.start = lsp_doc_offset(d, json_integer_value(json_object_get(a, "line")),
                                 json_integer_value(json_object_get(a, "character")), s->enc);
        e.old_end = lsp_doc_offset(d, json_integer_value(json_object_get(b, "line")),
                                   json_integer_value(json_object_get(b, "character")), s->enc);
        if (e.start > e.old_end) { /* a reversed range: take it as the span it names */
            size_t t = e.start;
            e.start = e.old_end;
            e.old_end = t;
        }
    }
    e.new_end = e.start + len;
    *end = range ? e.new_end : SIZE_MAX; /* after a whole-text change: no cursor known */
    lsp_syntax_edit(d->syntax, d->text, &e, text, len);
    return lsp_doc_replace(d, &e, text, len);
}

static void did_change(lsp_server *s, json_t *id, json_t *params) {
    (void)id;
    json_error_t je;
    const char *uri;
    json_int_t version;
    json_t *changes;
    char err[LSP_ERR_LEN];
    if (json_unpack_ex(params, &je, 0, "{s:{s:s, s:I}, s:o}", "textDocument", "uri", &uri,
                       "version", &version, "contentChanges", &changes)) {
        lsp_log(s, LSP_LOG_ERROR, "didChange: %s", je.text);
        return;
    }
    lsp_doc *d = lsp_doc_find(s, uri);
    if (!d) {
        lsp_log(s, LSP_LOG_ERROR, "didChange: document not open: %s", uri);
        return;
    }
    if (!changes_valid(changes, err, sizeof err)) {
        lsp_log(s, LSP_LOG_ERROR, "didChange: %s", err);
        return;
    }
    size_t i, end = SIZE_MAX;
    bool newline = false;
    json_t *c;
    json_array_foreach(changes, i, c) {
        if (!apply_change(s, d, c, &end)) {
            lsp_log(s, LSP_LOG_ERROR, "didChange: out of memory");
            break;
        }
        json_t *text = json_object_get(c, "text"); /* may hold NULs: memchr, not strchr */
        newline |= json_object_get(c, "range") &&
                   memchr(json_string_value(text), '\n', json_string_length(text));
    }
    d->version = version;
    reparse(s, d);
    if (end <= d->len) lsp_ahead_edited(s, d, end, newline); /* whole-text changes: no cursor */
}

static void did_initialize(lsp_server *s, json_t *id, json_t *params) {
    (void)s, (void)id, (void)params; /* nothing waits for it: model loading began at initialize */
}

static void did_save(lsp_server *s, json_t *id, json_t *params) {
    (void)id; /* the text is already ours; the index re-reads the file from disk */
    const char *uri;
    if (!json_unpack(params, "{s:{s:s}}", "textDocument", "uri", &uri))
        lsp_commands_did_save(s, uri);
}

static void did_close(lsp_server *s, json_t *id, json_t *params) {
    (void)id;
    const char *uri;
    if (json_unpack(params, "{s:{s:s}}", "textDocument", "uri", &uri)) {
        lsp_log(s, LSP_LOG_ERROR, "didClose: params need textDocument.uri");
        return;
    }
    lsp_cancel_jobs(s, uri, NULL);
    lsp_ahead_closed(s, uri);
    doc_remove(s, uri);
}

static void debug_document(lsp_server *s, json_t *id, json_t *params) {
    lsp_doc *d = lsp_params_doc(s, id, params);
    if (!d) return;
    char *sexp = lsp_syntax_sexp(d->syntax);
    const char *grammar = lsp_syntax_language(d->syntax);
    lsp_reply(s, id,
              json_pack("{s:s, s:I, s:s, s:s%, s:s?, s:s?, s:i, s:s}", "uri", d->uri, "version",
                        (json_int_t)d->version, "languageId", d->language_id, "text", d->text,
                        d->len, "grammar", grammar, "tree", sexp, "parses",
                        lsp_syntax_parses(d->syntax), "positionEncoding",
                        s->enc == LSP_ENC_UTF8 ? "utf-8" : "utf-16"));
    free(sexp);
}

/* ---- hearth/debugWork: a job that only waits, to test scheduling and cancellation ---- */

typedef struct {
    int ms, done_ms;
} work_data;

/* Waits in 2 ms steps, yielding between them as a long job does (in the chat lane, completions
 * run inline then). */
static void work_run(lsp_job *j, void *state) {
    (void)state;
    work_data *w = j->data;
    struct timespec step = {0, 2 * 1000 * 1000};
    for (; w->done_ms < w->ms && lsp_job_yield(j); w->done_ms += 2) nanosleep(&step, NULL);
}

/* The reply also shows the runtime: the engine's threads (its one pool's workers + the caller),
 * the scheduler's inference threads, every model file the registry loaded, with its load count,
 * and what the prefills did (a FIM-lane debugWork ends after the prefills queued before it). */
static json_t *work_reply(lsp_server *s, const work_data *w) {
    runtime_model_stat st[8];
    int n = s->rt ? runtime_registry_stats(s->rt, st, 8) : 0;
    json_t *models = json_array();
    for (int i = 0; i < n && i < 8; i++)
        json_array_append_new(models, json_pack("{s:s, s:I, s:i, s:b}", "path", st[i].path, "loads",
                                                (json_int_t)st[i].loads, "users", st[i].users,
                                                "loaded", st[i].loaded));
    return json_pack("{s:i, s:i, s:i, s:o, s:o}", "ms", w->done_ms, "engineThreads",
                     engine_pool_workers() + 1, "schedThreads", lsp_sched_threads(s->sched),
                     "models", models, "prefill", lsp_ahead_json(s));
}

static void work_done(lsp_server *s, lsp_job *j) {
    work_data *w = j->data;
    if (lsp_job_cancelled(j) && w->done_ms < w->ms)
        lsp_reply_error(s, j->id, LSP_REQUEST_CANCELLED, "cancelled after %d ms", w->done_ms);
    else
        lsp_reply(s, j->id, work_reply(s, w));
}

static void debug_work(lsp_server *s, json_t *id, json_t *params) {
    json_error_t je;
    int ms;
    const char *uri = NULL, *lane = "fim";
    if (json_unpack_ex(params, &je, 0, "{s:i, s?{s:s}, s?s}", "ms", &ms, "textDocument", "uri",
                       &uri, "lane", &lane)) {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS, "%s", je.text);
        return;
    }
    runtime_lane l = !strcmp(lane, "fim")     ? RUNTIME_LANE_FIM
                     : !strcmp(lane, "embed") ? RUNTIME_LANE_EMBED
                     : !strcmp(lane, "chat")  ? RUNTIME_LANE_CHAT
                                              : RUNTIME_LANES;
    if (l == RUNTIME_LANES) {
        lsp_reply_error(s, id, LSP_INVALID_PARAMS, "lane must be fim, embed or chat");
        return;
    }
    lsp_job *j = lsp_job_new("work", l, work_run, work_done);
    work_data *w = calloc(1, sizeof *w);
    if (!j || !w || (uri && !(j->uri = strdup(uri)))) {
        free(w);
        lsp_job_free(j);
        lsp_reply_error(s, id, LSP_INTERNAL_ERROR, "out of memory");
        return;
    }
    w->ms = ms < 0 ? 0 : ms > 60000 ? 60000 : ms;
    j->data = w;
    j->free_data = free;
    j->id = json_incref(id);
    lsp_submit(s, j);
}

const lsp_method lsp_doc_methods[] = {
    {"initialized", did_initialize, false},        {"textDocument/didOpen", did_open, false},
    {"textDocument/didChange", did_change, false}, {"textDocument/didSave", did_save, false},
    {"textDocument/didClose", did_close, false},   {"hearth/debugDocument", debug_document, true},
    {"hearth/debugWork", debug_work, true},        {NULL, NULL, false},
};
