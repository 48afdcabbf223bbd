#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "models.h"

int cli_error(const char *what, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hearth: %s: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

bool cli_int(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error(opt, "'%s' is not an integer in [%ld, %ld]", s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_kv_type(const char *opt, const char *s, engine_kv_type *out) {
    static const char *names[] = {"f16", "f32", "q8_0"}; /* by engine_kv_type */
    for (int k = 0; k < 3; k++)
        if (!strcmp(s, names[k])) return *out = (engine_kv_type)k, true;
    cli_error(opt, "'%s': expected f16, f32 or q8_0", s);
    return false;
}

bool cli_float(const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        cli_error(opt, "'%s' is not a number in [%g, %g]", s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error(path, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
        if (cap - n - 1 == 0) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        cli_error(path, err ? "read error" : "out of memory");
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

bool cli_check_fit(const engine_model *m, const char *path, int32_t n_ctx) {
    char msg[MODELS_ERR_LEN];
    struct stat st;
    uint64_t avail = 0;
    const char *fake = getenv("HEARTH_TEST_MEM_AVAILABLE"); /* tests only: pretend this much */
    if (fake)
        avail = strtoull(fake, NULL, 10);
    else if (!models_mem_available(&avail, msg, sizeof msg))
        return true; /* no /proc/meminfo: nothing to say */
    int32_t train = engine_model_get_info(m)->n_ctx_train;
    if (n_ctx <= 0) n_ctx = train > 0 && train < 4096 ? train : 4096; /* the engine's default */
    uint64_t weights = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (models_fit_check(weights, engine_kv_bytes(m, n_ctx, ENGINE_KV_F16), avail, msg, sizeof msg))
        return true;
    if (getenv("HEARTH_IGNORE_MEMORY")) {
        fprintf(stderr, "hearth: %s: warning: %s at %d positions\n", path, msg, n_ctx);
        return true;
    }
    cli_error(path, "%s at %d positions (HEARTH_IGNORE_MEMORY=1 loads it anyway)", msg, n_ctx);
    return false;
}

/* A catalogue name or a file in the models dir works wherever a model path does. */
static char *resolve(const char *what) {
    char err[MODELS_ERR_LEN + MODELS_PATH_LEN];
    char *path = models_resolve(what, err, sizeof err);
    if (!path) cli_error(what, "%s", err);
    return path;
}

static engine_model *open_model(const char *what, bool check_fit, int32_t n_ctx) {
    char err[ENGINE_ERR_LEN];
    char *path = resolve(what);
    cli_progress prog;
    cli_progress_init(&prog);
    if (path) cli_progress_show(&prog, "loading %s...", what);
    engine_model *m = path ? engine_model_load(path, err, sizeof err) : NULL;
    cli_progress_clear(&prog);
    if (path && !m) cli_error(what, "%s", err);
    if (m && check_fit && !cli_check_fit(m, path, n_ctx)) engine_model_free(m), m = NULL;
    free(path);
    return m;
}

engine_model *cli_load_model(const char *what) {
    return open_model(what, true, 0);
}

engine_model *cli_load_model_ctx(const char *what, long n_ctx) {
    return open_model(what, true, n_ctx > 0 && n_ctx <= INT32_MAX ? (int32_t)n_ctx : 0);
}

engine_model *cli_open_model(const char *what) {
    return open_model(what, false, 0);
}

engine_model *cli_load_vocab(const char *what) {
    char err[ENGINE_ERR_LEN];
    char *path = resolve(what);
    engine_model *m = path ? engine_model_load_vocab(path, err, sizeof err) : NULL;
    if (path && !m) cli_error(what, "%s", err);
    free(path);
    return m;
}

int32_t *cli_tokenize(const engine_model *m, const char *text, size_t len, bool add_special,
                      bool parse_special, int64_t *n) {
    char err[ENGINE_ERR_LEN];
    int64_t cap = (int64_t)len + 16;
    int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
    if (!ids) {
        cli_error("tokenize", "out of memory");
        return NULL;
    }
    int64_t got =
        engine_tokenize(m, text, len, add_special, parse_special, ids, cap, err, sizeof err);
    if (got > cap) { /* cannot happen for byte-based tokenizers, but stay correct */
        int32_t *more = realloc(ids, (size_t)got * sizeof(int32_t));
        if (!more) {
            free(ids);
            cli_error("tokenize", "out of memory");
            return NULL;
        }
        ids = more;
        got = engine_tokenize(m, text, len, add_special, parse_special, ids, got, err, sizeof err);
    }
    if (got < 0) {
        free(ids);
        cli_error("tokenize", "%s", err);
        return NULL;
    }
    *n = got;
    return ids;
}

double cli_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_init(cli_progress *p) {
    *p = (cli_progress){.tty = isatty(2) == 1, .last = -1};
}

void cli_progress_show(cli_progress *p, const char *fmt, ...) {
    double now = cli_now_s();
    if (!p->tty || (p->last >= 0 && now - p->last < 0.1)) return;
    p->last = now;
    va_list ap;
    va_start(ap, fmt);
    fputc('\r', stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\033[K", stderr);
    va_end(ap);
    fflush(stderr);
    p->drawn = true;
}

void cli_progress_clear(cli_progress *p) {
    if (p->drawn) fputs("\r\033[K", stderr), fflush(stderr);
    p->drawn = false;
    p->last = -1;
}
