/* Private declarations shared by the files of index/ (not part of its interface). */
#ifndef HEARTH_INDEX_INTERNAL_H
#define HEARTH_INDEX_INTERNAL_H

#include <sqlite3.h>

#include "engine.h"
#include "index.h"

/* ---- classify.c ---- */

/* Reads a regular file of at most max_bytes (NUL-terminated); NULL if it is not one. */
char *index_read_file(const char *path, uint64_t max_bytes, size_t *len);
/* Reads <root>/<f->path> as index_read_file does, but only if what opens there is what the walk
 * saw (f->dev, f->ino) or, replaced since (an editor's atomic save), a file that is still inside
 * root_real (the root's real path): a file swapped for a link to a file outside the repository
 * between walk and read is never read (*outside true). */
char *index_read_walked(const char *root, const char *root_real, const index_file *f,
                        uint64_t max_bytes, size_t *len, bool *outside);

/* ---- chunk.c: line tables and windows, shared with the definition chunker ---- */

typedef struct {
    const char *text;
    size_t len;
    size_t *off;  /* off[i]: where line i starts; off[n] = len + 1 */
    int32_t *tok; /* tokens of each line */
    int32_t n;
} line_table;

typedef struct {
    index_chunk *v;
    int32_t n, cap;
} chunk_list;

void index_chunk_params_fill(const index_chunk_params *in, index_chunk_params *out);
bool index_line_table_init(line_table *t, const char *text, size_t len,
                           const index_chunk_params *p);
void index_line_table_free(line_table *t);
/* Appends lines [from, to) (0-based) as one chunk unless they are blank. */
bool index_chunk_list_push(chunk_list *l, const line_table *t, int32_t from, int32_t to,
                           const char *symbol);
/* Appends lines [from, to) as windows within the budget, overlapping by <= overlap_tokens. */
bool index_chunk_windows(chunk_list *l, const line_table *t, int32_t from, int32_t to,
                         const index_chunk_params *p, const char *symbol);

/* Appends lines [from, to) as one chunk of definition d (copied: symbol, name, the range;
 * NULL for code outside definitions) unless they are blank. */
bool index_chunk_list_push_def(chunk_list *l, const line_table *t, int32_t from, int32_t to,
                               const index_chunk *d);
/* Windows over [from, to) that all belong to definition d (NULL: none). */
bool index_chunk_windows_def(chunk_list *l, const line_table *t, int32_t from, int32_t to,
                             const index_chunk_params *p, const index_chunk *d);

/* ---- words.c: identifier sub-words ---- */

typedef struct {
    char *s;
    size_t len, cap;
} index_buf;

/* Room for more bytes plus a NUL. */
bool index_buf_reserve(index_buf *b, size_t more);
/* The sub-words of identifier s[0..n) (split at '_', case changes, letter/digit boundaries):
 * up to max start offsets and lengths; returns how many there are. */
int index_split_identifier(const char *s, size_t n, size_t *starts, size_t *lens, int max);
/* True if s[0..n) has more than one sub-word (camelCase, snake_case, utf8, ...). */
bool index_is_compound(const char *s, size_t n);
/* The lower-case sub-words of every compound identifier of text, space-separated (malloc'd;
 * "" when there are none, NULL when out of memory). */
char *index_subwords(const char *text);

/* ---- chunk_ts.c ---- */

/* Chunks at definition boundaries when a grammar exists for the language (*handled true);
 * leaves l alone and *handled false otherwise. False only when out of memory. */
bool index_chunk_definitions(chunk_list *l, const line_table *t, const char *language,
                             const index_chunk_params *p, bool *handled);
/* A file's tree-sitter tree within a 2 s budget (the chunker and the symbol pass parse
 * alike); NULL without a grammar, for a pathological file or when out of memory. */
typedef struct TSLanguage TSLanguage;
typedef struct TSTree TSTree;
TSTree *index_ts_parse(const TSLanguage *grammar, const char *text, size_t len);

