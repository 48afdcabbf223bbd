/* /v1/search: the repository indexes given with --index, searched for other clients. Each index
 * has one index_searcher opened at start and kept for the server's life (the SQLite connection,
 * the vectors and the query embedder stay resident). A request runs on a libuv worker thread
 * (never on the loop, never on the scheduler); queries on one index take turns on its searcher's
 * mutex. Hits are index_hit_json objects: the JSON `hearth search --json` prints. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SEARCH_MAX_QUERY 8192 /* bytes of a query */
#define SEARCH_MAX_K     1000

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The served model embeds an index's queries only when the index was built with a model of the
 * same file name (the model id index/ records); an index of another model gets NULL (its
 * searcher loads that one on its first vector query), one without vectors stays lexical. */
static embed_service *embedder_for(serve_server *s, const char *root) {
    if (!s->search_embed) return NULL;
    char *built = index_embed_model(root);
    bool same = built && !strcmp(base_name(built), base_name(s->p.embed_model_path));
    free(built);
    return same ? s->search_embed : NULL;
}

bool serve_search_open(serve_server *s, char *err, size_t errlen) {
    if (s->p.n_index_roots > SERVE_MAX_INDEXES)
        return !snprintf(err, errlen, "at most %d indexes (--index)", SERVE_MAX_INDEXES);
    /* the query embedder: over the served embedding model when there is one (named as the
     * index names its model, so the index's model id matches); else each searcher loads the
     * index's own model on its first vector query and keeps it */
    if (s->p.n_index_roots && s->embed_model) {
        s->search_embed =
            index_embed_new(s->embed_model, s->p.embed_model_path, s->p.n_threads, err, errlen);
        if (!s->search_embed) return false;
    }
    for (int i = 0; i < s->p.n_index_roots; i++) {
        char real[PATH_MAX], why[INDEX_ERR_LEN];
        if (!realpath(s->p.index_roots[i], real))
            return !snprintf(err, errlen, "--index %s: %s", s->p.index_roots[i], strerror(errno));
        index_searcher_params sp = {
            .root = real, .embed = embedder_for(s, real), .n_threads = s->p.n_threads};
        s->searchers[i] = index_searcher_open(&sp, why, sizeof why);
        if (!s->searchers[i]) return !snprintf(err, errlen, "--index %s: %s", real, why);
        s->search_roots[i] = strdup(real);
        s->n_searchers = i + 1;
        if (!s->search_roots[i]) return !snprintf(err, errlen, "out of memory");
    }
    return true;
}

void serve_search_close(serve_server *s) {
    for (int i = 0; i < s->n_searchers; i++) {
        index_searcher_close(s->searchers[i]);
        free(s->search_roots[i]);
    }
    s->n_searchers = 0;
    embed_free(s->search_embed);
    s->search_embed = NULL;
}

json_t *serve_search_health(serve_server *s) {
    json_t *a = json_array();
    for (int i = 0; i < s->n_searchers && a; i++) {
        index_searcher_stats st = index_searcher_get_stats(s->searchers[i]);
        json_array_append_new(
            a, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "root", s->search_roots[i], "queries",
                         (json_int_t)st.queries, "store_opens", (json_int_t)st.store_opens,
                         "vector_loads", (json_int_t)st.vector_loads, "embed_opens",
                         (json_int_t)st.embed_opens, "vectors", (json_int_t)st.vectors));
    }
    return a;
}

/* The searcher of the request's root (the first index when it names none). */
static index_searcher *pick(serve_server *s, json_t *o, char *msg, size_t n) {
    json_t *v = json_object_get(o, "root");
    if (!v || json_is_null(v)) return s->searchers[0];
    char real[PATH_MAX];
    const char *root = json_string_value(v);
    if (!json_is_string(v) || strlen(root) != json_string_length(v) || strlen(root) >= PATH_MAX) {
        snprintf(msg, n, "'root' must be a path");
        return NULL;
    }
    if (realpath(root, real))
        for (int i = 0; i < s->n_searchers; i++)
            if (!strcmp(real, s->search_roots[i])) return s->searchers[i];
    snprintf(msg, n, "'root' is not an index this server serves (see hearth serve --index)");
    return NULL;
}

static bool get_mode(json_t *o, index_mode *mode, char *msg, size_t n) {
    static const char *const NAMES[] = {"auto", "hybrid", "lexical", "vector"};
    json_t *v = json_object_get(o, "mode");
    if (!v || json_is_null(v)) return true;
    for (int i = 0; json_is_string(v) && i < 4; i++)
        if (!strcmp(json_string_value(v), NAMES[i])) {
            *mode = (index_mode)i;
            return true;
        }
    return !snprintf(msg, n, "'mode' must be \"auto\", \"hybrid\", \"lexical\" or \"vector\"");
}

static bool get_count(json_t *o, const char *key, int32_t *out, char *msg, size_t n) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SEARCH_MAX_K)
        return !snprintf(msg, n, "'%s' must be an integer in [1, %d]", key, SEARCH_MAX_K);
    *out = (int32_t)json_integer_value(v);
    return true;
}

/* The request's query; NULL with msg set when it is missing or malformed. */
static const char *get_query(json_t *o, char *msg, size_t n) {
    json_t *v = json_object_get(o, "query");
    const char *q = json_string_value(v);
    if (!json_is_string(v) || strlen(q) != json_string_length(v) || !q[strspn(q, " \t\r\n")] ||
        json_string_length(v) > SEARCH_MAX_QUERY) {
        snprintf(msg, n, "'query' must be a non-blank string of at most %d bytes",
                 SEARCH_MAX_QUERY);
        return NULL;
    }
    return q;
}

static char *hits_body(const index_hit *hits, int32_t n_hits) {
    json_t *data = json_array();
    for (int32_t i = 0; i < n_hits && data; i++)
        if (json_array_append_new(data, index_hit_json(&hits[i], i + 1))) {
            json_decref(data); /* a hit missing would shift the ranks: all or nothing */
            data = NULL;
        }
    json_t *o = data ? json_pack("{s:s, s:o}", "object", "list", "data", data) : NULL;
    char *body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return body;
}

char *serve_search_run(serve_server *s, json_t *o, int *status, char *msg, size_t n) {
    *status = 400;
    if (!s->n_searchers)
        return snprintf(msg, n, "no index is served (start hearth serve with --index DIR)"), NULL;
    index_query q = {.mode = INDEX_MODE_AUTO};
    index_searcher *ix = pick(s, o, msg, n);
    if (!ix || !(q.query = get_query(o, msg, n)) || !get_mode(o, &q.mode, msg, n) ||
        !get_count(o, "k", &q.k, msg, n) || !get_count(o, "per_file", &q.max_per_file, msg, n))
        return NULL;
    index_hit *hits;
    int32_t n_hits;
    char why[INDEX_ERR_LEN];
    if (!index_searcher_search(ix, &q, &hits, &n_hits, why, sizeof why)) {
        *status = 500;
        return snprintf(msg, n, "search: %s", why), NULL;
    }
    char *body = hits_body(hits, n_hits);
    index_hits_free(hits, n_hits);
    if (!body) return *status = 500, snprintf(msg, n, "out of memory"), NULL;
    *status = 200;
    return body;
}
