/* base/: the growable buffer, UTF-8 boundaries and stop strings against known answers. */
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "test.h"

static void test_buf_appends_consumes_and_takes(void) {
    base_buf b = {0};
    CHECK(b.data == NULL && b.len == 0);
    for (int i = 0; i < 1000; i++) CHECK(base_buf_append(&b, "abc", 3));
    CHECK(b.len == 3000 && b.cap > 3000 && b.data[3000] == '\0');
    CHECK(!memcmp(b.data + 2997, "abc", 3));
    base_buf_consume(&b, 2998);
    CHECK(b.len == 2 && !strcmp(b.data, "bc"));
    CHECK(base_buf_append_str(&b, "de"));
    char *s = base_buf_take(&b);
    CHECK(s && !strcmp(s, "bcde") && b.data == NULL && b.len == 0);
    free(s);
    s = base_buf_take(&b); /* an empty buffer gives "" */
    CHECK(s && s[0] == '\0');
    free(s);
    CHECK(!base_buf_reserve(&b, (size_t)-1)); /* overflow refused, buffer unchanged */
    CHECK(b.data == NULL);
    base_buf_free(&b);
}

static void test_utf8_incomplete_tail(void) {
    CHECK(base_utf8_incomplete_tail("abc", 3) == 0);
    CHECK(base_utf8_incomplete_tail("a\xc3", 2) == 1);            /* é cut after its lead */
    CHECK(base_utf8_incomplete_tail("a\xc3\xa9", 3) == 0);        /* é whole */
    CHECK(base_utf8_incomplete_tail("\xe2\x82", 2) == 2);         /* € missing its last byte */
    CHECK(base_utf8_incomplete_tail("\xf0\x9f\x98", 3) == 3);     /* emoji missing one */
    CHECK(base_utf8_incomplete_tail("\xf0\x9f\x98\x80", 4) == 0); /* emoji whole */
    CHECK(base_utf8_incomplete_tail("", 0) == 0);
}

static void test_stop_find_earliest(void) {
    const char *stops[] = {"\n\n", "END", ""};
    const char *t = "foo END bar\n\nx";
    CHECK(base_stop_find(t, strlen(t), 0, stops, 3) == 4);
    CHECK(base_stop_find(t, strlen(t), 5, stops, 3) == 11); /* from skips the first */
    CHECK(base_stop_find(t, 6, 0, stops, 3) == -1);         /* "EN" is not "END" */
    CHECK(base_stop_find(t, strlen(t), 0, stops, 0) == -1);
}

static void test_stop_holdback(void) {
    const char *stops[] = {"</code>", "\n\n"};
    CHECK(base_stop_holdback("x </co", 6, stops, 2) == 4);    /* may still become </code> */
    CHECK(base_stop_holdback("x <b", 4, stops, 2) == 0);      /* cannot */
    CHECK(base_stop_holdback("x\n", 2, stops, 2) == 1);       /* may become \n\n */
    CHECK(base_stop_holdback("x\xe2\x82", 3, stops, 2) == 2); /* an unfinished character */
    CHECK(base_stop_holdback("ok", 2, NULL, 0) == 0);
}

/* RFC 4648 section 10's test vectors, and every byte value. */
static void test_base64_rfc4648_vectors(void) {
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char buf[16];
    for (int i = 0; i < 7; i++) {
        base_base64_encode(in[i], strlen(in[i]), buf);
        CHECKF(!strcmp(buf, out[i]) && strlen(buf) == base_base64_len(strlen(in[i])), "%s", buf);
    }
    unsigned char bytes[3] = {0xff, 0x00, 0xe9};
    base_base64_encode(bytes, 3, buf);
    CHECK(!strcmp(buf, "/wDp"));
}

int main(void) {
    test_base64_rfc4648_vectors();
    test_buf_appends_consumes_and_takes();
    test_utf8_incomplete_tail();
    test_stop_find_earliest();
    test_stop_holdback();
    return test_summary("test_base");
}