/* ---- store.c: the SQLite database ---- */

/* 2: FTS5 with the porter stemmer; 3: chunks.hash; 4: whole identifiers and their sub-words,
 * qualified symbols, definition ranges, declarations, a head (doc + signature) column; 5: the
 * symbol graph (refs table, files.rank). An index of an older schema is rebuilt by the next
 * 'hearth index' (its chunks must be cut again). */
#define INDEX_SCHEMA_VERSION 5

typedef struct {
    sqlite3 *db;
    char *dir;   /* <root>/.hearth */
    char id[33]; /* this database's random id (meta index_id; "" in an index older than it) */
    int64_t rebuilt_from; /* an older schema this open replaced with an empty index (or 0) */
} index_store;

/* Checks that dir (index_dir(root)) is a place the index may read and write: a real directory
 * (not a symlink), owned by this user or by the owner of root, whose index files are regular
 * files (none a symlink). So a repository cannot make the indexer write, delete or read outside
 * its index through a planted .hearth. create: make the directory first (mkdir -p) and, once it
 * passed, give it a .gitignore of "*" so an index inside the repository never shows in git status.
 */
bool index_dir_check(const char *root, const char *dir, bool create, char *err, size_t errlen);

/* Opens (creating if needed) <root>/.hearth/index.sqlite; a schema of another version or a
 * corrupt file is an error naming the rebuild path. */
bool index_store_open(index_store *s, const char *root, bool create, char *err, size_t errlen);
void index_store_close(index_store *s);
/* mkdir -p dir. */
bool index_make_dirs(const char *dir, char *err, size_t errlen);
/* Deletes the index files of <root>/.hearth (before a rebuild). */
bool index_store_remove(const char *root, char *err, size_t errlen);

/* Fills err with "what: <SQLite's message>", the system error behind an I/O error and, for a
 * damaged database, the --rebuild hint; false. */
bool index_store_fail(index_store *s, const char *what, char *err, size_t errlen);
bool index_store_exec(index_store *s, const char *sql, char *err, size_t errlen);
/* meta table: NULL if absent (malloc'd otherwise). */
char *index_store_meta_get(index_store *s, const char *key);
bool index_store_meta_set(index_store *s, const char *key, const char *value, char *err,
                          size_t errlen);
int64_t index_store_meta_int(index_store *s, const char *key, int64_t dflt);

typedef struct {
    int64_t id;
    char *path;
    uint64_t hash, size;
    int64_t mtime_ns;
} store_file;

/* All files of the index sorted by path (free with index_store_files_free). */
bool index_store_files(index_store *s, store_file **files, int64_t *n, char *err, size_t errlen);
void index_store_files_free(store_file *files, int64_t n);

/* A file's symbols (symbols.c): the names it uses (identifiers tree-sitter found in it, not
 * the ones it defines) with how many times, and the names it defines with the line naming each
 * and that line (its signature, printable, cut at 100 bytes). */
typedef struct {
    char *name;
    int32_t n;
} index_ref;
typedef struct {
    char *name;
    int32_t line;
    char *sig;
} index_def;
typedef struct {
    index_ref *refs; /* sorted by name */
    int32_t n_refs;
    index_def *defs; /* sorted by line */
    int32_t n_defs;
} index_symbols;

/* Replaces a file's chunks (with their content hashes, index_hash of the text), its symbols
 * (may be NULL) and vectors, if vecs is not NULL: dim floats per chunk, in one transaction. */
bool index_store_put_file(index_store *s, const char *path, uint64_t hash, uint64_t size,
                          int64_t mtime_ns, const char *language, const index_chunk *chunks,
                          const uint64_t *chunk_hashes, int32_t n_chunks,
                          const index_symbols *symbols, const float *vecs, int32_t dim, char *err,
                          size_t errlen);
