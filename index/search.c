/* Retrieval: BM25 over the FTS5 table, FAISS top-k over the vectors, or both merged by
 * reciprocal rank fusion (score = sum over lists of 1 / (RRF_K + rank)). Chunks whose symbol is
 * named in the query get the score of a first place in one more list. Then at most max_per_file
 * chunks per file are kept, so one big file cannot crowd out the rest. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define RRF_K      60.0
#define MAX_TERMS  32
#define TERM_BYTES 64

typedef struct {
    int64_t id;
    double score;
} scored;

typedef struct {
    scored *v;
    int64_t n, cap;
} score_list;

typedef struct {
    char term[MAX_TERMS][TERM_BYTES];
    int n;
} terms;

static bool add_score(score_list *l, int64_t id, double score) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 256;
        scored *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (scored){id, score};
    return true;
}

/* Question words that say nothing about code ("how does X work"); BM25 would weigh them little
 * anyway, but OR'ed they let any chunk with "the" into the candidate list. */
static bool stopword(const char *w, size_t n) {
    static const char *const WORDS[] = {
        "a",    "an",    "and",  "are",  "be",    "by",    "do",   "does", "for",    "from",
        "how",  "i",     "in",   "is",   "it",    "of",    "on",   "or",   "the",    "this",
        "that", "to",    "what", "when", "where", "which", "who",  "why",  "with",   "we",
        "can",  "there", "its",  "as",   "at",    "into",  "used", "use",  "should", NULL};
    for (const char *const *s = WORDS; *s; s++)
        if (strlen(*s) == n && !strncasecmp(*s, w, n)) return true;
    return false;
}

/* Identifier-like words of the query: runs of letters, digits, '_' and non-ASCII bytes. */
static void query_terms(const char *q, terms *t) {
    t->n = 0;
    for (const char *p = q; *p && t->n < MAX_TERMS;) {
        size_t n = 0;
        while (p[n] && (isalnum((unsigned char)p[n]) || p[n] == '_' || (unsigned char)p[n] >= 0x80))
            n++;
        if (n && n < TERM_BYTES && !stopword(p, n)) {
            memcpy(t->term[t->n], p, n);
            t->term[t->n++][n] = 0;
        }
        p += n ? n : 1;
    }
}

/* Each term quoted (FTS5 then reads "index_search" as the phrase "index search"), OR'ed. */
static char *fts_query(const terms *t) {
    char *q = malloc((size_t)MAX_TERMS * (TERM_BYTES + 8) + 1);
    if (!q) return NULL;
    size_t n = 0;
    for (int i = 0; i < t->n; i++)
        n += (size_t)sprintf(q + n, "%s\"%s\"", i ? " OR " : "", t->term[i]);
    q[n] = 0;
    return q;
}

static bool lexical(index_store *s, const terms *t, int32_t limit, score_list *out, char *err,
                    size_t errlen) {
    char *q = fts_query(t);
    sqlite3_stmt *st = NULL;
    bool ok = q && sqlite3_prepare_v2(s->db,
                                      "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
                                      "ORDER BY bm25(chunks_fts, 2.0, 4.0, 1.0) LIMIT ?",
                                      -1, &st, NULL) == SQLITE_OK;
    if (ok && t->n) {
        sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, limit);
        int rc, rank = 0;
        while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW)
            ok = add_score(out, sqlite3_column_int64(st, 0), 1.0 / (RRF_K + ++rank));
        ok = ok && rc == SQLITE_DONE;
    }
    if (!ok && q) index_store_fail(s, "lexical search", err, errlen);
    if (!ok && !q) snprintf(err, errlen, "lexical search: out of memory");
    sqlite3_finalize(st);
    free(q);
    return ok;
}

static bool symbol_boost(index_store *s, const terms *t, score_list *out, char *err,
                         size_t errlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM chunks WHERE symbol=? LIMIT 64", -1, &st, NULL) !=
        SQLITE_OK)
        return index_store_fail(s, "search", err, errlen);
    bool ok = true;
    for (int i = 0; ok && i < t->n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, t->term[i], -1, SQLITE_STATIC);
        while (ok && sqlite3_step(st) == SQLITE_ROW)
            ok = add_score(out, sqlite3_column_int64(st, 0), 1.0 / (RRF_K + 1));
    }
    sqlite3_finalize(st);
    return ok || !snprintf(err, errlen, "search: out of memory");
}

static bool vector(index_searcher *sr, const char *query, int32_t limit, score_list *out, char *err,
                   size_t errlen) {
    float *scores = malloc((size_t)limit * sizeof *scores);
    int64_t *ids = malloc((size_t)limit * sizeof *ids);
    int32_t n = 0;
    bool ok = scores && ids;
    if (!ok) snprintf(err, errlen, "search: out of memory");
    ok = ok && index_searcher_nearest(sr, query, limit, ids, scores, &n, err, errlen);
    for (int32_t i = 0; ok && i < n; i++) ok = add_score(out, ids[i], 1.0 / (RRF_K + i + 1));
    if (!ok && scores && ids && !*err) snprintf(err, errlen, "search: out of memory");
    free(scores);
    free(ids);
    return ok;
}

