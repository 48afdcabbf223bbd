/* lsp/ internals: the Content-Length framer (split input, garbage, limits) and the mapping
 * between LSP positions and byte offsets for multi-byte text. */
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <time.h>

#include "lsp_internal.h"
#include "test.h"

static lsp_frame_status next(lsp_framer *f, char *out, size_t cap) {
    const char *body;
    size_t len;
    char err[256];
    lsp_frame_status st = lsp_framer_next(f, &body, &len, err, sizeof err);
    if (st == LSP_FRAME_BODY) {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(out, body, n);
        out[n] = '\0';
    }
    return st;
}

static void test_framer_splits_and_joins(void) {
    lsp_framer f = {0};
    const char *in = "Content-Length: 2\r\n\r\n{}content-length:3\r\nContent-Type: x\r\n\r\n[1]";
    char out[64];
    for (size_t i = 0; i < strlen(in); i++) { /* one byte at a time */
        CHECK(lsp_framer_push(&f, in + i, 1));
        lsp_frame_status st;
        while ((st = next(&f, out, sizeof out)) == LSP_FRAME_BODY)
            CHECKF(!strcmp(out, "{}") || !strcmp(out, "[1]"), "%s", out);
        CHECK(st == LSP_FRAME_MORE);
    }
    lsp_framer_free(&f);
}

static void test_framer_resyncs_after_garbage(void) {
    lsp_framer f = {0};
    char out[64];
    const char *in = "Content-Length: x\r\n\r\nnoise Content-Length: 1\r\n\r\n7";
    CHECK(lsp_framer_push(&f, in, strlen(in)));
    CHECK(next(&f, out, sizeof out) == LSP_FRAME_BAD);
    CHECK(next(&f, out, sizeof out) == LSP_FRAME_BODY && !strcmp(out, "7"));
    const char *big = "Content-Length: 999999999999\r\n\r\nContent-Length: 1\r\n\r\n8";
    CHECK(lsp_framer_push(&f, big, strlen(big)));
    CHECK(next(&f, out, sizeof out) == LSP_FRAME_BAD);
    CHECK(next(&f, out, sizeof out) == LSP_FRAME_BODY && !strcmp(out, "8"));
    char *junk = malloc(3 * LSP_MAX_HEADER);
    memset(junk, 'a', 3 * LSP_MAX_HEADER);
    CHECK(lsp_framer_push(&f, junk, 3 * LSP_MAX_HEADER));
    CHECK(next(&f, out, sizeof out) == LSP_FRAME_BAD);
    CHECK(next(&f, out, sizeof out) == LSP_FRAME_MORE);
    CHECK(f.len - f.pos < 16); /* junk is not kept */
    free(junk);
    lsp_framer_free(&f);
}

static void test_offsets_utf16_and_utf8(void) {
    /* "aé🚀b\r\nx": a(1) é(2 bytes, 1 unit) 🚀(4 bytes, 2 units) b */
    const char *t = "a\xc3\xa9\xf0\x9f\x9a\x80"
                    "b\r\nx";
    lsp_doc *d = lsp_doc_new("u", "c", 1, t, strlen(t));
    CHECK(lsp_doc_offset(d, 0, 2, LSP_ENC_UTF16) == 3);
    CHECK(lsp_doc_offset(d, 0, 3, LSP_ENC_UTF16) == 3); /* inside the pair: its start */
    CHECK(lsp_doc_offset(d, 0, 4, LSP_ENC_UTF16) == 7);
    CHECK(lsp_doc_offset(d, 0, 99, LSP_ENC_UTF16) == 8); /* clamps before \r\n */
    CHECK(lsp_doc_offset(d, 1, 0, LSP_ENC_UTF16) == 10);
    CHECK(lsp_doc_offset(d, 5, 0, LSP_ENC_UTF16) == 11);
    CHECK(lsp_doc_offset(d, 0, 3, LSP_ENC_UTF8) == 3);
    CHECK(lsp_doc_offset(d, 0, 5, LSP_ENC_UTF8) == 3); /* inside 🚀 */
    int64_t line, ch;
    lsp_doc_position(d, 7, LSP_ENC_UTF16, &line, &ch);
    CHECK(line == 0 && ch == 4);
    lsp_doc_position(d, 7, LSP_ENC_UTF8, &line, &ch);
    CHECK(line == 0 && ch == 7);
    lsp_doc_position(d, 11, LSP_ENC_UTF16, &line, &ch);
    CHECK(line == 1 && ch == 1);
    lsp_edit e = {1, 7, 2};
    CHECK(lsp_doc_replace(d, &e, "Z", 1));
    CHECK(!strcmp(d->text, "aZb\r\nx"));
    lsp_doc_free(d);
}

