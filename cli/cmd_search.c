/* hearth search: ranked chunks of the repository index for a query. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "cli.h"
#include "options.h"
#include "hits.h"
#include "index.h"

/* Lines of code shown under each hit (--json gives locations only). */
#define SEARCH_CODE_LINES 6

static const cli_opt OPTS[] = {
    {"-k", "--top", "K", "hits to show (default 10)"},
    {NULL, "--mode", "MODE", "hybrid, lexical or vector (default: hybrid with vectors)"},
    {NULL, "--json", NULL, "one JSON object per hit"},
    {NULL, "--root", "DIR", "the repository (default: the nearest indexed ancestor)"},
    {NULL, "--embedding-model", "MODEL", "embedding model (default: the index's)"},
    {NULL, "--per-file", "N", "hits per file at most (default 3)"},
    CLI_OPT_THREADS,
    CLI_OPT_END};

static const cli_cmd CMD = {"search", "QUERY [options]", NULL, OPTS};

static bool parse_mode(const char *o, const char *v, index_mode *m) {
    static const char *const names[] = {"hybrid", "lexical", "vector"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(v, names[i])) {
            *m = (index_mode)(INDEX_MODE_HYBRID + i);
            return true;
        }
    return !cli_error(o, "'%s' is not hybrid, lexical or vector", v);
}

static bool parse(int argc, char **argv, index_search_params *p, const char **root, bool *json,
                  bool *help) {
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        long n;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return *help = true, false;
        if (kind == CLI_BAD) return false;
        if (kind == CLI_ARG && v && p->query)
            return !cli_error(v, "give the query as one argument (quote it)");
        if (kind == CLI_ARG) {
            p->query = v ? v : p->query;
            continue;
        }
        if (!strcmp(o, "--json"))
            *json = true;
        else if (!strcmp(o, "-k")) {
            if (!cli_int(o, v, 1, 1000, &n)) return false;
            p->k = (int32_t)n;
        } else if (!strcmp(o, "-t")) {
            if (!cli_int(o, v, 1, 256, &n)) return false;
            p->n_threads = (int32_t)n;
        } else if (!strcmp(o, "--per-file")) {
            if (!cli_int(o, v, 1, 1000, &n)) return false;
            p->max_per_file = (int32_t)n;
        } else if (!strcmp(o, "--mode")) {
            if (!parse_mode(o, v, &p->mode)) return false;
        } else if (!strcmp(o, "--root"))
            *root = v;
        else if (!strcmp(o, "--embedding-model"))
            p->embed_model = v;
        else
            return !cli_error(o, "unknown option (try 'hearth search --help')");
    }
    if (!p->query) return !cli_error("search", "missing QUERY");
    return true;
}

/* A file name as one line of text: control characters (a newline would split the hit) as \n,
 * \t or \xNN; other bytes as they are. */
static void print_path(const char *path) {
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p >= 0x20 && *p != 0x7f)
            putchar(*p);
        else
            printf(*p == '\n' ? "\\n" : *p == '\t' ? "\\t" : "\\x%02x", *p);
    }
}

static void print_hit(const index_hit *h, int rank, bool json) {
    if (!json) {
        printf("%s%d. ", rank > 1 ? "\n" : "", rank);
        print_path(h->path);
        printf(":%d-%d%s%s (%.4f)\n", h->start_line, h->end_line, h->symbol ? " " : "",
               h->symbol ? h->symbol : "", h->score);
        cli_print_hit_code(stdout, h, SEARCH_CODE_LINES);
        return;
    }
    json_t *o = index_hit_json(h, rank);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s) puts(s);
    free(s);
    json_decref(o);
}

int cmd_search(int argc, char **argv) {
    index_search_params p = {0};
    const char *root_arg = NULL;
    bool json = false;
    bool help = false;
    if (!parse(argc, argv, &p, &root_arg, &json, &help)) return help ? 0 : 2;
    char err[INDEX_ERR_LEN];
    char *root = index_find_root(root_arg ? root_arg : ".", err, sizeof err);
    if (!root) return cli_error("search", "%s", err);
    p.root = root;
    index_hit *hits;
    int32_t n;
    bool ok = index_search(&p, &hits, &n, err, sizeof err);
    free(root);
    if (!ok) return cli_error("search", "%s", err);
    for (int32_t i = 0; i < n; i++) print_hit(&hits[i], i + 1, json);
    index_hits_free(hits, n);
    return 0;
}
