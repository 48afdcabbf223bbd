/* hearth pull / list / rm: the models in $XDG_DATA_HOME/hearth/models (see models/models.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"
#include "models.h"

static void human_bytes(double b, char *out, size_t cap) {
    static const char *const UNITS[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) b /= 1000, u++;
    snprintf(out, cap, u ? "%.2f %s" : "%.0f %s", b, UNITS[u]);
}

static void human_time(double s, char *out, size_t cap) {
    if (!(s >= 0) || s > 360000)
        snprintf(out, cap, "?");
    else if (s >= 3600)
        snprintf(out, cap, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
    else
        snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
}

typedef struct {
    bool tty;
    double last_line; /* when a plain progress line was last printed */
    int last_tenth;   /* the last 10% step printed */
    bool drew;        /* a \r bar is on screen */
} pull_view;

/* A bar redrawn in place on a terminal; otherwise a plain line every 10% or 10 s. */
static void on_progress(const models_progress *p, void *user) {
    pull_view *v = user;
    char done[32], total[32], rate[32], eta[32], line[160];
    human_bytes((double)p->done, done, sizeof done);
    human_bytes((double)p->total, total, sizeof total);
    human_bytes(p->rate, rate, sizeof rate);
    double left = p->total > p->done && p->rate > 0 ? (double)(p->total - p->done) / p->rate : -1;
    human_time(left, eta, sizeof eta);
    int pct = p->total ? (int)(100.0 * (double)p->done / (double)p->total) : -1;
    if (p->final) {
        human_time(p->elapsed_s, eta, sizeof eta);
        snprintf(line, sizeof line, "%s  %s/s  done in %s", done, rate, eta);
    } else if (p->total)
        snprintf(line, sizeof line, "%s / %s  %3d%%  %s/s  ETA %s", done, total, pct, rate, eta);
    else
        snprintf(line, sizeof line, "%s  %s/s", done, rate);
    if (v->tty) {
        int width = 24, fill = pct > 0 ? pct * width / 100 : 0;
        fprintf(stderr, "\r[%.*s%*s] %s\033[K", fill, "########################", width - fill, "",
                line);
        v->drew = true;
        if (p->final) fputc('\n', stderr), v->drew = false;
        return;
    }
    double now = cli_now_s();
    int tenth = pct >= 0 ? pct / 10 : -1;
    if (!p->final && tenth == v->last_tenth && now - v->last_line < 10) return;
    v->last_tenth = tenth;
    v->last_line = now;
    fprintf(stderr, "hearth: pull: %s\n", line);
}

static void on_log(const char *line, void *user) {
    pull_view *v = user;
    if (v->drew) fputc('\n', stderr), v->drew = false;
    fprintf(stderr, "hearth: pull: %s\n", line);
}

/* The catalogue with what each model costs: download size and memory at a working context
 * (4096 positions; 512 for embedding models, which see one chunk at a time). */
static int print_catalogue(void) {
    size_t n;
    const models_entry *c = models_catalogue(&n);
    printf("%-36s %-10s %9s %11s  %s\n", "NAME", "USE", "SIZE", "RAM NEEDED", "URL");
    for (size_t i = 0; i < n; i++) {
        char size[32], ram[32];
        int32_t ctx = strcmp(c[i].use, "embedding") ? 4096 : 512;
        human_bytes((double)c[i].approx_size, size, sizeof size);
        human_bytes((double)models_catalogue_ram(&c[i], ctx), ram, sizeof ram);
        printf("%-36s %-10s %9s %11s  %s\n", c[i].name, c[i].use, size, ram, c[i].url);
    }
    printf("\nSizes are approximate; RAM NEEDED is the file + KV cache at %d tokens (512 for "
           "embeddings).\nA name without its tag takes the first one listed.\n",
           4096);
    return 0;
}

static const cli_opt PULL_OPTS[] = {
    {NULL, "--list", NULL, "the catalogue: names, sizes and the memory each needs"},
    {NULL, "--sha256", "HEX", "the checksum to verify (default: the catalogue's, if known)"},
    {NULL, "--retries", "N", "resume after a dropped connection up to N times (default 3)"},
    {NULL, "--dir", "DIR", "install there (default $XDG_DATA_HOME/hearth/models)"},
    {NULL, "--timeout", "SECONDS", "give up an attempt after this long without a byte (15)"},
    CLI_OPT_END};

static const cli_cmd PULL = {
    "pull", "NAME[:TAG]|URL [options]\n--list",
    "Downloads a GGUF (resuming a partial download), checks its sha256 and installs it\n"
    "atomically. A name without a tag takes the catalogue's first. HF_ENDPOINT names a mirror.\n",
    PULL_OPTS};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) {
    (void)sig;
    interrupted = 1;
}