/* ---- a server without streams, fed whole sessions and mutated ones ---- */

typedef struct {
    int replies, bad_json, ids_seen[64];
} sink_log;

static void sink(void *user, const char *body, size_t len) {
    sink_log *l = user;
    json_t *m = json_loadb(body, len, 0, NULL);
    json_t *id = json_object_get(m, "id");
    if (!m || !json_is_string(json_object_get(m, "jsonrpc"))) l->bad_json++;
    if (json_is_integer(id) && json_integer_value(id) >= 0 && json_integer_value(id) < 64)
        l->ids_seen[json_integer_value(id)]++;
    if (id) l->replies++;
    json_decref(m);
}

static size_t add_frame(char *buf, size_t at, const char *body) {
    return at + (size_t)sprintf(buf + at, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
}

/* A session: initialize, open, edit, inspect, shutdown; request ids 1..6. */
static size_t session(char *buf) {
    size_t n = 0;
    n = add_frame(buf, n,
                  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                  "{\"capabilities\":{}}}");
    n = add_frame(buf, n,
                  "{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didOpen\",\"params\":"
                  "{\"textDocument\":{\"uri\":\"a\",\"languageId\":\"c\",\"version\":1,"
                  "\"text\":\"int f() {\\n  return \\\"\xc3\xa9\xf0\x9f\x9a\x80\\\";\\n}\\n\"}}}");
    n = add_frame(buf, n,
                  "{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didChange\",\"params\":"
                  "{\"textDocument\":{\"uri\":\"a\",\"version\":2},\"contentChanges\":"
                  "[{\"range\":{\"start\":{\"line\":1,\"character\":11},\"end\":"
                  "{\"line\":1,\"character\":12}},\"text\":\"{x}\"}]}}");
    n = add_frame(buf, n,
                  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"hearth/debugDocument\","
                  "\"params\":{\"textDocument\":{\"uri\":\"a\"}}}");
    n = add_frame(buf, n, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"nope\"}");
    n = add_frame(buf, n,
                  "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"textDocument/"
                  "inlineCompletion\",\"params\":{\"textDocument\":{\"uri\":\"a\"},"
                  "\"position\":{\"line\":1,\"character\":3}}}");
    n = add_frame(buf, n,
                  "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"hearth/debugWork\","
                  "\"params\":{\"ms\":50000}}");
    n = add_frame(buf, n, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"shutdown\"}");
    n = add_frame(buf, n, "{\"jsonrpc\":\"2.0\",\"method\":\"exit\"}");
    return n;
}

static void test_session_gets_one_reply_per_request(void) {
    char buf[4096], err[256];
    size_t n = session(buf);
    lsp_server *s = lsp_server_new_detached(err, sizeof err);
    CHECKF(s != NULL, "%s", err);
    if (!s) return;
    sink_log l = {0};
    s->sink = sink;
    s->sink_user = &l;
    for (size_t i = 0; i < n; i += 7) lsp_server_feed(s, buf + i, n - i < 7 ? n - i : 7);
    CHECK(lsp_server_free_detached(s) == 0); /* shutdown, then exit */
    for (int id = 1; id <= 6; id++)
        CHECKF(l.ids_seen[id] == 1, "id %d: %d replies", id, l.ids_seen[id]);
    CHECK(l.bad_json == 0);
}

static uint32_t rnd(uint32_t *x) {
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

/* Flipped bytes, cut frames, inserted junk: the server must neither crash nor send bad JSON. */
static void test_mutated_sessions_are_survived(void) {
    char clean[4096], buf[8192], err[256];
    size_t n = session(clean);
    uint32_t seed = 12345;
    for (int round = 0; round < 300; round++) {
        memcpy(buf, clean, n);
        size_t len = n;
        for (int k = 0, muts = 1 + (int)(rnd(&seed) % 8); k < muts; k++) {
            size_t at = rnd(&seed) % len;
            switch (rnd(&seed) % 3) {
            case 0:
                buf[at] = (char)rnd(&seed);
                break;
            case 1:
                len = at + 1;
                break;
            default:
                if (len + 4 < sizeof buf) {
                    memmove(buf + at + 4, buf + at, len - at);
                    memcpy(buf + at, "\"}{\xff", 4);
                    len += 4;
                }
            }
        }
        lsp_server *s = lsp_server_new_detached(err, sizeof err);
        if (!s) continue;
        sink_log l = {0};
        s->sink = sink;
        s->sink_user = &l;
        lsp_server_feed(s, buf, len);
        lsp_server_free_detached(s);
        CHECKF(l.bad_json == 0, "round %d", round);
    }
}

/* ---- lsp_job_post: a running job's latest state reaches the loop before its done ---- */

#define POSTS 2000

typedef struct {
    int delivered[POSTS], n, n_at_done;
    bool done;
} post_log;

static void post_run(lsp_job *j, void *state) {
    (void)state;
    for (int i = 1; i <= POSTS; i++) {
        int *m = malloc(sizeof *m);
        if (!m) return;
        *m = i;
        lsp_job_post(j, m);
        struct timespec pause = {0, 50 * 1000}; /* a model's pace, roughly: the loop keeps up */
        if (i % 8 == 0) nanosleep(&pause, NULL);
    }
}

static void post_deliver(lsp_server *s, lsp_job *j, void *msg) {
    (void)s;
    post_log *l = j->data;
    CHECK(!l->done); /* never after the job's done */
    if (l->n < POSTS) l->delivered[l->n++] = *(int *)msg;
}

static void post_done(lsp_server *s, lsp_job *j) {
    (void)s;
    post_log *l = j->data;
    l->done = true;
    l->n_at_done = l->n;
}

static void test_job_posts_coalesce_and_precede_done(void) {
    char err[256];
    lsp_server *s = lsp_server_new_detached(err, sizeof err);
    CHECKF(s != NULL, "%s", err);
    if (!s) return;
    static post_log l;
    lsp_job *j = lsp_job_new("post", RUNTIME_LANE_FIM, post_run, post_done);
    j->data = &l;
    j->post = post_deliver;
    j->free_msg = free;
    lsp_submit(s, j);
    while (!l.done) uv_run(&s->loop, UV_RUN_ONCE);
    CHECKF(l.n >= 1 && l.delivered[l.n - 1] == POSTS, "the last message came (%d messages)", l.n);
    CHECK(l.n_at_done == l.n);
    for (int i = 1; i < l.n; i++) CHECKF(l.delivered[i] > l.delivered[i - 1], "in order at %d", i);
    CHECKF(l.n > 1, "%d messages: the loop saw the job mid-way", l.n);
    printf("lsp_job_post: %d of %d messages delivered\n", l.n, POSTS);
    lsp_server_free_detached(s);
}

int main(void) {
    test_job_posts_coalesce_and_precede_done();
    test_session_gets_one_reply_per_request();
    test_mutated_sessions_are_survived();
    test_framer_splits_and_joins();
    test_framer_resyncs_after_garbage();
    test_offsets_utf16_and_utf8();
    char err[256];
    CHECKF(lsp_syntax_check(err, sizeof err), "%s", err);
    return test_summary("test_lsp_units");
}
