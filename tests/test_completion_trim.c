/* Where suggestions end (completion/trim.c): one table, one case per rule. */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "trim.h"

typedef struct {
    const char *what;
    const char *before, *suffix, *text;
    int max_lines;
    bool final;
    const char *expect;
    int done; /* -1 = either */
} trim_case;

static const trim_case cases[] = {
    {"expression: one line", "x = ar", "\nprint(x)\n", "ea(2, 3)\nprint(y)\n", 0, true, "ea(2, 3)",
     1},
    {"closer the editor inserted is not repeated", "print(", ")\n", "x)", 0, true, "x", 1},
    {"rest of the line not repeated", "x = 1", ";\n", " + 2;", 0, true, " + 2", -1},
    {"rest of the line after more text", "foo(", "bar)\n", "x, bar)", 0, true, "x,", -1},
    {"python block after a colon", "def f(x):", "\n\nprint(f(2))\n",
     "\n    y = x * 2\n    return y\n\ndef g():\n    pass", 0, true,
     "\n    y = x * 2\n    return y", 1},
    {"C block: the closing brace is included", "int f(void) {", "\n\nint main(void) {}\n",
     "\n    return 1;\n}\n\nint g(void) {", 0, true, "\n    return 1;\n}", 1},
    {"C block: the suffix closes it already", "    if (x) {", "\n    }\n",
     "\n        y++;\n    }\n", 0, true, "\n        y++;", 1},
    {"blank line: statements until a blank line", "    ", "\n    return x\n",
     "x += 1\n    x *= 2\n\n    foo()", 0, true, "x += 1\n    x *= 2", 1},
    {"blank line: a dedent ends it", "        ", "\n", "a = 1\n    b = 2", 0, true, "a = 1", 1},
    {"a line the suffix already has", "    ", "\n    return x\n", "x = 2\n    return x\n", 0, true,
     "x = 2", 1},
    {"whitespace only is nothing", "x = 1", "\n", "   \n", 0, true, "", 1},
    {"blank lines only is nothing", "def f():", "\n", "\n\n   \n", 0, true, "", -1},
    {"a single line leaves no bracket open", "y = ", "\n", "foo(a, b", 0, true, "foo", -1},
    {"a closer that closes nothing ends it", "y = 1", "\n", " + 2)", 0, true, " + 2", 1},
    {"closing what the line opened is fine", "y = max(a", "\n", ", b)", 0, true, ", b)", -1},
    {"brackets inside strings do not count", "s = ", "\n", "\"(\" + x", 0, true, "\"(\" + x", -1},
    {"escaped quote inside a string", "s = ", "\n", "\"a\\\"(\" + y", 0, true, "\"a\\\"(\" + y",
     -1},
    {"line limit", "def f():", "\n", "\n    a\n    b\n    c", 2, true, "\n    a", 1},
    {"streaming: an open bracket may close later", "x = ", "\n", "foo(1", 0, false, "foo(1", 0},
    {"streaming: a newline ends an expression", "x = ", "\n", "foo(1)\nbar", 0, false, "foo(1)", 1},
    {"streaming: an incomplete line waits", "def f():", "\n", "\n    retu", 0, false, "\n    retu",
     0},
    {"arrow function body", "const f = (x) =>", "\n", " x * 2;\nconst g = 1;", 0, true, " x * 2;",
     1},
    {"lua then ... end", "if x then", "\n", "\n  y()\nend\nz()", 0, true, "\n  y()\nend", 1},
    {"tabs", "\tif (a) {", "\n", "\n\t\tb();\n\t}\n", 0, true, "\n\t\tb();\n\t}", 1},
    {"text after the cursor: one line", "foo(", "bar)\n", "x, \nmore", 0, true, "x,", 1},
    {"trailing blanks dropped", "x = ", "\n", "1   ", 0, true, "1", -1},
    {"mismatched closer ends it", "y = ", "\n", "[1, 2)", 0, true, "", 1},
    {"nested block in a block", "def f():", "\n", "\n    if a:\n        b()\n    c()\nd()", 0, true,
     "\n    if a:\n        b()\n    c()", 1},
};

