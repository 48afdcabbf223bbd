/* window/workDoneProgress for model loading: the server asks the client to create a token, and
 * reports begin/end on it only after the client agreed, as the spec asks. The load may finish
 * before the agreement arrives; then begin and end go out together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsp_internal.h"

struct lsp_progress {
    char token[48];
    char *title, *message, *end_message; /* end_message: ended before the client agreed */
    bool acked, ended;
};

void lsp_progress_free(lsp_progress *p) {
    if (!p) return;
    free(p->title);
    free(p->message);
    free(p->end_message);
    free(p);
}

static void send_progress(lsp_server *s, const char *token, json_t *value) {
    lsp_notify(s, "$/progress", json_pack("{s:s, s:o}", "token", token, "value", value));
}

static void send_end(lsp_server *s, lsp_progress *p, const char *message) {
    send_progress(s, p->token, json_pack("{s:s, s:s}", "kind", "end", "message", message));
}

void lsp_progress_start(lsp_server *s, const char *title, const char *message) {
    static unsigned serial; /* token uniqueness only; the loop thread is the only user */
    if (!s->client_progress) return;
    if (s->progress && s->progress->acked && !s->progress->ended)
        send_end(s, s->progress, "superseded");
    lsp_progress_free(s->progress);
    s->progress = calloc(1, sizeof *s->progress);
    lsp_progress *p = s->progress;
    if (!p || !(p->title = strdup(title)) || !(p->message = strdup(message))) {
        lsp_progress_free(p);
        s->progress = NULL;
        return;
    }
    snprintf(p->token, sizeof p->token, "hearth/progress/%u", ++serial);
    json_t *msg = json_pack("{s:s, s:s, s:s, s:{s:s}}", "jsonrpc", "2.0", "id", p->token, "method",
                            "window/workDoneProgress/create", "params", "token", p->token);
    lsp_send(s, msg);
}

void lsp_progress_end(lsp_server *s, const char *message) {
    lsp_progress *p = s->progress;
    if (!p || p->ended) return;
    if (!p->acked) { /* remembered for when the client agrees */
        free(p->end_message);
        p->end_message = strdup(message);
        return;
    }
    send_end(s, p, message);
    p->ended = true;
}

bool lsp_progress_response(lsp_server *s, json_t *id) {
    lsp_progress *p = s->progress;
    if (!p || !json_is_string(id) || strcmp(json_string_value(id), p->token)) return false;
    if (p->acked) return true;
    p->acked = true;
    send_progress(s, p->token,
                  json_pack("{s:s, s:s, s:s, s:b}", "kind", "begin", "title", p->title, "message",
                            p->message, "cancellable", 0));
    if (p->end_message) {
        send_end(s, p, p->end_message);
        p->ended = true;
    }
    return true;
}
