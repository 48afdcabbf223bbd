/* tree-sitter trees for open documents. Grammars are compiled into the binary (third_party/
 * tree-sitter, pinned npm packages); each edit is applied to the old tree with ts_tree_edit so
 * the next parse reuses every subtree the edit did not touch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "lsp_internal.h"

/* The grammars by languageId: completion/'s table (completion_language). */
#include "completion.h"

struct lsp_syntax {
    TSParser *parser;
    TSTree *tree;
    const char *grammar;
    int parses;
};

bool lsp_syntax_check(char *err, size_t errlen) {
    return completion_languages_check(err, errlen);
}

lsp_syntax *lsp_syntax_new(const char *language_id) {
    const char *grammar = NULL;
    const TSLanguage *lang = completion_language(language_id, &grammar);
    if (!lang) return NULL;
    lsp_syntax *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->parser = ts_parser_new();
    if (!s->parser || !ts_parser_set_language(s->parser, lang)) {
        lsp_syntax_free(s);
        return NULL;
    }
    s->grammar = grammar;
    return s;
}

void lsp_syntax_free(lsp_syntax *s) {
    if (!s) return;
    if (s->tree) ts_tree_delete(s->tree);
    if (s->parser) ts_parser_delete(s->parser);
    free(s);
}

/* tree-sitter's points count rows by '\n' and columns in bytes. */
static TSPoint point_at(const char *text, size_t off) {
    TSPoint p = {0, 0};
    size_t line_start = 0;
    for (size_t i = 0; i < off; i++)
        if (text[i] == '\n') {
            p.row++;
            line_start = i + 1;
        }
    p.column = (uint32_t)(off - line_start);
    return p;
}

void lsp_syntax_edit(lsp_syntax *s, const char *old_text, const lsp_edit *e, const char *inserted,
                     size_t inserted_len) {
    if (!s || !s->tree) return;
    TSPoint start = point_at(old_text, e->start), new_end = start;
    for (size_t i = 0; i < inserted_len; i++) {
        if (inserted[i] == '\n') {
            new_end.row++;
            new_end.column = 0;
        } else {
            new_end.column++;
        }
    }
    TSInputEdit in = {
        .start_byte = (uint32_t)e->start,
        .old_end_byte = (uint32_t)e->old_end,
        .new_end_byte = (uint32_t)e->new_end,
        .start_point = start,
        .old_end_point = point_at(old_text, e->old_end),
        .new_end_point = new_end,
    };
    ts_tree_edit(s->tree, &in);
}

bool lsp_syntax_parse(lsp_syntax *s, const char *text, size_t len) {
    TSTree *t = len <= LSP_SYNTAX_MAX_BYTES
                    ? ts_parser_parse_string(s->parser, s->tree, text, (uint32_t)len)
                    : NULL;
    if (!t) {
        if (s->tree) ts_tree_delete(s->tree); /* a stale tree would mislead its readers */
        s->tree = NULL;
        return false;
    }
    if (s->tree) ts_tree_delete(s->tree);
    s->tree = t;
    s->parses++;
    return true;
}

char *lsp_syntax_sexp(const lsp_syntax *s) {
    if (!s || !s->tree) return NULL;
    return ts_node_string(ts_tree_root_node(s->tree));
}

const TSTree *lsp_syntax_tree(const lsp_syntax *s) {
    return s ? s->tree : NULL;
}

const char *lsp_syntax_language(const lsp_syntax *s) {
    return s ? s->grammar : NULL;
}
int lsp_syntax_parses(const lsp_syntax *s) {
    return s ? s->parses : 0;
}
