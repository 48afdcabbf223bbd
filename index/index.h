/* index: hearth's repository index. This header is the only door into index/.
 *
 * A repository's index lives in <root>/.hearth/ (or the XDG cache dir: index_set_location):
 * index.sqlite (WAL; files, chunks, an FTS5 table,
 * stored vectors, settings) and vectors.<generation>.faiss (the searchable vector index, always
 * rebuildable from SQLite). index_build walks the tree (honouring .gitignore / .hearthignore),
 * chunks added or changed files, embeds the chunks with an embedding model if one is given and
 * writes each file in one transaction; index_search answers lexical (BM25), vector or hybrid
 * (reciprocal rank fusion) queries.
 *
 * Every function that can fail returns false/NULL and writes a one-line reason into the caller's
 * err buffer; nothing here prints. Repository content is hostile input: sizes, encodings and
 * ignore files are checked, never trusted. */
#ifndef HEARTH_INDEX_H
#define HEARTH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "embed.h"
#include "engine.h"

#define INDEX_ERR_LEN 512
#define INDEX_DIR     ".hearth"

/* ---- where the index lives ---- */

/* "repo": <root>/.hearth (the default); "cache": $XDG_CACHE_HOME/hearth/index/<name>-<hash of
 * the root's path> (~/.cache without XDG_CACHE_HOME), for repositories that must stay clean.
 * NULL: the HEARTH_INDEX_LOCATION environment variable decides (repo when unset). Process-wide;
 * false for any other value. */
bool index_set_location(const char *where);
/* The index directory of a repository root (malloc'd; NULL if out of memory). */
char *index_dir(const char *root);

/* ---- ignore rules (gitignore syntax) ---- */

typedef struct index_ignore index_ignore;

/* Compiles the rules of one ignore file (text need not be NUL-terminated). Never fails on bad
 * lines: they are skipped. Returns NULL only when out of memory. */
index_ignore *index_ignore_parse(const char *text, size_t len);
void index_ignore_free(index_ignore *ig);
/* The verdict of the last rule matching rel (a '/'-separated path relative to the ignore file's
 * directory): 1 ignored, -1 re-included by a '!' rule, 0 no rule matched. */
int index_ignore_match(const index_ignore *ig, const char *rel, bool is_dir);

/* ---- walking ---- */

/* Why a file was left out; the build logs one line per kind that occurred. */
typedef enum {
    INDEX_SKIP_IGNORED,    /* .gitignore / .hearthignore / .git/info/exclude */
    INDEX_SKIP_VENDORED,   /* node_modules/, vendor/, third_party/, ... (re-include with '!') */
    INDEX_SKIP_GENERATED,  /* lock files, *.pb.*, "@generated" / "DO NOT EDIT" markers */
    INDEX_SKIP_MINIFIED,   /* *.min.js or very long lines */
    INDEX_SKIP_BINARY,     /* NUL bytes or mostly invalid UTF-8 */
    INDEX_SKIP_TOO_LARGE,  /* over max_file_bytes */
    INDEX_SKIP_SYMLINK,    /* symlink loops, broken links, links leaving the repository */
    INDEX_SKIP_SPECIAL,    /* fifos, sockets, devices */
    INDEX_SKIP_UNREADABLE, /* permission denied, I/O errors */
    INDEX_SKIP_KINDS
} index_skip_kind;

const char *index_skip_kind_name(index_skip_kind k);

typedef struct {
    char *path; /* relative to the root, '/'-separated */
    uint64_t size;
    int64_t mtime_ns;
    uint64_t dev, ino; /* what the walk saw there (a followed link's target): the build reads it */
} index_file;

typedef struct {
    int64_t count[INDEX_SKIP_KINDS];
    char *example[INDEX_SKIP_KINDS]; /* the first path skipped for each kind (owned) */
} index_skips;

void index_skips_add(index_skips *s, index_skip_kind k, const char *path);
void index_skips_free(index_skips *s);

/* Lists the indexable files under root (sorted by path) into *files (free with
 * index_files_free). max_file_bytes: larger files are skipped (0 = INDEX_MAX_FILE_BYTES). */
#define INDEX_MAX_FILE_BYTES (1u << 20)
bool index_walk(const char *root, uint64_t max_file_bytes, index_file **files, int64_t *n_files,
                index_skips *skips, char *err, size_t errlen);
void index_files_free(index_file *files, int64_t n);

/* Content checks of a file the walker listed: INDEX_SKIP_KINDS when it should be indexed. */
index_skip_kind index_classify_content(const char *path, const char *text, size_t len);
/* Replaces invalid UTF-8 bytes with '?' in place (so SQLite and tokenizers see valid text). */
void index_utf8_sanitize(char *text, size_t len);
/* The language name recognised from a file name ("c", "python", ...), or "text". */
const char *index_language(const char *path);

