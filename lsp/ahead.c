/* Working ahead of the request (issue 19): the prompt the next inline completion will build is
 * evaluated into the KV cache while the person reads, thinks or moves the cursor, so the request
 * pays only its last tokens. This file decides when and where; complete.c runs the job
 * (completion_prefill, FIM lane):
 * - hearth/cursor {textDocument, position} from our plugins: at that position;
 * - a didChange that inserts a newline: at the end of the inserted text (the new line's cursor);
 * - IDLE_MS after an edit that no request followed: at the end of that edit (both only in the
 *   document of the last request or prefill, when there is one);
 * - right after a reply built on moved cache entries (kvShift) or on windows shrunk to meet
 *   maxPromptMs (completion/'s quick cache): at the same place, where the prefill builds the
 *   whole prompt beside the small one and re-evaluates moved entries exactly, in place
 *   (completion_prefill). Not after IDLE_MS: the next key costs the request at most one layer
 *   of waiting, and the pass it stops resumes later (engine_eval), so the pause is all gain;
 * - didOpen, for clients that never sent hearth/cursor: IDLE_MS later, at the top of the file (a
 *   guess; plugins say where the cursor is on BufEnter / editor change, and a guess there would
 *   only evict the cache of the document being edited, e.g. when an editor opens a file to peek
 *   into it).
 * One prefill at a time: a new one cancels the others, and a real request cancels them all — it
 * waits at most for the layer in progress (the engine asks the cancel between layers); the
 * chunks finished before stay cached for it. */
#include <stdlib.h>
#include <string.h>

#include "lsp_internal.h"

#define IDLE_MS 300

static bool ahead_on(const lsp_server *s) {
    return !s->opt.no_prefill_ahead && !s->opt.no_kv_reuse && s->state == LSP_STATE_RUNNING &&
           !s->stopping;
}

/* The engine's place: a document, an offset in it and the text's state (its touch time). */
static bool same_place(const lsp_ahead *a, const lsp_doc *doc, size_t off) {
    return a->last_uri && !strcmp(a->last_uri, doc->uri) && a->last_off == off &&
           a->last_touched == doc->touched;
}

static void set_place(lsp_ahead *a, const lsp_doc *doc, size_t off) {
    if (!a->last_uri || strcmp(a->last_uri, doc->uri)) {
        free(a->last_uri);
        a->last_uri = strdup(doc->uri); /* NULL (out of memory) only means no skipping */
    }
    a->last_off = off;
    a->last_touched = doc->touched;
}

static void idle_off(lsp_ahead *a) {
    if (a->idle_ready) uv_timer_stop(&a->idle);
    free(a->idle_uri);
    a->idle_uri = NULL;
}

/* A hearth.ask answer is streaming: it yields to FIM-lane jobs between tokens, and a whole
 * prefill (seconds on a big model) would stall the text the person is reading. */
static bool answering(const lsp_server *s) {
    for (const lsp_job *j = s->live; j; j = j->live_next)
        if (j->kind && !strcmp(j->kind, "ask") && !lsp_job_cancelled((lsp_job *)j)) return true;
    return false;
}

/* Prefills at byte off of doc, unless the engine is already there for this text. */
static void ahead_at(lsp_server *s, const lsp_doc *doc, size_t off, const char *why) {
    lsp_ahead *a = &s->ahead;
    if (!ahead_on(s)) return;
    bool refresh = !strcmp(why, "refresh"); /* the engine is there, its entries are not exact */
    if ((same_place(a, doc, off) && !refresh) || answering(s)) {
        a->stats.skipped++;
        return;
    }
    lsp_cancel_jobs(s, NULL, "prefill"); /* only the newest place matters */
    if (!lsp_prefill_submit(s, doc, off, why)) return;
    a->stats.submitted++;
    set_place(a, doc, off);
}

