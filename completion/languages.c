/* The grammars by LSP languageId and file extension: grammar/'s table, under the names lsp/
 * (syntax.c) and serve/ (sched.c) call; completion_parse for callers that send files without
 * trees. */
#include <tree_sitter/api.h>

#include "completion.h"
#include "grammar.h"
#include "trim.h"

const TSLanguage *completion_language(const char *language_id, const char **grammar) {
    return grammar_for_id(language_id, grammar);
}

const char *completion_language_for_path(const char *path) {
    return grammar_id_for_path(path);
}

bool completion_languages_check(char *err, size_t errlen) {
    return grammar_check(err, errlen);
}

TSTree *completion_parse(const char *language_id, const char *text, size_t len) {
    const TSLanguage *lang = completion_language(language_id, NULL);
    if (!lang || len > COMPLETION_PARSE_MAX_BYTES) return NULL;
    TSParser *p = ts_parser_new();
    TSTree *t = p && ts_parser_set_language(p, lang)
                    ? ts_parser_parse_string(p, NULL, text, (uint32_t)len)
                    : NULL;
    if (p) ts_parser_delete(p);
    return t;
}
