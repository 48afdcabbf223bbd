/* Completion through an OpenAI-compatible server (completion_params.remote): the FIM prompt the
 * local path builds as tokens, written as text (the marker tokens as their token text, i.e. the
 * detokenized prompt) and sent to {base_url}/completions; the streamed text goes through the same
 * trimming as local suggestions, and the stream is cut as soon as the suggestion's end is known.
 *
 * The layout is Qwen2.5-Coder's (hearth's catalogue completion models):
 *   [<|repo_name|>workspace\n <|file_sep|>path\n chunk ... <|file_sep|>path\n]
 *   <|fim_prefix|>head<|fim_suffix|>suffix<|fim_middle|>line
 * with head, line and the windows chosen like fim.c's (byte budgets of 3 bytes per token, the
 * head anchored at every FIM_ANCHOR_LINES-th line so servers with prefix caching can reuse it).
 *
 * Marker text inside the user's code: a server tokenizes a text prompt with special tokens
 * parsed, so "<|fim_suffix|>" written in a buffer would become a control token there (the local
 * path tokenizes user text as plain text). Every "<|" of user text that starts a "<|word|>"
 * sequence is therefore sent as "<" U+200B "|": the model sees almost the same characters, and
 * no user text can forge a marker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "completion.h"
#include "fim.h"
#include "trim.h"

#define BYTES_PER_TOKEN 3
#define ZWSP            "\xe2\x80\x8b"

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} text_buf;

static void put(text_buf *b, const char *s, size_t n) {
    if (b->oom || n == 0) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void put_str(text_buf *b, const char *s) {
    put(b, s, strlen(s));
}

/* "<|word|>" starts at s (word: letters, digits, '_')? */
static bool marker_at(const char *s, size_t n) {
    if (n < 4 || s[0] != '<' || s[1] != '|') return false;
    size_t i = 2;
    while (i < n && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9')))
        i++;
    return i > 2 && i + 1 < n && s[i] == '|' && s[i + 1] == '>';
}

/* User text, with marker-like sequences defused (see the top of the file). */
static void put_user(text_buf *b, const char *s, size_t n) {
    size_t from = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (marker_at(s + i, n - i)) {
            put(b, s + from, i + 1);
            put_str(b, ZWSP);
            from = i + 1;
        }
    put(b, s + from, n - from);
}

/* Cross-file chunks in the repo-level form; returns how many fitted. */
static int put_context(text_buf *b, const completion_request *r, size_t budget) {
    if (r->n_chunks <= 0 || budget == 0) return 0;
    size_t used = 0;
    int any = 0;
    for (int i = 0; i < r->n_chunks; i++) {
        const completion_chunk *c = &r->chunks[i];
        const char *path = c->path ? c->path : "context";
        size_t size = strlen(path) + c->len + 16;
        if (used + size > budget) continue; /* does not fit: left out, like the local path */
        if (!any) put_str(b, "<|repo_name|>workspace\n");
        any++;
        used += size;
        put_str(b, "<|file_sep|>");
        put_user(b, path, strlen(path));
        put_str(b, "\n");
        put_user(b, c->text, c->len);
        if (c->len == 0 || c->text[c->len - 1] != '\n') put_str(b, "\n");
    }
    if (any) {
        const char *path = r->path ? r->path : "file";
        put_str(b, "<|file_sep|>");
        put_user(b, path, strlen(path));
        put_str(b, "\n");
    }
    return any;
}

/* The prompt text (malloc'd) for the settings in p (0 = the local defaults). */
static char *remote_prompt(const completion_params *p, const completion_request *r, int *n_chunks) {
    size_t pre = (size_t)(p->prefix_tokens > 0 ? p->prefix_tokens : 1024) * BYTES_PER_TOKEN;
    size_t suf = (size_t)(p->suffix_tokens > 0 ? p->suffix_tokens : 256) * BYTES_PER_TOKEN;
    int ctx_tokens = p->context_tokens == 0 ? 512 : p->context_tokens < 0 ? 0 : p->context_tokens;
    text_buf b = {0};
    *n_chunks = put_context(&b, r, (size_t)ctx_tokens * BYTES_PER_TOKEN);
    size_t head_len = r->prefix_len;
    if (p->line_in_middle)
        while (head_len > 0 && r->prefix[head_len - 1] != '\n') head_len--;
    size_t line_bytes = pre / 4, head_bytes = pre - line_bytes;
    size_t hs = completion_fim_head_start(r->prefix, head_len, head_bytes);
    size_t line_from = head_len;
    if (r->prefix_len - line_from > line_bytes) {
        line_from = r->prefix_len - line_bytes;
        while (line_from < r->prefix_len &&
               completion_fim_is_cont((unsigned char)r->prefix[line_from]))
            line_from++;
    }
    put_str(&b, "<|fim_prefix|>");
    put_user(&b, r->prefix + hs, head_len - hs);
    put_str(&b, "<|fim_suffix|>");
    put_user(&b, r->suffix, completion_fim_suffix_end(r->suffix, r->suffix_len, suf));
    put_str(&b, "<|fim_middle|>");
    put_user(&b, r->prefix + line_from, r->prefix_len - line_from);
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

typedef struct {
    const completion_request *req;
    trim_context trim;
    completion_syntax *syntax; /* the trim oracle, as on the local path (NULL without a grammar) */
    text_buf text;
    double first_ms;
    bool cancelled;
    trim_stream stream; /* what req->partial was handed */
} remote_collector;

/* Gathers streamed text; false (ends the request) on cancel or once the suggestion is complete. */
static bool collect(const char *text, size_t len, void *user) {
    remote_collector *c = user;
    if (c->first_ms == 0) c->first_ms = now_ms();
    if (c->req->cancelled && c->req->cancelled(c->req->user)) {
        c->cancelled = true;
        return false;
    }
    put(&c->text, text, len);
    if (c->text.oom) return false;
    trim_oracle *o = completion_syntax_oracle(c->syntax);
    bool done = completion_trim_syntax(&c->trim, o, c->text.p, c->text.n, false).done;
    size_t n = done || !c->req->partial
                   ? 0
                   : completion_trim_stream(&c->stream, &c->trim, o, c->text.p, c->text.n);
    if (n) c->req->partial(c->text.p, n, c->req->user);
    return !done;
}

bool completion_run_remote(const completion_params *p, const completion_request *r,
                           completion_result *out, char *err, size_t errlen) {
    double t0 = now_ms();
    memset(out, 0, sizeof *out);
    out->remote = true;
    int n_chunks = 0;
    char *prompt = remote_prompt(p, r, &n_chunks);
    if (!prompt) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    /* The server stops at its end-of-generation tokens; these cover servers that do not count
     * the repo-level markers among them (at most 4: the OpenAI API's limit). */
    static const char *const stop[] = {"<|endoftext|>", "<|file_sep|>", "<|fim_prefix|>",
                                       "<|repo_name|>"};
    models_gen_params g = models_gen_default_params();
    g.max_tokens = p->max_tokens > 0 ? p->max_tokens : 64;
    g.temperature = 0; /* greedy, like the local path */
    g.stop = stop;
    g.n_stop = 4;
    remote_collector c = {.req = r};
    size_t ls = r->prefix_len;
    while (ls > 0 && r->prefix[ls - 1] != '\n') ls--;
    c.trim = (trim_context){r->prefix + ls, r->prefix_len - ls, r->suffix, r->suffix_len,
                            p->max_lines > 0 ? p->max_lines : 8};
    c.syntax =
        completion_syntax_new(r->language_id, r->prefix, r->prefix_len, r->suffix, r->suffix_len);
    models_remote_stats st;
    char rerr[MODELS_ERR_LEN];
    rerr[0] = '\0';
    bool ok = models_remote_complete(p->remote, prompt, &g, collect, &c, &st, rerr, sizeof rerr);
    free(prompt);
    trim_oracle *oracle = completion_syntax_oracle(c.syntax);
    /* Stopping the stream ourselves (cancel, suggestion complete) is not a failure. */
    if (!ok && (c.cancelled || (st.cancelled && !c.text.oom))) ok = true;
    if (!ok || c.text.oom) {
        out->backend_down = st.backend_down;
        snprintf(err, errlen, "%s", c.text.oom ? "out of memory" : rerr); /* names the URL */
        free(c.text.p);
        completion_syntax_free(c.syntax);
        return false;
    }
    out->text = c.text.p ? c.text.p : calloc(1, 1);
    if (!out->text) {
        completion_syntax_free(c.syntax);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    if (c.cancelled)
        out->text[0] = '\0';
    else
        out->text[completion_trim_syntax(&c.trim, oracle, out->text, c.text.n, true).keep] = '\0';
    completion_syntax_free(c.syntax);
    double t_end = now_ms();
    out->n_prompt = st.prompt_tokens > 0 ? (int32_t)st.prompt_tokens : 0;
    out->n_generated = st.completion_tokens > 0 ? (int32_t)st.completion_tokens : 0;
    out->first_token_ms = (c.first_ms > 0 ? c.first_ms : t_end) - t0;
    out->total_ms = out->gen_ms = t_end - t0;
    out->n_chunks = n_chunks;
    out->cancelled = c.cancelled;
    return true;
}
