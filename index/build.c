/* index_build: bring <root>/.hearth up to date with the tree.
 *
 * The walk and the store's file list are both sorted by path and merged: files only in the store
 * are deleted, files whose size or mtime changed are read, and those whose content hash changed
 * are chunked, embedded (in batches across files, so the engine packs many chunks per forward
 * pass) and written, one transaction per file. The FAISS file is refreshed at the end. A run
 * killed at any point leaves every file old or new; the next run finds the rest by the same
 * comparison. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define GROUP_CHUNKS 64 /* chunks embedded per engine call */
#define GROUP_FILES  32

typedef struct {
    char *path;
    const index_file *file; /* the walk's entry */
    int64_t store_id;       /* 0: new file */
    uint64_t size;
    int64_t mtime_ns;
} work_item;

typedef struct {
    const work_item *item;
    uint64_t hash;
    const char *language;
    index_chunk *chunks;
    uint64_t *chunk_hashes;
    int32_t n_chunks;
    index_symbols symbols; /* the names it defines and uses (the symbol graph) */
} pending;

typedef struct {
    const index_build_params *p;
    char *root_real; /* realpath of p->root: where files may be read from */
    index_build_stats *st;
    index_store store;
    engine_model *emb_model;
    embed_service *emb; /* NULL: no embedding model; p->embed (borrowed) or opened here */
    int32_t dim;
    index_chunk_params chunk;
    index_progress prog;
    struct timespec t0;
    pending group[GROUP_FILES];
    int n_group, group_chunks;
    char *err;
    size_t errlen;
} builder;

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static void report(builder *b, bool final) {
    if (!b->p->progress) return;
    b->prog.elapsed_s = seconds_since(&b->t0);
    b->prog.final = final;
    b->p->progress(&b->prog, b->p->user);
}

static void logf_(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(builder *b, const char *fmt, ...) {
    if (!b->p->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    b->p->log(line, b->p->user);
}

/* Only one build per index at a time; the lock dies with the process (even on SIGKILL). */
static int take_lock(const char *root, char *err, size_t errlen) {
    char path[4096], *dir = index_dir(root);
    if (!dir) {
        snprintf(err, errlen, "index: out of memory");
        return -1;
    }
    bool ok = index_dir_check(root, dir, true, err, errlen);
    snprintf(path, sizeof path, "%s/lock", dir);
    free(dir);
    if (!ok) return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "another 'hearth index' is running on %s", root);
        close(fd);
        return -1;
    }
    return fd;
}

/* Chunks are sized line by line with the embedding tokenizer; embed_prepare tokenizes each new
 * chunk again, with its prompt. The two cannot share tokens: a byte-level BPE or SentencePiece
 * tokenizer's tokens of a text are not its lines' tokens (newlines are tokens, runs like "}\n\n"
 * merge across lines, each text gets its own leading space), and only the chunk's own tokens
 * give the vector every other entry point gives that text (tests/test_index_tokens.c). The
 * sizing count allocates nothing and costs about 0.1 us per byte, a small fraction of a
 * percent of embedding the same text. */
static int32_t count_tokens(const char *text, size_t len, void *user) {
    return embed_count_tokens(user, text, len);
}

/* Records the model in the store; a different model id than before makes every stored vector
 * useless: they are dropped and recomputed. */
static bool record_model(builder *b, const char *path) {
    const char *id = embed_model_id(b->emb);
    char *old = index_store_meta_get(&b->store, "embed_id");
    bool same = old && !strcmp(old, id);
    free(old);
    if (same) return true;
    char dim[32];
    snprintf(dim, sizeof dim, "%d", b->dim);
    bool ok = index_store_exec(&b->store, "BEGIN IMMEDIATE", b->err, b->errlen);
    ok = ok && index_store_exec(&b->store, "DELETE FROM vectors", b->err, b->errlen) &&
         index_store_meta_set(&b->store, "embed_model", path, b->err, b->errlen) &&
         index_store_meta_set(&b->store, "embed_id", id, b->err, b->errlen) &&
         index_store_meta_set(&b->store, "embed_dim", dim, b->err, b->errlen);
    if (ok) return index_store_exec(&b->store, "COMMIT", b->err, b->errlen);
    sqlite3_exec(b->store.db, "ROLLBACK", NULL, NULL, NULL);
    return false;
}

