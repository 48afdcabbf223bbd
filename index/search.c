/* Retrieval: BM25 over the FTS5 table, FAISS top-k over the vectors, or both merged by
 * reciprocal rank fusion (score = sum over lists of 1 / (RRF_K + rank)). Then:
 * - a chunk that defines a name the query spells as an identifier (read_alignment, parseAddr,
 *   utf8) gets a boost just under a first place in one more list (never tying BM25's best); a
 *   plain word that is a defined name ("unquote") gets that boost scaled by the word's rarity
 *   in the index, so "name" or "run" lift nothing. Lexical and hybrid modes only;
 * - a declaration (a documented C/C++ prototype, a TypeScript signature) and the definition it
 *   stands for are one unit, like the windows below: the definition is ranked by the better of
 *   the two fused scores, not their sum (one unit matched twice is not two votes);
 * - the windows of one split definition count once, as its first window (the definition line);
 * - at most max_per_file chunks per file are kept, so one big file cannot crowd out the rest. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define RRF_K      60.0
#define MAX_TERMS  48
#define TERM_BYTES 64

/* BM25 weights of the FTS columns (path, symbol, head, text, words), chosen on
 * bench/retrieval's sets (bench/RESULTS.md). */
#define W_PATH   1.0
#define W_SYMBOL 4.0
#define W_HEAD   2.0
#define W_TEXT   1.0
#define W_WORDS  1.0

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
    bool derived[MAX_TERMS]; /* a sub-word of a query identifier: searched, never boosted */
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

static void add_term(terms *t, const char *w, size_t n, bool derived) {
    if (!n || n >= TERM_BYTES || t->n >= MAX_TERMS || stopword(w, n)) return;
    for (int i = 0; i < t->n; i++)
        if (strlen(t->term[i]) == n && !strncmp(t->term[i], w, n)) return;
    memcpy(t->term[t->n], w, n);
    t->term[t->n][n] = 0;
    t->derived[t->n++] = derived;
}

/* Identifier-like words of the query (runs of letters, digits, '_' and non-ASCII bytes), then
 * the sub-words of the compound ones (BooleanOptionalAction: boolean, optional, action). */
static void query_terms(const char *q, terms *t) {
    t->n = 0;
    for (const char *p = q; *p;) {
        size_t n = 0;
        while (p[n] && (isalnum((unsigned char)p[n]) || p[n] == '_' || (unsigned char)p[n] >= 0x80))
            n++;
        add_term(t, p, n, false);
        p += n ? n : 1;
    }
    for (int i = 0, words = t->n; i < words; i++) {
        enum { PARTS = 16 };
        size_t st[PARTS], ln[PARTS];
        char w[TERM_BYTES];
        snprintf(w, sizeof w, "%s", t->term[i]);
        int k = index_split_identifier(w, strlen(w), st, ln, PARTS);
        for (int j = 0; k > 1 && j < k && j < PARTS; j++) add_term(t, w + st[j], ln[j], true);
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
                                      "SELECT rowid, bm25(chunks_fts, ?2, ?3, ?4, ?5, ?6) "
                                      "FROM chunks_fts WHERE chunks_fts MATCH ?1 "
                                      "ORDER BY 2 LIMIT ?7",
                                      -1, &st, NULL) == SQLITE_OK;
    if (ok && t->n) {
        const double w[] = {W_PATH, W_SYMBOL, W_HEAD, W_TEXT, W_WORDS};
        sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
        for (int i = 0; i < 5; i++) sqlite3_bind_double(st, 2 + i, w[i]);
        sqlite3_bind_int(st, 7, limit);
        index_ranked r = {0};
        int rc;
        while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW)
            ok = index_ranked_add(&r, sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1));
        ok = ok && rc == SQLITE_DONE;
        if (ok) index_graph_order_ties(s, &r); /* equal BM25: the file more code uses first */
        for (int32_t i = 0; ok && i < r.n; i++) ok = add_score(out, r.id[i], 1.0 / (RRF_K + i + 1));
        index_ranked_free(&r);
    }
    if (!ok && q) index_store_fail(s, "lexical search", err, errlen);
    if (!ok && !q) snprintf(err, errlen, "lexical search: out of memory");
    sqlite3_finalize(st);
    free(q);
    return ok;
}

