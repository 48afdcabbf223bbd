/* index/'s symbol graph (issue 15): PageRank against known answers; the references tree-sitter
 * finds (code identifiers, not comment or string words; not a file's own definitions); on a
 * small fixture repository, a file many others use ranks above one nobody uses, a BM25 tie goes
 * to the used file, the map of retrieved files lists their definitions (and the files they use)
 * within its byte budget, and ask's message carries the map when it fits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

static void test_pagerank(void) {
    /* a 3-cycle: every node the same */
    int32_t from[] = {0, 1, 2}, to[] = {1, 2, 0};
    double w[] = {1, 1, 1}, r[3];
    index_pagerank(3, from, to, w, 3, r);
    for (int i = 0; i < 3; i++) CHECKF(fabs(r[i] - 1.0 / 3) < 1e-9, "r[%d] = %g", i, r[i]);
    /* 0 -> 2, 1 -> 2, 2 dangling (its rank spread evenly): r0 = r1 = a = (0.15 + 0.85 b) / 3,
     * r2 = b = a + 0.85 * 2a = 2.7a, and 2a + b = 1: a = 1 / 4.7, b = 2.7 / 4.7 */
    int32_t f2[] = {0, 1}, t2[] = {2, 2};
    double w2[] = {1, 1};
    index_pagerank(3, f2, t2, w2, 2, r);
    double a = 1 / 4.7, b = 2.7 / 4.7;
    CHECKF(fabs(r[0] - a) < 1e-6 && fabs(r[1] - a) < 1e-6 && fabs(r[2] - b) < 1e-6,
           "%g %g %g, want %g %g", r[0], r[1], r[2], a, b);
    CHECK(fabs(r[0] + r[1] + r[2] - 1) < 1e-9);
    /* weights split a node's rank: the heavier edge carries more */
    int32_t f3[] = {0, 0}, t3[] = {1, 2};
    double w3[] = {3, 1};
    index_pagerank(3, f3, t3, w3, 2, r);
    CHECK(r[1] > r[2] && r[2] > r[0]);
}

static bool has_ref(const index_symbols *s, const char *name, int32_t count) {
    for (int32_t i = 0; i < s->n_refs; i++)
        if (!strcmp(s->refs[i].name, name)) return count < 0 || s->refs[i].n == count;
    return false;
}

static bool has_def(const index_symbols *s, const char *name, int32_t line, const char *sig) {
    for (int32_t i = 0; i < s->n_defs; i++)
        if (!strcmp(s->defs[i].name, name) && s->defs[i].line == line)
            return !strcmp(s->defs[i].sig, sig);
    return false;
}

/* References: code identifiers with counts, not comment or string words, not the file's own
 * definitions; definitions: named, on their line, scopes entered but never function bodies. */