/* The embedding model: the one asked for, else the one the index was built with. Chunks are
 * sized by its tokenizer to fit with the document prompt and special tokens. */
static bool setup_embedder(builder *b) {
    char *recorded = index_store_meta_get(&b->store, "embed_model");
    const char *path = b->p->embed_model ? b->p->embed_model : recorded;
    bool ok = true;
    if (b->p->embed && !path) {
        ok = !snprintf(b->err, b->errlen,
                       "index: an embedding service was given without embed_model (the file "
                       "recorded as the index's model)");
    } else if (path) {
        b->emb = b->p->embed
                     ? b->p->embed
                     : index_embed_open(path, b->p->n_threads, &b->emb_model, b->err, b->errlen);
        ok = b->emb != NULL;
        b->dim = ok ? embed_dim(b->emb) : 0;
        ok = ok && record_model(b, path);
    }
    free(recorded);
    if (ok && b->emb) {
        int32_t cap = embed_max_tokens(b->emb) - embed_overhead_tokens(b->emb, EMBED_DOCUMENT) - 4;
        if (b->chunk.max_tokens > cap) b->chunk.max_tokens = cap > 16 ? cap : 16;
        if (b->chunk.overlap_tokens >= b->chunk.max_tokens)
            b->chunk.overlap_tokens = b->chunk.max_tokens / 4;
        b->chunk.count = count_tokens;
        b->chunk.count_user = b->emb;
    }
    return ok;
}

static void pending_clear(builder *b) {
    for (int i = 0; i < b->n_group; i++) {
        index_chunks_free(b->group[i].chunks, b->group[i].n_chunks);
        free(b->group[i].chunk_hashes);
        index_symbols_free(&b->group[i].symbols);
    }
    b->n_group = b->group_chunks = 0;
}

/* Embeds documents through the service (prepared one by one, run as one batch) into
 * vecs[dim * at[i]]; counts the tokens. */
static bool embed_texts(builder *b, const char *const *texts, const int32_t *at, int32_t n,
                        float *vecs) {
    embed_item *items = calloc((size_t)n + 1, sizeof *items);
    float *out = NULL;
    bool ok = items != NULL;
    if (!ok) snprintf(b->err, b->errlen, "embedding: out of memory");
    for (int32_t i = 0; ok && i < n; i++) {
        const char *t = texts[i];
        ok = embed_prepare(b->emb, EMBED_DOCUMENT, t, strlen(t), &items[i], b->err, b->errlen);
        b->st->tokens_embedded += items[i].n_ids;
        b->prog.tokens += items[i].n_ids;
    }
    ok = ok && embed_run(b->emb, items, n, &out, NULL, b->err, b->errlen);
    for (int32_t i = 0; ok && i < n; i++)
        memcpy(vecs + (size_t)at[i] * (size_t)b->dim, out + (size_t)i * (size_t)b->dim,
               (size_t)b->dim * sizeof *out);
    for (int32_t i = 0; items && i < n; i++) embed_item_clear(&items[i]);
    free(items);
    free(out);
    return ok;
}

/* Vectors of the group's chunks: a chunk whose text the store already holds (same hash, same
 * text, and every stored vector is of the current model id) keeps that vector; the others are
 * embedded in one batch. */
static bool group_vectors(builder *b, float *vecs) {
    const char **texts = malloc((size_t)b->group_chunks * sizeof *texts);
    int32_t *at = malloc((size_t)b->group_chunks * sizeof *at), n = 0, k = 0;
    bool ok = texts && at;
    if (!ok) snprintf(b->err, b->errlen, "embedding: out of memory");
    for (int i = 0; ok && i < b->n_group; i++)
        for (int32_t j = 0; j < b->group[i].n_chunks; j++, k++) {
            const pending *g = &b->group[i];
            if (index_store_find_vector(&b->store, g->chunk_hashes[j], g->chunks[j].text, b->dim,
                                        vecs + (size_t)k * (size_t)b->dim)) {
                b->st->vectors_reused++;
                continue;
            }
            texts[n] = g->chunks[j].text;
            at[n++] = k;
        }
    ok = ok && (n == 0 || embed_texts(b, texts, at, n, vecs));
    free(texts);
    free(at);
    return ok;
}

