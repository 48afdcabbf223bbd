/* FIM prompts by model family. The marker tokens come from the GGUF metadata (or well-known token
 * texts); the family decides their order and the cross-file form. Windows are cut at line
 * boundaries chosen from byte budgets (then trimmed to the token budgets), anchored so that the
 * prompt's beginning — hence the KV cache — stays reusable while the user types. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fim.h"

static int32_t special_id(const engine_model *m, const char *text) {
    int32_t ids[4];
    char err[ENGINE_ERR_LEN];
    int64_t n = engine_tokenize(m, text, strlen(text), false, true, ids, 4, err, sizeof err);
    return n == 1 ? ids[0] : -1;
}

static bool token_text_has(const engine_model *m, int32_t id, const char *needle) {
    char buf[64];
    int n = id >= 0 ? engine_token_piece(m, id, true, buf, (int)sizeof buf - 1) : -1;
    if (n < 0 || n >= (int)sizeof buf) return false;
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void set_markers(fim_template *t, fim_family f, const char *name, int32_t pre, int32_t suf,
                        int32_t mid) {
    t->family = f;
    t->name = name;
    t->prefix = pre, t->suffix = suf, t->middle = mid;
}

bool completion_fim_template_find(const engine_model *m, fim_template *t, char *err,
                                  size_t errlen) {
    engine_fim_tokens k;
    engine_token_fim(m, &k);
    memset(t, 0, sizeof *t);
    t->repo = t->file_sep = -1;
    t->bos = engine_adds_bos(m) && engine_token_bos(m) >= 0;
    bool psm = k.pre >= 0 && k.suf >= 0 && k.mid >= 0;
    if (psm && token_text_has(m, k.pre, "<|fim_prefix|>"))
        set_markers(t, FIM_QWEN, "Qwen2.5-Coder", k.pre, k.suf, k.mid);
    else if (psm &&
             (token_text_has(m, k.pre, "<fim_prefix>") || token_text_has(m, k.pre, "<fim-prefix>")))
        set_markers(t, FIM_STARCODER, "StarCoder2", k.pre, k.suf, k.mid);
    else if (psm && token_text_has(m, k.pre,
                                   "fim\xe2\x96\x81"
                                   "begin"))
        set_markers(t, FIM_DEEPSEEK, "DeepSeek-Coder", k.pre, k.suf, k.mid);
    else if (psm && token_text_has(m, k.pre, "<PRE>"))
        set_markers(t, FIM_CODELLAMA, "CodeLlama", k.pre, k.suf, k.mid);
    else if (psm) /* ids from the metadata, texts we do not know: the usual PSM order */
        set_markers(t, FIM_GENERIC, "PSM (GGUF FIM token ids)", k.pre, k.suf, k.mid);
    else {
        int32_t pre = special_id(m, "[PREFIX]"), suf = special_id(m, "[SUFFIX]");
        if (pre < 0 || suf < 0) {
            const engine_model_info *info = engine_model_get_info(m);
            snprintf(err, errlen,
                     "model \"%s\" (%s) has no fill-in-the-middle tokens: completion needs a "
                     "base code model of a known FIM family (Qwen2.5-Coder, StarCoder2, "
                     "DeepSeek-Coder, CodeLlama, Codestral)",
                     info->name && info->name[0] ? info->name : "?",
                     info->arch ? info->arch : "no architecture");
            return false;
        }
        set_markers(t, FIM_CODESTRAL, "Codestral", pre, suf, -1);
        t->spm = true;
    }
    if ((t->family == FIM_QWEN || t->family == FIM_STARCODER) && k.rep >= 0 && k.sep >= 0)
        t->repo = k.rep, t->file_sep = k.sep;
    return true;
}