/* ---- chunking ---- */

typedef struct {
    int32_t start_line, end_line; /* 1-based, inclusive */
    /* What the chunk defines, qualified by its enclosing scopes ("Class.method", "ns::f"); a
     * window of a split class carries the class's. NULL for code outside definitions. */
    char *symbol;
    char *text; /* the lines start..end */
    char *name; /* the bare defined name ("method"), NULL when none */
    /* The whole definition the chunk belongs to (a definition over the budget is split into
     * several chunks that share this range); 0 when outside definitions. */
    int32_t def_start, def_end;
    int32_t head_lines; /* leading lines holding the doc comment and signature (0: none) */
    bool declaration;   /* a C/C++ prototype (with its doc comment) or a TypeScript signature */
} index_chunk;

/* Counts the tokens of text[0..len) for chunk sizing (an estimate when no model is at hand). */
typedef int32_t (*index_count_fn)(const char *text, size_t len, void *user);

typedef struct {
    int32_t max_tokens;     /* a chunk's budget; 0 = 320 */
    int32_t overlap_tokens; /* tokens repeated between consecutive windows; 0 = 40 */
    int32_t max_lines;      /* 0 = 120 */
    index_count_fn count;   /* NULL = index_count_estimate */
    void *count_user;
} index_chunk_params;

/* A model-free token estimate close to a code model's BPE: about one token per 5 bytes of a
 * word and per 2 bytes of a run of punctuation; indentation is free. */
int32_t index_count_estimate(const char *text, size_t len, void *user);
/* Splits text into chunks: at definition boundaries where a tree-sitter grammar for the language
 * exists (then symbol is set), otherwise in line windows overlapping by <= overlap_tokens. */
bool index_chunk_text(const char *language, const char *text, size_t len,
                      const index_chunk_params *p, index_chunk **chunks, int32_t *n_chunks,
                      char *err, size_t errlen);
/* Line windows only (the fallback of index_chunk_text). */
bool index_chunk_lines(const char *text, size_t len, const index_chunk_params *p,
                       index_chunk **chunks, int32_t *n_chunks, char *err, size_t errlen);
void index_chunks_free(index_chunk *chunks, int32_t n);

/* ---- building ---- */

typedef struct {
    int64_t files_total, files_done; /* files to (re)process in this run */
    int64_t chunks, tokens;          /* chunks written, tokens embedded so far */
    uint64_t bytes_total, bytes_done;
    /* the phase after the files: chunks stored without vectors (a model given for the first
     * time, or changed) being embedded */
    int64_t embed_total, embed_done;
    double elapsed_s;
    bool final; /* the last call of a run */
} index_progress;

typedef void (*index_progress_fn)(const index_progress *p, void *user);
typedef void (*index_log_fn)(const char *line, void *user);

typedef struct {
    const char *root;        /* the repository; the index goes to index_dir(root) */
    const char *embed_model; /* GGUF embedding model; NULL = the one the index was built with */
    /* An open embedding service over that model (borrowed: it must outlive the call), for a
     * caller that already holds the model (the LSP through its model registry): the build then
     * loads nothing. Open it with index_embed_new(model, embed_model, ...) so its model id is
     * the one a build that opens the file itself records; embed_model must name the file (it
     * is recorded as the index's model). NULL = the build opens embed_model itself. */
    embed_service *embed;
    bool rebuild;             /* delete the index first (schema mismatch, corruption) */
    uint64_t max_file_bytes;  /* 0 = INDEX_MAX_FILE_BYTES */
    index_chunk_params chunk; /* zero = defaults (the count function is chosen by the build) */
    int32_t n_threads;        /* engine threads; 0 = physical cores */
    index_progress_fn progress;
    index_log_fn log;
    bool (*cancelled)(void *user); /* polled between files; true stops the run (err "cancelled") */
    void *user;
} index_build_params;

typedef struct {
    int64_t files_indexed;           /* files in the index after the run */
    int64_t added, changed, deleted; /* files (re)processed */
    int64_t unchanged;               /* files left alone */
    int64_t chunks_written, vectors_written;
    int64_t vectors_reused; /* of vectors_written: unchanged chunk text, the stored vector kept */
    int64_t tokens_embedded;
    index_skips skips; /* freed by index_build_stats_free */
    double seconds;
} index_build_stats;

/* Brings <root>/.hearth/ up to date with the tree: only added, changed and deleted files are
 * processed; each file's rows are written in one transaction; the FAISS file is written to a
 * temporary path and renamed. Killing the process at any point leaves a consistent index that
 * the next run completes. */
