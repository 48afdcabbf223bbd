/* What the symbol graph's ranks (graph.c) are used for at query time: breaking ties between hits
 * (the file more of the repository relies on first) and a compact map of the files a question
 * retrieved: each file's definitions, the most used first, one signature line each, plus the
 * files whose definitions the retrieved ones use most. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAP_MAX_FILES     32 /* retrieved files looked at */
#define MAP_NEIGHBOURS    4  /* files they use, added after them */
#define MAP_DEFS_PER_FILE 12

static double file_rank(sqlite3_stmt *st, const char *path) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_double(st, 0) : 0;
}

void index_graph_break_ties(index_store *s, index_hit *hits, int32_t n) {
    sqlite3_stmt *st;
    if (n < 2 || sqlite3_prepare_v2(s->db, "SELECT rank FROM files WHERE path=?", -1, &st, NULL) !=
                     SQLITE_OK)
        return;
    double *rank = malloc((size_t)n * sizeof *rank);
    for (int32_t i = 0; rank && i < n; i++) rank[i] = file_rank(st, hits[i].path);
    sqlite3_finalize(st);
    /* insertion sort inside each run of equal scores: stable, and n is a handful */
    for (int32_t i = 1; rank && i < n; i++) {
        index_hit h = hits[i];
        double r = rank[i];
        int32_t j = i;
        for (; j > 0 && hits[j - 1].score == h.score && rank[j - 1] < r; j--) {
            hits[j] = hits[j - 1];
            rank[j] = rank[j - 1];
        }
        hits[j] = h;
        rank[j] = r;
    }
    free(rank);
}

bool index_ranked_add(index_ranked *r, int64_t id, double bm25) {
    if (r->n == r->cap) {
        int32_t cap = r->cap ? 2 * r->cap : 64;
        int64_t *ids = realloc(r->id, (size_t)cap * sizeof *ids);
        if (ids) r->id = ids;
        double *s = ids ? realloc(r->bm25, (size_t)cap * sizeof *s) : NULL;
        if (!s) return false;
        r->bm25 = s;
        r->cap = cap;
    }
    r->id[r->n] = id;
    r->bm25[r->n++] = bm25;
    return true;
}

void index_ranked_free(index_ranked *r) {
    free(r->id);
    free(r->bm25);
    *r = (index_ranked){0};
}

/* Insertion sort of one run [a, b) by rank, highest first (runs are short: equal scores). */
static void sort_run(index_ranked *r, double *rank, int32_t a, int32_t b) {
    for (int32_t i = a + 1; i < b; i++) {
        int64_t id = r->id[i];
        double k = rank[i - a];
        int32_t j = i;
        for (; j > a && rank[j - 1 - a] < k; j--) {
            r->id[j] = r->id[j - 1];
            rank[j - a] = rank[j - 1 - a];
        }
        r->id[j] = id;
        rank[j - a] = k;
    }
}

static bool same_score(double x, double y) {
    return fabs(x - y) <= 1e-9 * (fabs(x) > fabs(y) ? fabs(x) : fabs(y));
}

void index_graph_order_ties(index_store *s, index_ranked *r) {
    sqlite3_stmt *st;
    if (r->n < 2 || sqlite3_prepare_v2(s->db,
                                       "SELECT f.rank FROM chunks c JOIN files f ON f.id = "
                                       "c.file_id WHERE c.id=?",
                                       -1, &st, NULL) != SQLITE_OK)
        return;
    for (int32_t a = 0, b; a < r->n; a = b) {
        for (b = a + 1; b < r->n && same_score(r->bm25[a], r->bm25[b]);) b++;
        double *rank = b - a > 1 ? malloc((size_t)(b - a) * sizeof *rank) : NULL;
        for (int32_t i = a; rank && i < b; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, r->id[i]);
            rank[i - a] = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_double(st, 0) : 0;
        }
        if (rank) sort_run(r, rank, a, b);
        free(rank);
    }
    sqlite3_finalize(st);
}

/* ---- the map ---- */

typedef struct {
    int64_t id;
    char *path;
} map_file;

typedef struct {
    int32_t line, users;
    char *sig;
} map_def;

typedef struct {
    char *s;
    size_t len, cap, max;
    bool full;
} map_text;

