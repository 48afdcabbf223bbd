/* index/ retrieval (issue 15): each class of failure pinned with a small fixture repository,
 * indexed lexically (no model): identifier sub-words, the symbol boost's rules, a split class's
 * methods named with their class, windows of one definition collapsed into one hit at its
 * definition line, a C header's doc comment finding the .c definition, a TypeScript declaration
 * finding the JavaScript implementation of its own class only, a declaration and its definition
 * ranked as one unit (not two votes), the token estimate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

static void test_subwords(void) {
    char *w = index_subwords("BooleanOptionalAction read_alignment2 XMLHttpRequest utf8 plain 42");
    CHECK(w && !strcmp(w, "boolean optional action read alignment 2 xml http request utf 8"));
    free(w);
    CHECK(index_identifier_like("read_alignment") && index_identifier_like("parseAddr") &&
          index_identifier_like("HeaderRegistry") && index_identifier_like("base64"));
    CHECK(!index_identifier_like("name") && !index_identifier_like("Header") &&
          !index_identifier_like("run"));
}

/* A 25-line function of ordinary code is one chunk at the default budget: the estimate must
 * not count every bracket as a token. */
static void test_token_estimate(void) {
    char src[4096] = "static int accumulate(const int *items, int n, int scale) {\n"
                     "    int total = 0;\n";
    for (int i = 0; i < 22; i++)
        sprintf(src + strlen(src), "    total += compute_value(items[%d], scale);\n", i);
    strcat(src, "    return total;\n}\n");
    index_chunk *c;
    int32_t n;
    char err[INDEX_ERR_LEN];
    CHECK(index_chunk_text("c", src, strlen(src), NULL, &c, &n, err, sizeof err));
    CHECK(n == 1 && c[0].symbol && !strcmp(c[0].symbol, "accumulate"));
    index_chunks_free(c, n);
}