bool completion_fim_is_cont(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

/* Start of the head window: the first anchor line (index a multiple of FIM_ANCHOR_LINES) within
 * the last max_bytes bytes; if none fits, the first line start within them. */
size_t completion_fim_head_start(const char *p, size_t n, size_t max_bytes) {
    if (n <= max_bytes) return 0;
    size_t min = n - max_bytes, at = 0;
    for (long line = 0; at < n; line++) {
        if (at >= min && line % FIM_ANCHOR_LINES == 0) return at;
        const char *nl = memchr(p + at, '\n', n - at);
        if (!nl) break;
        at = (size_t)(nl - p) + 1;
    }
    const char *nl = memchr(p + min, '\n', n - min);
    if (nl) return (size_t)(nl - p) + 1;
    while (min < n && completion_fim_is_cont((unsigned char)p[min])) min++; /* one long line */
    return min;
}

/* End of the suffix window: the last line end within the first max_bytes bytes. */
size_t completion_fim_suffix_end(const char *p, size_t n, size_t max_bytes) {
    if (n <= max_bytes) return n;
    size_t e = max_bytes;
    while (e > 0 && p[e - 1] != '\n') e--;
    if (e > 0) return e;
    e = max_bytes;
    while (e > 0 && completion_fim_is_cont((unsigned char)p[e])) e--;
    return e;
}

static bool reserve(fim_prompt *out, int64_t more) {
    if (out->n + more <= out->cap) return true;
    int64_t ncap = (out->n + more) * 2 + 64;
    int32_t *ids = realloc(out->ids, (size_t)ncap * sizeof *ids);
    if (!ids) return false;
    out->ids = ids;
    out->cap = ncap;
    return true;
}

/* Appends the tokens of text (special-token text stays plain text: code may contain it). */
static bool append_text(const engine_model *m, fim_prompt *out, const char *text, size_t len,
                        char *err, size_t errlen) {
    if (len == 0) return true;
    int64_t cap = (int64_t)len + 8; /* never more tokens than bytes (+ an SPM space) */
    if (!reserve(out, cap)) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    int64_t n = engine_tokenize(m, text, len, false, false, out->ids + out->n, cap, err, errlen);
    if (n < 0) return false;
    if (n > cap) {
        snprintf(err, errlen, "tokenizer produced more tokens than bytes");
        return false;
    }
    out->n += n;
    return true;
}

static bool push_id(fim_prompt *out, int32_t id) {
    if (!reserve(out, 1)) return false;
    out->ids[out->n++] = id;
    return true;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if (!(x)) goto fail;                                                                       \
    } while (0)

/* The comment leader that introduces a context chunk's path in families without file markers. */
static const char *comment_leader(const char *path) {
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot) return "#";
    static const char *const hash[] = {".py", ".sh",   ".bash", ".rb",  ".pl",
                                       ".r",  ".toml", ".yaml", ".yml", NULL};
    for (const char *const *h = hash; *h; h++)
        if (!strcmp(dot, *h)) return "#";
    if (!strcmp(dot, ".lua") || !strcmp(dot, ".sql") || !strcmp(dot, ".hs")) return "--";
    return "//";
}

/* Cross-file chunks, whole, in order; those that do not fit the budget are left out. */
static bool append_context(const engine_model *m, const fim_template *t, const fim_budget *b,
                           const fim_input *in, fim_prompt *out, char *err, size_t errlen) {
    out->n_chunks = 0;
    if (in->n_chunks <= 0 || b->context_tokens <= 0) return true;
    int64_t start = out->n;
    bool repo = t->file_sep >= 0;
    if (repo) TRY(push_id(out, t->repo) && append_text(m, out, "workspace\n", 10, err, errlen));
    for (int i = 0; i < in->n_chunks; i++) {
        const fim_chunk *c = &in->chunks[i];
        int64_t before = out->n;
        char head[512];
        const char *path = c->path ? c->path : "context";
        int hn = repo ? snprintf(head, sizeof head, "%s\n", path)
                      : snprintf(head, sizeof head, "%s %s\n", comment_leader(in->path), path);
        if (hn < 0 || hn >= (int)sizeof head) hn = 0;
        if (repo) TRY(push_id(out, t->file_sep));
        TRY(append_text(m, out, head, (size_t)hn, err, errlen));
        TRY(append_text(m, out, c->text, c->len, err, errlen));
        if (c->len == 0 || c->text[c->len - 1] != '\n')
            TRY(append_text(m, out, "\n", 1, err, errlen));
        if (!repo) TRY(append_text(m, out, "\n", 1, err, errlen));
        if (out->n - start > b->context_tokens) {
            out->n = before; /* this chunk does not fit: leave it out */
            continue;
        }
        out->n_chunks++;
    }
    if (out->n_chunks == 0) {
        out->n = start;
        return true;
    }
    if (repo) { /* the cursor's own file opens after a last separator */
        const char *path = in->path ? in->path : "file";
        TRY(push_id(out, t->file_sep));
        if (t->family == FIM_QWEN) {
            TRY(append_text(m, out, path, strlen(path), err, errlen));
            TRY(append_text(m, out, "\n", 1, err, errlen));
        }
    }
    return true;
fail:
    if (!err[0]) snprintf(err, errlen, "out of memory");
    return false;
}

/* Tokens of the prefix budget kept for the cursor line, so the head window does not depend on
 * the line's length (which changes with every keystroke). */
#define LINE_TOKENS 64

/* The head window and the cursor line's text within the prefix budget. The head's byte window
 * shrinks by quarters (at anchors) while its tokens overrun: the cut depends on the head only. */
