/* hearth pull: download a model into the models dir. The bytes go to <file>.part, hashed as they
 * arrive (a resumed download first hashes what is already on disk), and only a complete file with
 * the right checksum is renamed to <file>. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct {
    const models_pull_params *p;
    int fd;
    models_sha256 sha;
    uint64_t have;     /* bytes in the .part, all hashed */
    uint64_t start;    /* have when this attempt began */
    uint64_t total;    /* the full file's size, 0 when unknown */
    long status;       /* of the response being received */
    bool body_started; /* the first body bytes of this response were seen */
    bool range_seen;   /* a Content-Range header came with this response */
    uint64_t range_from;
    int64_t length; /* Content-Length of this response, -1 when absent */
    int write_errno;
    bool bad_range; /* a 206 that does not start where the .part ends */
    double t0, last_report;
    CURL *h;
} xfer;

static void report(xfer *x, bool final) {
    double now = models_now_s();
    if (!x->p->progress || (!final && now - x->last_report < 0.1)) return;
    x->last_report = now;
    double dt = now - x->t0;
    models_progress pr = {
        x->have, x->total, x->start, dt, dt > 0 ? (double)(x->have - x->start) / dt : 0, final};
    x->p->progress(&pr, x->p->user);
}

static void __attribute__((format(printf, 2, 3)))
log_line(const models_pull_params *p, const char *fmt, ...) {
    char line[MODELS_PATH_LEN + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (p->log) p->log(line, p->user);
}

static size_t on_header(char *buf, size_t size, size_t n, void *user) {
    xfer *x = user;
    size_t len = size * n;
    char line[512];
    size_t m = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, buf, m);
    line[m] = 0;
    unsigned long long a, b, t;
    long long cl;
    if (!strncmp(line, "HTTP/", 5)) { /* a new response (redirects have several) */
        x->range_seen = false;
        x->length = -1;
        x->body_started = false;
    } else if (!strncasecmp(line, "content-range:", 14)) {
        if (sscanf(line + 14, " bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
            x->range_seen = true, x->range_from = a, x->total = t;
        } else if (sscanf(line + 14, " bytes %llu-%llu/", &a, &b) == 2) {
            x->range_seen = true, x->range_from = a;
        }
    } else if (!strncasecmp(line, "content-length:", 15) && sscanf(line + 15, " %lld", &cl) == 1 &&
               cl >= 0) {
        x->length = cl;
    }
    return len;
}

/* The part file starts over: the server sent the whole file instead of the range. */
static bool restart_part(xfer *x) {
    if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) != 0) {
        x->write_errno = errno;
        return false;
    }
    models_sha256_init(&x->sha);
    x->have = x->start = 0;
    return true;
}

static bool first_body_bytes(xfer *x, CURL *h) {
    x->body_started = true;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status == 206) {
        if (!x->range_seen || x->range_from != x->have) return !(x->bad_range = true);
        return true;
    }
    if (x->have > 0) {
        log_line(x->p, "the server ignored the range request: starting over (%llu bytes dropped)",
                 (unsigned long long)x->have);
        if (!restart_part(x)) return false;
    }
    x->total = x->length >= 0 ? (uint64_t)x->length : 0;
    return true;
}

/* libcurl's progress callback: a set stop flag aborts the transfer (even while connecting). */
static int on_xferinfo(void *user, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln) {
    (void)dlt, (void)dln, (void)ult, (void)uln;
    const xfer *x = user;
    return x->p->stop && *x->p->stop;
}

static size_t on_body(char *buf, size_t size, size_t n, void *user) {
    xfer *x = user;
    size_t len = size * n;
    if (!x->body_started && !first_body_bytes(x, x->h)) return 0;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(x->fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            x->write_errno = w < 0 ? errno : ENOSPC;
            /* keep the hash equal to what is on disk: a partial write is truncated away */
            if (ftruncate(x->fd, (off_t)x->have) == 0) lseek(x->fd, (off_t)x->have, SEEK_SET);
            return 0;
        }
        models_sha256_update(&x->sha, buf + off, (size_t)w);
        x->have += (uint64_t)w;
        off += (size_t)w;
    }
    report(x, false);
    return len;
}

