/* index_ask: a question answered by a chat model from retrieved chunks. The excerpts go into the
 * user message best first, as many as the context leaves room for after the answer, the
 * question, the system prompt and the template. The local prompt is tokenized with
 * engine_chat_tokens: only the template's markers are special tokens, so neither repository text
 * nor a question (nor an earlier turn of the conversation) can close a message or open another.
 * For a remote model (index_ask_message, text it tokenizes itself) special-token text in the
 * excerpts and the question is defused. Shared by `hearth ask` and the LSP's hearth.ask. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TEMPLATE_TOKENS 64 /* a generous bound on what the chat template adds */

/* Appends s; with defuse "<|" loses its meaning as "< |" (for a server that tokenizes the text
 * with special tokens parsed). */
static bool append_text(char **buf, size_t *len, const char *s, bool defuse) {
    size_t n = strlen(s), extra = 0;
    for (size_t i = 0; defuse && i + 1 < n; i++) extra += s[i] == '<' && s[i + 1] == '|';
    char *b = realloc(*buf, *len + n + extra + 1);
    if (!b) return false;
    for (size_t i = 0; i < n; i++) {
        b[(*len)++] = s[i];
        if (defuse && s[i] == '<' && s[i + 1] == '|') b[(*len)++] = ' ';
    }
    b[*len] = 0;
    *buf = b;
    return true;
}

/* Tokens of a text as plain text (as engine_chat_tokens takes message text); -1 on failure.
 * Exact with a model; without one (a remote model) the index's estimate. */
static int64_t count_tokens(const engine_model *m, const char *s) {
    if (!m) return index_count_estimate(s, strlen(s), NULL);
    char err[ENGINE_ERR_LEN];
    size_t len = strlen(s);
    int64_t cap = (int64_t)len + 16;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    int64_t n = ids ? engine_tokenize(m, s, len, false, false, ids, cap, err, sizeof err) : -1;
    free(ids); /* more tokens than cap still counts them all */
    return n;
}

/* What the model's chat template adds around a system and a user message, never taken below
 * TEMPLATE_TOKENS (harmony's system message alone is about 50 tokens). */
static int64_t template_tokens(const engine_model *m) {
    engine_chat_message probe[] = {{"system", "x"}, {"user", "x"}};
    char why[ENGINE_ERR_LEN];
    int32_t ids[512];
    int64_t n = m ? engine_chat_tokens(m, NULL, probe, 2, false, ids, 512, why, sizeof why) : 0;
    return n + 8 > TEMPLATE_TOKENS ? n + 8 : TEMPLATE_TOKENS;
}

/* A harmony model reasons on its analysis channel before the final one: only the final
 * channel's text goes on to the caller. */
typedef struct {
    engine_think_filter filter;
    engine_emit_fn emit;
    void *user;
} final_only;

static bool emit_final(const char *s, size_t n, void *user) {
    final_only *f = user;
    char *vis = malloc(n + 16);
    if (!vis) return false;
    size_t k = engine_think_filter_push(&f->filter, s, n, vis);
    bool ok = !k || f->emit(vis, k, f->user);
    free(vis);
    return ok;
}

#define MAP_HEAD "Map of the relevant files (line, definition):\n"

static char *ask_message(const engine_model *m, const char *question, const char *map,
                         const index_hit *hits, int32_t n_hits, int64_t budget, bool *used,
                         bool defuse) {
    char *msg = NULL, head[600];
    size_t len = 0;
    bool ok = true;
    int64_t map_cost = map && *map ? count_tokens(m, MAP_HEAD) + count_tokens(m, map) + 2 : -1;
    if (map_cost > 0 && map_cost <= budget / 4) {
        budget -= map_cost;
        ok = append_text(&msg, &len, MAP_HEAD, defuse) && append_text(&msg, &len, map, defuse) &&
             append_text(&msg, &len, "\n", defuse);
    }
    ok = ok && append_text(&msg, &len, "Excerpts from the repository:\n\n", defuse);
    for (int32_t i = 0; ok && i < n_hits; i++) {
        const index_hit *h = &hits[i];
        snprintf(head, sizeof head, "--- %s:%d-%d\n", h->path, h->start_line, h->end_line);
        int64_t cost = count_tokens(m, head) + count_tokens(m, h->text) + 2;
        if (cost < 0 || cost > budget) continue; /* a smaller one further down may still fit */
        budget -= cost;
        used[i] = true;
        ok = append_text(&msg, &len, head, defuse) && append_text(&msg, &len, h->text, defuse) &&
             append_text(&msg, &len, "\n\n", defuse);
    }
    ok = ok && append_text(&msg, &len, "Question: ", defuse) &&
         append_text(&msg, &len, question, defuse);
    if (!ok) free(msg);
    return ok ? msg : NULL;
}

