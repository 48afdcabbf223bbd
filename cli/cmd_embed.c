/* hearth embed: L2-normalised embeddings of texts, in input order. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "cli_remote.h"

typedef struct {
    char **text;
    size_t *len;
    int32_t n, cap;
} text_list;

static bool push(text_list *l, const char *s, size_t len) {
    if (l->n == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 64;
        char **t = realloc(l->text, (size_t)cap * sizeof *t);
        size_t *n = realloc(l->len, (size_t)cap * sizeof *n);
        if (t) l->text = t;
        if (n) l->len = n;
        if (!t || !n) return false;
        l->cap = cap;
    }
    l->text[l->n] = malloc(len + 1);
    if (!l->text[l->n]) return false;
    memcpy(l->text[l->n], s, len);
    l->text[l->n][len] = 0;
    l->len[l->n++] = len;
    return true;
}

/* -f: one text per line; --jsonl: one JSON string per line (texts may contain newlines). */
static bool read_texts(const char *path, bool jsonl, text_list *l) {
    size_t size;
    char *buf = cli_read_file(path, &size);
    if (!buf) return false;
    bool ok = true;
    int line_no = 0;
    for (char *p = buf, *end; ok && p < buf + size; p = end + 1) {
        end = memchr(p, '\n', (size_t)(buf + size - p));
        if (!end) end = buf + size;
        size_t n = (size_t)(end - p);
        line_no++;
        if (n && p[n - 1] == '\r') n--;
        if (!jsonl) {
            ok = push(l, p, n);
            continue;
        }
        if (n == 0) continue;
        json_error_t je;
        json_t *v = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!json_is_string(v)) {
            cli_error(path, "line %d: expected a JSON string%s%s", line_no, v ? "" : ": ",
                      v ? "" : je.text);
            ok = false;
        } else {
            ok = push(l, json_string_value(v), json_string_length(v));
        }
        json_decref(v);
    }
    free(buf);
    return ok;
}

/* --json: one object a line; a truncated document says so (and how many tokens it had). */
static void print_embedding(int32_t index, const float *v, int e, const embed_info *info,
                            bool json) {
    if (json) printf("{\"index\": %d, \"embedding\": [", index);
    for (int k = 0; k < e; k++) printf(k ? (json ? ", %.9g" : " %.9g") : "%.9g", v[k]);
    if (json && info && info->truncated)
        printf("], \"truncated\": true, \"tokens\": %d, \"original_tokens\": %d}\n", info->n_tokens,
               info->n_original);
    else if (json && info)
        printf("], \"tokens\": %d}\n", info->n_tokens);
    else
        printf(json ? "]}\n" : "\n");
}

static void print_all(const text_list *l, const float *out, int32_t dim, const embed_info *info,
                      bool json) {
    for (int32_t i = 0; i < l->n; i++) {
        if (info && info[i].truncated)
            fprintf(stderr, "hearth: embed: text %d truncated to %d of its %d tokens\n", i,
                    info[i].n_tokens, info[i].n_original);
        print_embedding(i, out + (size_t)i * dim, dim, info ? &info[i] : NULL, json);
    }
}

/* Queries or documents through one embedding service (embed/: prompts, truncation). */
static int embed_with(embed_service *e, const text_list *l, bool query, bool with_info, bool json) {
    char err[EMBED_ERR_LEN];
    float *out = NULL;
    embed_info *info = with_info ? calloc((size_t)l->n, sizeof *info) : NULL;
    if (with_info && !info) return cli_error("embed", "out of memory");
    bool ok = (query ? embed_queries : embed_documents)(e, (const char *const *)l->text, l->len,
                                                        l->n, &out, info, err, sizeof err);
    if (ok) print_all(l, out, embed_dim(e), info, json);
    free(out);
    free(info);
    return ok ? 0 : cli_error("embed", "%s", err);
}

