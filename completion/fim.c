/* FIM prompts: <|fim_prefix|>PREFIX<|fim_suffix|>SUFFIX<|fim_middle|> (Qwen2.5-Coder's PSM
 * layout). The windows are cut at line boundaries chosen from byte budgets, so the window start
 * stays put while the user types and the prompt's beginning (hence the KV cache) stays reusable. */
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

bool fim_template_find(const engine_model *m, fim_template *t, char *err, size_t errlen) {
    t->prefix = special_id(m, "<|fim_prefix|>");
    t->suffix = special_id(m, "<|fim_suffix|>");
    t->middle = special_id(m, "<|fim_middle|>");
    if (t->prefix < 0 || t->suffix < 0 || t->middle < 0) {
        snprintf(err, errlen,
                 "the model has no <|fim_prefix|>/<|fim_suffix|>/<|fim_middle|> "
                 "tokens (a Qwen2.5-Coder base model is needed)");
        return false;
    }
    return true;
}

static bool is_cont(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

/* Start of the prefix window: the first line start within the last max_bytes bytes. */
static size_t prefix_start(const char *p, size_t n, size_t max_bytes) {
    if (n <= max_bytes) return 0;
    size_t s = n - max_bytes;
    const char *nl = memchr(p + s, '\n', n - s);
    if (nl) return (size_t)(nl - p) + 1;
    while (s < n && is_cont((unsigned char)p[s])) s++; /* one long line: a character boundary */
    return s;
}

/* End of the suffix window: the last line end within the first max_bytes bytes. */
static size_t suffix_end(const char *p, size_t n, size_t max_bytes) {
    if (n <= max_bytes) return n;
    size_t e = max_bytes;
    while (e > 0 && p[e - 1] != '\n') e--;
    if (e > 0) return e;
    e = max_bytes;
    while (e > 0 && is_cont((unsigned char)p[e])) e--;
    return e;
}

/* Appends the tokens of text (special-token text stays plain text: code may contain it). */
static bool append_text(const engine_model *m, fim_prompt *out, const char *text, size_t len,
                        int32_t *n_added, char *err, size_t errlen) {
    int64_t cap = (int64_t)len + 8; /* byte-level BPE: never more tokens than bytes */
    if (out->n + cap > out->cap) {
        int64_t ncap = out->n + cap + 64;
        int32_t *ids = realloc(out->ids, (size_t)ncap * sizeof *ids);
        if (!ids) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        out->ids = ids;
        out->cap = ncap;
    }
    int64_t n = engine_tokenize(m, text, len, false, false, out->ids + out->n, cap, err, errlen);
    if (n < 0) return false;
    if (n > cap) {
        snprintf(err, errlen, "tokenizer produced more tokens than bytes");
        return false;
    }
    out->n += n;
    *n_added = (int32_t)n;
    return true;
}

static bool push_id(fim_prompt *out, int32_t id) {
    if (out->n == out->cap) {
        int64_t ncap = out->cap * 2 + 16;
        int32_t *ids = realloc(out->ids, (size_t)ncap * sizeof *ids);
        if (!ids) return false;
        out->ids = ids;
        out->cap = ncap;
    }
    out->ids[out->n++] = id;
    return true;
}

bool fim_prompt_build(const engine_model *m, const fim_template *t, const fim_budget *b,
                      const char *prefix, size_t prefix_len, const char *suffix, size_t suffix_len,
                      fim_prompt *out, char *err, size_t errlen) {
    out->n = 0;
    size_t ps = prefix_start(prefix, prefix_len, (size_t)b->prefix_tokens * 3);
    size_t se = suffix_end(suffix, suffix_len, (size_t)b->suffix_tokens * 3);
    int32_t np = 0, ns = 0;
    if (engine_adds_bos(m) && engine_token_bos(m) >= 0 && !push_id(out, engine_token_bos(m)))
        goto oom;
    if (!push_id(out, t->prefix)) goto oom;
    int64_t at = out->n;
    if (!append_text(m, out, prefix + ps, prefix_len - ps, &np, err, errlen)) return false;
    if (np > b->prefix_tokens) { /* dense text: drop the oldest tokens */
        int32_t drop = np - b->prefix_tokens;
        memmove(out->ids + at, out->ids + at + drop,
                (size_t)(out->n - at - drop) * sizeof(int32_t));
        out->n -= drop;
    }
    if (!push_id(out, t->suffix)) goto oom;
    at = out->n;
    if (!append_text(m, out, suffix, se, &ns, err, errlen)) return false;
    if (ns > b->suffix_tokens) out->n = at + b->suffix_tokens;
    if (!push_id(out, t->middle)) goto oom;
    return true;
oom:
    snprintf(err, errlen, "out of memory");
    return false;
}
