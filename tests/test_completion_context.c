/* Cross-file context helpers (completion/context.c): regions around an edit, identifiers near the
 * cursor, definitions found in other buffers' text. */
#include <stdio.h>
#include <string.h>

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
    test_identifiers();
    test_regions();
    return test_summary("test_completion_context");
}
