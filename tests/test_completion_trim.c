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

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const trim_case *k = &cases[i];
        trim_context c = {k->before, strlen(k->before), k->suffix, strlen(k->suffix), k->max_lines};
        trim_result r = completion_trim(&c, k->text, strlen(k->text), k->final);
        bool ok = r.keep == strlen(k->expect) && !memcmp(k->text, k->expect, r.keep);
        CHECKF(ok, "%s: kept \"%.*s\", expected \"%s\"", k->what, (int)r.keep, k->text, k->expect);
        if (k->done >= 0) CHECKF(r.done == (k->done == 1), "%s: done %d", k->what, r.done);
    }
    return test_summary("test_completion_trim");
}