static void put(const char *root, const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static bool build(const char *root, int32_t max_tokens) {
    char err[INDEX_ERR_LEN];
    index_build_params p = {.root = root, .rebuild = true, .chunk = {.max_tokens = max_tokens}};
    index_build_stats st;
    bool ok = index_build(&p, &st, err, sizeof err);
    if (!ok) fprintf(stderr, "index_build: %s\n", err);
    index_build_stats_free(&st);
    return ok;
}

/* The first hit of a lexical query (caller frees with index_hits_free). */
static index_hit *top(const char *root, const char *query, int32_t *n) {
    char err[INDEX_ERR_LEN];
    index_hit *hits = NULL;
    index_search_params p = {.root = root, .query = query, .k = 10, .mode = INDEX_MODE_LEXICAL};
    *n = 0;
    if (!index_search(&p, &hits, n, err, sizeof err)) fprintf(stderr, "search: %s\n", err);
    return hits;
}

static bool first_is(const char *root, const char *query, const char *path, int32_t line) {
    int32_t n;
    index_hit *h = top(root, query, &n);
    bool ok = n > 0 && !strcmp(h[0].path, path) && h[0].start_line == line;
    for (int32_t i = 0; !ok && i < n && i < 4; i++)
        fprintf(stderr, "%s: got %s:%d %s %.5f\n", query, h[i].path, h[i].start_line,
                h[i].symbol ? h[i].symbol : "-", h[i].score);
    index_hits_free(h, n);
    return ok;
}

static void test_search_fixture(const char *root) {
    /* "name" is defined (Person.name) and common; BM25's best is the function about it */
    char person[4096] = "class Person:\n    def name(self):\n        return self._n\n";
    for (int m = 0; m < 12; m++)
        sprintf(person + strlen(person), "    def field_%d(self):\n        return self.f%d\n", m,
                m);
    put(root, "person.py", person);
    for (int i = 0; i < 6; i++) {
        char rel[32], text[256];
        snprintf(rel, sizeof rel, "user%d.py", i);
        snprintf(text, sizeof text, "def show_%d(user):\n    print(user.name, 'name')\n", i);
        put(root, rel, text);
    }
    put(root, "norm.py",
        "def normalise_widget_label(widget):\n    \"\"\"The normalised name of a widget.\"\"\"\n   "
        " # the name of a widget, normalised: trimmed, lower-cased\n"
        "    return widget.name.strip().lower()\n");
    /* a camelCase identifier whose words appear nowhere else */
    put(root, "hdr.js",
        "function parseHeaderValue(raw) {\n  return raw.split(';')[0];\n}\n"
        "function other(x) {\n  return x;\n}\n");
    /* a C prototype documented in its header, defined without a comment */
    put(root, "fz.h",
        "/* Counts the widgets in a frobnicator basket. */\nint fz_count(void *b);\n");
    put(root, "fz.c", "#include \"fz.h\"\n\nint fz_count(void *b) {\n    return b != 0;\n}\n");
    /* a class over the budget: its methods carry its name */
    char big[8192] = "class Registry:\n";
    for (int m = 0; m < 12; m++)
        sprintf(big + strlen(big), "    def step_%d(self):\n        return %d + 1 + 2 + 3\n", m, m);
    strcat(big, "    def lookup(self, key):\n        return self.table.get(key)\n");
    put(root, "registry.py", big);
    put(root, "cache.py",
        "class Cache:\n    def lookup(self, key):\n        return self.table.get(key)\n");
    /* a function over the budget: its windows are one hit at the definition line */
    char longf[8192] = "def long_function(x):\n";
    for (int i = 0; i < 40; i++) sprintf(longf + strlen(longf), "    x = x + %d\n", i);
    strcat(longf, "    x = quuxify_the_zorblax(x)\n");
    for (int i = 0; i < 40; i++) sprintf(longf + strlen(longf), "    x = x - %d\n", i);
    strcat(longf, "    return x\n");
    put(root, "long.py", longf);
    CHECK(build(root, 100));

    CHECK(first_is(root, "how is the name of a widget normalised", "norm.py", 1));
    CHECK(first_is(root, "parse header value", "hdr.js", 1));
    CHECK(first_is(root, "count the widgets in a frobnicator basket", "fz.c", 3));
    int32_t n;
    index_hit *h = top(root, "Registry lookup", &n);
    CHECK(n > 0 && h[0].symbol && !strcmp(h[0].symbol, "Registry.lookup"));
    index_hits_free(h, n);
    h = top(root, "quuxify the zorblax", &n);
    CHECK(n > 0 && !strcmp(h[0].path, "long.py") && h[0].start_line == 1);
    int32_t from_long = 0;
    for (int32_t i = 0; i < n; i++) from_long += !strcmp(h[i].path, "long.py");
    CHECK(from_long == 1);
    index_hits_free(h, n);
}

/* Declarations and the definitions they document count as one unit: a TypeScript declaration
 * file's documented signature finds the JavaScript implementation, only one of its own class,
 * and a definition is ranked by the better of its own and its declaration's score (not their
 * sum: two matches of one unit are not two votes). */
static void test_declarations(const char *root) {
    put(root, "widget.d.ts",
        "declare class Widget {\n  /** Rotates the widget around its hub. */\n  spin(): void;\n}\n"
        "declare class Gadget {\n  /** Opens the hatch of a gadget. */\n  constructor();\n}\n");
    put(root, "widget.js",
        "class Widget {\n  constructor() {\n    this.angle = 0;\n  }\n"
        "  reset() {\n    this.angle = 0;\n    this.speed = 0;\n  }\n}\n"
        "Widget.prototype.spin = function () {\n  this.angle += 1;\n};\n");
    /* BM25's best is the static function; the prototype's doc and its definition both match
     * the question less well */
    put(root, "sp.c",
        "/* Oils the sprocket gears of the winch so the sprocket gears turn. */\n"
        "static void winch_oil(void) {\n    sprocket_gears_oil();\n}\n");
    put(root, "gear.h", "/* Oils the sprocket. */\nint gear_oil(void);\n");
    put(root, "gear.c", "int gear_oil(void) {\n    return oil_gears();\n}\n");
    CHECK(build(root, 20)); /* classes over the budget: chunked by member */
    CHECK(first_is(root, "rotate the widget around its hub", "widget.js", 10));
    CHECK(first_is(root, "open the hatch of a gadget", "widget.d.ts", 6));
    CHECK(first_is(root, "oil the sprocket gears", "sp.c", 1));
}

/* Runs a fixture test in a fresh temporary directory, removed after it. */
static void in_temp_dir(void (*test)(const char *root)) {
    char dir[] = "/tmp/hearth-retrieval-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    test(dir);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
    test_subwords();
    test_token_estimate();
    in_temp_dir(test_search_fixture);
    in_temp_dir(test_declarations);
    return test_summary("test_index_retrieval");
}
