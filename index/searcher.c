/* index_searcher: an open index for many queries. The store's connection, the vector index and
 * the embedding service stay open between queries; before each query the searcher checks that
 * the database file is the one it opened (a --rebuild replaces it: reopen) and reads the store's
 * generation (bumped by every transaction that changes chunks or vectors: the vectors in memory
 * are dropped and read again on the next vector query). Ranking itself is search.c's. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

struct index_searcher {
    pthread_mutex_t mu;       /* one query at a time: the connection and the vectors are shared */
    char *root, *embed_model; /* embed_model: asked for, or NULL = the index's own */
    embed_service *embed;     /* borrowed (own_embed false) or opened here */
    engine_model *model;      /* the model under an own service */
    bool own_embed;
    int32_t n_threads;
    index_store store; /* store.db NULL: closed (reopened by the next query) */
    dev_t dev;         /* the database file the store has open */
    ino_t ino;
    index_vectors *vectors; /* NULL until a vector query needs them */
    index_searcher_stats stats;
};

static char *db_path(const char *root) {
    char *dir = index_dir(root);
    size_t n = dir ? strlen(dir) + 16 : 0;
    char *path = dir ? malloc(n) : NULL;
    if (path) snprintf(path, n, "%s/index.sqlite", dir);
    free(dir);
    return path;
}

/* The identity of the database file; false when it is missing. */
static bool db_identity(const char *root, dev_t *dev, ino_t *ino) {
    char *path = db_path(root);
    struct stat st;
    bool ok = path && stat(path, &st) == 0;
    free(path);
    if (ok) {
        *dev = st.st_dev;
        *ino = st.st_ino;
    }
    return ok;
}

static void drop_vectors(index_searcher *s) {
    index_vectors_free(s->vectors);
    s->vectors = NULL;
    s->stats.vectors = 0;
}

/* Opens the store; the file's identity is taken first, so a file replaced in between is
 * noticed by the next query (never the other way round). */
static bool store_open(index_searcher *s, char *err, size_t errlen) {
    if (!db_identity(s->root, &s->dev, &s->ino))
        return !snprintf(err, errlen, "no index in %s: run 'hearth index' first", s->root);
    if (!index_store_open(&s->store, s->root, false, err, errlen)) return false;
    s->stats.store_opens++;
    return true;
}

/* Before a query: reopen a replaced database, drop vectors of an older generation. */
static bool refresh(index_searcher *s, char *err, size_t errlen) {
    dev_t dev;
    ino_t ino;
    bool same = s->store.db && db_identity(s->root, &dev, &ino) && dev == s->dev && ino == s->ino;
    if (!same) {
        index_store_close(&s->store);
        drop_vectors(s);
        if (!store_open(s, err, errlen)) return false;
    }
    s->stats.generation = index_store_meta_int(&s->store, "generation", -1);
    if (s->vectors && index_vectors_generation(s->vectors) != s->stats.generation) drop_vectors(s);
    return true;
}