bool index_build(const index_build_params *p, index_build_stats *stats, char *err, size_t errlen);
void index_build_stats_free(index_build_stats *s);

/* The directory holding the index for a path: the nearest ancestor of start (itself included)
 * with a .hearth/ index, else with a .git, else start. malloc'd. */
char *index_find_root(const char *start, char *err, size_t errlen);

/* ---- searching ---- */

typedef enum {
    INDEX_MODE_AUTO = 0, /* hybrid when the index has vectors, else lexical */
    INDEX_MODE_HYBRID,
    INDEX_MODE_LEXICAL,
    INDEX_MODE_VECTOR
} index_mode;

typedef struct {
    const char *root;
    const char *query;
    int32_t k; /* hits wanted; 0 = 10 */
    index_mode mode;
    int32_t max_per_file;    /* 0 = 3 */
    const char *embed_model; /* NULL = the index's own */
    int32_t n_threads;
    /* An open embedding service to embed the query with (borrowed; long-lived callers keep one
     * instead of loading the model per query, see index_embed_open). NULL = open embed_model (or
     * the index's own) for this call. Its model id must be the one the index was built with. */
    embed_service *embed;
} index_search_params;

typedef struct {
    char *path; /* relative to the root */
    int32_t start_line, end_line;
    char *symbol; /* NULL if none */
    char *language;
    char *text;
    double score; /* fused reciprocal-rank score (higher is better) */
} index_hit;

/* One query: opens the index, searches, closes it (index_searcher_open + _search + _close).
 * Fine for a one-shot CLI call; a long-lived caller keeps an index_searcher instead, which reads
 * the FAISS file and loads the embedding model once instead of on every query. */
bool index_search(const index_search_params *p, index_hit **hits, int32_t *n_hits, char *err,
                  size_t errlen);
void index_hits_free(index_hit *hits, int32_t n);
/* A hit as JSON (a jansson json_t, the caller's reference; NULL when out of memory):
 * {"rank", "path", "start_line", "end_line", "symbol" (null when none), "score"}; a path that
 * is not UTF-8 is {"bytes": base64}. What `hearth search --json` prints and /v1/search returns. */
struct json_t *index_hit_json(const index_hit *h, int rank);

/* ---- a long-lived searcher ---- */

/* An open index for many queries: the SQLite connection, the vector index (read from the FAISS
 * file, or rebuilt from SQLite when that file is missing, stale or unreadable, on the first
 * vector query) and the embedding service stay in memory between queries. Before each query it
 * checks, for about a microsecond, whether the index changed under it: a new store generation
 * (any file re-indexed) reloads the vectors on the next vector query; a replaced database file
 * (hearth index --rebuild) reopens the store; a new embedding model recorded by a re-index
 * reopens the service it opened itself (a borrowed one must then match, else the query fails
 * naming the model). Nothing is reloaded while the index is unchanged.
 *
 * Use from a long-lived caller (the LSP, hearth serve):
 *     index_searcher_params sp = {.root = root, .embed = service_or_NULL};
 *     index_searcher *s = index_searcher_open(&sp, err, sizeof err);   // once
 *     index_searcher_search(s, &(index_query){.query = q, .k = 8}, &hits, &n, err, sizeof err);
 *     ... index_hits_free(hits, n); ... more queries, from any thread ...
 *     index_searcher_close(s);                                          // at shutdown
 * Searches on one searcher are serialised by its mutex (a query takes milliseconds); open one
 * searcher per index root. index_build may run concurrently in the same or another process:
 * a query sees the index as of the last committed file. */
typedef struct index_searcher index_searcher;

typedef struct {
    const char *root;        /* the repository (copied) */
    const char *embed_model; /* NULL = the one the index was built with (copied) */
    /* Borrowed embedding service for queries (must outlive the searcher): see
     * index_search_params.embed. NULL = the searcher opens the model on its first vector query
     * and keeps it until index_searcher_close. */
    embed_service *embed;
    int32_t n_threads; /* engine threads of a service the searcher opens; 0 = physical cores */
} index_searcher_params;

typedef struct {
    const char *query;
    int32_t k; /* hits wanted; 0 = 10 */
    index_mode mode;
    int32_t max_per_file; /* 0 = 3 */
} index_query;

/* What a searcher has done (for tests, benchmarks and debug reports). */
typedef struct {
    int64_t queries;
    int64_t store_opens;     /* 1 + reopens after the database file was replaced */
    int64_t vector_loads;    /* vector index reads (FAISS file or rebuilt from SQLite) */
    int64_t vector_rebuilds; /* of vector_loads: rebuilt from SQLite (no usable FAISS file) */
    int64_t embed_opens;     /* embedding models the searcher loaded itself */
    int64_t generation;      /* the store generation the last query saw */
    int64_t vectors;         /* vectors in memory (0 before the first vector query) */
} index_searcher_stats;