static void test_symbols_c(void) {
    const char *src = "/* helper_in_comment is only mentioned here */\n"
                      "static int local_def(int value) { return value + 1; }\n"
                      "int caller(struct widget *w) {\n"
                      "    const char *s = \"word_in_string\";\n"
                      "    int local_count = parse_widget(w, s) + parse_widget(w, 0);\n"
                      "    return local_count + local_def(w->size);\n"
                      "}\n"
                      "struct point { int px; };\n"
                      "typedef struct point point_t;\n"
                      "int *make_buffer(size_t n);\n";
    index_symbols sym;
    CHECK(index_file_symbols("c", src, strlen(src), &sym));
    CHECK(has_ref(&sym, "parse_widget", 2) && has_ref(&sym, "widget", 1) &&
          has_ref(&sym, "size", 1) && has_ref(&sym, "local_count", 2));
    CHECK(!has_ref(&sym, "helper_in_comment", -1) && !has_ref(&sym, "word_in_string", -1));
    CHECK(!has_ref(&sym, "w", -1)); /* one-letter names connect nothing */
    CHECK(!has_ref(&sym, "local_def", -1) && !has_ref(&sym, "caller", -1)); /* its own */
    for (int32_t i = 1; i < sym.n_refs; i++)
        CHECK(strcmp(sym.refs[i - 1].name, sym.refs[i].name) < 0);
    CHECK(has_def(&sym, "local_def", 2, "static int local_def(int value) { return value + 1; }"));
    CHECK(has_def(&sym, "caller", 3, "int caller(struct widget *w) {"));
    CHECK(has_def(&sym, "point", 8, "struct point { int px; };"));
    CHECK(has_def(&sym, "point_t", 9, "typedef struct point point_t;"));
    CHECK(has_def(&sym, "make_buffer", 10, "int *make_buffer(size_t n);"));
    CHECK(!has_def(&sym, "local_count", 5,
                   "    int local_count = parse_widget(w, s) + parse_widget(w, 0);"));
    for (int32_t i = 1; i < sym.n_defs; i++) CHECK(sym.defs[i - 1].line <= sym.defs[i].line);
    index_symbols_free(&sym);
    CHECK(index_file_symbols("text", "plain words here", 16, &sym) && sym.n_refs == 0 &&
          sym.n_defs == 0);
    index_symbols_free(&sym);
}

static void test_symbols_other_languages(void) {
    const char *py = "class Store:\n    def fetch(self, key):\n        inner = 1\n"
                     "        return key\n\n\ndef top_level():\n    pass\n";
    index_symbols sym;
    CHECK(index_file_symbols("python", py, strlen(py), &sym));
    CHECK(has_def(&sym, "Store", 1, "class Store:") &&
          has_def(&sym, "fetch", 2, "    def fetch(self, key):") &&
          has_def(&sym, "top_level", 7, "def top_level():"));
    CHECK(sym.n_defs == 3); /* not `inner` (a local) */
    index_symbols_free(&sym);
    const char *js = "export class Widget {\n  render() { return 1; }\n}\n"
                     "const makeWidget = () => new Widget();\n";
    CHECK(index_file_symbols("javascript", js, strlen(js), &sym));
    CHECK(has_def(&sym, "Widget", 1, "export class Widget {") &&
          has_def(&sym, "render", 2, "  render() { return 1; }") &&
          has_def(&sym, "makeWidget", 4, "const makeWidget = () => new Widget();"));
    index_symbols_free(&sym);
    const char *go = "package main\n\ntype Pool struct{ n int }\n\n"
                     "func (p *Pool) Get() int { return p.n }\n";
    CHECK(index_file_symbols("go", go, strlen(go), &sym));
    CHECK(has_def(&sym, "Pool", 3, "type Pool struct{ n int }") &&
          has_def(&sym, "Get", 5, "func (p *Pool) Get() int { return p.n }"));
    index_symbols_free(&sym);
    const char *rs = "pub struct Queue { items: Vec<u32> }\nimpl Queue {\n"
                     "    pub fn push_item(&mut self, v: u32) { self.items.push(v); }\n}\n";
    CHECK(index_file_symbols("rust", rs, strlen(rs), &sym));
    CHECK(has_def(&sym, "Queue", 1, "pub struct Queue { items: Vec<u32> }") &&
          has_def(&sym, "push_item", 3,
                  "    pub fn push_item(&mut self, v: u32) { self.items.push(v); }"));
    index_symbols_free(&sym);
}

/* Hostile nesting: a declarator in 20 000 parentheses and 1 000 nested classes come back
 * without exhausting the stack (the walks are bounded). */