/* With tree-sitter: the document before the cursor (its last line is the cursor's), the suffix,
 * the suggestion; cases where indentation alone ends it in the wrong place. */
typedef struct {
    const char *what, *language;
    const char *prefix, *suffix, *text;
    const char *expect;
} syntax_case;

static const syntax_case syntax_cases[] = {
    {"C: an if without braces takes one statement", "c", "int f(int x) {\n    if (x < 0)\n        ",
     "\n}\n", "return -1;\n        x++;\n        return x;", "return -1;"},
    {"C: a block after a brace ends at its closing line", "c", "int f(int x) {\n    if (x) {",
     "\n    return 0;\n}\n", "\n        x++;\n    }\n    y++;", "\n        x++;\n    }"},
    {"JS: an object literal continues after a comma", "javascript", "const o = {\n  a: 1,", "\n",
     "\n  b: 2,\n};\nfoo(o);", "\n  b: 2,\n};"},
    {"TS: an interface continues after a member", "typescript", "interface P {\n  x: number;", "\n",
     "\n  y: number;\n}\nconst p = 1;", "\n  y: number;\n}"},
    {"Python: a multi-line call ends at its parenthesis", "python", "def g():\n    x = foo(a,",
     "\n    return x\n", "\n            b,\n            c)\n    y = x",
     "\n            b,\n            c)"},
    {"Python: a suggestion that breaks the file is cut back", "python", "def g():\n    ",
     "\n    return x\n", "x = 1\n    y = (2,\n", "x = 1"},
    {"Go: a composite literal continues after a comma", "go",
     "package m\n\nfunc f() P {\n\treturn P{\n\t\tX: 1,", "\n}\n", "\n\t\tY: 2,\n\t}\n\tz := 3",
     "\n\t\tY: 2,\n\t}"},
    {"Rust: a match continues after an arm", "rust",
     "fn f(x: i32) -> i32 {\n    match x {\n        1 => 10,", "\n}\n",
     "\n        _ => 0,\n    }\n    let y = 2;", "\n        _ => 0,\n    }"},
    {"an unknown language: indentation alone", "cobol", "x = foo(a,", "\n", "\n  b)", ""},
    {"text after the cursor: one line as before", "python", "def g():\n    x = foo(", "a)\n",
     "b, \nc", "b,"},
};

/* Streaming (completion_trim_stable): at every point of a text where generation goes on (whole
 * characters, no done yet), the part shown is kept by the final trim wherever generation ends
 * after it (any length up to where a non-final trim reports done). Returns how often it grew. */
static int check_stable(const char *what, const trim_context *c, trim_oracle *o, const char *text) {
    size_t len = strlen(text), shown = 0;
    trim_stable st = {0};
    int grew = 0;
    for (size_t n = 0; n <= len; n++) {
        if (n < len && ((unsigned char)text[n] & 0xC0) == 0x80) continue;
        if (completion_trim_syntax(c, o, text, n, false).done) break; /* generation stops */
        size_t p = completion_trim_stable(c, o, &st, text, n);
        CHECKF(p <= n, "%s: stable %zu of %zu bytes", what, p, n);
        grew += p > shown;
        shown = p > shown ? p : shown;
        for (size_t m = n; m <= len; m++) {
            if (m < len && ((unsigned char)text[m] & 0xC0) == 0x80) continue;
            size_t keep = completion_trim_syntax(c, o, text, m, true).keep;
            CHECKF(p <= keep,
                   "%s: \"%.*s\" shown after %zu bytes, but ending at %zu keeps \"%.*s\"", what,
                   (int)p, text, n, m, (int)keep, text);
            if (completion_trim_syntax(c, o, text, m, false).done) break;
        }
    }
    return grew;
}