/* Hashes the bytes a previous run left in the .part; positions the file at its end. */
static bool hash_existing(xfer *x, const char *part, char *err, size_t errlen) {
    uint8_t buf[1 << 16];
    ssize_t got;
    models_sha256_init(&x->sha);
    x->have = 0;
    while ((got = read(x->fd, buf, sizeof buf)) > 0) {
        models_sha256_update(&x->sha, buf, (size_t)got);
        x->have += (uint64_t)got;
    }
    if (got < 0) {
        snprintf(err, errlen, "cannot read %s: %s", part, strerror(errno));
        return false;
    }
    return true;
}

static bool mkdirs(const char *dir, char *err, size_t errlen) {
    char path[MODELS_PATH_LEN];
    snprintf(path, sizeof path, "%s", dir);
    for (char *s = path + 1;; s++) {
        bool end = *s == 0;
        if (*s != '/' && !end) continue;
        *s = 0;
        struct stat st;
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
            return false;
        }
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s is not a directory", path);
            return false;
        }
        if (end) return true;
        *s = '/';
    }
}

typedef enum { ATTEMPT_DONE, ATTEMPT_RETRY, ATTEMPT_RESTART, ATTEMPT_FAIL } attempt_outcome;

/* A stalled or unreachable server is given up on after this long (per attempt). */
static long stall_s(const models_pull_params *p) {
    return p->stall_timeout_s > 0 ? p->stall_timeout_s : 15;
}

static attempt_outcome write_failure(const xfer *x, const char *part, char *err, size_t errlen) {
    int e = x->write_errno;
    if (e == ENOSPC || e == EDQUOT)
        snprintf(err, errlen,
                 "disk full writing %s (%llu bytes saved): free some space and run the same "
                 "command to resume",
                 part, (unsigned long long)x->have);
    else if (e == EFBIG)
        snprintf(err, errlen,
                 "file too large for this file system or size limit writing %s (%llu bytes "
                 "saved)",
                 part, (unsigned long long)x->have);
    else
        snprintf(err, errlen, "cannot write %s: %s", part, strerror(e));
    return ATTEMPT_FAIL;
}

static attempt_outcome classify(const xfer *x, CURLcode rc, long status, const char *url,
                                const char *part, const char *cerr, char *err, size_t errlen) {
    if (rc == CURLE_OK && x->total && x->have < x->total) {
        snprintf(err, errlen, "the connection closed after %llu of %llu bytes",
                 (unsigned long long)x->have, (unsigned long long)x->total);
        return ATTEMPT_RETRY;
    }
    if (rc == CURLE_OK) return ATTEMPT_DONE;
    if (rc == CURLE_WRITE_ERROR && x->bad_range) {
        snprintf(err, errlen, "the server answered the range request with other bytes");
        return ATTEMPT_RESTART;
    }
    if (rc == CURLE_WRITE_ERROR && x->write_errno) return write_failure(x, part, err, errlen);
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        snprintf(err, errlen, "HTTP %ld from %s", status, url);
        if (status == 416 && x->have > 0) return ATTEMPT_RESTART;
        return status == 408 || status == 429 || status >= 500 ? ATTEMPT_RETRY : ATTEMPT_FAIL;
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(err, errlen, "interrupted");
        return ATTEMPT_FAIL;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT && x->have == x->start) {
        snprintf(err, errlen, "no answer from %s within %ld s", url, stall_s(x->p));
        return ATTEMPT_RETRY;
    }
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY) {
        snprintf(err, errlen, "cannot resolve the host of %s (no network, or a misspelt name?): %s",
                 url, cerr);
        return ATTEMPT_FAIL;
    }
    snprintf(err, errlen, "download of %s failed: %s%s%s", url, curl_easy_strerror(rc),
             *cerr ? ": " : "", cerr);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return ATTEMPT_RETRY;
    default:
        return ATTEMPT_FAIL;
    }
}