static void test_symbols_hostile(void) {
    enum { DEEP = 20000 };
    char *src = malloc(DEEP * 2 + 64);
    if (!src) return;
    size_t n = (size_t)sprintf(src, "int ");
    for (int i = 0; i < DEEP; i++) src[n++] = '(';
    src[n++] = 'x';
    for (int i = 0; i < DEEP; i++) src[n++] = ')';
    n += (size_t)sprintf(src + n, ";\nint after_it(void);\n");
    index_symbols sym;
    CHECK(index_file_symbols("c", src, n, &sym));
    index_symbols_free(&sym);
    free(src);
    enum { PY_DEEP = 1000 }; /* one more space per level: ~0.5 MB */
    size_t cap = (size_t)PY_DEEP * (PY_DEEP + 24), len = 0;
    char *py = malloc(cap);
    for (int i = 0; py && i < PY_DEEP; i++)
        len += (size_t)sprintf(py + len, "%*sclass C%d:\n", i, "", i);
    if (py) len += (size_t)sprintf(py + len, "%*spass\n", PY_DEEP, "");
    CHECK(py && index_file_symbols("python", py, len, &sym));
    index_symbols_free(&sym);
    free(py);
}

static void put(const char *root, const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    CHECKF(f != NULL, "%s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* aaa_unused.py and zzz_used.py define the same compute() (a BM25 tie); three files use
 * zzz_used's shared_parser, nobody uses aaa_unused's lonely_helper. */
static void make_repo(const char *root) {
    const char *body = "def compute():\n    return 42\n\n\n";
    char text[512];
    snprintf(text, sizeof text, "%sdef lonely_helper():\n    return 0\n", body);
    put(root, "aaa_unused.py", text);
    snprintf(text, sizeof text,
             "%sdef shared_parser(text):\n    return text.split()\n\n\n"
             "class TokenTable:\n    def lookup(self, key):\n        return key\n",
             body);
    put(root, "zzz_used.py", text);
    for (int i = 0; i < 3; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "user%d.py", i);
        snprintf(text, sizeof text,
                 "from zzz_used import shared_parser\n\n\ndef entry_%d(args):\n"
                 "    return shared_parser(args) + shared_parser(args)\n",
                 i);
        put(root, rel, text);
    }
}

/* big.py: 14 definitions, the first 13 used by caller.py, the last by nobody. */
static void make_big(const char *root) {
    char big[2048] = "", calls[2048] = "from big import *\n\n\ndef call_all():\n";
    for (int i = 0; i < 14; i++) {
        sprintf(big + strlen(big), "def helper_%02d():\n    return %d\n\n\n", i, i);
        if (i < 13) sprintf(calls + strlen(calls), "    helper_%02d()\n", i);
    }
    put(root, "big.py", big);
    put(root, "caller.py", calls);
}

static double rank_of(index_store *s, const char *path) {
    sqlite3_stmt *st;
    double r = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT rank FROM files WHERE path=?", -1, &st, NULL) !=
        SQLITE_OK)
        return r;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) r = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return r;
}

static void test_ranks(const char *root) {
    index_store s;
    char err[INDEX_ERR_LEN];
    CHECK(index_store_open(&s, root, false, err, sizeof err));
    double used = rank_of(&s, "zzz_used.py"), unused = rank_of(&s, "aaa_unused.py");
    double user = rank_of(&s, "user0.py");
    CHECKF(used > unused && used > user, "used %g unused %g user %g", used, unused, user);
    CHECKF(unused > 0, "%g", unused);
    index_store_close(&s);
}

static void test_tie(const char *root) {
    char err[INDEX_ERR_LEN];
    index_hit *h = NULL;
    int32_t n = 0;
    index_search_params p = {.root = root, .query = "compute", .k = 5, .mode = INDEX_MODE_LEXICAL};
    CHECK(index_search(&p, &h, &n, err, sizeof err));
    /* both compute() chunks match equally; the used file wins the tie */
    CHECKF(n >= 2 && !strcmp(h[0].path, "zzz_used.py") && !strcmp(h[1].path, "aaa_unused.py"), "%s",
           n ? h[0].path : "no hits");
    index_hits_free(h, n);
}

