/* The cross-file context policy (completion/gather.c): which chunks of which documents a FIM
 * prompt gets, in which order — the ring of recently touched documents, enclosing signatures
 * only when far above the cursor, definitions of nearby identifiers found in other documents
 * (by tree when parsed, else by text), and the parsed variant the HTTP API uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "completion.h"
#include "test.h"

static bool chunk_is(const completion_chunk *c, const char *path, const char *text) {
    bool ok = c->path && !strcmp(c->path, path) && c->len == strlen(text) &&
              !memcmp(c->text, text, c->len);
    if (!ok)
        fprintf(stderr, "  chunk %s: \"%.*s\", expected %s: \"%s\"\n", c->path ? c->path : "-",
                (int)c->len, c->text, path, text);
    return ok;
}

static completion_doc doc(const char *path, const char *text, uint64_t touched) {
    return (completion_doc){.path = path, .text = text, .len = strlen(text), .touched = touched};
}

/* The 3 most recently touched documents, oldest of them first, each by the region around its
 * latest edit; the cursor's own document is not among them. */
static void test_ring_order(void) {
    char big[4096];
    size_t n = 0;
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(big + n, sizeof big - n, "v%03d = 1\n", i);
    completion_doc docs[4] = {doc("/w/a.py", "a = 1\n", 10), doc("/w/b.py", "b = 2\n", 40),
                              doc("/w/c.py", big, 20), doc("/w/d.py", "d = 4\n", 30)};
    docs[2].last_edit = 150 * 9 + 2; /* inside line 150 */
    completion_doc self = doc("/w/main.py", "x = 0\n", 50);
    completion_chunk out[COMPLETION_CONTEXT_CHUNKS];
    int k = completion_gather(&self, self.len, docs, 4, out, COMPLETION_CONTEXT_CHUNKS);
    CHECKF(k == 3, "%d chunks", k);
    if (k < 3) return;
    CHECK(!strcmp(out[0].path, "/w/c.py") && !strcmp(out[1].path, "/w/d.py") &&
          !strcmp(out[2].path, "/w/b.py"));
    size_t s, e;
    completion_region(big, n, docs[2].last_edit, 1024, &s, &e);
    CHECK(out[0].text == big + s && out[0].len == e - s && e - s > 700);
    CHECK(memmem(out[0].text, out[0].len, "v150 = 1\n", 9) != NULL);
    CHECK(chunk_is(&out[2], "/w/b.py", "b = 2\n"));
    /* room for two chunks: the oldest two of the ring */
    CHECK(completion_gather(&self, self.len, docs, 4, out, 2) == 2 &&
          !strcmp(out[1].path, "/w/d.py"));
}

static const char LIB[] = "import math\n\n"
                          "def circle_area(r):\n    return math.pi * r * r\n\n"
                          "def helper(x):\n    return x\n";
static const char OTHER[] = "def helper(y):\n    return y + 1\n";
static const char MAIN[] = "def main():\n    a = circle_area(2)\n    h = helper(a)\n    b = ";

/* A document's comment lines before its text, so the ring region (1 KiB from its start) does not
 * show what follows. */
static char *padded(const char *text) {
    size_t cap = 64 * 40 + strlen(text) + 1, n = 0;
    char *t = malloc(cap);
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(t + n, cap - n, "# a comment line about the settings, number %02d\n",
                              i);
    snprintf(t + n, cap - n, "%s", text);
    return t;
}

/* Identifiers on the lines above the cursor's, defined in other documents: the first document in
 * the list that defines one gives it; by tree the signature, by text the whole definition. */
static void test_definitions(void) {
    char *lib = padded(LIB), *other = padded(OTHER);
    /* the ring shows the first KiB of each; other is listed first, so it gives helper */
    completion_doc docs[2] = {doc("/w/other.py", other, 2), doc("/w/lib.py", lib, 1)};
    completion_doc self = doc("/w/main.py", MAIN, 3);
    completion_chunk out[COMPLETION_CONTEXT_CHUNKS];
    int k = completion_gather(&self, self.len, docs, 2, out, COMPLETION_CONTEXT_CHUNKS);
    CHECKF(k == 4, "%d chunks", k);
    if (k == 4) { /* ring (lib older), then definitions in the order of the identifiers */
        CHECK(!strcmp(out[0].path, "/w/lib.py") && !strcmp(out[1].path, "/w/other.py"));
        CHECK(chunk_is(&out[2], "/w/lib.py", "def circle_area(r):\n    return math.pi * r * r\n"));
        CHECK(chunk_is(&out[3], "/w/other.py", "def helper(y):\n    return y + 1\n"));
    }
    /* parsed by their paths' grammar (python): the signatures only */
    k = completion_gather_parsed(&self, self.len, docs, 2, out, COMPLETION_CONTEXT_CHUNKS);
    CHECKF(k == 4, "%d chunks", k);
    if (k == 4) {
        CHECK(chunk_is(&out[2], "/w/lib.py", "def circle_area(r):\n"));
        CHECK(chunk_is(&out[3], "/w/other.py", "def helper(y):\n"));
    }
    /* the same tree given by the caller (the LSP's documents) gives the same chunks */
    TSTree *t = completion_parse("python", lib, strlen(lib));
    CHECK(t != NULL);
    docs[1].tree = t;
    k = completion_gather(&self, self.len, docs, 2, out, COMPLETION_CONTEXT_CHUNKS);
    CHECK(k == 4 && chunk_is(&out[2], "/w/lib.py", "def circle_area(r):\n"));
    ts_tree_delete(t);
    /* a definition the ring already shows is not repeated */
    completion_doc near[1] = {doc("/w/lib.py", LIB, 1)};
    k = completion_gather(&self, self.len, near, 1, out, COMPLETION_CONTEXT_CHUNKS);
    CHECKF(k == 1 && chunk_is(&out[0], "/w/lib.py", LIB), "%d chunks", k);
    /* identifiers on the cursor's own line do not count (typing there keeps the chunks) */
    const char *typing = "x = 1\nb = circle_area";
    completion_doc me = doc("/w/main.py", typing, 3);
    CHECK(completion_gather(&me, me.len, docs, 2, out, COMPLETION_CONTEXT_CHUNKS) == 2);
    free(lib);
    free(other);
}