static double count_of(index_store *s, const char *sql, const char *text, int64_t limit) {
    sqlite3_stmt *st;
    double n = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    if (text) sqlite3_bind_int64(st, 2, limit);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* How rare a word is in the index, in [0, 1]: 0 when it occurs in at least sqrt(chunks) of
 * them (then a chunk named by it gets no boost: in RRF any boost of that size would reorder
 * BM25's first places), rising to 1 for a word in a single chunk: 1 - 2 log(df) / log(chunks).
 * *chunks: the index's chunk count, counted on first use (one query may need it for several
 * words); the word's count stops at sqrt(chunks), where the rarity is 0 anyway. */
static double rarity(index_store *s, const char *word, double *chunks) {
    if (*chunks < 0) *chunks = count_of(s, "SELECT count(*) FROM chunks", NULL, 0);
    if (*chunks < 2) return 0;
    char q[TERM_BYTES + 16];
    snprintf(q, sizeof q, "\"%s\"", word);
    double df = count_of(s,
                         "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts "
                         "MATCH ? LIMIT ?)",
                         q, (int64_t)ceil(sqrt(*chunks)) + 1);
    if (df < 1) return 0;
    double r = 1.0 - 2.0 * log(df) / log(*chunks);
    return r < 0 ? 0 : r;
}

/* True for a word only code spells: snake_case, camelCase, PascalCase with two parts, a
 * letter-digit mix (utf8, base64). */
bool index_identifier_like(const char *w) {
    return index_is_compound(w, strlen(w));
}

/* The boost of the chunks defining each query term (see the top of the file). */
static bool symbol_boost(index_store *s, const terms *t, score_list *out, char *err,
                         size_t errlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM chunks WHERE name=? LIMIT 64", -1, &st, NULL) !=
        SQLITE_OK)
        return index_store_fail(s, "search", err, errlen);
    bool ok = true;
    double chunks = -1;
    for (int i = 0; ok && i < t->n; i++) {
        if (t->derived[i]) continue;
        double weight = index_identifier_like(t->term[i]) ? 1.0 : -1.0;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, t->term[i], -1, SQLITE_STATIC);
        while (ok && sqlite3_step(st) == SQLITE_ROW) {
            if (weight < 0) /* a plain word: once, when it is defined */
                weight = rarity(s, t->term[i], &chunks);
            if (weight > 0) ok = add_score(out, sqlite3_column_int64(st, 0), weight / (RRF_K + 2));
        }
    }
    sqlite3_finalize(st);
    return ok || !snprintf(err, errlen, "search: out of memory");
}

/* The scope parts of a qualified symbol, last first ("Parser.SyntaxNode.closest": closest,
 * SyntaxNode, Parser); '.' and "::" separate. JavaScript's "prototype" is no part:
 * "Tree.prototype.edit" is Tree's method edit. */
enum { MAX_PARTS = 8 };
typedef struct {
    const char *p[MAX_PARTS];
    size_t n[MAX_PARTS];
    int k;
} symbol_parts;

static bool separator(char c) {
    return c == '.' || c == ':';
}

static void split_symbol(const char *s, symbol_parts *out) {
    out->k = 0;
    for (size_t end = strlen(s); end > 0 && out->k < MAX_PARTS;) {
        size_t start = end;
        while (start > 0 && !separator(s[start - 1])) start--;
        size_t n = end - start;
        if (n && !(n == 9 && !strncmp(s + start, "prototype", 9))) {
            out->p[out->k] = s + start;
            out->n[out->k++] = n;
        }
        for (end = start; end > 0 && separator(s[end - 1]);) end--;
    }
}

/* How many scope parts two qualified symbols share when one is a tail of the other
 * ("Parser.SyntaxNode.closest" and "SyntaxNode.closest": 2); -1 when they part
 * ("Parser.Query.constructor" and "SyntaxNode.constructor": another class's method) or only
 * one is qualified (an interface's method "Runner.run" is not the function "run"). */
static int scope_agreement(const char *a, const char *b) {
    symbol_parts x, y;
    split_symbol(a, &x);
    split_symbol(b, &y);
    int k = x.k < y.k ? x.k : y.k, i = 0;
    while (i < k && x.n[i] == y.n[i] && !memcmp(x.p[i], y.p[i], x.n[i])) i++;
    return i == k && (k > 1 || x.k == y.k) ? i : -1;
}

