/* The symbol graph: which files use the names other files define, ranked as a repository map
 * ranks them (PageRank over references). Definitions are the chunker's (chunks.name); references
 * are the identifier leaves tree-sitter finds in a file (refs table: a file, a name, how many
 * times). A reference from file A to a name that k files define is an edge A -> each of them
 * weighted sqrt(uses) / k: repeated uses count less than new ones, and a name many files define
 * ("init", "run") says little about any one of them. The ranks (files.rank, mean 1) are computed
 * after a build that changed something; search breaks ties with them and `ask` shows a map of
 * the retrieved files' definitions beside the excerpts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tree_sitter/api.h>

#include "grammar.h"
#include "internal.h"

#define REF_MIN_LEN     2    /* shorter identifiers (i, x) connect nothing */
#define REF_MAX_LEN     128  /* longer ones are not names a person reuses */
#define REF_MAX_UNIQUE  4096 /* distinct names stored per file */
#define REF_MAX_LEAVES  (1 << 20)
#define REF_PARSE_SEC   2
#define RANK_DAMPING    0.85
#define RANK_ITERATIONS 50

/* ---- references of one file ---- */

typedef struct {
    const char *s;
    uint32_t n;
} span;

typedef struct {
    span *v;
    int32_t n, cap;
} span_list;

static bool is_identifier_leaf(TSNode node) {
    return ts_node_child_count(node) == 0 && ts_node_is_named(node) &&
           strstr(ts_node_type(node), "identifier") != NULL;
}

static bool push_span(span_list *l, const char *s, uint32_t n) {
    if (l->n == l->cap) {
        int32_t cap = l->cap ? 2 * l->cap : 256;
        span *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (span){s, n};
    return true;
}

/* Every identifier leaf of the tree, in document order (a cursor walk: no recursion). */
static bool collect_leaves(TSTree *tree, const char *text, span_list *out) {
    TSTreeCursor cur = ts_tree_cursor_new(ts_tree_root_node(tree));
    bool ok = true;
    for (bool more = true; more && ok && out->n < REF_MAX_LEAVES;) {
        TSNode node = ts_tree_cursor_current_node(&cur);
        if (is_identifier_leaf(node)) {
            uint32_t a = ts_node_start_byte(node), b = ts_node_end_byte(node);
            if (b - a >= REF_MIN_LEN && b - a <= REF_MAX_LEN) ok = push_span(out, text + a, b - a);
        }
        if (ts_tree_cursor_goto_first_child(&cur)) continue;
        while (!ts_tree_cursor_goto_next_sibling(&cur))
            if (!ts_tree_cursor_goto_parent(&cur)) {
                more = false;
                break;
            }
    }
    ts_tree_cursor_delete(&cur);
    return ok;
}

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static bool over_budget(TSParseState *state) {
    const struct timespec *deadline = state->payload;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec > deadline->tv_nsec);
}

typedef struct {
    const char *text;
    uint32_t len;
} source;

static const char *read_source(void *payload, uint32_t byte, TSPoint pos, uint32_t *n) {
    const source *src = payload;
    (void)pos;
    *n = byte < src->len ? src->len - byte : 0;
    return src->text + (byte < src->len ? byte : src->len);
}

/* A tree within the time budget, else NULL (a pathological file then has no references). */
static TSTree *parse(const TSLanguage *grammar, const char *text, size_t len) {
    TSParser *parser = ts_parser_new();
    TSTree *tree = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += REF_PARSE_SEC;
    source src = {text, (uint32_t)len};
    TSInput in = {&src, read_source, TSInputEncodingUTF8, NULL};
    if (parser && ts_parser_set_language(parser, grammar))
        tree = ts_parser_parse_with_options(parser, NULL, in,
                                            (TSParseOptions){&deadline, over_budget});
    ts_parser_delete(parser);
    return tree;
}