static int embed_local(engine_model *m, const text_list *l, engine_pooling pool, long threads,
                       bool query, bool json) {
    char err[EMBED_ERR_LEN];
    embed_params p = embed_default_params();
    p.n_threads = (int32_t)threads;
    p.pooling = pool;
    embed_service *e = embed_new_local(m, &p, err, sizeof err);
    if (!e) return cli_error("embed", "%s", err);
    int rc = embed_with(e, l, query, true, json);
    embed_free(e);
    return rc;
}

static const cli_opt OPTS[] = {
    {"-m", "--model", "MODEL", "embedding model (default: the configured embedding server)"},
    {"-f", "--file", "FILE", "one text per line"},
    {NULL, "--jsonl", "FILE", "one JSON string per line"},
    {NULL, "--query", NULL, "embed as queries (the model's query prompt; too long: an error)"},
    {NULL, "--json", NULL, "one JSON object per text"},
    {NULL, "--pooling", "HOW", "mean, cls or last (default: the model's)"},
    CLI_OPT_THREADS,
    CLI_OPT_END};

static const cli_cmd CMD = {
    "embed", "-m MODEL [options] (TEXT... | -f FILE | --jsonl FILE)",
    "Texts are embedded as documents (too long: truncated, said on stderr and in --json).\n"
    "Without -m, the embedding backend of the config file (an OpenAI-compatible server).\n",
    OPTS};

int cmd_embed(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    bool json = false, jsonl = false, query = false;
    long threads = 0;
    engine_pooling pool = ENGINE_POOL_DEFAULT;
    text_list l = {0};
    int rc = 2, remote = 0;
    models_config cfg;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) {
            rc = 0;
            goto out;
        }
        if (kind == CLI_BAD) goto out;
        if (kind == CLI_ARG) {
            if (v && !push(&l, v, strlen(v))) goto out;
            continue;
        }
        if (!strcmp(o, "--json"))
            json = true;
        else if (!strcmp(o, "--query"))
            query = true;
        else if (!strcmp(o, "-m"))
            model = v;
        else if (!strcmp(o, "-f") || !strcmp(o, "--jsonl"))
            file = v, jsonl = o[1] == '-';
        else if (!strcmp(o, "-t")) {
            if (!cli_int(o, v, 1, 256, &threads)) goto out;
        } else if (!strcmp(o, "--pooling")) {
            if (!strcmp(v, "mean"))
                pool = ENGINE_POOL_MEAN;
            else if (!strcmp(v, "cls"))
                pool = ENGINE_POOL_CLS;
            else if (!strcmp(v, "last"))
                pool = ENGINE_POOL_LAST;
            else {
                cli_error(o, "'%s' is not mean, cls or last", v);
                goto out;
            }
        } else {
            cli_error(o, "unknown option (try 'hearth embed --help')");
            goto out;
        }
    }
    /* No -m: the configuration's embedding backend, if it is a server (cli/remote.c). */
    remote = model ? 0 : cli_role_backend(MODELS_ROLE_EMBEDDING, &cfg);
    if (remote < 0) goto out;
    if (!model && !remote) {
        cli_error("embed", "missing -m MODEL");
        goto out;
    }
    if (!file == !l.n) {
        cli_error("embed", "give TEXT arguments or one of -f / --jsonl FILE");
        goto out;
    }
    rc = 1;
    if (file && !read_texts(file, jsonl, &l)) goto out;
    if (remote && (rc = l.n ? cli_embed_remote(&cfg.role[MODELS_ROLE_EMBEDDING], l.text, l.len, l.n,
                                               query, json)
                            : 0) != CLI_FALLBACK)
        goto out;
    if (remote) model = cfg.role[MODELS_ROLE_EMBEDDING].local_model;
    engine_model *m = cli_load_model(model);
    if (m) rc = l.n ? embed_local(m, &l, pool, threads, query, json) : 0;
    engine_model_free(m);
out:
    if (remote > 0) models_config_free(&cfg);
    for (int32_t i = 0; i < l.n; i++) free(l.text[i]);
    free(l.text);
    free(l.len);
    return rc;
}