/* The stored vector of any chunk with this hash and exactly this text (out: dim floats): the
 * vector cache of the index, valid because every stored vector is of the current model id. */
bool index_store_find_vector(index_store *s, uint64_t hash, const char *text, int32_t dim,
                             float *out);
/* Updates only the stat data of an unchanged file (a touch). */
bool index_store_touch_file(index_store *s, int64_t id, int64_t mtime_ns, char *err, size_t errlen);
/* Stores vectors of existing chunks (dim floats each) in one transaction. */
bool index_store_put_vectors(index_store *s, const int64_t *ids, const float *vecs, int32_t n,
                             int32_t dim, char *err, size_t errlen);
/* Deletes a file and its chunks, FTS rows and vectors in one transaction. */
bool index_store_delete_file(index_store *s, int64_t id, char *err, size_t errlen);

/* ---- symbols.c, graph.c, repomap.c: the symbol graph ---- */

/* The symbols of a file (sorted; none for a language without a grammar or a file the parser
 * gives up on). False only when out of memory. */
bool index_file_symbols(const char *language, const char *text, size_t len, index_symbols *out);
void index_symbols_free(index_symbols *s);
/* Inserts a file's symbols (inside the caller's transaction). */
bool index_store_put_symbols(index_store *s, int64_t file_id, const index_symbols *sym);
/* PageRank with damping 0.85 over n nodes and weighted edges from[e] -> to[e] (a node without
 * out-edges spreads its rank evenly): rank[n], summing to 1. */
void index_pagerank(int32_t n, const int32_t *from, const int32_t *to, const double *w,
                    int32_t n_edges, double *rank);
/* Ranks the files of the store (files.rank, mean 1) unless the ranks are of its generation. */
bool index_graph_rank(index_store *s, char *err, size_t errlen);
/* Chunks in BM25 order (lower is better) before fusion. */
typedef struct {
    int64_t *id;
    double *bm25;
    int32_t n, cap;
} index_ranked;
bool index_ranked_add(index_ranked *r, int64_t id, double bm25);
void index_ranked_free(index_ranked *r);
/* Orders each run of equal BM25 scores by the chunks' files' ranks, highest first (stable). */
void index_graph_order_ties(index_store *s, index_ranked *r);
/* Orders each run of hits with equal scores by their files' ranks, highest first (stable). */
void index_graph_break_ties(index_store *s, index_hit *hits, int32_t n);
/* The map of the hits' files (malloc'd, at most max_bytes; 0 = 4096): see index_searcher_map. */
char *index_graph_map(index_store *s, const index_hit *hits, int32_t n_hits, size_t max_bytes);

/* ---- hashing ---- */
uint64_t index_hash(const char *data, size_t len);

/* ---- vectors.c: the FAISS index ---- */

typedef struct index_vectors index_vectors;

/* Vectors from which the FAISS index is an HNSW graph instead of an exact flat scan. The graph is
 * rebuilt from SQLite after every change (FAISS's HNSW cannot delete), which took minutes of CPU
 * at 100k x 384 (bench/RESULTS.md) while a flat scan of 100k stays in the tens of milliseconds:
 * so only very large indexes switch. */
#define INDEX_HNSW_THRESHOLD 500000
/* For tests: build HNSW from n vectors on (0 = the default threshold). */
void index_vectors_set_hnsw_threshold(int64_t n);

/* Builds a searchable index over the stored vectors of the current embedding model. */
index_vectors *index_vectors_from_store(index_store *s, int32_t dim, char *err, size_t errlen);
/* The FAISS file of generation gen: <dir>/vectors.<store id>.<gen>.faiss. The random id, new
 * with every database, fences files of an earlier index (a --rebuild counts generations from 0
 * again): they never carry a current name. */