/* Embeds the group's chunks and writes each file in its own transaction. */
static bool group_flush(builder *b) {
    float *vecs = NULL;
    bool ok = true;
    if (b->emb && b->group_chunks) {
        vecs = malloc((size_t)b->group_chunks * (size_t)b->dim * sizeof *vecs);
        ok = vecs != NULL || !snprintf(b->err, b->errlen, "embedding: out of memory");
        ok = ok && group_vectors(b, vecs);
    }
    size_t off = 0;
    for (int i = 0; ok && i < b->n_group; i++) {
        const pending *g = &b->group[i];
        ok = index_store_put_file(
            &b->store, g->item->path, g->hash, g->item->size, g->item->mtime_ns, g->language,
            g->chunks, g->chunk_hashes, g->n_chunks, &g->symbols,
            vecs ? vecs + off * (size_t)b->dim : NULL, b->dim, b->err, b->errlen);
        off += (size_t)g->n_chunks;
        b->st->chunks_written += g->n_chunks;
        b->st->vectors_written += vecs ? g->n_chunks : 0;
        b->prog.chunks += g->n_chunks;
        *(g->item->store_id ? &b->st->changed : &b->st->added) += 1;
    }
    free(vecs);
    pending_clear(b);
    report(b, false);
    return ok;
}

/* A stopped run is like a killed one: every file written so far is complete. */
static bool stop_requested(builder *b) {
    if (!b->p->cancelled || !b->p->cancelled(b->p->user)) return false;
    snprintf(b->err, b->errlen, "cancelled");
    return true;
}

static bool forget(builder *b, const work_item *w) {
    if (!w->store_id) return true;
    b->st->deleted++;
    return index_store_delete_file(&b->store, w->store_id, b->err, b->errlen);
}

/* Reads, classifies and chunks one added or changed file into the group. */
static bool process(builder *b, const work_item *w, const store_file *old) {
    size_t len = 0;
    bool outside = false;
    char *text = index_read_walked(
        b->p->root, b->root_real, w->file,
        b->p->max_file_bytes ? b->p->max_file_bytes : INDEX_MAX_FILE_BYTES, &len, &outside);
    b->prog.files_done++;
    b->prog.bytes_done += w->size;
    if (!text) {
        index_skips_add(&b->st->skips, outside ? INDEX_SKIP_SYMLINK : INDEX_SKIP_UNREADABLE,
                        w->path);
        return forget(b, w);
    }
    uint64_t hash = index_hash(text, len);
    if (old && old->hash == hash && old->size == len) { /* touched, not changed */
        free(text);
        b->st->unchanged++;
        return index_store_touch_file(&b->store, old->id, w->mtime_ns, b->err, b->errlen);
    }
    index_skip_kind kind = index_classify_content(w->path, text, len);
    if (kind != INDEX_SKIP_KINDS) {
        free(text);
        index_skips_add(&b->st->skips, kind, w->path);
        return forget(b, w);
    }
    index_utf8_sanitize(text, len);
    pending *g = &b->group[b->n_group];
    *g = (pending){w, hash, index_language(w->path), NULL, NULL, 0, {0}};
    bool ok = index_chunk_text(g->language, text, len, &b->chunk, &g->chunks, &g->n_chunks, b->err,
                               b->errlen);
    if (ok && !index_file_symbols(g->language, text, len, &g->symbols))
        ok = !snprintf(b->err, b->errlen, "index: out of memory");
    free(text);
    if (ok) g->chunk_hashes = malloc(((size_t)g->n_chunks + 1) * sizeof *g->chunk_hashes);
    if (ok && !g->chunk_hashes) ok = !snprintf(b->err, b->errlen, "index: out of memory");
    for (int32_t j = 0; ok && j < g->n_chunks; j++)
        g->chunk_hashes[j] = index_hash(g->chunks[j].text, strlen(g->chunks[j].text));
    if (!ok) {
        index_chunks_free(g->chunks, g->n_chunks);
        free(g->chunk_hashes);
        index_symbols_free(&g->symbols);
        return false;
    }
    b->n_group++;
    b->group_chunks += g->n_chunks;
    if (b->n_group == GROUP_FILES || b->group_chunks >= GROUP_CHUNKS) return group_flush(b);
    return true;
}