/* Sorted leaves -> distinct names with counts (the most used first when over the cap). */
static bool distinct_refs(span_list *l, index_ref **refs, int32_t *n_refs) {
    qsort(l->v, (size_t)l->n, sizeof *l->v, span_cmp);
    index_ref *r = calloc((size_t)l->n + 1, sizeof *r);
    int32_t n = 0;
    for (int32_t i = 0; r && i < l->n;) {
        int32_t j = i + 1;
        while (j < l->n && !span_cmp(&l->v[i], &l->v[j])) j++;
        r[n] = (index_ref){strndup(l->v[i].s, l->v[i].n), j - i};
        if (!r[n++].name) {
            index_refs_free(r, n);
            return false;
        }
        i = j;
    }
    if (!r) return false;
    *refs = r;
    *n_refs = n;
    return true;
}

static int ref_by_uses(const void *a, const void *b) {
    const index_ref *x = a, *y = b;
    return (y->n > x->n) - (y->n < x->n);
}

bool index_file_refs(const char *language, const char *text, size_t len, index_ref **refs,
                     int32_t *n_refs) {
    *refs = NULL;
    *n_refs = 0;
    const TSLanguage *grammar = grammar_by_name(language);
    if (!grammar || len >= UINT32_MAX || !strcmp(language, "json")) return true;
    TSTree *tree = parse(grammar, text, len);
    if (!tree) return true; /* no tree: the file simply has no references */
    span_list l = {0};
    bool ok = collect_leaves(tree, text, &l) && distinct_refs(&l, refs, n_refs);
    ts_tree_delete(tree);
    free(l.v);
    if (ok && *n_refs > REF_MAX_UNIQUE) {
        qsort(*refs, (size_t)*n_refs, sizeof **refs, ref_by_uses);
        for (int32_t i = REF_MAX_UNIQUE; i < *n_refs; i++) free((*refs)[i].name);
        *n_refs = REF_MAX_UNIQUE;
    }
    return ok;
}

static int ref_by_name(const void *key, const void *elem) {
    return strcmp(key, ((const index_ref *)elem)->name);
}

void index_refs_drop_defined(index_ref *refs, int32_t *n, const index_chunk *chunks,
                             int32_t n_chunks) {
    /* refs are sorted by name unless the cap reordered them by use */
    bool sorted = true;
    for (int32_t i = 1; i < *n && sorted; i++) sorted = strcmp(refs[i - 1].name, refs[i].name) < 0;
    for (int32_t c = 0; c < n_chunks; c++) {
        const char *name = chunks[c].name;
        index_ref *hit = NULL;
        for (int32_t i = 0; name && !sorted && !hit && i < *n; i++)
            if (!strcmp(refs[i].name, name)) hit = &refs[i];
        if (name && sorted) hit = bsearch(name, refs, (size_t)*n, sizeof *refs, ref_by_name);
        if (hit) hit->n = 0; /* marked: the file's own definition */
    }
    int32_t k = 0;
    for (int32_t i = 0; i < *n; i++) {
        if (refs[i].n)
            refs[k++] = refs[i];
        else
            free(refs[i].name);
    }
    *n = k;
}

void index_refs_free(index_ref *refs, int32_t n) {
    for (int32_t i = 0; refs && i < n; i++) free(refs[i].name);
    free(refs);
}

bool index_store_put_refs(index_store *s, int64_t file_id, const index_ref *refs, int32_t n) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO refs(file_id, name, n) VALUES(?,?,?)", -1, &st,
                           NULL) != SQLITE_OK)
        return false;
    bool ok = true;
    for (int32_t i = 0; ok && i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, file_id);
        sqlite3_bind_text(st, 2, refs[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, refs[i].n);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return ok;
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
    "WITH defs AS (SELECT DISTINCT file_id, name FROM chunks WHERE name IS NOT NULL),"
    " definers AS (SELECT name, count(*) AS k FROM defs GROUP BY name)"
    " SELECT r.file_id, d.file_id, r.n, c.k FROM refs r"
    " JOIN defs d ON d.name = r.name JOIN definers c ON c.name = r.name"
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
    sqlite3_stmt *st;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return false;
    bool ok =
        sqlite3_prepare_v2(s->db, "UPDATE files SET rank=? WHERE id=?", -1, &st, NULL) == SQLITE_OK;
    for (int32_t i = 0; ok && i < g->n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_double(st, 1, rank[i] * g->n); /* mean 1, whatever the repository's size */
        sqlite3_bind_int64(st, 2, g->ids[i]);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    if (ok) sqlite3_finalize(st);
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
