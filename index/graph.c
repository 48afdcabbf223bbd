/* The symbol graph: which files use the names other files define, ranked as a repository map
 * ranks them (PageRank over references). Definitions (defs table: a file, a name, its line and
 * signature) and references (refs table: a file, a name, how many times) are what symbols.c
 * finds in each file's tree-sitter tree. A reference from file A to a name that k files define is
 * an edge A -> each of them weighted sqrt(uses) / k: repeated uses count less than new ones, and a
 * name many files define
 * ("init", "run") says little about any one of them. The ranks (files.rank, mean 1) are computed
 * after a build that changed something; search breaks ties with them and `ask` shows a map of
 * the retrieved files' definitions beside the excerpts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RANK_DAMPING    0.85
#define RANK_ITERATIONS 50

static bool put_refs(index_store *s, int64_t file_id, const index_symbols *sym) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO refs(file_id, name, n) VALUES(?,?,?)", -1, &st,
                           NULL) != SQLITE_OK)
        return false;
    bool ok = true;
    for (int32_t i = 0; ok && i < sym->n_refs; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, file_id);
        sqlite3_bind_text(st, 2, sym->refs[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, sym->refs[i].n);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return ok;
}

static bool put_defs(index_store *s, int64_t file_id, const index_symbols *sym) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO defs(file_id, name, line, sig) VALUES(?,?,?,?)", -1,
                           &st, NULL) != SQLITE_OK)
        return false;
    bool ok = true;
    for (int32_t i = 0; ok && i < sym->n_defs; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, file_id);
        sqlite3_bind_text(st, 2, sym->defs[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, sym->defs[i].line);
        sqlite3_bind_text(st, 4, sym->defs[i].sig, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return ok;
}

bool index_store_put_symbols(index_store *s, int64_t file_id, const index_symbols *sym) {
    return !sym || (put_refs(s, file_id, sym) && put_defs(s, file_id, sym));
}

/* ---- ranking ---- */

typedef struct {
    int64_t *ids; /* files.id, ascending */
    int32_t n;
    int32_t *from, *to; /* edges: indexes into ids */
    double *w;
    int32_t n_e, cap_e;
} graph;

static bool add_edge(graph *g, int32_t a, int32_t b, double w) {
    if (g->n_e == g->cap_e) {
        int32_t cap = g->cap_e ? 2 * g->cap_e : 1024;
        if (cap <= g->cap_e) return false;
        int32_t *from = realloc(g->from, (size_t)cap * sizeof *from);
        if (from) g->from = from;
        int32_t *to = from ? realloc(g->to, (size_t)cap * sizeof *to) : NULL;
        if (to) g->to = to;
        double *ws = to ? realloc(g->w, (size_t)cap * sizeof *ws) : NULL;
        if (!ws) return false;
        g->w = ws;
        g->cap_e = cap;
    }
    g->from[g->n_e] = a;
    g->to[g->n_e] = b;
    g->w[g->n_e++] = w;
    return true;
}