static attempt_outcome attempt(xfer *x, const char *url, const char *part, char *err,
                               size_t errlen) {
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "cannot start libcurl");
        return ATTEMPT_FAIL;
    }
    char cerr[CURL_ERROR_SIZE] = "", range[32];
    x->h = h;
    long connect_s = x->p->connect_timeout_s > 0 ? x->p->connect_timeout_s : 15;
    models_curl_common(h, url, connect_s * 1000, cerr);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_s(x->p));
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    /* CURLOPT_RANGE rather than RESUME_FROM: a server that ignores ranges and sends the whole
     * file (200) is handled here by starting over instead of failing. */
    snprintf(range, sizeof range, "%llu-", (unsigned long long)x->have);
    if (x->have > 0) curl_easy_setopt(h, CURLOPT_RANGE, range);
    x->start = x->have;
    x->t0 = x->last_report = models_now_s();
    x->body_started = x->bad_range = x->range_seen = false;
    x->write_errno = 0;
    x->length = -1;
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return classify(x, rc, status, url, part, cerr, err, errlen);
}

/* ---- what to download ---- */

typedef struct {
    char url[MODELS_PATH_LEN];
    char file[256];
    const char *name; /* catalogue name or NULL */
    const char *expect_sha;
    uint64_t expect_size;
} source;

static bool pick_source(const models_pull_params *p, source *s, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    const models_entry *c = models_catalogue_find(p->what);
    if (c) {
        /* A mirror of Hugging Face (HF_ENDPOINT, as HF's own tools read it) replaces the host. */
        const char *mirror = getenv("HF_ENDPOINT"), *hf = "https://huggingface.co";
        size_t hl = strlen(hf);
        size_t ml = mirror ? strcspn(mirror, "\r\n") : 0;
        while (ml && mirror[ml - 1] == '/') ml--;
        if (ml && !strncmp(c->url, hf, hl))
            snprintf(s->url, sizeof s->url, "%.*s%s", (int)ml, mirror, c->url + hl);
        else
            snprintf(s->url, sizeof s->url, "%s", c->url);
        snprintf(s->file, sizeof s->file, "%s", c->file);
        s->name = c->name;
        s->expect_sha = c->sha256;
        s->expect_size = c->size;
    } else if (!strncasecmp(p->what, "http://", 7) || !strncasecmp(p->what, "https://", 8)) {
        size_t end = strcspn(p->what, "?#");
        const char *slash = memrchr(p->what, '/', end);
        size_t n = end - (size_t)(slash - p->what) - 1;
        if (strlen(p->what) >= sizeof s->url || n == 0 || n >= sizeof s->file) {
            snprintf(err, errlen, "%s: no file name in the URL", p->what);
            return false;
        }
        snprintf(s->url, sizeof s->url, "%s", p->what);
        memcpy(s->file, slash + 1, n);
        size_t fl = strlen(s->file);
        if (!models_file_name_ok(s->file) || fl < 6 || strcmp(s->file + fl - 5, ".gguf")) {
            snprintf(err, errlen, "%s: the URL must end in a plain file name ending in .gguf",
                     p->what);
            return false;
        }
    } else {
        snprintf(err, errlen,
                 "%s: not a catalogue name (see 'hearth pull --list') nor an http(s) URL", p->what);
        return false;
    }
    if (p->expect_sha256) s->expect_sha = p->expect_sha256;
    return true;
}

/* ---- the pull ---- */

typedef struct {
    char dir[MODELS_PATH_LEN], part[MODELS_PATH_LEN], final[MODELS_PATH_LEN];
} pull_paths;

/* Runs attempts until the .part holds the whole file, retrying what may succeed on a retry. */
static bool download(xfer *x, const source *s, const pull_paths *pp, char *err, size_t errlen) {
    int retries = x->p->retries < 0 ? 3 : x->p->retries;
    for (int i = 0;; i++) {
        if (i == 0) log_line(x->p, "connecting to %s", s->url); /* at once: the wait may be long */
        if (x->have > 0 && i == 0)
            log_line(x->p, "resuming %s at byte %llu", pp->part, (unsigned long long)x->have);
        attempt_outcome o = attempt(x, s->url, pp->part, err, errlen);
        if (o == ATTEMPT_DONE) return true;
        if (o == ATTEMPT_FAIL) break;
        if (i >= retries) {
            size_t l = strlen(err);
            snprintf(err + l, errlen - l, " (gave up after %d attempts)", i + 1);
            break;
        }
        if (o == ATTEMPT_RESTART && !restart_part(x)) {
            write_failure(x, pp->part, err, errlen);
            return false;
        }
        if (x->p->stop && *x->p->stop) break;
        double wait = models_backoff_s(i, 0.5, 8);
        char line[MODELS_ERR_LEN + 128];
        snprintf(line, sizeof line, "%s; retrying in %.1f s from byte %llu", err, wait,
                 (unsigned long long)x->have);
        if (x->p->log) x->p->log(line, x->p->user);
        models_sleep_s(wait);
    }
    if (x->have > 0) {
        size_t l = strlen(err);
        snprintf(err + l, errlen - l, "; %llu bytes are kept in %s: run the same command to resume",
                 (unsigned long long)x->have, pp->part);
    }
    return false;
}

