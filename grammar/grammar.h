/* grammar: the tree-sitter grammars compiled into hearth, by LSP languageId, by grammar name and
 * by file extension. This header is the only door into grammar/; lsp/ (through completion/'s
 * wrappers), completion/ and index/ all read this one table, so a file gets the same grammar
 * wherever it is parsed. What a module does with a tree (definitions, trimming, chunk rules)
 * stays in that module.
 *
 * Names: a languageId is what editors send ("typescriptreact", "shellscript"); a grammar name is
 * the grammar's own ("tsx", "bash"), what index/ records as a file's language. Nothing here
 * allocates, prints or keeps state. */
#ifndef HEARTH_GRAMMAR_H
#define HEARTH_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct TSLanguage TSLanguage; /* tree_sitter/api.h */

/* The grammar of an LSP languageId (c, cpp, python, javascript[react], typescript[react], go,
 * rust, java, lua, shellscript/sh/bash, json/jsonc); *name (may be NULL) receives the grammar's
 * name. NULL when there is none. */
const TSLanguage *grammar_for_id(const char *language_id, const char **name);
/* The same, but only for programming languages (data and shell grammars do not decide where
 * code ends): NULL otherwise. */
const TSLanguage *grammar_code_for_id(const char *language_id);
/* The grammar of a grammar name ("c", "cpp", "python", "javascript", "typescript", "tsx", "go",
 * "rust", "java", "lua", "bash", "json"); NULL when unknown. */
const TSLanguage *grammar_by_name(const char *name);
/* The languageId editors give a file, by its path's extension; NULL when unknown. */
const char *grammar_id_for_path(const char *path);
/* The grammar name for a file, by its path's extension; NULL when no grammar reads it. */
const char *grammar_name_for_path(const char *path);
/* False (with a message) when a compiled grammar's ABI is outside what the runtime reads. */
bool grammar_check(char *err, size_t errlen);

#endif
