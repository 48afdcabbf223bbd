/* hearth index: build or update the repository index in <repo>/.hearth/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"
#include "index.h"

typedef struct {
    bool tty, quiet, line_open, embedding;
    double last_print;
} progress_state;

static void clear_line(progress_state *ps) {
    if (ps->line_open) fputs("\r\033[K", stderr);
    ps->line_open = false;
}

static void on_log(const char *line, void *user) {
    progress_state *ps = user;
    clear_line(ps);
    fprintf(stderr, "index: %s\n", line);
}

/* One updating line on a terminal; nothing otherwise (the summary line says what was done). */
static void on_progress(const index_progress *p, void *user) {
    progress_state *ps = user;
    if (ps->quiet || !ps->tty) return;
    if (p->final) return clear_line(ps);
    bool new_phase = p->embed_total && !ps->embedding; /* shown at once */
    if (!new_phase && ps->last_print >= 0 && p->elapsed_s - ps->last_print < 0.2) return;
    ps->last_print = p->elapsed_s;
    if (p->embed_total) { /* after the files: embedding the chunks stored without vectors */
        ps->embedding = true;
        clear_line(ps);
        fprintf(stderr, "index: embedding %lld/%lld chunks", (long long)p->embed_done,
                (long long)p->embed_total);
        ps->line_open = true;
        return;
    }
    double rate = p->elapsed_s > 0 ? (double)p->tokens / p->elapsed_s : 0, eta = 0;
    if (p->bytes_done && p->bytes_total > p->bytes_done)
        eta = p->elapsed_s * (double)(p->bytes_total - p->bytes_done) / (double)p->bytes_done;
    if (eta > 359999) eta = 359999; /* 99:59:59 */
    clear_line(ps);
    fprintf(stderr, "index: %lld/%lld files, %lld chunks, %.0f tokens/s, ETA %d:%02d:%02d",
            (long long)p->files_done, (long long)p->files_total, (long long)p->chunks, rate,
            (int)eta / 3600, (int)eta / 60 % 60, (int)eta % 60);
    ps->line_open = true;
}

static const cli_opt OPTS[] = {
    {NULL, "--embedding-model", "MODEL", "embedding model (default: the index's; none: lexical)"},
    {NULL, "--rebuild", NULL, "delete the index and build it again, keeping its settings"},
    {NULL, "--max-file-size", "BYTES", "skip larger files"},
    CLI_OPT_THREADS,
    {"-q", "--quiet", NULL, "no progress or summary"},
    CLI_OPT_END};

static const cli_cmd CMD = {
    "index", "[DIR] [options]",
    "DIR: the repository (default: the nearest ancestor with an index or .git).\n", OPTS};

static bool parse(int argc, char **argv, index_build_params *p, const char **dir,
                  progress_state *ps, bool *help) {
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        long n;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return *help = true, false;
        if (kind == CLI_BAD) return false;
        if (kind == CLI_ARG && v && *dir) return !cli_error(v, "only one DIR");
        if (kind == CLI_ARG) {
            *dir = v ? v : *dir;
            continue;
        }
        if (!strcmp(o, "--rebuild"))
            p->rebuild = true;
        else if (!strcmp(o, "-q"))
            ps->quiet = true;
        else if (!strcmp(o, "--embedding-model"))
            p->embed_model = v;
        else if (!strcmp(o, "--max-file-size")) {
            if (!cli_int(o, v, 1, 1L << 30, &n)) return false;
            p->max_file_bytes = (uint64_t)n;
        } else if (!strcmp(o, "-t")) {
            if (!cli_int(o, v, 1, 256, &n)) return false;
            p->n_threads = (int32_t)n;
        }
    }
    return true;
}

int cmd_index(int argc, char **argv) {
    index_build_params p = {0};
    progress_state ps = {.tty = isatty(2), .last_print = -1};
    const char *dir = NULL;
    bool help = false;
    if (!parse(argc, argv, &p, &dir, &ps, &help)) return help ? 0 : 2;
    char err[INDEX_ERR_LEN];
    char *root = index_find_root(dir ? dir : ".", err, sizeof err);
    if (!root) return cli_error("index", "%s", err);
    if (dir) { /* an explicit DIR is the repository itself */
        free(root);
        root = realpath(dir, NULL);
        if (!root) return cli_error(dir, "no such directory");
    }
    p.root = root;
    p.progress = on_progress;
    p.log = on_log;
    p.user = &ps;
    index_build_stats st;
    bool ok = index_build(&p, &st, err, sizeof err);
    clear_line(&ps);
    if (ok && !ps.quiet)
        fprintf(stderr,
                "index: %s: %lld files (%lld added, %lld changed, %lld deleted, %lld unchanged), "
                "%lld chunks and %lld vectors written (%lld reused, %lld tokens embedded) in "
                "%.1f s\n",
                root, (long long)st.files_indexed, (long long)st.added, (long long)st.changed,
                (long long)st.deleted, (long long)st.unchanged, (long long)st.chunks_written,
                (long long)st.vectors_written, (long long)st.vectors_reused,
                (long long)st.tokens_embedded, st.seconds);
    index_build_stats_free(&st);
    free(root);
    return ok ? 0 : cli_error("index", "%s", err);
}