int cmd_pull(int argc, char **argv) {
    models_pull_params p = {.retries = -1};
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        long n;
        cli_kind kind = cli_next(&PULL, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG && v && p.what) return cli_error(v, "one model at a time"), 2;
        if (kind == CLI_ARG) {
            p.what = v ? v : p.what;
            continue;
        }
        if (!strcmp(o, "--list")) return print_catalogue();
        if (!strcmp(o, "--sha256")) {
            if (strlen(v) != 64 || strspn(v, "0123456789abcdefABCDEF") != 64)
                return cli_error(o, "'%s' is not 64 hex digits", v), 2;
            p.expect_sha256 = v;
        } else if (!strcmp(o, "--retries")) {
            if (!cli_int(o, v, 0, 100, &n)) return 2;
            p.retries = (int)n;
        } else if (!strcmp(o, "--dir")) {
            p.dir = v;
        } else if (!strcmp(o, "--timeout")) {
            if (!cli_int(o, v, 1, 3600, &n)) return 2;
            p.connect_timeout_s = p.stall_timeout_s = n;
        } else {
            return cli_error(o, "unknown option (try 'hearth pull --help')"), 2;
        }
    }
    if (!p.what) return cli_error("pull", "missing NAME or URL (see 'hearth pull --list')"), 2;
    pull_view view = {.tty = isatty(2), .last_tenth = -2};
    struct sigaction sa = {.sa_handler = on_interrupt}; /* Ctrl-C: stop cleanly (no empty .part) */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    p.stop = &interrupted;
    p.progress = on_progress;
    p.log = on_log;
    p.user = &view;
    models_pull_result r;
    char err[MODELS_ERR_LEN + MODELS_PATH_LEN];
    bool ok = models_pull(&p, &r, err, sizeof err);
    if (view.drew) fputc('\n', stderr);
    if (!ok) return cli_error("pull", "%s", err);
    char size[32];
    human_bytes((double)r.bytes, size, sizeof size);
    if (r.already_installed) {
        printf("%s is already installed: %s (%s); 'hearth rm %s' first to download it again\n",
               p.what, r.path, size, p.what);
        return 0;
    }
    printf("installed %s (%s)\n", r.path, size);
    if (r.sha256_verified)
        printf("sha256 %s (verified)\n", r.sha256);
    else
        printf("sha256 %s (no published checksum to verify against; recorded in %s.json)\n",
               r.sha256, r.path);
    return 0;
}

/* ---- list ---- */

static const cli_opt LIST_OPTS[] = {
    {NULL, "--dir", "DIR", "the models directory (default $XDG_DATA_HOME/hearth/models)"},
    {NULL, "--verify", NULL, "re-hash each file against the checksum recorded at download"},
    CLI_OPT_END};

static const cli_cmd LIST = {"list", "[options]",
                             "Installed models: catalogue name, file, size, sha256 state.\n",
                             LIST_OPTS};

static const char *sha_state(const models_installed *m, const char *dir, bool verify, char *buf,
                             size_t cap) {
    if (m->partial) return "partial download (run 'hearth pull' again to resume)";
    if (!m->sha256_known) return "no checksum recorded";
    if (verify) {
        char path[MODELS_PATH_LEN + 512], hex[65], err[MODELS_ERR_LEN + 512];
        snprintf(path, sizeof path, "%s/%s", dir, m->file);
        if (!models_sha256_file(path, hex, err, sizeof err))
            snprintf(buf, cap, "cannot read: %s", err);
        else
            snprintf(buf, cap, "%s",
                     strcmp(hex, m->sha256) ? "CORRUPT (sha256 differs from the "
                                              "recorded one)"
                                            : "sha256 ok");
        return buf;
    }
    return m->sha256_verified ? "sha256 verified at download" : "sha256 recorded (unverified)";
}

int cmd_list(int argc, char **argv) {
    const char *dir_opt = NULL;
    bool verify = false;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        cli_kind kind = cli_next(&LIST, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG) return cli_error(v ? v : "--", "unexpected argument"), 2;
        if (!strcmp(o, "--verify"))
            verify = true;
        else
            dir_opt = v;
    }
    char dir[MODELS_PATH_LEN], err[MODELS_ERR_LEN];
    if (dir_opt)
        snprintf(dir, sizeof dir, "%s", dir_opt);
    else if (!models_dir(dir, sizeof dir, err, sizeof err))
        return cli_error("list", "%s", err);
    models_installed *m;
    int32_t n;
    if (!models_list(dir, &m, &n, err, sizeof err)) return cli_error("list", "%s", err);
    printf("models in %s:%s\n", dir, n ? "" : " none (see 'hearth pull --list')");
    int rc = 0;
    for (int32_t i = 0; i < n; i++) {
        char size[32], state[2 * MODELS_ERR_LEN + 1024];
        human_bytes((double)m[i].size, size, sizeof size);
        const char *s = sha_state(&m[i], dir, verify, state, sizeof state);
        rc |= verify && strncmp(s, "sha256 ok", 9) && !m[i].partial && m[i].sha256_known;
        printf("%-28s %-40s %10s  %s\n", m[i].name ? m[i].name : "-", m[i].file, size, s);
    }
    models_installed_free(m, n);
    return rc;
}

/* ---- rm ---- */

static const cli_opt RM_OPTS[] = {
    {NULL, "--dir", "DIR", "the models directory (default $XDG_DATA_HOME/hearth/models)"},
    CLI_OPT_END};

static const cli_cmd RM = {
    "rm", "NAME [options]",
    "Removes an installed model (catalogue or file name), its manifest and any partial download.\n",
    RM_OPTS};

int cmd_rm(int argc, char **argv) {
    const char *dir = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        cli_kind kind = cli_next(&RM, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_OPT)
            dir = v;
        else if (v && name)
            return cli_error(v, "one model at a time"), 2;
        else if (v)
            name = v;
    }
    if (!name) return cli_error("rm", "missing NAME (see 'hearth list')"), 2;
    char removed[MODELS_PATH_LEN], err[MODELS_ERR_LEN + MODELS_PATH_LEN];
    if (!models_remove(dir, name, removed, sizeof removed, err, sizeof err))
        return cli_error("rm", "%s", err);
    printf("removed %s\n", removed);
    return 0;
}
