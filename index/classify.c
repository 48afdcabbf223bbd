/* What a file is: its language (from the name), and whether its content is worth indexing
 * (binary, minified and generated files are not). Also the bounded, fifo-safe file reader. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grammar.h"
#include "internal.h"

/* Reads the open fd (closed here) if it is a regular file of at most max_bytes. */
static char *read_fd(int fd, uint64_t max_bytes, size_t *len) {
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= max_bytes)
        buf = malloc((size_t)st.st_size + 1);
    size_t n = 0, cap = buf ? (size_t)st.st_size : 0;
    while (buf && n < cap) { /* the file may shrink while we read; it may not grow past cap */
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            free(buf);
            buf = NULL;
        }
        if (got <= 0) break;
        n += (size_t)got;
    }
    close(fd);
    if (buf) {
        buf[n] = 0;
        *len = n;
    }
    return buf;
}

char *index_read_file(const char *path, uint64_t max_bytes, size_t *len) {
    /* O_NONBLOCK: a fifo that replaced a file since the walk must not hang us. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    return fd < 0 ? NULL : read_fd(fd, max_bytes, len);
}

/* Whether the open fd is a file inside root_real: the kernel's name for it, which no link
 * swapped in after the open can change. */
static bool fd_inside(int fd, const char *root_real) {
    char link[64], real[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, sizeof real - 1);
    if (n <= 0) return false; /* no /proc: refused this run, read again by the next */
    real[n] = 0;
    size_t r = strlen(root_real);
    return !strncmp(real, root_real, r) && real[r] == '/';
}

char *index_read_walked(const char *root, const char *root_real, const index_file *f,
                        uint64_t max_bytes, size_t *len, bool *outside) {
    char full[PATH_MAX];
    struct stat st;
    *outside = false;
    if (snprintf(full, sizeof full, "%s/%s", root, f->path) >= (int)sizeof full) return NULL;
    int fd = open(full, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return NULL;
    bool same =
        fstat(fd, &st) == 0 && (uint64_t)st.st_dev == f->dev && (uint64_t)st.st_ino == f->ino;
    if (!same && !fd_inside(fd, root_real)) {
        *outside = true;
        close(fd);
        return NULL;
    }
    return read_fd(fd, max_bytes, len);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!len || c > 0xF4 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
    if (len == 3 && c == 0xED && s[1] >= 0xA0) return 0; /* surrogates */
    if (len == 4 && c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
    if (len == 4 && c == 0xF4 && s[1] >= 0x90) return 0; /* past U+10FFFF */
    return len;
}

static size_t utf8_invalid(const char *text, size_t len) {
    size_t bad = 0;
    for (size_t i = 0; i < len;) {
        size_t l = utf8_len((const unsigned char *)text + i, len - i);
        bad += !l;
        i += l ? l : 1;
    }
    return bad;
}

void index_utf8_sanitize(char *text, size_t len) {
    for (size_t i = 0; i < len;) {
        size_t l = utf8_len((const unsigned char *)text + i, len - i);
        if (!l) text[i] = '?';
        i += l ? l : 1;
    }
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool generated_name(const char *path) {
    static const char *const names[] = {
        "package-lock.json", "yarn.lock",     "pnpm-lock.yaml", "Cargo.lock",
        "poetry.lock",       "composer.lock", "go.sum",         "Gemfile.lock"};
    static const char *const suffixes[] = {".pb.c",   ".pb.h",        ".pb.cc", ".pb.go",
                                           "_pb2.py", ".designer.cs", ".g.dart"};
    const char *b = base_name(path);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(b, names[i])) return true;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (ends_with(b, suffixes[i])) return true;
    return false;
}

/* Generators announce themselves near the top of the file. */
static bool generated_marker(const char *text, size_t len) {
    static const char *const markers[] = {"@generated", "DO NOT EDIT", "Code generated by",
                                          "autogenerated by", "auto-generated by"};
    size_t n = len < 1024 ? len : 1024;
    for (size_t i = 0; i < sizeof markers / sizeof *markers; i++)
        if (memmem(text, n, markers[i], strlen(markers[i]))) return true;
    return false;
}

static bool minified(const char *path, const char *text, size_t len) {
    if (ends_with(path, ".min.js") || ends_with(path, ".min.css")) return true;
    if (len < 2048) return false;
    size_t lines = 1, longest = 0, cur = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            lines++;
            cur = 0;
        } else if (++cur > longest) {
            longest = cur;
        }
    }
    return len / lines > 300 || longest > 10000;
}

index_skip_kind index_classify_content(const char *path, const char *text, size_t len) {
    if (memchr(text, 0, len)) return INDEX_SKIP_BINARY; /* anywhere: C strings end there */
    if (utf8_invalid(text, len) * 20 > len) return INDEX_SKIP_BINARY; /* > 5% invalid */
    if (generated_name(path) || generated_marker(text, len)) return INDEX_SKIP_GENERATED;
    if (minified(path, text, len)) return INDEX_SKIP_MINIFIED;
    return INDEX_SKIP_KINDS;
}

const char *index_language(const char *path) {
    /* Languages without a compiled grammar; the rest are grammar/'s names ("tsx", "bash"). */
    static const struct {
        const char *ext, *lang;
    } map[] = {{".md", "markdown"}, {".cmake", "cmake"}, {".rb", "ruby"},
               {".cs", "csharp"},   {".kt", "kotlin"},   {".swift", "swift"},
               {".toml", "toml"},   {".yaml", "yaml"},   {".yml", "yaml"}};
    const char *b = base_name(path), *grammar = grammar_name_for_path(b);
    if (grammar) return grammar;
    if (!strcmp(b, "CMakeLists.txt")) return "cmake";
    if (!strcmp(b, "Makefile")) return "make";
    const char *dot = strrchr(b, '.');
    if (dot)
        for (size_t i = 0; i < sizeof map / sizeof *map; i++)
            if (!strcmp(dot, map[i].ext)) return map[i].lang;
    return "text";
}