/* The definition a declaration stands for: of the same name, not a declaration itself, whose
 * qualified symbol agrees with the declaration's (neither names a scope the other contradicts),
 * sharing the most scopes; 0 when none. */
static int64_t definition_of(sqlite3_stmt *defs, const char *name, const char *symbol) {
    sqlite3_reset(defs);
    sqlite3_bind_text(defs, 1, name, -1, SQLITE_TRANSIENT);
    int64_t best = 0;
    int best_parts = -1;
    while (sqlite3_step(defs) == SQLITE_ROW) {
        const char *sym = (const char *)sqlite3_column_text(defs, 1);
        int parts = sym && symbol ? scope_agreement(sym, symbol) : 0;
        if (parts > best_parts) {
            best_parts = parts;
            best = sqlite3_column_int64(defs, 0);
        }
    }
    return best;
}

/* The languages whose definitions a declaration of language lang may stand for. */
static const char *const *language_family(const char *lang) {
    static const char *const C[] = {"c", "cpp", "c"};
    static const char *const JS[] = {"javascript", "typescript", "tsx"};
    static const char *const *const ALL[] = {C, JS};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            if (!strcmp(lang, ALL[i][j])) return ALL[i];
    return C; /* no other language has declarations */
}

/* Each ranked declaration stands for its definition (runs after fuse: collect keeps a unit's
 * first, best, place): a C/C++ doc comment usually sits on the prototype in the header while
 * the definition in the .c file has none, and a TypeScript declaration file documents the .js
 * functions. */
static void lend_declarations(index_store *s, score_list *l) {
    sqlite3_stmt *decl = NULL, *defs = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT name, symbol, language FROM chunks WHERE id=? AND decl=1",
                           -1, &decl, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "SELECT id, symbol FROM chunks WHERE name=? AND decl=0 AND "
                           "def_start>0 AND start_line=def_start AND language IN (?, ?, ?) "
                           "ORDER BY id LIMIT 16",
                           -1, &defs, NULL) != SQLITE_OK) {
        sqlite3_finalize(decl);
        return;
    }
    for (int64_t i = 0; i < l->n; i++) {
        sqlite3_reset(decl);
        sqlite3_bind_int64(decl, 1, l->v[i].id);
        if (sqlite3_step(decl) != SQLITE_ROW || !sqlite3_column_text(decl, 0)) continue;
        const char *lang = (const char *)sqlite3_column_text(decl, 2);
        const char *const *family = language_family(lang ? lang : "");
        for (int f = 0; f < 3; f++) sqlite3_bind_text(defs, 2 + f, family[f], -1, SQLITE_STATIC);
        int64_t def = definition_of(defs, (const char *)sqlite3_column_text(decl, 0),
                                    (const char *)sqlite3_column_text(decl, 1));
        if (def) l->v[i].id = def;
    }
    sqlite3_finalize(decl);
    sqlite3_finalize(defs);
}

/* The vector list's vote in hybrid mode, from how well it agrees with BM25 where BM25 is
 * surest: of BM25's first AGREE_DEPTH chunks, how many the vector list also holds (o), beyond
 * the e a list drawn at random from the index would hold, a = (o - e) / (AGREE_DEPTH - e); the
 * vote is (a - AGREE_FLOOR) / (1 - AGREE_FLOOR) in [0, 1], nothing unless the vector list holds
 * most of BM25's head (bench/RESULTS.md has the rules tried). Two useful rankers
 * mostly agree there (the chunk that spells the question's words is near the question's
 * meaning too), while a model whose vectors are noise (random weights) or much weaker than BM25
 * does not: then any vote would only reorder BM25's best (in RRF even a tenth of a vote moves
 * BM25's sixth place above its first), so hybrid stays BM25's ranking. With no BM25 candidate
 * the vector list is all there is: a full vote. */
