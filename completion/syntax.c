/* The tree-sitter syntax oracle for trimming: parses the top-level construct around the cursor
 * with a suggestion inserted and says whether it has a syntax error. The document's other
 * parts are left out so each check costs about the size of that construct. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "grammar.h"
#include "trim.h"

#define WINDOW_BEFORE (16 * 1024) /* bytes of prefix searched for the construct's start */
#define WINDOW_AFTER  (4 * 1024)  /* bytes of suffix searched for its end */
#define MEMO          32          /* answers remembered (the suggestion grows by pieces) */
#define NONE          SIZE_MAX

struct completion_syntax {
    trim_oracle oracle; /* first: the oracle callback gets this struct */
    TSParser *parser;
    TSTree *base; /* the window without a suggestion: later parses reuse its subtrees */
    const char *before, *after; /* the window: before + text + after */
    size_t before_len, after_len;
    const char *text; /* the text being checked (during a parse) */
    size_t text_len;
    struct {
        size_t len;
        uint64_t hash;
        bool parses;
    } memo[MEMO];
    int n_memo, next_memo;
};

/* A line that starts a top-level construct: unindented, not blank, not a closing bracket. */
static bool top_level(const char *s, size_t n) {
    return n > 0 && s[0] != ' ' && s[0] != '\t' && s[0] != '\n' && s[0] != '\r' && s[0] != '}' &&
           s[0] != ')' && s[0] != ']';
}

/* The start of the last top-level line before the cursor's line (or of the text); NONE when there
 * is none within WINDOW_BEFORE: a window starting inside a construct would never parse. */
static size_t window_start(const char *p, size_t n) {
    size_t line = n;
    while (line > 0 && p[line - 1] != '\n') line--;
    if (top_level(p + line, n - line)) return line;
    size_t limit = n > WINDOW_BEFORE ? n - WINDOW_BEFORE : 0;
    size_t s = line;
    while (s > limit) {
        size_t prev = s - 1;
        while (prev > 0 && p[prev - 1] != '\n') prev--;
        if (prev < limit) break;
        s = prev;
        if (top_level(p + s, n - s)) return s;
    }
    return s == 0 ? 0 : NONE;
}

/* The end of the suffix window: before the next top-level line after the cursor's line (or the
 * end of the text); NONE when there is none within WINDOW_AFTER. */
static size_t window_end(const char *t, size_t n) {
    size_t limit = n < WINDOW_AFTER ? n : WINDOW_AFTER, cut = limit < n ? NONE : limit;
    const char *nl = memchr(t, '\n', limit);
    if (!nl) return cut;
    for (size_t s = (size_t)(nl - t) + 1; s < limit;) {
        if (top_level(t + s, n - s)) return s;
        const char *e = memchr(t + s, '\n', limit - s);
        if (!e) return cut;
        s = (size_t)(e - t) + 1;
    }
    return cut;
}

static const char *read_window(void *payload, uint32_t at, TSPoint pos, uint32_t *n) {
    (void)pos;
    completion_syntax *s = payload;
    size_t i = at;
    if (i < s->before_len) return *n = (uint32_t)(s->before_len - i), s->before + i;
    i -= s->before_len;
    if (i < s->text_len) return *n = (uint32_t)(s->text_len - i), s->text + i;
    i -= s->text_len;
    if (i < s->after_len) return *n = (uint32_t)(s->after_len - i), s->after + i;
    *n = 0;
    return "";
}

/* Where text ends, starting at p (rows by '\n', columns in bytes). */
static TSPoint point_after(TSPoint p, const char *text, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n')
            p.row++, p.column = 0;
        else
            p.column++;
    }
    return p;
}

static uint64_t hash(const char *t, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)t[i]) * 1099511628211ull;
    return h;
}

static bool parses(trim_oracle *o, const char *text, size_t len) {
    completion_syntax *s = (completion_syntax *)o;
    uint64_t h = hash(text, len);
    for (int i = 0; i < s->n_memo; i++)
        if (s->memo[i].len == len && s->memo[i].hash == h) return s->memo[i].parses;
    s->text = text, s->text_len = len;
    TSInput in = {s, read_window, TSInputEncodingUTF8, NULL};
    TSTree *old = NULL;
    if (len == 0 && !s->base) {
        s->base = ts_parser_parse(s->parser, NULL, in);
    } else if (s->base) { /* the suggestion as an edit of the base: its subtrees are reused */
        old = ts_tree_copy(s->base);
        TSPoint at = point_after((TSPoint){0, 0}, s->before, s->before_len);
        ts_tree_edit(old, &(TSInputEdit){(uint32_t)s->before_len, (uint32_t)s->before_len,
                                         (uint32_t)(s->before_len + len), at, at,
                                         point_after(at, text, len)});
    }
    TSTree *t = len == 0 && !old ? s->base : ts_parser_parse(s->parser, old, in);
    bool ok = t && !ts_node_has_error(ts_tree_root_node(t));
    if (t && t != s->base) ts_tree_delete(t);
    if (old) ts_tree_delete(old);
    int at = s->n_memo < MEMO ? s->n_memo++ : s->next_memo++ % MEMO;
    s->memo[at].len = len, s->memo[at].hash = h, s->memo[at].parses = ok;
    return ok;
}

completion_syntax *completion_syntax_new(const char *language_id, const char *prefix,
                                         size_t prefix_len, const char *suffix, size_t suffix_len) {
    if (!language_id) return NULL;
    const TSLanguage *lang = grammar_code_for_id(language_id);
    size_t from = window_start(prefix, prefix_len), to = window_end(suffix, suffix_len);
    if (!lang || from == NONE || to == NONE) return NULL;
    completion_syntax *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->parser = ts_parser_new();
    if (!s->parser || !ts_parser_set_language(s->parser, lang)) {
        completion_syntax_free(s);
        return NULL;
    }
    s->oracle.parses = parses;
    s->before = prefix + from, s->before_len = prefix_len - from;
    s->after = suffix, s->after_len = to;
    return s;
}

trim_oracle *completion_syntax_oracle(completion_syntax *s) {
    return s ? &s->oracle : NULL;
}

void completion_syntax_free(completion_syntax *s) {
    if (!s) return;
    if (s->base) ts_tree_delete(s->base);
    if (s->parser) ts_parser_delete(s->parser);
    free(s);
}