/* Merges the sorted walk with the sorted store: what to delete, what to read. */
static bool sync_files(builder *b, index_file *walk, int64_t n_walk, store_file *old,
                       int64_t n_old) {
    work_item *todo = malloc(((size_t)n_walk + 1) * sizeof *todo);
    const store_file **olds = malloc(((size_t)n_walk + 1) * sizeof *olds);
    int64_t n_todo = 0, i = 0, j = 0;
    bool ok = todo && olds;
    if (!ok) snprintf(b->err, b->errlen, "index: out of memory");
    while (ok && (i < n_walk || j < n_old)) {
        int c = i == n_walk ? 1 : j == n_old ? -1 : strcmp(walk[i].path, old[j].path);
        if (c > 0) { /* gone from the tree (or now ignored/skipped) */
            b->st->deleted++;
            ok = index_store_delete_file(&b->store, old[j++].id, b->err, b->errlen);
            continue;
        }
        const store_file *o = c == 0 ? &old[j++] : NULL;
        index_file *f = &walk[i++];
        if (o && o->size == f->size && o->mtime_ns == f->mtime_ns) {
            b->st->unchanged++;
            continue;
        }
        olds[n_todo] = o;
        todo[n_todo++] = (work_item){f->path, f, o ? o->id : 0, f->size, f->mtime_ns};
        b->prog.bytes_total += f->size;
    }
    b->prog.files_total = n_todo;
    report(b, false);
    for (int64_t k = 0; ok && k < n_todo; k++)
        ok = !stop_requested(b) && process(b, &todo[k], olds[k]);
    if (ok && b->n_group) ok = group_flush(b);
    pending_clear(b);
    free(todo);
    free(olds);
    return ok;
}

static bool put_missing(builder *b, const int64_t *ids, char **texts, int n) {
    float *vecs = malloc((size_t)n * (size_t)b->dim * sizeof *vecs);
    int32_t at[64];
    for (int i = 0; i < n && i < 64; i++) at[i] = i;
    bool ok = vecs != NULL && n <= 64;
    if (!ok) snprintf(b->err, b->errlen, "embedding: out of memory");
    ok = ok && embed_texts(b, (const char *const *)texts, at, n, vecs);
    ok = ok && index_store_put_vectors(&b->store, ids, vecs, n, b->dim, b->err, b->errlen);
    b->st->vectors_written += ok ? n : 0;
    free(vecs);
    return ok;
}

static int64_t count_missing(index_store *s) {
    sqlite3_stmt *st;
    int64_t n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*) FROM chunks WHERE id NOT IN "
                           "(SELECT chunk_id FROM vectors)",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Chunks without vectors (the model changed, or was given for the first time) get them now. */
static bool embed_missing(builder *b) {
    enum { BATCH = 64 };
    b->prog.embed_total = count_missing(&b->store);
    b->prog.embed_done = 0;
    if (b->prog.embed_total) report(b, false);
    for (;;) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(b->store.db,
                               "SELECT id, text FROM chunks WHERE id NOT IN "
                               "(SELECT chunk_id FROM vectors) ORDER BY id LIMIT 64",
                               -1, &st, NULL) != SQLITE_OK)
            return index_store_fail(&b->store, "index database", b->err, b->errlen);
        int64_t ids[BATCH];
        char *texts[BATCH];
        int n = 0;
        while (n < BATCH && sqlite3_step(st) == SQLITE_ROW) {
            ids[n] = sqlite3_column_int64(st, 0);
            const char *t = (const char *)sqlite3_column_text(st, 1);
            texts[n] = strdup(t ? t : "");
            n += texts[n] != NULL;
        }
        sqlite3_finalize(st);
        bool ok = n == 0 || (!stop_requested(b) && put_missing(b, ids, texts, n));
        for (int i = 0; i < n; i++) free(texts[i]);
        b->prog.embed_done += ok ? n : 0;
        if (ok && n) report(b, false);
        if (!ok || n == 0) return ok;
    }
}

/* The FAISS file of the store's current generation, unless it exists already. */
static bool refresh_vectors(builder *b) {
    char path[4096];
    struct stat st;
    index_vectors_path(&b->store, index_store_meta_int(&b->store, "generation", 0), path,
                       sizeof path);
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) return true;
    index_vectors *v = index_vectors_from_store(&b->store, b->dim, b->err, b->errlen);
    bool ok = v && index_vectors_save(v, &b->store, b->err, b->errlen);
    index_vectors_free(v);
    return ok;
}

