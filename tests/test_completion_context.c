/* Cross-file context helpers (completion/context.c): regions around an edit, identifiers near the
 * cursor, definitions found in other buffers' text. */
#include <stdio.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "completion.h"
#include "test.h"

static const char *PY = "import os\n"
                        "\n"
                        "LIMIT = 10\n"
                        "\n"
                        "def helper(x):\n"
                        "    return x + 1\n"
                        "\n"
                        "class Shape:\n"
                        "    def area(self):\n"
                        "        return 0\n";

static const char *C = "#include <stdio.h>\n"
                       "#define MAX_ITEMS 16\n"
                       "struct point { int x, y; };\n"
                       "static int add(int a, int b) {\n"
                       "    return a + b;\n"
                       "}\n"
                       "int main(void) {\n"
                       "    int s = add(1, 2);\n"
                       "}\n";

static void check_def(const char *text, const char *ident, const char *expect) {
    size_t a = 0, b = 0;
    bool found = completion_find_definition(text, strlen(text), ident, 200, &a, &b);
    if (!expect) {
        CHECKF(!found, "%s: found \"%.*s\"", ident, (int)(b - a), text + a);
        return;
    }
    CHECKF(found && b - a == strlen(expect) && !memcmp(text + a, expect, b - a), "%s: got \"%.*s\"",
           ident, found ? (int)(b - a) : 0, text + a);
}

static void test_definitions(void) {
    check_def(PY, "helper", "def helper(x):\n    return x + 1\n");
    check_def(PY, "Shape", "class Shape:\n    def area(self):\n        return 0\n");
    check_def(PY, "area", "    def area(self):\n        return 0\n");
    check_def(PY, "LIMIT", NULL); /* an assignment without a definer word */
    check_def(PY, "help", NULL);  /* a part of a word is not the word */
    check_def(C, "add", "static int add(int a, int b) {\n    return a + b;\n}\n");
    check_def(C, "MAX_ITEMS", "#define MAX_ITEMS 16\n");
    check_def(C, "point", "struct point { int x, y; };\n");
    check_def(C, "nothing", NULL);
    size_t a, b;
    CHECK(!completion_find_definition("", 0, "x", 100, &a, &b));
    CHECK(!completion_find_definition(PY, strlen(PY), "", 100, &a, &b));
}

const TSLanguage *tree_sitter_c(void);
const TSLanguage *tree_sitter_go(void);
const TSLanguage *tree_sitter_javascript(void);
const TSLanguage *tree_sitter_python(void);
const TSLanguage *tree_sitter_rust(void);
const TSLanguage *tree_sitter_typescript(void);

/* A buffer, an identifier used near the cursor, what of the buffer should be shown for it (NULL:
 * nothing). */
typedef struct {
    const TSLanguage *(*language)(void);
    const char *text, *ident, *expect;
} tree_case;

static const char PY_LIB[] = "import math\n\n"
                             "# Distance between two points.\n"
                             "def distance(a, b):\n"
                             "    return math.hypot(a.x - b.x, a.y - b.y)\n\n"
                             "class Point:\n"
                             "    def __init__(self, x, y):\n"
                             "        self.x, self.y = x, y\n"
                             "\n"
                             "    def norm(self):\n"
                             "        return distance(self, Point(0, 0))\n";
static const char C_LIB[] = "/* Adds two numbers. */\n"
                            "static int add(int a, int b) {\n    return a + b;\n}\n\n"
                            "struct point {\n    int x, y;\n};\n\n"
                            "typedef unsigned long ulong_t;\n\n"
                            "char *dup_name(const char *s)\n{\n    return 0;\n}\n";
static const char JS_LIB[] =
    "// Sums an array.\n"
    "export function total(xs) {\n  return xs.reduce((a, b) => a + b, 0);\n}\n"
    "class Cart {\n  add(item) {\n    this.items.push(item);\n  }\n}\n"
    "const double = (x) =>\n  x * 2;\nconst limit = 10;\n";
static const char TS_LIB[] = "interface Shape {\n  area(): number;\n}\n"
                             "function scale(s: Shape, k: number): Shape {\n  return s;\n}\n";