static void on_idle(uv_timer_t *t) {
    lsp_server *s = t->data;
    lsp_ahead *a = &s->ahead;
    lsp_doc *doc = a->idle_uri ? lsp_doc_find(s, a->idle_uri) : NULL;
    /* any edit since re-armed the timer; a reopened document has a new touch time */
    if (doc && doc->touched == a->idle_touched && a->idle_off <= doc->len)
        ahead_at(s, doc, a->idle_off, a->idle_why);
    idle_off(a);
}

static void idle_arm(lsp_server *s, const lsp_doc *doc, size_t off, const char *why, int ms) {
    lsp_ahead *a = &s->ahead;
    if (!a->idle_ready) {
        if (uv_timer_init(&s->loop, &a->idle)) return;
        a->idle.data = s;
        a->idle_ready = true;
    }
    if (!a->idle_uri || strcmp(a->idle_uri, doc->uri)) {
        free(a->idle_uri);
        if (!(a->idle_uri = strdup(doc->uri))) return;
    }
    a->idle_off = off;
    a->idle_touched = doc->touched;
    a->idle_why = why;
    uv_timer_start(&a->idle, on_idle, (uint64_t)ms, 0);
}

/* The byte offset of an LSP position in doc; false when the line is past the end (a character
 * past its line's end is the line's end, as for requests). */
static bool cursor_offset(const lsp_server *s, const lsp_doc *doc, int64_t line, int64_t ch,
                          size_t *off) {
    int64_t at_line, at_ch;
    *off = lsp_doc_offset(doc, line, ch, s->enc);
    lsp_doc_position(doc, *off, s->enc, &at_line, &at_ch);
    return at_line == line;
}

/* A hearth/cursor that named this document before it was open (a plugin attaching a buffer)
 * gives the place; else the guess, which waits IDLE_MS: a hearth/cursor just after replaces it. */
void lsp_ahead_opened(lsp_server *s, lsp_doc *doc) {
    lsp_ahead *a = &s->ahead;
    if (a->idle_uri && !strcmp(a->idle_uri, doc->uri)) idle_off(a);
    if (a->pending_uri && !strcmp(a->pending_uri, doc->uri)) {
        size_t off;
        if (cursor_offset(s, doc, a->pending_line, a->pending_ch, &off))
            ahead_at(s, doc, off, "cursor");
        else
            a->stats.ignored++;
        free(a->pending_uri);
        a->pending_uri = NULL;
        return;
    }
    if (!a->cursor_seen && ahead_on(s)) idle_arm(s, doc, 0, "open", IDLE_MS);
}

/* Only in the document the engine last worked for: edits elsewhere (a workspace edit, a rename
 * across files) are not where the person types, and a prefill there would evict their cache. */
void lsp_ahead_edited(lsp_server *s, lsp_doc *doc, size_t off, bool newline) {
    const lsp_ahead *a = &s->ahead;
    if (!ahead_on(s) || (a->last_uri && strcmp(a->last_uri, doc->uri))) return;
    if (!newline) {
        idle_arm(s, doc, off, "idle", IDLE_MS);
        return;
    }
    idle_off(&s->ahead);
    ahead_at(s, doc, off, "newline");
}

void lsp_ahead_closed(lsp_server *s, const char *uri) {
    lsp_ahead *a = &s->ahead;
    if (a->idle_uri && !strcmp(a->idle_uri, uri)) idle_off(a);
    if (a->last_uri && !strcmp(a->last_uri, uri)) {
        free(a->last_uri);
        a->last_uri = NULL;
    }
}

void lsp_ahead_stale(lsp_server *s, const char *uri, int64_t line, int64_t character) {
    lsp_doc *doc = lsp_doc_find(s, uri);
    size_t off;
    if (ahead_on(s) && doc && cursor_offset(s, doc, line, character, &off))
        idle_arm(s, doc, off, "refresh", 0);
}

void lsp_ahead_requested(lsp_server *s, const lsp_doc *doc, size_t off) {
    lsp_ahead *a = &s->ahead;
    idle_off(a);
    lsp_cancel_jobs(s, NULL, "prefill");
    set_place(a, doc, off);
}