/* Checks size and checksum of the complete .part, renames it and writes the manifest. */
static bool install(xfer *x, const source *s, const pull_paths *pp, models_pull_result *r,
                    char *err, size_t errlen) {
    models_sha256_final(&x->sha, r->sha256);
    r->bytes = x->have;
    if (s->expect_size && x->have != s->expect_size) {
        unlink(pp->part);
        snprintf(err, errlen,
                 "%s: got %llu bytes, the catalogue says %llu; the download was removed", s->url,
                 (unsigned long long)x->have, (unsigned long long)s->expect_size);
        return false;
    }
    if (s->expect_sha && strcasecmp(s->expect_sha, r->sha256)) {
        unlink(pp->part); /* wrong bytes: resuming them cannot help */
        snprintf(err, errlen,
                 "sha256 mismatch for %s: expected %s, got %s; the file was not installed and the "
                 "download was removed",
                 s->url, s->expect_sha, r->sha256);
        return false;
    }
    r->sha256_verified = s->expect_sha != NULL;
    if (fsync(x->fd) != 0 || rename(pp->part, pp->final) != 0) {
        snprintf(err, errlen, "cannot install %s: %s", pp->final, strerror(errno));
        return false;
    }
    int dfd = open(pp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) fsync(dfd), close(dfd);
    snprintf(r->path, sizeof r->path, "%s", pp->final);
    models_manifest m = {s->name, s->url, x->have, r->sha256, r->sha256_verified};
    return models_manifest_write(pp->dir, s->file, &m, err, errlen);
}

static bool open_part(xfer *x, const pull_paths *pp, char *err, size_t errlen) {
    x->fd = open(pp->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (x->fd < 0) {
        snprintf(err, errlen, "cannot write in %s: %s", pp->dir, strerror(errno));
        return false;
    }
    if (flock(x->fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "%s is being downloaded by another hearth pull", pp->part);
        return false;
    }
    return hash_existing(x, pp->part, err, errlen);
}

bool models_pull(const models_pull_params *p, models_pull_result *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    source s;
    pull_paths pp;
    if (!pick_source(p, &s, err, errlen)) return false;
    if (p->dir)
        snprintf(pp.dir, sizeof pp.dir, "%s", p->dir);
    else if (!models_dir(pp.dir, sizeof pp.dir, err, errlen))
        return false;
    if (!models_join(pp.part, sizeof pp.part, pp.dir, s.file, ".part", err, errlen) ||
        !models_join(pp.final, sizeof pp.final, pp.dir, s.file, NULL, err, errlen) ||
        !mkdirs(pp.dir, err, errlen))
        return false;
    struct stat st;
    if (stat(pp.final, &st) == 0) { /* pulling what is installed: nothing to do */
        snprintf(r->path, sizeof r->path, "%s", pp.final);
        r->bytes = (uint64_t)st.st_size;
        r->already_installed = true;
        return true;
    }
    models_curl_init();
    xfer x = {.p = p, .fd = -1};
    bool locked = open_part(&x, &pp, err, errlen);
    r->resumed_from = x.have;
    bool ok = locked && download(&x, &s, &pp, err, errlen);
    if (ok) report(&x, true);
    ok = ok && install(&x, &s, &pp, r, err, errlen);
    if (!ok && locked && x.have == 0) unlink(pp.part); /* nothing worth keeping */
    if (x.fd >= 0) close(x.fd);
    return ok;
}