/* Opens the index of p->root (which must exist: "run 'hearth index' first" otherwise). */
index_searcher *index_searcher_open(const index_searcher_params *p, char *err, size_t errlen);
/* Answers q as index_search would; *hits is malloc'd (index_hits_free). Thread-safe. */
bool index_searcher_search(index_searcher *s, const index_query *q, index_hit **hits,
                           int32_t *n_hits, char *err, size_t errlen);
index_searcher_stats index_searcher_get_stats(index_searcher *s);
/* A compact map of the files hits come from, for a chat model beside the excerpts (malloc'd,
 * at most max_bytes, 0 = 4096; "" when the files define nothing): each retrieved file, then the
 * files their code uses most (the symbol graph: references found by tree-sitter, files ranked
 * by PageRank over them), as "path:" and one line per definition ("  line  signature"), the
 * definitions in the hits and then those other files use most when there are many. Whole files
 * only. Thread-safe. */
char *index_searcher_map(index_searcher *s, const index_hit *hits, int32_t n_hits, size_t max_bytes,
                         char *err, size_t errlen);
/* The same map for a one-shot caller (opens the index of root, maps, closes it). */
char *index_repo_map(const char *root, const index_hit *hits, int32_t n_hits, size_t max_bytes,
                     char *err, size_t errlen);
/* Frees everything the searcher opened (not a borrowed service). NULL is fine. */
void index_searcher_close(index_searcher *s);

/* ---- the embedding model ---- */

/* Loads an embedding model and opens the service the index embeds with (the model id names the
 * file by its base name, so every opener of one file gets the same id). *model receives the
 * loaded model: free it with engine_model_free after embed_free. */
/* The service the index embeds with over an already-loaded model (borrowed: it must outlive the
 * service), named after model_path's file as index_embed_open names it, so both give the same
 * model id. */
embed_service *index_embed_new(engine_model *model, const char *model_path, int32_t n_threads,
                               char *err, size_t errlen);
embed_service *index_embed_open(const char *model_path, int32_t n_threads, engine_model **model,
                                char *err, size_t errlen);
/* The embedding model a repository's index was built with (malloc'd), or NULL when it has none
 * (or no index). */
char *index_embed_model(const char *root);

/* ---- asking ---- */

typedef struct {
    const char *question;
    const index_hit *hits; /* best first (index_search's order) */
    int32_t n_hits;
    /* The repository map of the hits' files (index_searcher_map), shown before the excerpts
     * when it takes at most a quarter of their budget; NULL = none. */
    const char *map;
    bool *used; /* out: n_hits flags, the hits that went into the prompt (the sources) */
    int32_t n_predict;
    engine_sampler_params sampling;
    engine_emit_fn emit; /* receives the answer as it is generated */
    void *user;
    /* Earlier turns (user question, assistant answer, ...; oldest first) for a conversation:
     * the newest that fit in half the excerpt budget go into the prompt, without excerpts. */
    const engine_chat_message *history;
    int32_t n_history;
    /* Called once the prompt is built, before it is evaluated (NULL = not told): how many
     * excerpts went in and the prompt's length in tokens, for saying what is going on. */
    void (*on_prompt)(int32_t n_excerpts, int64_t n_prompt_tokens, void *user);
    engine_gen_stats *stats; /* out, when not NULL: the generation's timings */
} index_ask_request;

/* The system prompt of an ask (local or remote chat model). */
#define INDEX_ASK_SYSTEM                                                                           \
    "You answer questions about a code repository using only the excerpts below. Name the files "  \
    "you rely on as path:start-end. If the excerpts do not answer the question, say so."

/* The user message of an ask (malloc'd; NULL when out of memory): the repository map (may be
 * NULL) when it takes at most a quarter of budget tokens, as many excerpts as fit in the rest,
 * best first (used[i] marks them), then the question; special-token text in the map and the
 * excerpts is defused. m counts tokens exactly; NULL estimates them (a remote chat model). */
char *index_ask_message(const engine_model *m, const char *question, const char *map,
                        const index_hit *hits, int32_t n_hits, int64_t budget, bool *used);

/* Answers a question from retrieved hits with a chat model: as many hits as the context c leaves
 * room for (after n_predict answer tokens, the question and the template) go into the prompt,
 * best first, and the answer streams through emit. Fails with a message naming the budget when
 * the context cannot hold any excerpt. */
bool index_ask(const engine_model *m, engine_ctx *c, const index_ask_request *r, char *err,
               size_t errlen);

#endif