/* hearth/cursor {textDocument: {uri}, position: {line, character}}: where the cursor is now (our
 * plugins send it on focus, cursor jumps and pauses). Anything malformed or a line past the
 * document's end is ignored (a notification gets no error reply); a document not open yet gets
 * its prefill when it opens. */
static void cursor(lsp_server *s, json_t *id, json_t *params) {
    (void)id;
    lsp_ahead *a = &s->ahead;
    const char *uri;
    json_int_t line, ch;
    if (json_unpack(params, "{s:{s:s}, s:{s:I, s:I}}", "textDocument", "uri", &uri, "position",
                    "line", &line, "character", &ch) ||
        line < 0 || ch < 0) {
        a->stats.ignored++;
        return;
    }
    a->cursor_seen = true;
    idle_off(a); /* the cursor left the last edit */
    lsp_doc *doc = lsp_doc_find(s, uri);
    size_t off;
    if (!doc) { /* kept (one, the latest) for its didOpen */
        free(a->pending_uri);
        a->pending_uri = strdup(uri);
        a->pending_line = line, a->pending_ch = ch;
    } else if (!cursor_offset(s, doc, line, ch, &off))
        a->stats.ignored++;
    else
        ahead_at(s, doc, off, "cursor");
}

void lsp_ahead_settings(lsp_server *s, json_t *o) {
    json_t *on = json_object_get(o, "prefillAhead"),
           *ms = json_object_get(o, "debugPrefillChunkMs");
    if (json_is_boolean(on)) s->opt.no_prefill_ahead = !json_is_true(on);
    if (json_is_integer(ms) && json_integer_value(ms) >= 0 && json_integer_value(ms) <= 10000)
        s->ahead.debug_chunk_ms = (int)json_integer_value(ms);
    json_t *speed = json_object_get(o, "debugTokensPerMs"); /* 0 = measured again */
    if (json_is_number(speed) && json_number_value(speed) >= 0 && json_number_value(speed) <= 1e6)
        s->ahead.debug_tokens_per_ms = json_number_value(speed);
    if (s->opt.no_prefill_ahead) {
        idle_off(&s->ahead);
        lsp_cancel_jobs(s, NULL, "prefill");
    }
}

json_t *lsp_ahead_json(const lsp_server *s) {
    const lsp_prefill_stats *st = &s->ahead.stats;
    json_t *o =
        json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "enabled", ahead_on(s),
                  "submitted", (json_int_t)st->submitted, "finished", (json_int_t)st->finished,
                  "cancelled", (json_int_t)st->cancelled, "failed", (json_int_t)st->failed,
                  "skipped", (json_int_t)st->skipped, "ignored", (json_int_t)st->ignored,
                  "evaluated", (json_int_t)st->evaluated, "refreshed", (json_int_t)st->refreshed);
    json_object_set_new(o, "last",
                        json_pack("{s:s?, s:i, s:i, s:i, s:f}", "why", st->last_why, "nPrompt",
                                  st->last_prompt, "nReused", st->last_reused, "nEvaluated",
                                  st->last_evaluated, "ms", st->last_ms));
    return o;
}

void lsp_ahead_stop(lsp_server *s) {
    lsp_ahead *a = &s->ahead;
    if (a->idle_ready && !uv_is_closing((uv_handle_t *)&a->idle))
        uv_close((uv_handle_t *)&a->idle, NULL);
}

void lsp_ahead_free(lsp_server *s) {
    free(s->ahead.idle_uri);
    free(s->ahead.last_uri);
    free(s->ahead.pending_uri);
    s->ahead.pending_uri = NULL;
    s->ahead.idle_uri = s->ahead.last_uri = NULL;
}

const lsp_method lsp_ahead_methods[] = {
    {"hearth/cursor", cursor, false},
    {NULL, NULL, false},
};