char *index_ask_message(const engine_model *m, const char *question, const char *map,
                        const index_hit *hits, int32_t n_hits, int64_t budget, bool *used) {
    return ask_message(m, question, map, hits, n_hits, budget, used, true);
}

/* The newest whole turns (question + answer pairs) of the history within budget tokens: the
 * index of the first one kept; *cost receives their tokens. */
static int32_t history_start(const engine_model *m, const index_ask_request *r, int64_t budget,
                             int64_t *cost) {
    int32_t start = r->n_history - (r->n_history % 2); /* whole turns only */
    *cost = 0;
    while (start >= 2) {
        int64_t turn = count_tokens(m, r->history[start - 2].content) +
                       count_tokens(m, r->history[start - 1].content) + 16;
        if (turn < 0 || *cost + turn > budget) break;
        *cost += turn;
        start -= 2;
    }
    return start;
}

int32_t *index_ask_prompt(const engine_model *m, int32_t n_ctx, const index_ask_request *r,
                          int64_t *n, char *err, size_t errlen) {
    memset(r->used, 0, (size_t)r->n_hits * sizeof *r->used);
    int64_t budget = n_ctx - (int64_t)r->n_predict - count_tokens(m, INDEX_ASK_SYSTEM) -
                     count_tokens(m, r->question) - template_tokens(m);
    int64_t history_cost = 0;
    int32_t first = budget > 0 ? history_start(m, r, budget / 2, &history_cost) : r->n_history;
    budget -= history_cost;
    if (budget <= 0) {
        snprintf(err, errlen,
                 "the context (%d tokens) leaves no room for excerpts: raise the context size or "
                 "lower the answer length",
                 n_ctx);
        return NULL;
    }
    char *user = ask_message(m, r->question, r->map, r->hits, r->n_hits, budget, r->used, false),
         why[ENGINE_ERR_LEN] = "out of memory";
    int32_t n_msgs = 2 + r->n_history - first;
    engine_chat_message *msgs = malloc((size_t)n_msgs * sizeof *msgs);
    int32_t *ids = malloc((size_t)n_ctx * sizeof *ids);
    int64_t k = -1;
    if (user && msgs && ids) {
        msgs[0] = (engine_chat_message){"system", INDEX_ASK_SYSTEM};
        for (int32_t i = first; i < r->n_history; i++) msgs[1 + i - first] = r->history[i];
        msgs[n_msgs - 1] = (engine_chat_message){"user", user};
        k = engine_chat_tokens(m, NULL, msgs, n_msgs, false, ids, n_ctx, why, sizeof why);
        if (k > n_ctx) /* template_tokens fell short: not for our templates */
            snprintf(why, sizeof why, "the prompt is longer than the context (%d tokens)", n_ctx);
    }
    free(msgs);
    free(user);
    if (k < 0 || k > n_ctx) {
        snprintf(err, errlen, "ask: %s", why);
        free(ids);
        return NULL;
    }
    *n = k;
    return ids;
}

bool index_ask(const engine_model *m, engine_ctx *c, const index_ask_request *r, char *err,
               size_t errlen) {
    int64_t n = 0;
    int32_t *ids = index_ask_prompt(m, engine_ctx_n_ctx(c), r, &n, err, errlen);
    if (!ids) return false;
    const char *tmpl = engine_chat_template(m);
    final_only fin = {.emit = r->emit, .user = r->user};
    bool harmony = tmpl && !strcmp(tmpl, "harmony") && r->emit;
    engine_gen_request req = {.prompt = ids,
                              .n_prompt = n,
                              .n_predict = r->n_predict,
                              .sampling = r->sampling,
                              .emit = harmony ? emit_final : r->emit,
                              .user = harmony ? (void *)&fin : r->user,
                              /* answers quote the retrieved code: prompt lookup (greedy only,
                               * same answer) verifies those runs several tokens at a time */
                              .lookup_draft = 6};
    if (r->on_prompt) {
        int32_t n_used = 0;
        for (int32_t i = 0; i < r->n_hits; i++) n_used += r->used[i];
        r->on_prompt(n_used, n, r->user);
    }
    engine_gen_stats st;
    char why[ENGINE_ERR_LEN];
    bool ok = engine_generate(m, c, &req, &st, why, sizeof why);
    char tail[32];
    size_t k = harmony ? engine_think_filter_flush(&fin.filter, tail) : 0;
    if (ok && k) r->emit(tail, k, r->user);
    if (ok && r->stats) *r->stats = st;
    if (!ok) snprintf(err, errlen, "ask: %s", why);
    free(ids);
    return ok;
}