static int by_id(const void *a, const void *b) {
    int64_t x = ((const scored *)a)->id, y = ((const scored *)b)->id;
    return (x > y) - (x < y);
}

static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Sums the contributions of each chunk, then orders by fused score. */
static void fuse(score_list *l) {
    if (!l->n) return;
    qsort(l->v, (size_t)l->n, sizeof *l->v, by_id);
    int64_t w = 0;
    for (int64_t r = 0; r < l->n; r++) {
        if (w && l->v[w - 1].id == l->v[r].id)
            l->v[w - 1].score += l->v[r].score;
        else
            l->v[w++] = l->v[r];
    }
    l->n = w;
    qsort(l->v, (size_t)l->n, sizeof *l->v, by_score);
}

static char *col_dup(sqlite3_stmt *st, int i) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? strdup(t) : NULL;
}

/* The best chunks, at most max_per_file from one file. */
static bool collect(index_store *s, const score_list *l, const index_query *q, int32_t k,
                    index_hit *hits, int32_t *n_hits) {
    int32_t per_file = q->max_per_file > 0 ? q->max_per_file : 3, n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT path, start_line, end_line, symbol, language, text "
                           "FROM chunks WHERE id=?",
                           -1, &st, NULL) != SQLITE_OK)
        return false;
    bool ok = true;
    for (int64_t i = 0; ok && i < l->n && n < k; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, l->v[i].id);
        if (sqlite3_step(st) != SQLITE_ROW) continue;
        const char *path = (const char *)sqlite3_column_text(st, 0);
        int32_t same = 0;
        for (int32_t j = 0; path && j < n; j++) same += !strcmp(hits[j].path, path);
        if (!path || same >= per_file) continue;
        hits[n] = (index_hit){col_dup(st, 0),
                              sqlite3_column_int(st, 1),
                              sqlite3_column_int(st, 2),
                              col_dup(st, 3),
                              col_dup(st, 4),
                              col_dup(st, 5),
                              l->v[i].score};
        ok = hits[n].path && hits[n].language && hits[n].text;
        n++;
    }
    sqlite3_finalize(st);
    *n_hits = n;
    return ok;
}

/* The mode to run: auto is hybrid when a model is at hand, else lexical. */
static bool pick_mode(const index_query *q, bool have_model, index_mode *mode, char *err,
                      size_t errlen) {
    *mode = q->mode;
    if (*mode == INDEX_MODE_AUTO) *mode = have_model ? INDEX_MODE_HYBRID : INDEX_MODE_LEXICAL;
    if (*mode == INDEX_MODE_LEXICAL || have_model) return true;
    snprintf(err, errlen,
             "%s search needs an embedding model: index with 'hearth index "
             "--embedding-model PATH', or use --mode lexical",
             *mode == INDEX_MODE_VECTOR ? "vector" : "hybrid");
    return false;
}

bool index_rank(index_store *s, index_searcher *sr, const index_query *q, bool have_model,
                index_hit *hits, int32_t *n_hits, char *err, size_t errlen) {
    int32_t k = q->k > 0 ? q->k : 10, limit = k * 5 < 50 ? 50 : k * 5;
    index_mode mode;
    score_list l = {0};
    terms *t = malloc(sizeof *t);
    *n_hits = 0;
    bool ok = t || !snprintf(err, errlen, "search: out of memory");
    ok = ok && pick_mode(q, have_model, &mode, err, errlen);
    if (ok) query_terms(q->query ? q->query : "", t);
    if (ok && mode != INDEX_MODE_VECTOR) ok = lexical(s, t, limit, &l, err, errlen);
    if (ok && mode != INDEX_MODE_LEXICAL) ok = vector(sr, q->query, limit, &l, err, errlen);
    if (ok) ok = symbol_boost(s, t, &l, err, errlen);
    if (ok) fuse(&l);
    if (ok && !collect(s, &l, q, k, hits, n_hits)) ok = index_store_fail(s, "search", err, errlen);
    free(l.v);
    free(t);
    return ok;
}

bool index_search(const index_search_params *p, index_hit **hits, int32_t *n_hits, char *err,
                  size_t errlen) {
    *hits = NULL;
    *n_hits = 0;
    index_searcher_params sp = {p->root, p->embed_model, p->embed, p->n_threads};
    index_searcher *s = index_searcher_open(&sp, err, errlen);
    index_query q = {p->query, p->k, p->mode, p->max_per_file};
    bool ok = s && index_searcher_search(s, &q, hits, n_hits, err, errlen);
    index_searcher_close(s);
    return ok;
}

void index_hits_free(index_hit *hits, int32_t n) {
    for (int32_t i = 0; hits && i < n; i++) {
        free(hits[i].path);
        free(hits[i].symbol);
        free(hits[i].language);
        free(hits[i].text);
    }
    free(hits);
}