index_searcher *index_searcher_open(const index_searcher_params *p, char *err, size_t errlen) {
    index_searcher *s = calloc(1, sizeof *s);
    if (s) {
        s->root = strdup(p->root ? p->root : ".");
        s->embed_model = p->embed_model ? strdup(p->embed_model) : NULL;
    }
    if (!s || !s->root || (p->embed_model && !s->embed_model)) {
        snprintf(err, errlen, "search: out of memory");
        if (s) free(s->root);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->embed = p->embed;
    s->n_threads = p->n_threads;
    if (!store_open(s, err, errlen)) {
        index_searcher_close(s);
        return NULL;
    }
    return s;
}

static void close_own_embed(index_searcher *s) {
    if (!s->own_embed) return;
    embed_free(s->embed);
    engine_model_free(s->model);
    s->embed = NULL;
    s->model = NULL;
    s->own_embed = false;
}

void index_searcher_close(index_searcher *s) {
    if (!s) return;
    drop_vectors(s);
    close_own_embed(s);
    index_store_close(&s->store);
    pthread_mutex_destroy(&s->mu);
    free(s->root);
    free(s->embed_model);
    free(s);
}

/* An embedding model is at hand: borrowed, asked for, or recorded by the index. */
static bool have_model(index_searcher *s) {
    if (s->embed || s->embed_model) return true;
    char *m = index_store_meta_get(&s->store, "embed_model");
    free(m);
    return m != NULL;
}

bool index_searcher_search(index_searcher *s, const index_query *q, index_hit **hits,
                           int32_t *n_hits, char *err, size_t errlen) {
    int32_t k = q->k > 0 ? q->k : 10, n = 0;
    *hits = NULL;
    *n_hits = 0;
    index_hit *h = calloc((size_t)k, sizeof *h);
    if (!h) return !snprintf(err, errlen, "search: out of memory");
    if (!q->query) {
        free(h);
        return !snprintf(err, errlen, "search: no query");
    }
    if (err && errlen) *err = 0;
    pthread_mutex_lock(&s->mu);
    s->stats.queries++;
    bool ok =
        refresh(s, err, errlen) && index_rank(&s->store, s, q, have_model(s), h, &n, err, errlen);
    if (ok) index_graph_break_ties(&s->store, h, n); /* the symbol graph's ranks (graph.c) */
    pthread_mutex_unlock(&s->mu);
    if (!ok) {
        index_hits_free(h, n);
        return false;
    }
    *hits = h;
    *n_hits = n;
    return true;
}

char *index_searcher_map(index_searcher *s, const index_hit *hits, int32_t n_hits, size_t max_bytes,
                         char *err, size_t errlen) {
    if (err && errlen) *err = 0;
    pthread_mutex_lock(&s->mu);
    char *map =
        refresh(s, err, errlen) ? index_graph_map(&s->store, hits, n_hits, max_bytes) : NULL;
    pthread_mutex_unlock(&s->mu);
    if (!map && err && errlen && !*err) snprintf(err, errlen, "repository map: out of memory");
    return map;
}

char *index_repo_map(const char *root, const index_hit *hits, int32_t n_hits, size_t max_bytes,
                     char *err, size_t errlen) {
    index_searcher_params sp = {.root = root};
    index_searcher *s = index_searcher_open(&sp, err, errlen);
    char *map = s ? index_searcher_map(s, hits, n_hits, max_bytes, err, errlen) : NULL;
    index_searcher_close(s);
    return map;
}

index_searcher_stats index_searcher_get_stats(index_searcher *s) {
    pthread_mutex_lock(&s->mu);
    index_searcher_stats st = s->stats;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* The service to embed the query with, whose model id must be the index's: a service the
 * searcher opened for the index's own model follows a re-index with another model. */
static embed_service *query_service(index_searcher *s, char *err, size_t errlen) {
    char *id = index_store_meta_get(&s->store, "embed_id");
    if (s->own_embed && !s->embed_model && id && strcmp(id, embed_model_id(s->embed)))
        close_own_embed(s); /* the index moved to another model */
    if (!s->embed) {
        char *path = s->embed_model ? strdup(s->embed_model)
                                    : index_store_meta_get(&s->store, "embed_model");
        if (path) s->embed = index_embed_open(path, s->n_threads, &s->model, err, errlen);
        if (!path) snprintf(err, errlen, "search: the index has no embedding model");
        s->own_embed = s->embed != NULL;
        s->stats.embed_opens += s->embed != NULL;
        free(path);
    }
    if (s->embed && !(id && !strcmp(id, embed_model_id(s->embed)))) {
        snprintf(err, errlen,
                 "the index holds vectors of another model (%s): search with that "
                 "model or re-index with --embedding-model",
                 id ? id : "none");
        free(id);
        return NULL;
    }
    free(id);
    return s->embed;
}

/* The vectors of the store's generation (loaded once per generation). */
static bool load_vectors(index_searcher *s, int32_t dim, char *err, size_t errlen) {
    if (s->vectors && index_vectors_dim(s->vectors) == dim) return true;
    drop_vectors(s);
    bool rebuilt = false;
    s->vectors = index_vectors_load(&s->store, dim, &rebuilt, err, errlen);
    if (!s->vectors) return false;
    s->stats.vector_loads++;
    s->stats.vector_rebuilds += rebuilt;
    s->stats.vectors = index_vectors_count(s->vectors);
    return true;
}

bool index_searcher_nearest(index_searcher *s, const char *query, int32_t limit, int64_t *ids,
                            float *scores, int32_t *n, char *err, size_t errlen) {
    *n = 0;
    embed_service *e = query_service(s, err, errlen);
    float *q = NULL;
    bool ok = e && embed_queries(e, &query, NULL, 1, &q, NULL, err, errlen);
    ok = ok && load_vectors(s, embed_dim(e), err, errlen);
    int32_t got = ok ? index_vectors_search(s->vectors, q, limit, ids, scores, err, errlen) : -1;
    free(q);
    if (got < 0) return false;
    *n = got;
    return true;
}