static int32_t file_index(const graph *g, int64_t id) {
    int32_t lo = 0, hi = g->n - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (g->ids[mid] == id) return mid;
        if (g->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static bool load_files(index_store *s, graph *g) {
    sqlite3_stmt *st;
    int64_t n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM files", -1, &st, NULL) != SQLITE_OK)
        return false;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (n < 0 || n > INT32_MAX / 2) return false;
    g->ids = malloc(((size_t)n + 1) * sizeof *g->ids);
    if (!g->ids ||
        sqlite3_prepare_v2(s->db, "SELECT id FROM files ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return false;
    while (g->n < n && sqlite3_step(st) == SQLITE_ROW) g->ids[g->n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return true;
}

/* The edges: each reference to a name defined in other files, weighted sqrt(uses) / definers. */
static const char EDGES_SQL[] =
    "WITH definers AS (SELECT name, count(DISTINCT file_id) AS k FROM defs GROUP BY name)"
    " SELECT r.file_id, d.file_id, r.n, c.k FROM refs r"
    " JOIN (SELECT DISTINCT file_id, name FROM defs) d ON d.name = r.name"
    " JOIN definers c ON c.name = r.name"
    " WHERE d.file_id != r.file_id";

static bool load_edges(index_store *s, graph *g) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, EDGES_SQL, -1, &st, NULL) != SQLITE_OK) return false;
    bool ok = true;
    int rc = SQLITE_DONE;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int32_t a = file_index(g, sqlite3_column_int64(st, 0));
        int32_t b = file_index(g, sqlite3_column_int64(st, 1));
        double uses = (double)sqlite3_column_int64(st, 2), k = (double)sqlite3_column_int64(st, 3);
        if (a < 0 || b < 0 || uses <= 0 || k <= 0) continue;
        ok = add_edge(g, a, b, sqrt(uses) / k);
    }
    sqlite3_finalize(st);
    return ok && rc == SQLITE_DONE;
}

void index_pagerank(int32_t n, const int32_t *from, const int32_t *to, const double *w,
                    int32_t n_edges, double *rank) {
    double *out = calloc((size_t)n + 1, sizeof *out), *next = calloc((size_t)n + 1, sizeof *next);
    for (int32_t i = 0; i < n; i++) rank[i] = 1.0 / n;
    for (int32_t e = 0; out && e < n_edges; e++) out[from[e]] += w[e];
    for (int it = 0; out && next && it < RANK_ITERATIONS; it++) {
        double dangling = 0, delta = 0;
        for (int32_t i = 0; i < n; i++) dangling += out[i] > 0 ? 0 : rank[i];
        for (int32_t i = 0; i < n; i++) next[i] = (1 - RANK_DAMPING + RANK_DAMPING * dangling) / n;
        for (int32_t e = 0; e < n_edges; e++)
            next[to[e]] += RANK_DAMPING * rank[from[e]] * w[e] / out[from[e]];
        for (int32_t i = 0; i < n; i++) {
            delta += fabs(next[i] - rank[i]);
            rank[i] = next[i];
        }
        if (delta < 1e-10) break;
    }
    free(out);
    free(next);
}

static bool store_ranks(index_store *s, const graph *g, const double *rank) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return false;
    bool ok =
        sqlite3_prepare_v2(s->db, "UPDATE files SET rank=? WHERE id=?", -1, &st, NULL) == SQLITE_OK;
    for (int32_t i = 0; ok && i < g->n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_double(st, 1, rank[i] * g->n); /* mean 1, whatever the repository's size */
        sqlite3_bind_int64(st, 2, g->ids[i]);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    char gen[32];
    snprintf(gen, sizeof gen, "%lld", (long long)index_store_meta_int(s, "generation", 0));
    char why[INDEX_ERR_LEN];
    ok = ok && index_store_meta_set(s, "graph_generation", gen, why, sizeof why);
    return sqlite3_exec(s->db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK && ok;
}

bool index_graph_rank(index_store *s, char *err, size_t errlen) {
    char *done = index_store_meta_get(s, "graph_generation"),
         *now = index_store_meta_get(s, "generation");
    bool fresh = done && now && !strcmp(done, now);
    free(done);
    free(now);
    if (fresh) return true;
    graph g = {0};
    bool ok = load_files(s, &g) && load_edges(s, &g);
    double *rank = ok ? malloc(((size_t)g.n + 1) * sizeof *rank) : NULL;
    ok = rank != NULL;
    if (ok && g.n) index_pagerank(g.n, g.from, g.to, g.w, g.n_e, rank);
    ok = ok && store_ranks(s, &g, rank);
    free(rank);
    free(g.ids);
    free(g.from);
    free(g.to);
    free(g.w);
    return ok || index_store_fail(s, "ranking the symbol graph", err, errlen);
}