void index_vectors_path(const index_store *s, int64_t gen, char *buf, size_t n);
/* Loads <dir>/vectors.<gen>.faiss if it matches the store (generation, dimension, no more
 * vectors than the store can hold, a plausible size), else rebuilds from the store (*rebuilt,
 * may be NULL, says which). */
index_vectors *index_vectors_load(index_store *s, int32_t dim, bool *rebuilt, char *err,
                                  size_t errlen);
/* Writes the index as <dir>/vectors.<gen>.faiss atomically and removes older generations. */
bool index_vectors_save(index_vectors *v, index_store *s, char *err, size_t errlen);
void index_vectors_free(index_vectors *v);
int64_t index_vectors_count(const index_vectors *v);
/* Top-k chunk ids by inner product with q[dim]; returns the number found. A flat index is
 * scanned through a resident half-precision copy of its vectors (scan.c), made on the second
 * search; HNSW through FAISS. */
int32_t index_vectors_search(index_vectors *v, const float *q, int32_t k, int64_t *ids,
                             float *scores, char *err, size_t errlen);
/* The store generation the vectors were read at. */
int64_t index_vectors_generation(const index_vectors *v);
int32_t index_vectors_dim(const index_vectors *v);
/* The stored vector of a chunk (for tests of the round trip). */
bool index_vectors_get(const index_vectors *v, int64_t id, float *out, char *err, size_t errlen);

/* ---- scan.c: exact inner products over half-precision vectors ---- */

uint16_t index_f32_to_f16(float f);
float index_f16_to_f32(uint16_t h);
/* out[i] = x[i * dim .. +dim) . q for n rows: the scalar reference, the AVX2 + F16C kernel
 * (dim a multiple of 8; scan_avx2.c) and the one the CPU runs. */
void index_dot_f16_ref(const uint16_t *x, int64_t n, int32_t dim, const float *q, float *out);
void index_dot_f16_avx2(const uint16_t *x, int64_t n, int32_t dim, const float *q, float *out);
void index_dot_f16(const uint16_t *x, int64_t n, int32_t dim, const float *q, float *out);
/* out[i] = x[i] rounded to half precision (nearest even): reference, AVX2 + F16C, dispatch. */
void index_f16_from_f32_ref(const float *x, size_t n, uint16_t *out);
void index_f16_from_f32_avx2(const float *x, size_t n, uint16_t *out);
void index_f16_from_f32(const float *x, size_t n, uint16_t *out);
/* The k best of n scores s[] as row_ids[] and scores, best first; returns min(n, k). */
int32_t index_top_k(const float *s, const int64_t *row_ids, int64_t n, int32_t k, int64_t *ids,
                    float *scores);

/* ---- search.c / searcher.c ---- */

/* True for a query word only code spells (snake_case, camelCase, a letter-digit mix): the
 * symbol boost trusts it fully; a plain word must be rare in the index to lift a chunk. */
bool index_identifier_like(const char *w);
/* Ranks the chunks of an open store for q (BM25, the searcher's nearest vectors, fusion, symbol
 * boost, per-file cap) into hits[0..q->k). have_model: a vector mode is possible. */
bool index_rank(index_store *st, index_searcher *s, const index_query *q, bool have_model,
                index_hit *hits, int32_t *n_hits, char *err, size_t errlen);
/* The limit nearest chunks to the query's embedding: ids and scores, *n of them. */
bool index_searcher_nearest(index_searcher *s, const char *query, int32_t limit, int64_t *ids,
                            float *scores, int32_t *n, char *err, size_t errlen);

/* ---- ask.c ---- */
/* The prompt index_ask evaluates, as tokens for a context of n_ctx (malloc'd, *n of them; sets
 * r->used): the template's markers special tokens, every message's text (excerpts, question,
 * earlier turns) plain text. NULL with a message when nothing fits or on failure. */
int32_t *index_ask_prompt(const engine_model *m, int32_t n_ctx, const index_ask_request *r,
                          int64_t *n, char *err, size_t errlen);

#endif
