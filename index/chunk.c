/* Chunking: a file becomes chunks of whole lines, each within a token budget. Line windows
 * (this file) work for every language; chunk_ts.c cuts at definition boundaries where a
 * tree-sitter grammar exists and falls back to the windows here for everything between and for
 * definitions too long for one chunk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool word_byte(unsigned char c) {
    return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

int32_t index_count_estimate(const char *text, size_t len, void *user) {
    (void)user;
    int32_t tokens = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        size_t j = i;
        bool word = word_byte(c);
        while (j < len && word_byte((unsigned char)text[j]) == word && text[j] != ' ' &&
               text[j] != '\t' && text[j] != '\n' && text[j] != '\r')
            j++;
        /* a code BPE holds a common word of up to ~5 bytes in one token and merges punctuation
         * pairs ("->", "();", "==") */
        tokens += (int32_t)(word ? (j - i + 4) / 5 : (j - i + 1) / 2);
        i = j;
    }
    return tokens;
}

void index_chunk_params_fill(const index_chunk_params *in, index_chunk_params *out) {
    *out = in ? *in : (index_chunk_params){0};
    if (out->max_tokens <= 0) out->max_tokens = 320;
    if (out->overlap_tokens <= 0) out->overlap_tokens = 40;
    if (out->overlap_tokens >= out->max_tokens) out->overlap_tokens = out->max_tokens / 4;
    if (out->max_lines <= 0) out->max_lines = 120;
    if (!out->count) out->count = index_count_estimate;
}

bool index_line_table_init(line_table *t, const char *text, size_t len,
                           const index_chunk_params *p) {
    memset(t, 0, sizeof *t);
    t->text = text;
    t->len = len;
    int64_t n64 = 0;
    for (size_t i = 0; i < len; i++) n64 += text[i] == '\n';
    if (len && text[len - 1] != '\n') n64++; /* a last line without its newline */
    if (n64 >= INT32_MAX) return false;
    int32_t n = (int32_t)n64;
    t->off = malloc(((size_t)n + 1) * sizeof *t->off);
    t->tok = malloc(((size_t)n + 1) * sizeof *t->tok);
    if (!t->off || !t->tok) {
        index_line_table_free(t);
        return false;
    }
    size_t pos = 0;
    for (int32_t i = 0; i < n; i++) {
        t->off[i] = pos;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        t->tok[i] = p->count(text + pos, end - pos, p->count_user);
        if (t->tok[i] < 0) t->tok[i] = 0;
        pos = nl ? end + 1 : len;
    }
    t->off[n] = len + 1; /* as if the text ended with a newline */
    t->n = n;
    return true;
}

void index_line_table_free(line_table *t) {
    free(t->off);
    free(t->tok);
    memset(t, 0, sizeof *t);
}

/* True if lines [from, to) hold nothing but whitespace. */
static bool blank_lines(const line_table *t, int32_t from, int32_t to) {
    size_t end = t->off[to] - 1 < t->len ? t->off[to] - 1 : t->len;
    for (size_t i = t->off[from]; i < end; i++)
        if (t->text[i] != ' ' && t->text[i] != '\t' && t->text[i] != '\n' && t->text[i] != '\r')
            return false;
    return true;
}

