/* The grammar table: languageIds and file extensions to the grammars of
 * third_party/tree-sitter (pinned npm packages compiled into hearth_treesitter). */
#include <stdio.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "grammar.h"

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

/* LSP languageId (as editors send it) -> grammar; code: a programming language (trimming asks
 * its grammar whether a suggestion parses; data and shell grammars do not decide that). */
static const struct {
    const char *id, *grammar;
    const TSLanguage *(*language)(void);
    bool code;
} GRAMMARS[] = {
    {"c", "c", tree_sitter_c, true},
    {"cpp", "cpp", tree_sitter_cpp, true},
    {"python", "python", tree_sitter_python, true},
    {"javascript", "javascript", tree_sitter_javascript, true},
    {"javascriptreact", "javascript", tree_sitter_javascript, true}, /* the grammar has JSX */
    {"typescript", "typescript", tree_sitter_typescript, true},
    {"typescriptreact", "tsx", tree_sitter_tsx, true},
    {"go", "go", tree_sitter_go, true},
    {"rust", "rust", tree_sitter_rust, true},
    {"java", "java", tree_sitter_java, true},
    {"lua", "lua", tree_sitter_lua, true},
    {"shellscript", "bash", tree_sitter_bash, false},
    {"sh", "bash", tree_sitter_bash, false}, /* Neovim's filetype */
    {"bash", "bash", tree_sitter_bash, false},
    {"json", "json", tree_sitter_json, false},
    {"jsonc", "json", tree_sitter_json, false},
};
#define N_GRAMMARS (sizeof GRAMMARS / sizeof GRAMMARS[0])

/* File extension -> the languageId editors give such files. */
static const struct {
    const char *ext, *id;
} EXTENSIONS[] = {
    {".c", "c"},
    {".h", "c"},
    {".cc", "cpp"},
    {".cpp", "cpp"},
    {".cxx", "cpp"},
    {".hpp", "cpp"},
    {".hh", "cpp"},
    {".hxx", "cpp"},
    {".py", "python"},
    {".pyi", "python"},
    {".js", "javascript"},
    {".mjs", "javascript"},
    {".cjs", "javascript"},
    {".jsx", "javascriptreact"},
    {".ts", "typescript"},
    {".mts", "typescript"},
    {".cts", "typescript"},
    {".tsx", "typescriptreact"},
    {".go", "go"},
    {".rs", "rust"},
    {".java", "java"},
    {".lua", "lua"},
    {".sh", "shellscript"},
    {".bash", "shellscript"},
    {".json", "json"},
};

static int find_id(const char *language_id) {
    for (size_t i = 0; language_id && i < N_GRAMMARS; i++)
        if (!strcmp(GRAMMARS[i].id, language_id)) return (int)i;
    return -1;
}

const TSLanguage *grammar_for_id(const char *language_id, const char **name) {
    int i = find_id(language_id);
    if (i < 0) return NULL;
    if (name) *name = GRAMMARS[i].grammar;
    return GRAMMARS[i].language();
}

const TSLanguage *grammar_code_for_id(const char *language_id) {
    int i = find_id(language_id);
    return i >= 0 && GRAMMARS[i].code ? GRAMMARS[i].language() : NULL;
}

const TSLanguage *grammar_by_name(const char *name) {
    for (size_t i = 0; name && i < N_GRAMMARS; i++)
        if (!strcmp(GRAMMARS[i].grammar, name)) return GRAMMARS[i].language();
    return NULL;
}

const char *grammar_id_for_path(const char *path) {
    const char *slash = path ? strrchr(path, '/') : NULL;
    const char *dot = path ? strrchr(slash ? slash : path, '.') : NULL;
    for (size_t i = 0; dot && i < sizeof EXTENSIONS / sizeof EXTENSIONS[0]; i++)
        if (!strcmp(dot, EXTENSIONS[i].ext)) return EXTENSIONS[i].id;
    return NULL;
}

const char *grammar_name_for_path(const char *path) {
    int i = find_id(grammar_id_for_path(path));
    return i >= 0 ? GRAMMARS[i].grammar : NULL;
}

bool grammar_check(char *err, size_t errlen) {
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