static void log_skips(builder *b) {
    for (int k = 0; k < INDEX_SKIP_KINDS; k++)
        if (b->st->skips.count[k])
            logf_(b, "skipped %lld path%s: %s (e.g. %s)", (long long)b->st->skips.count[k],
                  b->st->skips.count[k] == 1 ? "" : "s", index_skip_kind_name((index_skip_kind)k),
                  b->st->skips.example[k] ? b->st->skips.example[k] : "?");
}

static bool run(builder *b) {
    index_file *walk = NULL;
    store_file *old = NULL;
    int64_t n_walk = 0, n_old = 0;
    bool ok = setup_embedder(b) &&
              index_walk(b->p->root, b->p->max_file_bytes, &walk, &n_walk, &b->st->skips, b->err,
                         b->errlen) &&
              index_store_files(&b->store, &old, &n_old, b->err, b->errlen);
    ok = ok && sync_files(b, walk, n_walk, old, n_old);
    if (ok && b->emb) ok = embed_missing(b) && refresh_vectors(b);
    ok = ok && index_graph_rank(&b->store, b->err, b->errlen);
    index_files_free(walk, n_walk);
    index_store_files_free(old, n_old);
    return ok;
}

static int64_t count_files(index_store *s) {
    sqlite3_stmt *st;
    int64_t n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM files", -1, &st, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

bool index_build(const index_build_params *p, index_build_stats *stats, char *err, size_t errlen) {
    memset(stats, 0, sizeof *stats);
    builder *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "index: out of memory");
        return false;
    }
    /* --rebuild keeps the index's settings: the embedding model it was built with */
    index_build_params keep = *p;
    char *kept_model =
        p->rebuild && !p->embed_model && !p->embed ? index_embed_model(p->root) : NULL;
    if (kept_model) keep.embed_model = kept_model;
    p = &keep;
    *b = (builder){.p = p, .st = stats, .err = err, .errlen = errlen};
    clock_gettime(CLOCK_MONOTONIC, &b->t0);
    index_chunk_params_fill(&p->chunk, &b->chunk);
    int lock = take_lock(p->root, err, errlen);
    bool ok = lock >= 0 && (!p->rebuild || index_store_remove(p->root, err, errlen)) &&
              index_store_open(&b->store, p->root, true, err, errlen);
    if (ok && !(b->root_real = realpath(p->root, NULL)))
        ok = !snprintf(err, errlen, "%s: %s", p->root, strerror(errno));
    if (ok && b->store.rebuilt_from) {
        char line[160];
        snprintf(line, sizeof line, "the index had schema %lld, this hearth writes %d: rebuilt",
                 (long long)b->store.rebuilt_from, INDEX_SCHEMA_VERSION);
        if (p->log) p->log(line, p->user);
    }
    if (ok) ok = run(b);
    if (ok) stats->files_indexed = count_files(&b->store);
    log_skips(b);
    if (ok) report(b, true);
    stats->seconds = seconds_since(&b->t0);
    pending_clear(b);
    if (b->emb != p->embed) embed_free(b->emb); /* a borrowed service stays the caller's */
    engine_model_free(b->emb_model);
    index_store_close(&b->store);
    if (lock >= 0) close(lock);
    free(b->root_real);
    free(kept_model);
    free(b);
    return ok;
}

void index_build_stats_free(index_build_stats *s) {
    index_skips_free(&s->skips);
}

char *index_find_root(const char *start, char *err, size_t errlen) {
    char *dir = realpath(start, NULL);
    if (!dir) {
        snprintf(err, errlen, "%s: %s", start, strerror(errno));
        return NULL;
    }
    for (int m = 0; m < 2; m++) {
        char path[4096];
        size_t n = strlen(dir);
        while (n > 0) {
            char c = dir[n], *ix = NULL;
            dir[n] = 0; /* the ancestor dir[0..n) */
            if (m == 0 && (ix = index_dir(dir)))
                snprintf(path, sizeof path, "%s/index.sqlite", ix);
            else
                snprintf(path, sizeof path, "%s/.git", dir);
            free(ix);
            dir[n] = c;
            if (access(path, F_OK) == 0) {
                dir[n] = 0;
                return dir;
            }
            while (n > 0 && dir[n - 1] != '/') n--;
            if (n > 0) n--; /* drop the '/' too */
        }
    }
    return dir;
}
