/* lsp/ internals: the Content-Length framer (split input, garbage, limits) and the mapping
 * between LSP positions and byte offsets for multi-byte text. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
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
    const char *t = "a\xc3\xa9\xf0\x9f\x9a\x80" "b\r\nx";
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

int main(void) {
    test_framer_splits_and_joins();
    test_framer_resyncs_after_garbage();
    test_offsets_utf16_and_utf8();
    char err[256];
    CHECKF(lsp_syntax_check(err, sizeof err), "%s", err);
    return test_summary("test_lsp_units");
}