static void put(map_text *t, const char *s, size_t n) {
    if (t->full || t->len + n + 1 > t->max) {
        t->full = true;
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->full = true;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = 0;
}

static int def_by_users(const void *a, const void *b) {
    const map_def *x = a, *y = b;
    return x->users != y->users ? (y->users > x->users) - (y->users < x->users)
                                : (x->line > y->line) - (x->line < y->line);
}

static int def_by_line(const void *a, const void *b) {
    const map_def *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

/* A file's definitions, each with how many other files use its name per definition of that
 * name (x1000): a name defined everywhere ("value", "parse") is no particular one's use. */
static const char DEFS_SQL[] =
    "SELECT d.line, d.sig, CAST(1000.0 * (SELECT count(*) FROM refs r WHERE r.name = d.name"
    " AND r.file_id != d.file_id) / (SELECT count(*) FROM defs x WHERE x.name = d.name) AS INTEGER)"
    " FROM defs d WHERE d.file_id = ? ORDER BY d.line";

/* Keeps the first of definitions with the same signature line (nine "def value(self):" say no
 * more than one). */
static int32_t drop_repeats(map_def *defs, int32_t n) {
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t j = 0;
        while (j < k && strcmp(defs[j].sig, defs[i].sig)) j++;
        if (j < k) {
            if (defs[i].users > defs[j].users) { /* the retrieved one stays */
                defs[j].users = defs[i].users;
                defs[j].line = defs[i].line;
            }
            free(defs[i].sig);
        } else {
            defs[k++] = defs[i];
        }
    }
    return k;
}

/* True when line lies in a hit of that file: the definitions retrieved come first. */
static bool in_hit(const index_hit *hits, int32_t n_hits, const char *path, int32_t line) {
    for (int32_t i = 0; i < n_hits; i++)
        if (line >= hits[i].start_line && line <= hits[i].end_line && !strcmp(hits[i].path, path))
            return true;
    return false;
}

static void map_one_file(index_store *s, const map_file *f, const index_hit *hits, int32_t n_hits,
                         map_text *t) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, DEFS_SQL, -1, &st, NULL) != SQLITE_OK) return;
    sqlite3_bind_int64(st, 1, f->id);
    map_def *defs = NULL;
    int32_t n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            map_def *d = realloc(defs, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *d);
            if (!d) break;
            defs = d;
        }
        const char *sig = (const char *)sqlite3_column_text(st, 1);
        int32_t line = sqlite3_column_int(st, 0), users = sqlite3_column_int(st, 2);
        if (in_hit(hits, n_hits, f->path, line)) users = INT32_MAX;
        defs[n] = (map_def){line, users, strdup(sig ? sig : "")};
        if (!defs[n++].sig) break;
    }
    sqlite3_finalize(st);
    n = drop_repeats(defs, n);
    if (n > MAP_DEFS_PER_FILE) {
        qsort(defs, (size_t)n, sizeof *defs, def_by_users);
        for (int32_t i = MAP_DEFS_PER_FILE; i < n; i++) free(defs[i].sig);
        n = MAP_DEFS_PER_FILE;
    }
    if (n > 1) qsort(defs, (size_t)n, sizeof *defs, def_by_line); /* defs may be NULL at 0 */
    char head[64];
    put(t, f->path, strlen(f->path));
    put(t, ":\n", 2);
    for (int32_t i = 0; i < n; i++) {
        int k = snprintf(head, sizeof head, "%6d  ", defs[i].line);
        put(t, head, (size_t)k);
        put(t, defs[i].sig ? defs[i].sig : "", defs[i].sig ? strlen(defs[i].sig) : 0);
        put(t, "\n", 1);
        free(defs[i].sig);
    }
    free(defs);
}

static bool add_file(map_file *files, int32_t *n, int64_t id, const char *path) {
    for (int32_t i = 0; i < *n; i++)
        if (files[i].id == id) return true;
    files[*n] = (map_file){id, strdup(path)};
    return files[(*n)++].path != NULL;
}

/* The retrieved files, in the hits' order. */
static void hit_files(index_store *s, const index_hit *hits, int32_t n_hits, map_file *files,
                      int32_t *n) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM files WHERE path=?", -1, &st, NULL) != SQLITE_OK)
        return;
    for (int32_t i = 0; i < n_hits && *n < MAP_MAX_FILES; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, hits[i].path, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW &&
            !add_file(files, n, sqlite3_column_int64(st, 0), hits[i].path))
            break;
    }
    sqlite3_finalize(st);
}

/* Files defining the names a retrieved file uses, by uses per definer of the name (a name
 * defined everywhere points nowhere in particular) times their rank. */
static const char NEIGHBOURS_SQL[] =
    "SELECT d.file_id, f.path FROM refs r"
    " JOIN (SELECT DISTINCT file_id, name FROM defs WHERE name IN"
    " (SELECT name FROM refs WHERE file_id = ?1)) d ON d.name = r.name"
    " JOIN files f ON f.id = d.file_id WHERE r.file_id = ?1 AND d.file_id != ?1"
    " GROUP BY d.file_id ORDER BY sum(r.n * 1.0 / (SELECT count(DISTINCT x.file_id) FROM defs x"
    " WHERE x.name = r.name)) * max(f.rank) DESC, f.path LIMIT ?2";

static void neighbour_files(index_store *s, map_file *files, int32_t *n) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, NEIGHBOURS_SQL, -1, &st, NULL) != SQLITE_OK) return;
    int32_t n_hit = *n, limit = *n + MAP_NEIGHBOURS;
    for (int32_t i = 0; i < n_hit && *n < limit && *n < MAP_MAX_FILES + MAP_NEIGHBOURS; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, files[i].id);
        sqlite3_bind_int(st, 2, 2); /* the two each file relies on most */
        while (*n < limit && sqlite3_step(st) == SQLITE_ROW)
            if (!add_file(files, n, sqlite3_column_int64(st, 0),
                          (const char *)sqlite3_column_text(st, 1)))
                break;
    }
    sqlite3_finalize(st);
}

char *index_graph_map(index_store *s, const index_hit *hits, int32_t n_hits, size_t max_bytes) {
    map_file files[MAP_MAX_FILES + MAP_NEIGHBOURS];
    int32_t n = 0;
    hit_files(s, hits, n_hits, files, &n);
    neighbour_files(s, files, &n);
    map_text t = {.max = max_bytes ? max_bytes : 4096};
    put(&t, "", 0);
    for (int32_t i = 0; i < n; i++) {
        size_t before = t.len;
        map_one_file(s, &files[i], hits, n_hits, &t);
        if (t.full) { /* whole files only */
            t.len = before;
            if (t.s) t.s[before] = 0;
        }
        free(files[i].path);
    }
    return t.s ? t.s : calloc(1, 1);
}
