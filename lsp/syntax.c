/* tree-sitter trees for open documents. Grammars are compiled into the binary (third_party/
 * tree-sitter, pinned npm packages); each edit is applied to the old tree with ts_tree_edit so
 * the next parse reuses every subtree the edit did not touch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "lsp_internal.h"

const TSLanguage *tree_sitter_bash(void);
const TSLanguage *tree_sitter_c(void);
const TSLanguage *tree_sitter_cpp(void);
const TSLanguage *tree_sitter_go(void);
const TSLanguage *tree_sitter_java(void);
const TSLanguage *tree_sitter_javascript(void);
const TSLanguage *tree_sitter_json(void);
const TSLanguage *tree_sitter_lua(void);
const TSLanguage *tree_sitter_python(void);
const TSLanguage *tree_sitter_rust(void);
const TSLanguage *tree_sitter_tsx(void);
const TSLanguage *tree_sitter_typescript(void);

/* LSP languageId (as editors send it) -> grammar. */
static const struct {
    const char *id, *grammar;
    const TSLanguage *(*language)(void);
} GRAMMARS[] = {
    {"c", "c", tree_sitter_c},
    {"cpp", "cpp", tree_sitter_cpp},
    {"python", "python", tree_sitter_python},
    {"javascript", "javascript", tree_sitter_javascript},
    {"javascriptreact", "javascript", tree_sitter_javascript}, /* the grammar includes JSX */
    {"typescript", "typescript", tree_sitter_typescript},
    {"typescriptreact", "tsx", tree_sitter_tsx},
    {"go", "go", tree_sitter_go},
    {"rust", "rust", tree_sitter_rust},
    {"java", "java", tree_sitter_java},
    {"lua", "lua", tree_sitter_lua},
    {"shellscript", "bash", tree_sitter_bash},
    {"sh", "bash", tree_sitter_bash}, /* Neovim's filetype */
    {"bash", "bash", tree_sitter_bash},
    {"json", "json", tree_sitter_json},
    {"jsonc", "json", tree_sitter_json},
};
#define N_GRAMMARS (sizeof GRAMMARS / sizeof GRAMMARS[0])

struct lsp_syntax {
    TSParser *parser;
    TSTree *tree;
    const char *grammar;
    int parses;
};

bool lsp_syntax_check(char *err, size_t errlen) {
    for (size_t i = 0; i < N_GRAMMARS; i++) {
        uint32_t v = ts_language_abi_version(GRAMMARS[i].language());
        if (v < TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION || v > TREE_SITTER_LANGUAGE_VERSION) {
            snprintf(err, errlen, "tree-sitter grammar %s has ABI %u, the runtime reads %d..%d",
                     GRAMMARS[i].grammar, v, TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION,
                     TREE_SITTER_LANGUAGE_VERSION);
            return false;
        }
    }
    return true;
}

lsp_syntax *lsp_syntax_new(const char *language_id) {
    for (size_t i = 0; i < N_GRAMMARS; i++) {
        if (strcmp(GRAMMARS[i].id, language_id)) continue;
        lsp_syntax *s = calloc(1, sizeof *s);
        if (!s) return NULL;
        s->parser = ts_parser_new();
        if (!s->parser || !ts_parser_set_language(s->parser, GRAMMARS[i].language())) {
            lsp_syntax_free(s);
            return NULL;
        }
        s->grammar = GRAMMARS[i].grammar;
        return s;
    }
    return NULL;
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