/* What is shown while the text is generated, on a few cases where the answer is clear. */
static void test_stable_examples(void) {
    static const struct {
        const char *before, *suffix, *text, *expect;
    } ex[] = {
        {"x = ar", "\nprint(x)\n", "ea", "ea"},               /* the first line grows */
        {"x = ar", "\nprint(x)\n", "ea(2, 3", "ea"},          /* an open bracket waits */
        {"x = ar", "\nprint(x)\n", "ea(2, 3)  ", "ea(2, 3)"}, /* blanks wait */
        {"foo(", "bar)\n", "x, yz", "x"},                     /* the rest of the line may follow */
        {"def f(x):", "\n", "\n    y = x * 2\n    ret", "\n    y = x * 2"}, /* a line at a time */
        {"def f(x):", "\n", "\n    y = x", ""},
        {"s = ", "\n", "\"\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9"}, /* whole characters */
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        trim_context c = {ex[i].before, strlen(ex[i].before), ex[i].suffix, strlen(ex[i].suffix),
                          8};
        trim_stable st = {0};
        size_t p = completion_trim_stable(&c, NULL, &st, ex[i].text, strlen(ex[i].text));
        CHECKF(p == strlen(ex[i].expect) && !memcmp(ex[i].text, ex[i].expect, p),
               "example %zu: stable \"%.*s\", expected \"%s\"", i, (int)p, ex[i].text,
               ex[i].expect);
    }
}

static void test_syntax(void) {
    for (size_t i = 0; i < sizeof syntax_cases / sizeof syntax_cases[0]; i++) {
        const syntax_case *k = &syntax_cases[i];
        size_t pn = strlen(k->prefix), ls = pn;
        while (ls > 0 && k->prefix[ls - 1] != '\n') ls--;
        completion_syntax *s =
            completion_syntax_new(k->language, k->prefix, pn, k->suffix, strlen(k->suffix));
        trim_context c = {k->prefix + ls, pn - ls, k->suffix, strlen(k->suffix), 8};
        trim_oracle *o = completion_syntax_oracle(s);
        trim_result r = completion_trim_syntax(&c, o, k->text, strlen(k->text), true);
        bool ok = r.keep == strlen(k->expect) && !memcmp(k->text, k->expect, r.keep);
        CHECKF(ok, "%s: kept \"%.*s\", expected \"%s\"", k->what, (int)r.keep, k->text, k->expect);
        /* streaming: the end of an unfinished construct is known, and generation stops, once its
         * line is complete (a cut-back one is known only when generation ends) */
        size_t more = strlen(k->expect) < strlen(k->text) ? strlen(k->expect) + 1 : 0;
        if (more && s && !o->parses(o, "", 0) && k->text[more - 1] == '\n') {
            r = completion_trim_syntax(&c, o, k->text, strlen(k->text), false);
            CHECKF(r.done, "%s: streaming does not stop", k->what);
        }
        check_stable(k->what, &c, o, k->text);
        completion_syntax_free(s);
    }
}

/* A construct longer than the window searched for its start: no oracle (a window starting inside
 * it would never parse), indentation decides. */
static void test_syntax_window(void) {
    static char big[24 * 1024];
    size_t n = (size_t)snprintf(big, sizeof big, "class A:\n");
    while (n + 64 < sizeof big) n += (size_t)snprintf(big + n, sizeof big - n, "    x = 1\n");
    CHECK(!completion_syntax_new("python", big, n, "\n", 1));
    CHECK(!completion_syntax_new("python", "x = 1", 5, big, n)); /* the same after the cursor */
    completion_syntax *s = completion_syntax_new("python", big + n - 200, 200, "\n", 1);
    CHECK(s != NULL); /* the whole text given starts inside it: parsed as it is */
    completion_syntax_free(s);
}

int main(void) {
    test_syntax();
    test_syntax_window();
    test_stable_examples();
    int grew = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const trim_case *k = &cases[i];
        trim_context c = {k->before, strlen(k->before), k->suffix, strlen(k->suffix), k->max_lines};
        trim_result r = completion_trim(&c, k->text, strlen(k->text), k->final);
        bool ok = r.keep == strlen(k->expect) && !memcmp(k->text, k->expect, r.keep);
        CHECKF(ok, "%s: kept \"%.*s\", expected \"%s\"", k->what, (int)r.keep, k->text, k->expect);
        if (k->done >= 0) CHECKF(r.done == (k->done == 1), "%s: done %d", k->what, r.done);
        grew += check_stable(k->what, &c, NULL, k->text);
    }
    CHECKF(grew > 40, "streaming grew only %d times over the cases", grew);
    return test_summary("test_completion_trim");
}
