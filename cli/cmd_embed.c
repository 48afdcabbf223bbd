/* hearth embed: L2-normalised embeddings of texts, in input order. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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

static void print_embedding(int32_t index, const float *v, int e, bool json) {
    if (json) printf("{\"index\": %d, \"embedding\": [", index);
    for (int k = 0; k < e; k++) printf(k ? (json ? ", %.9g" : " %.9g") : "%.9g", v[k]);
    printf(json ? "]}\n" : "\n");
}

static int embed_all(engine_model *m, text_list *l, engine_pooling pool, long threads, bool json) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = (int32_t)threads;
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    if (!c) return cli_error("context", "%s", err);
    int e = engine_model_get_info(m)->n_embd, rc = 0;
    int32_t **ids = calloc((size_t)l->n, sizeof *ids), *lens = calloc((size_t)l->n, sizeof *lens);
    float *out = malloc((size_t)l->n * e * sizeof(float));
    for (int32_t i = 0; ids && lens && out && i < l->n && rc == 0; i++) {
        int64_t n = 0;
        ids[i] = cli_tokenize(m, l->text[i], l->len[i], true, true, &n);
        lens[i] = (int32_t)n;
        if (!ids[i]) rc = 1;
    }
    if (!ids || !lens || !out) rc = cli_error("embed", "out of memory");
    if (rc == 0 &&
        !engine_embed_batch(c, (const int32_t *const *)ids, lens, l->n, pool, out, err, sizeof err))
        rc = cli_error("embed", "%s", err);
    for (int32_t i = 0; rc == 0 && i < l->n; i++) print_embedding(i, out + (size_t)i * e, e, json);
    for (int32_t i = 0; ids && i < l->n; i++) free(ids[i]);
    free(ids);
    free(lens);
    free(out);
    engine_ctx_free(c);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    bool json = false, jsonl = false;
    long threads = 0;
    engine_pooling pool = ENGINE_POOL_DEFAULT;
    text_list l = {0};
    int rc = 2, remote = 0;
    models_config cfg;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fprintf(stderr,
                    "usage: hearth embed -m MODEL [--json] [--pooling mean|cls|last] [-t N]\n"
                    "                    (TEXT... | -f FILE | --jsonl FILE)\n"
                    "  -f: one text per line; --jsonl: one JSON string per line. Without -m, the\n"
                    "  embedding backend of the config file (an OpenAI-compatible server).\n");
            goto out;
        }
        if (!strcmp(o, "--json"))
            json = true;
        else if (o[0] != '-') {
            if (!push(&l, o, strlen(o))) goto out;
        } else if (!(v = cli_value(argc, argv, &i)))
            goto out;
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
    if (remote && (rc = l.n ? cli_embed_remote(&cfg.role[MODELS_ROLE_EMBEDDING], l.text, l.n, json)
                            : 0) != CLI_FALLBACK)
        goto out;
    if (remote) model = cfg.role[MODELS_ROLE_EMBEDDING].local_model;
    engine_model *m = cli_load_model(model);
    if (m) rc = l.n ? embed_all(m, &l, pool, threads, json) : 0;
    engine_model_free(m);
out:
    if (remote > 0) models_config_free(&cfg);
    for (int32_t i = 0; i < l.n; i++) free(l.text[i]);
    free(l.text);
    free(l.len);
    return rc;
}