static const char GO_LIB[] =
    "package geo\n\n"
    "// Point is a place.\n"
    "type Point struct {\n\tX, Y int\n}\n\n"
    "func (p Point) Add(q Point) Point {\n\treturn Point{p.X + q.X, p.Y + q.Y}\n}\n";
static const char RS_LIB[] = "/// A stack of numbers.\n"
                             "pub struct Stack {\n    items: Vec<i32>,\n}\n\n"
                             "impl Stack {\n    pub fn push(&mut self, x: i32) {\n"
                             "        self.items.push(x);\n    }\n}\n";

static const tree_case tree_cases[] = {
    {tree_sitter_python, PY_LIB, "distance",
     "# Distance between two points.\ndef distance(a, b):\n"},
    {tree_sitter_python, PY_LIB, "norm", "    def norm(self):\n"},
    {tree_sitter_python, PY_LIB, "math", NULL}, /* imported, not defined here */
    {tree_sitter_python, PY_LIB, "x", NULL},    /* an attribute, not a definition */
    {tree_sitter_c, C_LIB, "add", "/* Adds two numbers. */\nstatic int add(int a, int b) {\n"},
    {tree_sitter_c, C_LIB, "point", "struct point {\n    int x, y;\n};\n"},
    {tree_sitter_c, C_LIB, "ulong_t", "typedef unsigned long ulong_t;\n"},
    {tree_sitter_c, C_LIB, "dup_name", "char *dup_name(const char *s)\n"},
    {tree_sitter_c, C_LIB, "a", NULL}, /* a parameter */
    {tree_sitter_javascript, JS_LIB, "total", "// Sums an array.\nexport function total(xs) {\n"},
    {tree_sitter_javascript, JS_LIB, "add", "  add(item) {\n"},
    {tree_sitter_javascript, JS_LIB, "reduce", NULL},
    {tree_sitter_javascript, JS_LIB, "double", "const double = (x) =>\n"},
    {tree_sitter_javascript, JS_LIB, "limit", NULL}, /* a constant, not a definition */
    {tree_sitter_typescript, TS_LIB, "Shape", "interface Shape {\n  area(): number;\n}\n"},
    {tree_sitter_typescript, TS_LIB, "scale", "function scale(s: Shape, k: number): Shape {\n"},
    {tree_sitter_go, GO_LIB, "Point", "// Point is a place.\ntype Point struct {\n\tX, Y int\n}\n"},
    {tree_sitter_go, GO_LIB, "Add", "func (p Point) Add(q Point) Point {\n"},
    {tree_sitter_rust, RS_LIB, "Stack",
     "/// A stack of numbers.\npub struct Stack {\n    items: Vec<i32>,\n}\n"},
    {tree_sitter_rust, RS_LIB, "push", "    pub fn push(&mut self, x: i32) {\n"},
    {tree_sitter_rust, RS_LIB, "items", NULL},
};

static void test_tree_definitions(void) {
    TSParser *p = ts_parser_new();
    for (size_t i = 0; i < sizeof tree_cases / sizeof tree_cases[0]; i++) {
        const tree_case *k = &tree_cases[i];
        ts_parser_set_language(p, k->language());
        size_t n = strlen(k->text), a = 0, b = 0;
        TSTree *t = ts_parser_parse_string(p, NULL, k->text, (uint32_t)n);
        bool found = completion_find_definition_tree(t, k->text, n, k->ident, 400, &a, &b);
        if (k->expect)
            CHECKF(found && b - a == strlen(k->expect) && !memcmp(k->text + a, k->expect, b - a),
                   "%zu %s: got \"%.*s\"", i, k->ident, found ? (int)(b - a) : 0, k->text + a);
        else
            CHECKF(!found, "%zu %s: found \"%.*s\"", i, k->ident, (int)(b - a), k->text + a);
        ts_tree_delete(t);
    }
    /* the room: a type over it shows its first line(s), a signature over it nothing */
    ts_parser_set_language(p, tree_sitter_c());
    TSTree *t = ts_parser_parse_string(p, NULL, C_LIB, (uint32_t)strlen(C_LIB));
    size_t a, b;
    CHECK(completion_find_definition_tree(t, C_LIB, strlen(C_LIB), "point", 20, &a, &b) &&
          b - a == strlen("struct point {\n"));
    CHECK(!completion_find_definition_tree(t, C_LIB, strlen(C_LIB), "add", 10, &a, &b));
    CHECK(!completion_find_definition_tree(t, C_LIB, 10, "add", 400, &a, &b)); /* another text */
    CHECK(!completion_find_definition_tree(NULL, C_LIB, strlen(C_LIB), "add", 400, &a, &b));
    ts_tree_delete(t);
    ts_parser_delete(p);
}

