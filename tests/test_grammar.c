/* grammar/: one tree-sitter table for lsp/ (completion_language), completion/ and index/: a file
 * gets the same grammar object whichever module parses it, index/'s language names are the
 * table's grammar names, and every language index/ chunks by definitions has a grammar. */
#include <string.h>

#include "completion.h"
#include "grammar.h"
#include "internal.h"
#include "test.h"

static void test_same_grammar_everywhere(void) {
    static const char *const PATHS[] = {"a.c",    "a.h",   "b.cpp",    "b.hxx", "c.py",  "c.pyi",
                                        "d.js",   "d.jsx", "d.mjs",    "e.ts",  "e.tsx", "e.mts",
                                        "f.go",   "g.rs",  "h.java",   "i.lua", "j.sh",  "k.json",
                                        "x/y.cc", "l.md",  "Makefile", "m.rb"};
    int with_grammar = 0;
    for (size_t i = 0; i < sizeof PATHS / sizeof *PATHS; i++) {
        const char *p = PATHS[i], *id = completion_language_for_path(p), *name = NULL;
        CHECKF(id == grammar_id_for_path(p), "%s", p);
        const TSLanguage *lsp = completion_language(id, &name);     /* what lsp/syntax.c parses */
        const TSLanguage *idx = grammar_by_name(index_language(p)); /* what index/ parses */
        CHECKF(lsp == idx, "%s: lsp/completion and index/ parse with different grammars", p);
        if (lsp) {
            with_grammar++;
            CHECKF(!strcmp(index_language(p), name), "%s: index says %s, the table %s", p,
                   index_language(p), name);
        }
    }
    CHECK(with_grammar == 19);
    CHECK(!strcmp(index_language("e.tsx"), "tsx") &&
          !strcmp(index_language("d.jsx"), "javascript"));
    CHECK(!strcmp(index_language("j.sh"), "bash") && !strcmp(index_language("l.md"), "markdown"));
    CHECK(!strcmp(index_language("x.unknown"), "text"));
    const char *name = NULL;
    CHECK(grammar_for_id("typescriptreact", &name) == grammar_by_name("tsx") &&
          !strcmp(name, "tsx"));
    CHECK(grammar_code_for_id("json") == NULL && grammar_for_id("json", NULL) != NULL);
    CHECK(grammar_code_for_id("python") == grammar_by_name("python"));
    CHECK(grammar_for_id("cobol", NULL) == NULL && grammar_by_name(NULL) == NULL);
    CHECK(grammar_id_for_path("a.d/file") == NULL && grammar_name_for_path(NULL) == NULL);
    char err[256];
    CHECK(grammar_check(err, sizeof err));
}

/* Every language index/ chunks by definitions finds its grammar (a missing one would fall back
 * to line windows without symbols). */
static void test_index_languages_have_grammars(void) {
    static const struct {
        const char *lang, *src, *sym;
    } CASES[] = {{"c", "int f(void) {\n  return 1;\n}\n", "f"},
                 {"cpp", "int f() {\n  return 1;\n}\n", "f"},
                 {"python", "def f():\n    return 1\n", "f"},
                 {"javascript", "function f() {\n  return 1;\n}\n", "f"},
                 {"typescript", "function f(): number {\n  return 1;\n}\n", "f"},
                 {"tsx", "function f() {\n  return <div/>;\n}\n", "f"},
                 {"go", "package m\n\nfunc f() int {\n\treturn 1\n}\n", "f"},
                 {"rust", "fn f() -> i32 {\n    1\n}\n", "f"},
                 {"java", "class f {\n  int g() { return 1; }\n}\n", "f"},
                 {"lua", "function f()\n  return 1\nend\n", "f"},
                 {"bash", "f() {\n  echo 1\n}\n", "f"}};
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        index_chunk *c = NULL;
        int32_t n = 0;
        char err[INDEX_ERR_LEN];
        CHECK(index_chunk_text(CASES[i].lang, CASES[i].src, strlen(CASES[i].src), NULL, &c, &n, err,
                               sizeof err));
        bool found = false;
        for (int32_t j = 0; j < n; j++) found |= c[j].symbol && !strcmp(c[j].symbol, CASES[i].sym);
        CHECKF(found, "%s: no definition chunk", CASES[i].lang);
        index_chunks_free(c, n);
    }
}

int main(void) {
    test_same_grammar_everywhere();
    test_index_languages_have_grammars();
    return test_summary("test_grammar");
}