static bool append_prefix(const engine_model *m, const fim_template *t, const fim_budget *b,
                          const fim_input *in, fim_prompt *out, int64_t *line_at, char *err,
                          size_t errlen) {
    size_t head_len = in->prefix_len;
    if (b->line_in_middle)
        while (head_len > 0 && in->prefix[head_len - 1] != '\n') head_len--;
    int32_t line_tokens = b->prefix_tokens / 4 < LINE_TOKENS ? b->prefix_tokens / 4 : LINE_TOKENS;
    int32_t head_tokens = b->prefix_tokens - line_tokens;
    if (t->family == FIM_STARCODER && t->file_sep >= 0 && out->n_chunks > 0 && in->path) {
        TRY(append_text(m, out, in->path, strlen(in->path), err, errlen));
        TRY(append_text(m, out, "\n", 1, err, errlen));
    }
    int64_t at = out->n;
    size_t budget = (size_t)head_tokens * 3;
    for (int tries = 0;; tries++) {
        size_t hs = completion_fim_head_start(in->prefix, head_len, budget);
        out->n = at;
        TRY(append_text(m, out, in->prefix + hs, head_len - hs, err, errlen));
        if (out->n - at <= head_tokens) break;
        if (tries == 4) { /* very dense text: drop the oldest tokens */
            int64_t drop = out->n - at - head_tokens;
            memmove(out->ids + at, out->ids + at + drop, (size_t)head_tokens * sizeof(int32_t));
            out->n -= drop;
            break;
        }
        budget = budget * 3 / 4;
    }
    /* The line: its end, within what the head left of the budget. */
    int64_t room = b->prefix_tokens - (out->n - at);
    size_t line_from = head_len;
    if (in->prefix_len - line_from > (size_t)room * 3) {
        line_from = in->prefix_len - (size_t)room * 3;
        while (line_from < in->prefix_len &&
               completion_fim_is_cont((unsigned char)in->prefix[line_from]))
            line_from++;
    }
    *line_at = out->n;
    TRY(append_text(m, out, in->prefix + line_from, in->prefix_len - line_from, err, errlen));
    if (out->n - *line_at > room) { /* keep the tokens nearest the cursor */
        int64_t drop = out->n - *line_at - room;
        memmove(out->ids + *line_at, out->ids + *line_at + drop, (size_t)room * sizeof(int32_t));
        out->n -= drop;
    }
    return true;
fail:
    if (!err[0]) snprintf(err, errlen, "out of memory");
    return false;
}

static bool append_suffix(const engine_model *m, const fim_budget *b, const fim_input *in,
                          fim_prompt *out, char *err, size_t errlen) {
    size_t se = completion_fim_suffix_end(in->suffix, in->suffix_len, (size_t)b->suffix_tokens * 3);
    int64_t at = out->n;
    if (!append_text(m, out, in->suffix, se, err, errlen)) return false;
    if (out->n - at > b->suffix_tokens) out->n = at + b->suffix_tokens;
    return true;
}

bool completion_fim_prompt_build(const engine_model *m, const fim_template *t, const fim_budget *b,
                                 const fim_input *in, fim_prompt *out, char *err, size_t errlen) {
    out->n = 0;
    out->n_chunks = 0;
    err[0] = '\0';
    int64_t line_at = 0;
    if (t->bos) TRY(push_id(out, engine_token_bos(m)));
    if (t->spm) { /* SUF suffix PRE [context] head line */
        TRY(push_id(out, t->suffix) && append_suffix(m, b, in, out, err, errlen));
        TRY(push_id(out, t->prefix) && append_context(m, t, b, in, out, err, errlen));
        TRY(append_prefix(m, t, b, in, out, &line_at, err, errlen));
        return true;
    }
    bool repo = t->file_sep >= 0;
    if (repo) TRY(append_context(m, t, b, in, out, err, errlen));
    TRY(push_id(out, t->prefix));
    if (!repo) TRY(append_context(m, t, b, in, out, err, errlen));
    TRY(append_prefix(m, t, b, in, out, &line_at, err, errlen));
    /* the cursor line's tokens move after the middle marker: PRE head SUF suffix MID line */
    int64_t n_line = out->n - line_at;
    int32_t *line = NULL;
    if (n_line > 0) {
        TRY(line = malloc((size_t)n_line * sizeof *line));
        memcpy(line, out->ids + line_at, (size_t)n_line * sizeof *line);
        out->n = line_at;
    }
    bool ok = push_id(out, t->suffix) && append_suffix(m, b, in, out, err, errlen) &&
              push_id(out, t->middle) && reserve(out, n_line);
    if (ok && n_line > 0) {
        memcpy(out->ids + out->n, line, (size_t)n_line * sizeof *line);
        out->n += n_line;
    }
    free(line);
    TRY(ok);
    return true;
fail:
    if (!err[0]) snprintf(err, errlen, "out of memory");
    return false;
}