bool index_chunk_list_push_def(chunk_list *l, const line_table *t, int32_t from, int32_t to,
                               const index_chunk *d) {
    if (from >= to || blank_lines(t, from, to)) return true;
    if (l->n == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 32;
        index_chunk *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    size_t a = t->off[from], b = t->off[to] - 1; /* without the last line's newline */
    if (b > t->len) b = t->len;
    index_chunk *c = &l->v[l->n];
    *c = (index_chunk){.start_line = from + 1, .end_line = to, .text = strndup(t->text + a, b - a)};
    if (d) {
        c->def_start = d->def_start;
        c->def_end = d->def_end;
        c->declaration = d->declaration;
        /* the doc and signature lines, when this chunk starts where the definition does */
        if (d->head_lines && from + 1 == d->start_line)
            c->head_lines = d->head_lines < to - from ? d->head_lines : to - from;
        if (d->symbol) c->symbol = strdup(d->symbol);
        if (d->name) c->name = strdup(d->name);
    }
    if (!c->text || (d && d->symbol && !c->symbol) || (d && d->name && !c->name)) {
        free(c->text);
        free(c->symbol);
        free(c->name);
        return false;
    }
    l->n++;
    return true;
}

bool index_chunk_list_push(chunk_list *l, const line_table *t, int32_t from, int32_t to,
                           const char *symbol) {
    index_chunk d = {.symbol = (char *)symbol};
    return index_chunk_list_push_def(l, t, from, to, symbol ? &d : NULL);
}

bool index_chunk_windows_def(chunk_list *l, const line_table *t, int32_t from, int32_t to,
                             const index_chunk_params *p, const index_chunk *d) {
    for (int32_t start = from; start < to;) {
        int32_t end = start;
        int64_t tok = 0;
        while (end < to && (end == start ||
                            (tok + t->tok[end] <= p->max_tokens && end - start < p->max_lines))) {
            tok += t->tok[end];
            end++;
        }
        /* windows that are not one definition's (a class header) name it in the first only */
        index_chunk later = d ? *d : (index_chunk){0};
        if (!later.def_start) later.name = NULL;
        if (!index_chunk_list_push_def(l, t, start, end, start == from || !d ? d : &later))
            return false;
        if (end >= to) break;
        /* The next window repeats the last lines of this one, up to overlap_tokens. */
        int32_t next = end;
        int64_t ov = 0;
        while (next - 1 > start && ov + t->tok[next - 1] <= p->overlap_tokens) ov += t->tok[--next];
        start = next;
    }
    return true;
}

bool index_chunk_windows(chunk_list *l, const line_table *t, int32_t from, int32_t to,
                         const index_chunk_params *p, const char *symbol) {
    index_chunk d = {.symbol = (char *)symbol};
    return index_chunk_windows_def(l, t, from, to, p, symbol ? &d : NULL);
}

static bool chunk_done(chunk_list *l, bool ok, index_chunk **chunks, int32_t *n_chunks, char *err,
                       size_t errlen) {
    if (!ok) {
        index_chunks_free(l->v, l->n);
        snprintf(err, errlen, "chunking: out of memory");
        return false;
    }
    *chunks = l->v;
    *n_chunks = l->n;
    return true;
}

bool index_chunk_lines(const char *text, size_t len, const index_chunk_params *params,
                       index_chunk **chunks, int32_t *n_chunks, char *err, size_t errlen) {
    index_chunk_params p;
    index_chunk_params_fill(params, &p);
    line_table t;
    chunk_list l = {0};
    bool ok = index_line_table_init(&t, text, len, &p);
    if (ok) ok = index_chunk_windows(&l, &t, 0, t.n, &p, NULL);
    index_line_table_free(&t);
    return chunk_done(&l, ok, chunks, n_chunks, err, errlen);
}

bool index_chunk_text(const char *language, const char *text, size_t len,
                      const index_chunk_params *params, index_chunk **chunks, int32_t *n_chunks,
                      char *err, size_t errlen) {
    index_chunk_params p;
    index_chunk_params_fill(params, &p);
    line_table t;
    chunk_list l = {0};
    bool ok = index_line_table_init(&t, text, len, &p), handled = false;
    if (ok) ok = index_chunk_definitions(&l, &t, language, &p, &handled);
    if (ok && !handled) ok = index_chunk_windows(&l, &t, 0, t.n, &p, NULL);
    index_line_table_free(&t);
    return chunk_done(&l, ok, chunks, n_chunks, err, errlen);
}

void index_chunks_free(index_chunk *chunks, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        free(chunks[i].symbol);
        free(chunks[i].name);
        free(chunks[i].text);
    }
    free(chunks);
}