static void test_map(const char *root) {
    char err[INDEX_ERR_LEN];
    index_hit hits[2] = {{.path = "zzz_used.py", .start_line = 5, .end_line = 6, .score = 1},
                         {.path = "user1.py", .start_line = 4, .end_line = 5, .score = 0.5}};
    char *map = index_repo_map(root, hits, 2, 0, err, sizeof err);
    CHECKF(map != NULL, "%s", err);
    if (!map) return;
    /* the retrieved files, in the hits' order, each definition on its line */
    const char *a = strstr(map, "zzz_used.py:\n"), *b = strstr(map, "user1.py:\n");
    CHECKF(a == map && b && b > a, "%s", map);
    CHECKF(strstr(map, "     1  def compute():\n") &&
               strstr(map, "     5  def shared_parser(text):\n") &&
               strstr(map, "     9  class TokenTable:\n") &&
               strstr(map, "    10      def lookup(self, key):\n") &&
               strstr(map, "     4  def entry_1(args):\n"),
           "%s", map);
    CHECKF(!strstr(map, "aaa_unused.py") && !strstr(map, "user0.py"), "%s", map);
    free(map);
    /* a file that uses another brings the one it relies on */
    index_hit only_user = {.path = "user2.py", .start_line = 4, .end_line = 5, .score = 1};
    map = index_repo_map(root, &only_user, 1, 0, err, sizeof err);
    CHECKF(map && strstr(map, "user2.py:\n") == map && strstr(map, "zzz_used.py:\n"), "%s",
           map ? map : err);
    free(map);
    /* the byte budget keeps whole files: the first fits, the second would not */
    map = index_repo_map(root, hits, 2, 150, err, sizeof err);
    CHECKF(map && strstr(map, "zzz_used.py:\n") && !strstr(map, "user1.py") && strlen(map) < 150,
           "%s", map ? map : err);
    /* ask's message: the map before the excerpts when it fits in a quarter of the budget */
    hits[0].text = "def shared_parser(text):\n    return text.split()\n";
    hits[1].text = "def entry_1(args):\n    return shared_parser(args)\n";
    bool used[2];
    char *msg = index_ask_message(NULL, "how is text parsed?", map, hits, 2, 4000, used);
    CHECKF(msg && strstr(msg, "Map of the relevant files") && strstr(msg, map) &&
               strstr(msg, map) < strstr(msg, "Excerpts from the repository"),
           "%s", msg ? msg : "NULL");
    free(msg);
    msg = index_ask_message(NULL, "how is text parsed?", map, hits, 2, 60, used);
    CHECKF(msg && !strstr(msg, "Map of the relevant files"), "%s", msg ? msg : "NULL");
    free(msg);
    free(map);
    /* over the per-file cap: the retrieved definition stays although nobody uses it */
    index_hit last = {.path = "big.py", .start_line = 53, .end_line = 54, .score = 1};
    map = index_repo_map(root, &last, 1, 0, err, sizeof err);
    CHECKF(map && strstr(map, "    53  def helper_13():\n") &&
               strstr(map, "     1  def helper_00():\n"),
           "%s", map ? map : err);
    int lines = 0;
    for (const char *p = map ? strstr(map, "big.py:\n") : NULL; p && *p; p++) lines += *p == '\n';
    CHECKF(lines == 13, "%d lines", lines); /* its name and the cap of 12 definitions */
    free(map);
}

int main(void) {
    test_pagerank();
    test_symbols_c();
    test_symbols_other_languages();
    test_symbols_hostile();
    char dir[] = "/tmp/hearth-graph-XXXXXX";
    if (mkdtemp(dir)) {
        make_repo(dir);
        make_big(dir);
        char err[INDEX_ERR_LEN];
        index_build_params p = {.root = dir};
        index_build_stats st;
        CHECKF(index_build(&p, &st, err, sizeof err), "%s", err);
        index_build_stats_free(&st);
        test_ranks(dir);
        test_tie(dir);
        test_map(dir);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return test_summary("test_index_graph");
}