#define AGREE_DEPTH 10
#define AGREE_FLOOR 0.7

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double agreement(index_store *s, const score_list *lex, const int64_t *ids, int32_t n) {
    if (!lex->n) return 1.0;
    if (n <= 0) return 0.0;
    int64_t *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return 0.0;
    memcpy(sorted, ids, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_i64);
    int32_t depth = lex->n < AGREE_DEPTH ? (int32_t)lex->n : AGREE_DEPTH, shared = 0;
    for (int32_t i = 0; i < depth; i++) /* lex holds BM25's list in rank order */
        shared += bsearch(&lex->v[i].id, sorted, (size_t)n, sizeof *sorted, cmp_i64) != NULL;
    free(sorted);
    double chunks = count_of(s, "SELECT count(*) FROM chunks", NULL, 0);
    double chance = chunks > 0 ? depth * (double)n / chunks : 0;
    if (depth <= chance) return 0.0; /* a tiny index: agreement says nothing, BM25 decides */
    double a = (shared - chance) / (depth - chance);
    double vote = (a - AGREE_FLOOR) / (1 - AGREE_FLOOR);
    return vote < 0 ? 0 : vote > 1 ? 1 : vote;
}

/* The vector list's weight in hybrid mode: its agreement with BM25's list, or a fixed weight
 * from HEARTH_HYBRID_WEIGHT (benchmarks compare with it; 1 is plain RRF). */
static double hybrid_weight(index_store *s, const score_list *lex, const int64_t *ids, int32_t n) {
    const char *env = getenv("HEARTH_HYBRID_WEIGHT");
    if (env && *env) return atof(env);
    return agreement(s, lex, ids, n);
}

/* The vector list's RRF scores (out holds BM25's list), weighted in hybrid mode. */
static bool vector(index_store *s, index_searcher *sr, const char *query, int32_t limit,
                   index_mode mode, score_list *out, char *err, size_t errlen) {
    float *scores = malloc((size_t)limit * sizeof *scores);
    int64_t *ids = malloc((size_t)limit * sizeof *ids);
    int32_t n = 0;
    bool ok = scores && ids;
    if (!ok) snprintf(err, errlen, "search: out of memory");
    ok = ok && index_searcher_nearest(sr, query, limit, ids, scores, &n, err, errlen);
    double w = ok && mode == INDEX_MODE_HYBRID ? hybrid_weight(s, out, ids, n) : 1.0;
    for (int32_t i = 0; ok && w > 0 && i < n; i++) ok = add_score(out, ids[i], w / (RRF_K + i + 1));
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

/* The chunk a ranked chunk stands for: itself, or the first window of the split definition it
 * belongs to (the one that starts at the definition line). */
static int64_t representative(sqlite3_stmt *first, int64_t id) {
    sqlite3_reset(first);
    sqlite3_bind_int64(first, 1, id);
    return sqlite3_step(first) == SQLITE_ROW ? sqlite3_column_int64(first, 0) : id;
}

/* The best chunks, each definition once, at most max_per_file from one file. */
static bool collect(index_store *s, const score_list *l, const index_query *q, int32_t k,
                    index_hit *hits, int32_t *n_hits) {
    int32_t per_file = q->max_per_file > 0 ? q->max_per_file : 3, n = 0;
    int64_t *taken = malloc((size_t)k * sizeof *taken);
    sqlite3_stmt *st = NULL, *first = NULL;
    bool ok = taken &&
              sqlite3_prepare_v2(s->db,
                                 "SELECT path, start_line, end_line, symbol, language, text "
                                 "FROM chunks WHERE id=?",
                                 -1, &st, NULL) == SQLITE_OK &&
              sqlite3_prepare_v2(s->db,
                                 "SELECT f.id FROM chunks c JOIN chunks f ON f.file_id = c.file_id "
                                 "AND f.start_line = c.def_start AND f.def_start = c.def_start "
                                 "WHERE c.id=? AND c.def_start > 0 ORDER BY f.id LIMIT 1",
                                 -1, &first, NULL) == SQLITE_OK;
    for (int64_t i = 0; ok && i < l->n && n < k; i++) {
        int64_t id = representative(first, l->v[i].id);
        bool dup = false;
        for (int32_t j = 0; j < n; j++) dup |= taken[j] == id;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id);
        if (dup || sqlite3_step(st) != SQLITE_ROW) continue;
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
        taken[n++] = id;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(first);
    free(taken);
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
    if (ok && mode != INDEX_MODE_LEXICAL)
        ok = vector(s, sr, q->query, limit, mode, &l, err, errlen);
    if (ok && mode != INDEX_MODE_VECTOR) ok = symbol_boost(s, t, &l, err, errlen);
    if (ok) fuse(&l);
    if (ok) lend_declarations(s, &l);
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
