/* Allocation failure, swept: the N-th allocation fails, for N = 1, 2, ... until a run needs
 * fewer than N, while the GGUF loader loads real models (GGUF parsing, tensors, SentencePiece,
 * byte-level BPE and WordPiece vocabularies) and while the LSP message layer serves a session
 * (framing, JSON-RPC, documents, edits, positions). Every run must end in success or a clean
 * error: no crash, and no byte left allocated (glibc's count of bytes in use, with the
 * per-thread cache off, is the same before and after; under ASan, LeakSanitizer checks at exit).
 *
 * The failures are injected by link-time wrapping of this test binary only (-Wl,--wrap=malloc
 * ...: the product's allocation calls are untouched, nothing slows a release build). Jansson
 * allocates through the same wrappers (json_set_alloc_funcs), except inside json_loadb: jansson
 * 2.14's lexer ignores a failed buffer growth and then asserts on the text it did not save.
 * tree-sitter is left out too: its policy on allocation failure is to abort.
 *
 * usage: test_alloc_failure REF_DIR */
#include <jansson.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "lsp_internal.h"
#include "test.h"
#include "tree_sitter/api.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

json_t *__real_json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error);
json_t *__wrap_json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error);

static atomic_long allocations;         /* counted while fail_at > 0 */
static atomic_long fail_at;             /* the allocation that fails (1-based); 0: none */
static _Thread_local bool in_json_load; /* jansson's lexer cannot take a failure */

static bool inject(void) {
    long at = atomic_load(&fail_at);
    return at > 0 && !in_json_load && atomic_fetch_add(&allocations, 1) + 1 == at;
}

json_t *__wrap_json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error) {
    in_json_load = true;
    json_t *v = __real_json_loadb(buffer, buflen, flags, error);
    in_json_load = false;
    return v;
}

void *__wrap_malloc(size_t n) {
    return inject() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
    return inject() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
    return inject() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = __wrap_malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

char *__wrap_strndup(const char *s, size_t max) {
    size_t n = strnlen(s, max);
    char *d = __wrap_malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = 0;
    return d;
}

/* tree-sitter aborts when its allocator fails: it gets the real one. */
static void *ts_never_fails_malloc(size_t n) {
    return __real_malloc(n);
}
static void *ts_never_fails_calloc(size_t n, size_t size) {
    return __real_calloc(n, size);
}
static void *ts_never_fails_realloc(void *p, size_t n) {
    return __real_realloc(p, n);
}

typedef bool (*run_fn)(const void *arg); /* true: the run succeeded */

/* Runs fn with allocation N failing for every N until a run needs fewer than N allocations;
 * returns the number of allocations of a whole run. */
static long sweep(const char *what, run_fn fn, const void *arg) {
    CHECKF(fn(arg), "%s: fails without any allocation failure", what); /* warm-up: one-time */
    long n = 1, failed_runs = 0;
    for (;; n++) {
        size_t before = mallinfo2().uordblks;
        atomic_store(&allocations, 0);
        atomic_store(&fail_at, n);
        bool ok = fn(arg);
        atomic_store(&fail_at, 0);
        long used = atomic_load(&allocations);
        size_t after = mallinfo2().uordblks;
        CHECKF(after == before, "%s: with allocation %ld failing, %zd bytes stay allocated", what,
               n, (ssize_t)(after - before));
        if (used < n) { /* nothing failed: the run must have succeeded */
            CHECKF(ok, "%s: fails with no failure injected", what);
            break;
        }
        failed_runs += !ok;
    }
    printf("%s: %ld allocations, each failed in turn (%ld runs ended in an error)\n", what, n - 1,
           failed_runs);
    return n - 1;
}

static bool load_model(const void *path) {
    char err[ENGINE_ERR_LEN];
    engine_model *m = engine_model_load(path, err, sizeof err);
    engine_model_free(m);
    return m != NULL;
}

/* One frame per message. */
static void frame(char *out, size_t cap, size_t *len, const char *body) {
    *len += (size_t)snprintf(out + *len, cap - *len, "Content-Length: %zu\r\n\r\n%s", strlen(body),
                             body);
}

static const char *const SESSION[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"capabilities\":{"
    "\"general\":{\"positionEncodings\":[\"utf-16\"]}}}}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"initialized\",\"params\":{}}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didOpen\",\"params\":{\"textDocument\":{"
    "\"uri\":\"file:///t/a.c\",\"languageId\":\"c\",\"version\":1,"
    "\"text\":\"int main(void) {\\n  return 0; /* \\u00e9\\ud83d\\ude80 \\ud800 */\\n}\\n\"}}}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didChange\",\"params\":{\"textDocument\":{"
    "\"uri\":\"file:///t/a.c\",\"version\":2},\"contentChanges\":[{\"range\":{\"start\":{"
    "\"line\":1,\"character\":9},\"end\":{\"line\":1,\"character\":10}},\"text\":\"42\"},"
    "{\"text\":\"int f;\\nint g;\\n\"}]}}",
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"hearth/debugDocument\",\"params\":{"
    "\"textDocument\":{\"uri\":\"file:///t/a.c\"}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"no/such/method\",\"params\":{}}",
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"textDocument/inlineCompletion\",\"params\":{"
    "\"textDocument\":{\"uri\":\"file:///t/a.c\"},\"position\":{\"line\":1,\"character\":3},"
    "\"context\":{\"triggerKind\":1}}}",
    "not json at all",
    "{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didClose\",\"params\":{\"textDocument\":{"
    "\"uri\":\"file:///t/a.c\"}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"shutdown\"}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"exit\"}",
};

static bool lsp_session(const void *bytes) {
    char err[LSP_ERR_LEN];
    lsp_server *s = lsp_server_new_detached(err, sizeof err);
    if (!s) return false;
    const char *b = bytes;
    size_t n = strlen(b), half = n / 2; /* two reads: frames split across them */
    lsp_server_feed(s, b, half);
    lsp_server_feed(s, b + half, n - half);
    return lsp_server_free_detached(s) == 0;
}

int main(int argc, char **argv) {
    const char *ref = argc > 1 ? argv[1] : "../shared/reference";
    setvbuf(stdout, NULL, _IOLBF, 0);
    json_set_alloc_funcs(__wrap_malloc, free);
    ts_set_allocator(ts_never_fails_malloc, ts_never_fails_calloc, ts_never_fails_realloc, free);
    static const char *const models[] = {"stories260K.gguf", "tiny-bert-Q8_0.gguf",
                                         "tiny-qwen2-k-Q4_K_M.gguf"};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/models/%s", ref, models[i]);
        CHECKF(sweep(models[i], load_model, path) > 10, "%s: too few allocations", models[i]);
    }
    static char session[8192];
    size_t len = 0;
    for (size_t i = 0; i < sizeof SESSION / sizeof *SESSION; i++)
        frame(session, sizeof session, &len, SESSION[i]);
    CHECK(sweep("lsp session", lsp_session, session) > 10);
    return test_summary("test_alloc_failure");
}