static void test_enclosing(void) {
    TSParser *p = ts_parser_new();
    ts_parser_set_language(p, tree_sitter_python());
    TSTree *t = ts_parser_parse_string(p, NULL, PY_LIB, (uint32_t)strlen(PY_LIB));
    size_t s[4], e[4], at = (size_t)(strstr(PY_LIB, "return distance") - PY_LIB);
    int n = completion_enclosing_signatures(t, PY_LIB, strlen(PY_LIB), at, 400, s, e, 4);
    CHECK(n == 2);
    if (n == 2) {
        CHECKF(!strncmp(PY_LIB + s[0], "class Point:\n", e[0] - s[0]), "%.*s", (int)(e[0] - s[0]),
               PY_LIB + s[0]);
        CHECKF(!strncmp(PY_LIB + s[1], "    def norm(self):\n", e[1] - s[1]), "%.*s",
               (int)(e[1] - s[1]), PY_LIB + s[1]);
    }
    at = (size_t)(strstr(PY_LIB, "import") - PY_LIB); /* at the top level */
    CHECK(completion_enclosing_signatures(t, PY_LIB, strlen(PY_LIB), at, 400, s, e, 4) == 0);
    at = (size_t)(strstr(PY_LIB, "(a, b)") - PY_LIB); /* in a signature: not its own context */
    CHECK(completion_enclosing_signatures(t, PY_LIB, strlen(PY_LIB), at, 400, s, e, 4) == 0);
    ts_tree_delete(t);
    ts_parser_set_language(p, tree_sitter_rust());
    t = ts_parser_parse_string(p, NULL, RS_LIB, (uint32_t)strlen(RS_LIB));
    at = (size_t)(strstr(RS_LIB, "self.items.push") - RS_LIB);
    n = completion_enclosing_signatures(t, RS_LIB, strlen(RS_LIB), at, 400, s, e, 4);
    CHECK(n == 1 && !strncmp(RS_LIB + s[0], "    pub fn push(&mut self, x: i32) {\n", e[0] - s[0]));
    ts_tree_delete(t);
    ts_parser_delete(p);
}

static void test_identifiers(void) {
    char ids[8][64];
    const char *t = "    total = compute_sum(items, 10) + total\n    if x: return self.value";
    int n = completion_identifiers(t, strlen(t), ids, 8);
    const char *expect[] = {"total", "compute_sum", "items", "value"};
    CHECK(n == 4);
    for (int i = 0; i < 4 && i < n; i++) CHECKF(!strcmp(ids[i], expect[i]), "%d: %s", i, ids[i]);
    CHECK(completion_identifiers(t, strlen(t), ids, 2) == 2);
    CHECK(completion_identifiers("a1 9abc", 7, ids, 8) == 0); /* short words, number */
}

static void test_regions(void) {
    char text[4096];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "line %02d\n", i);
    size_t at = 50 * 8 + 3, s, e; /* inside line 50 */
    completion_region(text, n, at, 80, &s, &e);
    CHECK(s % 8 == 0 && e % 8 == 0);   /* whole lines */
    CHECK(s <= 50 * 8 && e >= 51 * 8); /* the edited line */
    CHECK(e - s <= 80 && e - s >= 72); /* most of the room */
    CHECK(50 * 8 - s <= 80 / 3 + 8);   /* about a third before */
    completion_region(text, n, 0, 80, &s, &e);
    CHECK(s == 0 && e == 80);
    completion_region(text, n, n + 5, 80, &s, &e); /* past the end: clamped */
    CHECK(e == n && s <= n);
    completion_region(text, n, 10, 4, &s, &e); /* a line longer than the room */
    CHECK(s == e);
}

int main(void) {
    test_definitions();
    test_tree_definitions();
    test_enclosing();
    test_identifiers();
    test_regions();
    return test_summary("test_completion_context");
}
