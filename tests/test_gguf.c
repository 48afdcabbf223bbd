/* The GGUF reader accepts well-formed files and rejects every kind of malformed one with a message,
 * never a crash; the hearth CLI turns each rejection into one line on stderr and a non-zero exit.
 *
 * usage: test_gguf [HEARTH_BINARY] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"
#include "test.h"

/* What to build; each field defaults (0) to a valid file. */
typedef struct {
    uint32_t magic, version;
    uint64_t n_tensors_override, n_kv_override, str_len_override;
    uint32_t tensor_type;   /* 0 = F32 */
    uint64_t tensor_offset; /* offset of the second tensor; 0 = the right one */
    uint64_t tensor_ne0;    /* row length of the second tensor; 0 = 32 */
    uint32_t alignment;     /* 0 = 32 (not written) */
    int truncate_to;        /* bytes kept; < 0: drop that many from the end; 0: all */
} spec;

typedef struct {
    uint8_t *p;
    size_t n;
} buf;

static void put(buf *b, const void *d, size_t n) {
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u32(buf *b, uint32_t v) {
    put(b, &v, 4);
}
static void u64(buf *b, uint64_t v) {
    put(b, &v, 8);
}
static void str(buf *b, const char *s, uint64_t len_override) {
    u64(b, len_override ? len_override : strlen(s));
    put(b, s, strlen(s));
}

/* Two tensors: "a" F32 [8, 2] and "b" (type, [ne0]) after it; four metadata keys incl. arrays. */
static size_t build(const spec *s, uint8_t *out) {
    buf b = {out, 0};
    uint32_t align = s->alignment ? s->alignment : 32;
    u32(&b, s->magic ? s->magic : 0x46554747u);
    u32(&b, s->version ? s->version : 3);
    u64(&b, s->n_tensors_override ? s->n_tensors_override : 2);
    u64(&b, s->n_kv_override ? s->n_kv_override : (s->alignment ? 5 : 4));
    str(&b, "general.architecture", 0), u32(&b, GGUF_STRING), str(&b, "llama", s->str_len_override);
    str(&b, "test.count", 0), u32(&b, GGUF_U32), u32(&b, 7);
    str(&b, "test.words", 0), u32(&b, GGUF_ARRAY), u32(&b, GGUF_STRING), u64(&b, 2);
    str(&b, "hello", 0), str(&b, "world", 0);
    str(&b, "test.nested", 0), u32(&b, GGUF_ARRAY), u32(&b, GGUF_ARRAY), u64(&b, 1);
    u32(&b, GGUF_I32), u64(&b, 3), u32(&b, 1), u32(&b, 2), u32(&b, 3);
    if (s->alignment) str(&b, "general.alignment", 0), u32(&b, GGUF_U32), u32(&b, s->alignment);
    str(&b, "a", 0), u32(&b, 2), u64(&b, 8), u64(&b, 2), u32(&b, TT_F32), u64(&b, 0);
    uint64_t ne0 = s->tensor_ne0 ? s->tensor_ne0 : 32;
    uint64_t off_b = s->tensor_offset ? s->tensor_offset : (64 + align - 1) / align * align;
    str(&b, "b", 0), u32(&b, 1), u64(&b, ne0), u32(&b, s->tensor_type), u64(&b, off_b);
    while (b.n % align) out[b.n++] = 0;
    size_t data = b.n;
    for (int i = 0; i < 16; i++) {
        float f = (float)i;
        put(&b, &f, 4);
    }
    b.n = data + (64 + align - 1) / align * align;
    for (int i = 0; i < 32; i++) {
        float f = (float)i * 0.5f;
        memcpy(out + b.n + 4 * i, &f, 4);
    }
    b.n += 128;
    if (s->truncate_to < 0) return b.n - (size_t)(-s->truncate_to);
    return s->truncate_to ? (size_t)s->truncate_to : b.n;
}

static uint8_t image[1 << 16];

static void test_gguf_reads_valid_file(void) {
    spec s = {0};
    size_t n = build(&s, image);
    char err[256] = "";
    gguf_file *g = gguf_open_memory(image, n, err, sizeof err);
    CHECKF(g != NULL, "%s", err);
    if (!g) return;
    uint64_t v = 0;
    gguf_str a;
    CHECK(gguf_get_u64(g, "test.count", &v) && v == 7);
    CHECK(gguf_get_str(g, "general.architecture", &a) && gguf_str_eq(a, "llama"));
    const gguf_value *words = gguf_get_arr(g, "test.words");
    CHECK(words && words->arr.n == 2 && gguf_str_eq(words->arr.items[1].str, "world"));
    const gguf_value *nested = gguf_get_arr(g, "test.nested");
    CHECK(nested && nested->arr.n == 1 && gguf_arr_i64(&nested->arr.items[0], 2) == 3);
    const gguf_tensor *ta = gguf_find_tensor(g, "a"), *tb = gguf_find_tensor(g, "b");
    CHECK(ta && ta->nbytes == 64 && ((const float *)ta->data)[15] == 15.0f);
    CHECK(tb && tb->nbytes == 128 && ((const float *)tb->data)[31] == 15.5f);
    gguf_close(g);
    s.version = 2;
    n = build(&s, image);
    g = gguf_open_memory(image, n, err, sizeof err);
    CHECKF(g != NULL, "v2: %s", err);
    gguf_close(g);
}

typedef struct {
    const char *name, *expect;
    spec s;
} bad_case;

static const bad_case BAD[] = {
    {"wrong_magic", "bad magic", {.magic = 0x46554746u}},
    {"unknown_version", "unsupported GGUF version", {.version = 4}},
    {"absurd_tensor_count", "absurd tensor count", {.n_tensors_override = 1ull << 60}},
    {"absurd_kv_count", "absurd metadata count", {.n_kv_override = 1ull << 60}},
    {"absurd_string_length", "string length", {.str_len_override = 1ull << 62}},
    {"string_past_end", "truncated", {.str_len_override = 1u << 20}},
    {"unknown_tensor_type", "unknown or unsupported tensor type", {.tensor_type = 99}},
    {"data_out_of_bounds", "outside the file", {.tensor_offset = 1u << 20}},
    {"misaligned_data", "not aligned", {.tensor_offset = 72}},
    {"row_not_block_multiple", "not a multiple", {.tensor_type = TT_Q8_0, .tensor_ne0 = 40}},
    {"bad_alignment", "power of two", {.alignment = 24}},
    {"truncated_header", "truncated", {.truncate_to = 20}},
    {"truncated_metadata", "truncated", {.truncate_to = 100}},
    {"truncated_data", "outside the file", {.truncate_to = -10}},
};
#define N_BAD (sizeof BAD / sizeof BAD[0])

static void test_gguf_rejects_each_bad_input(void) {
    for (size_t i = 0; i < N_BAD; i++) {
        size_t n = build(&BAD[i].s, image);
        char err[256] = "";
        gguf_file *g = gguf_open_memory(image, n, err, sizeof err);
        CHECKF(g == NULL, "%s: accepted", BAD[i].name);
        CHECKF(strstr(err, BAD[i].expect) != NULL, "%s: message '%s' lacks '%s'", BAD[i].name, err,
               BAD[i].expect);
        gguf_close(g);
    }
}

/* Every prefix of a valid file is rejected cleanly (or accepted only when complete). */
static void test_gguf_rejects_every_truncation(void) {
    spec s = {0};
    size_t n = build(&s, image);
    for (size_t k = 0; k < n; k++) {
        char err[256] = "";
        uint8_t *copy = malloc(k ? k : 1); /* exact-size copy so ASan sees any over-read */
        memcpy(copy, image, k);
        gguf_file *g = gguf_open_memory(copy, k, err, sizeof err);
        CHECKF(g == NULL && err[0], "prefix of %zu bytes accepted", k);
        gguf_close(g);
        free(copy);
    }
}

static void test_gguf_writer_round_trips(void) {
    char path[] = "/tmp/hearth_gguf_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    gguf_writer *w = gguf_writer_new();
    const char *words[] = {"a", "bc"};
    float row[64];
    for (int i = 0; i < 64; i++) row[i] = (float)i;
    uint64_t ne[2] = {32, 2};
    char err[256];
    gguf_write_str(w, "general.architecture", "llama");
    gguf_write_arr_str(w, "x.words", words, 2);
    gguf_write_f32(w, "x.f", 0.25f);
    CHECK(gguf_writer_add_tensor(w, "t", TT_F32, 2, ne, row, err, sizeof err));
    CHECKF(gguf_writer_save(w, path, err, sizeof err), "%s", err);
    gguf_writer_free(w);
    gguf_file *g = gguf_open(path, err, sizeof err);
    CHECKF(g != NULL, "%s", err);
    double f = 0;
    const gguf_value *a = g ? gguf_get_arr(g, "x.words") : NULL;
    const gguf_tensor *t = g ? gguf_find_tensor(g, "t") : NULL;
    CHECK(g && gguf_get_f64(g, "x.f", &f) && f == 0.25);
    CHECK(a && a->arr.n == 2 && gguf_str_eq(a->arr.items[1].str, "bc"));
    CHECK(t && t->ne[0] == 32 && t->ne[1] == 2 && ((const float *)t->data)[63] == 63.0f);
    gguf_close(g);
    unlink(path);
}

/* The CLI prints exactly one line "hearth: <file>: <why>" and exits non-zero for each bad file. */
static void test_cli_reports_bad_files(const char *hearth) {
    char dir[] = "/tmp/hearth_bad_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    for (size_t i = 0; i < N_BAD; i++) {
        char file[256], errf[300], cmd[1024];
        snprintf(file, sizeof file, "%s/%s.gguf", dir, BAD[i].name);
        snprintf(errf, sizeof errf, "%s/%s.err", dir, BAD[i].name);
        size_t n = build(&BAD[i].s, image);
        FILE *f = fopen(file, "wb");
        CHECK(f && fwrite(image, 1, n, f) == n);
        if (f) fclose(f);
        snprintf(cmd, sizeof cmd, "'%s' info '%s' >/dev/null 2>'%s'", hearth, file, errf);
        int st = system(cmd);
        CHECKF(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s: exit status %d", BAD[i].name, st);
        char line[1024] = "", extra[16];
        f = fopen(errf, "r");
        bool one_line = f && fgets(line, sizeof line, f) && !fgets(extra, sizeof extra, f);
        if (f) fclose(f);
        CHECKF(one_line && !strncmp(line, "hearth: ", 8) && strstr(line, BAD[i].expect),
               "%s: stderr was '%s'", BAD[i].name, line);
        unlink(file);
        unlink(errf);
    }
    rmdir(dir);
}

int main(int argc, char **argv) {
    test_gguf_reads_valid_file();
    test_gguf_rejects_each_bad_input();
    test_gguf_rejects_every_truncation();
    test_gguf_writer_round_trips();
    if (argc > 1) test_cli_reports_bad_files(argv[1]);
    return test_summary("test_gguf");
}