/* class Big with `fields` lines, then def run with `body` lines before the line of the cursor
 * (inside `zzz`); *def_at is where the method starts. */
static char *big_class(int fields, int body, size_t *len, size_t *cursor, size_t *def_at) {
    size_t cap = 64 * (size_t)(fields + body + 8), n = 0;
    char *t = malloc(cap);
    n += (size_t)snprintf(t + n, cap - n, "class Big:\n");
    for (int i = 0; i < fields; i++)
        n += (size_t)snprintf(t + n, cap - n, "    v%03d = %03d\n", i, i);
    *def_at = n;
    n += (size_t)snprintf(t + n, cap - n, "    def run(self):\n");
    for (int i = 0; i < body; i++) n += (size_t)snprintf(t + n, cap - n, "        x = %d\n", i);
    *cursor = n + 9;
    n += (size_t)snprintf(t + n, cap - n, "        zzz = 1\n");
    *len = n;
    return t;
}

/* The signatures around the cursor come only when they start more than 4 KiB above it. */
static void test_enclosing_far(void) {
    size_t n, cursor, def;
    char *t = big_class(400, 10, &n, &cursor, &def);
    completion_doc self = {.path = "/w/big.py", .text = t, .len = n};
    completion_chunk out[COMPLETION_CONTEXT_CHUNKS];
    /* the class is far above, the method near: only the class's signature */
    int k = completion_gather_parsed(&self, cursor, NULL, 0, out, COMPLETION_CONTEXT_CHUNKS);
    CHECKF(k == 1 && chunk_is(&out[0], "/w/big.py", "class Big:\n"), "%d chunks", k);
    /* without a tree (no grammar for the path): none */
    self.path = "/w/big.unknown";
    CHECK(completion_gather_parsed(&self, cursor, NULL, 0, out, COMPLETION_CONTEXT_CHUNKS) == 0);
    self.language_id = "python"; /* the language given: parsed again */
    CHECK(completion_gather_parsed(&self, cursor, NULL, 0, out, COMPLETION_CONTEXT_CHUNKS) == 1);
    free(t);
    /* both near: nothing */
    t = big_class(10, 10, &n, &cursor, &def);
    self = (completion_doc){.path = "/w/big.py", .text = t, .len = n};
    CHECK(completion_gather_parsed(&self, cursor, NULL, 0, out, COMPLETION_CONTEXT_CHUNKS) == 0);
    free(t);
    /* both far: outermost first */
    t = big_class(10, 400, &n, &cursor, &def);
    self = (completion_doc){.path = "/w/big.py", .text = t, .len = n};
    k = completion_gather_parsed(&self, cursor, NULL, 0, out, COMPLETION_CONTEXT_CHUNKS);
    CHECKF(k == 2, "%d chunks", k);
    if (k == 2) {
        CHECK(chunk_is(&out[0], "/w/big.py", "class Big:\n"));
        CHECK(chunk_is(&out[1], "/w/big.py", "    def run(self):\n"));
        CHECK(out[1].text == t + def);
    }
    free(t);
}

static void test_languages(void) {
    CHECK(!strcmp(completion_language_for_path("/a/b.py"), "python"));
    CHECK(!strcmp(completion_language_for_path("x.tsx"), "typescriptreact"));
    CHECK(!strcmp(completion_language_for_path("src/lib.rs"), "rust"));
    CHECK(completion_language_for_path("Makefile") == NULL);
    CHECK(completion_language_for_path("a.d/file") == NULL); /* a dot in a directory name */
    CHECK(completion_language_for_path(NULL) == NULL);
    const char *g = NULL;
    CHECK(completion_language("typescriptreact", &g) && !strcmp(g, "tsx"));
    CHECK(completion_language("cobol", &g) == NULL);
    char err[256];
    CHECK(completion_languages_check(err, sizeof err));
    CHECK(completion_parse("cobol", "x", 1) == NULL);
}

int main(void) {
    test_ring_order();
    test_definitions();
    test_enclosing_far();
    test_languages();
    return test_summary("test_completion_gather");
}
