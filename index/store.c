/* The SQLite store: <root>/.hearth/index.sqlite in WAL mode. Everything the index knows lives
 * here (files, chunks, the FTS5 table, vectors, settings); the FAISS file is derived from it.
 * Each file's rows change in one transaction, so a crash leaves every file either old or new.
 *
 * The FTS5 table is an external-content table over chunks (the text is stored once); its rows
 * are added and deleted in the same transactions as the chunks they index. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base.h"
#include "internal.h"

static const char SCHEMA[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, hash INTEGER NOT NULL,"
    " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, language TEXT NOT NULL,"
    " rank REAL NOT NULL DEFAULT 0);"
    "CREATE TABLE chunks(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, path TEXT NOT NULL,"
    " start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, language TEXT NOT NULL,"
    " symbol TEXT, text TEXT NOT NULL, hash INTEGER, name TEXT,"
    " def_start INTEGER NOT NULL DEFAULT 0, def_end INTEGER NOT NULL DEFAULT 0,"
    " decl INTEGER NOT NULL DEFAULT 0, head TEXT NOT NULL DEFAULT '',"
    " words TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX chunks_file ON chunks(file_id);"
    "CREATE INDEX chunks_hash ON chunks(hash);"
    "CREATE INDEX chunks_symbol ON chunks(symbol);"
    "CREATE INDEX chunks_name ON chunks(name);"
    /* '_' joins identifiers into one token: read_alignment is found whole, and its sub-words
     * are in words (see words.c) */
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(path, symbol, head, text, words,"
    " content='chunks', content_rowid='id', tokenize=\"porter unicode61 tokenchars '_'\");"
    "CREATE TABLE vectors(chunk_id INTEGER PRIMARY KEY, vec BLOB NOT NULL);"
    /* the symbol graph (graph.c): the names each file uses */
    "CREATE TABLE refs(file_id INTEGER NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL);"
    "CREATE INDEX refs_file ON refs(file_id);"
    "CREATE INDEX refs_name ON refs(name);"
    "CREATE TABLE defs(file_id INTEGER NOT NULL, name TEXT NOT NULL, line INTEGER NOT NULL,"
    " sig TEXT NOT NULL);"
    "CREATE INDEX defs_file ON defs(file_id);"
    "CREATE INDEX defs_name ON defs(name);"
    "INSERT INTO meta VALUES('generation', '0');";

uint64_t index_hash(const char *data, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: change detection, not security */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)data[i]) * 0x100000001b3ull;
    return h ^ len;
}

/* what: msg, with the cause SQLite's "disk I/O error" hides (EFBIG past `ulimit -f`, EIO: the
 * failed write left it in errno, which sqlite3_system_errno does not always record) and, for a
 * damaged database, the way out. */
static bool store_error(index_store *s, const char *what, const char *msg, int sys, char *err,
                        size_t errlen) {
    int code = s->db ? sqlite3_errcode(s->db) : SQLITE_NOMEM;
    bool io = (code == SQLITE_IOERR || code == SQLITE_FULL) && sys;
    bool damaged = code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
    snprintf(err, errlen, "%s: %s%s%s%s%s", what, msg, io ? " (" : "", io ? strerror(sys) : "",
             io ? ")" : "", damaged ? ": run 'hearth index --rebuild'" : "");
    return false;
}

bool index_store_fail(index_store *s, const char *what, char *err, size_t errlen) {
    int sys = errno;
    return store_error(s, what, s->db ? sqlite3_errmsg(s->db) : "out of memory", sys, err, errlen);
}

bool index_store_exec(index_store *s, const char *sql, char *err, size_t errlen) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK) return true;
    int sys = errno;
    store_error(s, "index database", msg ? msg : sqlite3_errmsg(s->db), sys, err, errlen);
    sqlite3_free(msg);
    return false;
}

char *index_store_meta_get(index_store *s, const char *key) {
    sqlite3_stmt *st;
    char *v = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

int64_t index_store_meta_int(index_store *s, const char *key, int64_t dflt) {
    char *v = index_store_meta_get(s, key), *end;
    int64_t r = v ? strtoll(v, &end, 10) : dflt;
    if (v && (end == v || *end)) r = dflt;
    free(v);
    return r;
}

bool index_store_meta_set(index_store *s, const char *key, const char *value, char *err,
                          size_t errlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta VALUES(?, ?)", -1, &st, NULL) !=
        SQLITE_OK)
        return index_store_fail(s, "index database", err, errlen);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok || index_store_fail(s, "index database", err, errlen);
}

static bool store_create(index_store *s, char *err, size_t errlen) {
    char v[32];
    snprintf(v, sizeof v, "%d", INDEX_SCHEMA_VERSION);
    if (!index_store_exec(s, "BEGIN IMMEDIATE", err, errlen)) return false;
    bool ok = index_store_exec(s, SCHEMA, err, errlen) &&
              index_store_meta_set(s, "schema_version", v, err, errlen);
    return index_store_exec(s, ok ? "COMMIT" : "ROLLBACK", err, errlen) && ok;
}

/* Creates the schema in a new database, or checks the version of an existing one. */
static bool store_check(index_store *s, bool create, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master WHERE name='meta'", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "index %s is unreadable (%s): run 'hearth index --rebuild'", s->dir,
                 sqlite3_errmsg(s->db));
        return false;
    }
    bool exists = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (!exists && create) return store_create(s, err, errlen);
    int64_t version = exists ? index_store_meta_int(s, "schema_version", -1) : -1;
    if (version == INDEX_SCHEMA_VERSION) return true;
    if (version >= 2 && version < INDEX_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "index %s was built by an older hearth (schema %lld, this one reads %d): "
                 "run 'hearth index' to rebuild it",
                 s->dir, (long long)version, INDEX_SCHEMA_VERSION);
        s->rebuilt_from = version; /* index_store_open rebuilds it when creating */
        return false;
    }
    snprintf(err, errlen,
             "index %s has schema version %lld, this hearth reads version %d: "
             "run 'hearth index --rebuild'",
             s->dir, (long long)version, INDEX_SCHEMA_VERSION);
    return false;
}

/* The files of an index directory the indexer opens or deletes (vectors.* are checked where they
 * are read: a symlinked one is never read, and unlinking a link removes only the link). */
static const char *const INDEX_FILES[] = {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm",
                                          "lock"};

/* A .gitignore of "*" in the index directory, so that an index inside the repository (.hearth/)
 * never shows up in `git status`; one already there (ours, or the user's) is left as it is. */
static bool write_gitignore(const char *dir, char *err, size_t errlen) {
    char path[4096], tmp[4096 + 32];
    snprintf(path, sizeof path, "%s/.gitignore", dir);
    if (access(path, F_OK) == 0) return true;
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    bool ok = f && fputs("# hearth's index: not part of the repository\n*\n", f) >= 0;
    ok = f && !fclose(f) && ok && rename(tmp, path) == 0;
    if (!ok) {
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    }
    return ok;
}

bool index_dir_check(const char *root, const char *dir, bool create, char *err, size_t errlen) {
    struct stat st, rs;
    if (create && !index_make_dirs(dir, err, errlen)) return false;
    if (lstat(dir, &st) != 0) return !snprintf(err, errlen, "%s: %s", dir, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return !snprintf(err, errlen,
                         "%s is a symbolic link: hearth writes its index only into a directory of "
                         "its own (remove the link, or set HEARTH_INDEX_LOCATION=cache)",
                         dir);
    if (!S_ISDIR(st.st_mode))
        return !snprintf(err, errlen, "%s is %s, not a directory", dir, base_file_kind(st.st_mode));
    if (st.st_uid != geteuid() && (stat(root, &rs) != 0 || st.st_uid != rs.st_uid))
        return !snprintf(err, errlen,
                         "%s belongs to user %ld, neither you nor the repository's owner: "
                         "not using it",
                         dir, (long)st.st_uid);
    for (size_t i = 0; i < sizeof INDEX_FILES / sizeof *INDEX_FILES; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, INDEX_FILES[i]);
        if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
            return !snprintf(err, errlen, "%s is %s, not a file hearth wrote: not using it", path,
                             base_file_kind(st.st_mode));
    }
    return !create || write_gitignore(dir, err, errlen);
}

/* A new random id for a database (its FAISS files carry it). */
static void new_store_id(char out[33]) {
    uint64_t r[2] = {0, 0};
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec t; /* no entropy yet: still different from any earlier database here */
        clock_gettime(CLOCK_REALTIME, &t);
        r[0] ^= (uint64_t)t.tv_sec * 1000000007ull ^ (uint64_t)t.tv_nsec;
        r[1] ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)out;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)r[0], (unsigned long long)r[1]);
}

/* The store's id; a writer gives an index older than ids one. */
static bool store_id(index_store *s, bool create, char *err, size_t errlen) {
    char *id = index_store_meta_get(s, "index_id");
    if (!id && create) {
        char fresh[33];
        new_store_id(fresh);
        if (!index_store_meta_set(s, "index_id", fresh, err, errlen)) return false;
        id = strdup(fresh);
    }
    snprintf(s->id, sizeof s->id, "%s", id ? id : "");
    free(id);
    return true;
}

/* <real dir>/index.sqlite (malloc'd): the index directory's parents resolved, so that
 * SQLITE_OPEN_NOFOLLOW, which refuses a symlink anywhere in the path, refuses only one planted in
 * the index itself, not a repository reached through a link (/home -> /data/home). */
static char *db_path(const char *dir) {
    char *real = realpath(dir, NULL), *path = NULL;
    if (real && asprintf(&path, "%s/index.sqlite", real) < 0) path = NULL;
    free(real);
    return path;
}

static bool store_open(index_store *s, const char *root, bool create, char *err, size_t errlen);

/* An index of an older schema holds chunks cut by older rules: a build starts it afresh (the
 * caller logs s->rebuilt_from); a search fails with the message asking for 'hearth index'. */
bool index_store_open(index_store *s, const char *root, bool create, char *err, size_t errlen) {
    bool ok = store_open(s, root, create, err, errlen);
    int64_t old = s->rebuilt_from;
    if (ok || !create || !old) return ok;
    ok = index_store_remove(root, err, errlen) && store_open(s, root, true, err, errlen);
    s->rebuilt_from = old;
    return ok;
}

static bool store_open(index_store *s, const char *root, bool create, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    s->dir = index_dir(root);
    char *path = NULL;
    struct stat st;
    if (!s->dir) {
        snprintf(err, errlen, "index: out of memory");
        return false;
    }
    bool ok = create || lstat(s->dir, &st) == 0;
    ok = ok && index_dir_check(root, s->dir, create, err, errlen);
    if (ok && !(path = db_path(s->dir)))
        ok = !snprintf(err, errlen, "%s: %s", s->dir, strerror(errno));
    if (!ok && !create && lstat(s->dir, &st) != 0) {
        snprintf(err, errlen, "no index in %s: run 'hearth index' first", root);
    } else if (ok && !create && access(path, F_OK) != 0) {
        snprintf(err, errlen, "no index in %s: run 'hearth index' first", root);
        ok = false;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | (create ? SQLITE_OPEN_CREATE : 0);
    if (ok && sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK)
        ok = index_store_fail(s, path, err, errlen);
    free(path);
    if (ok) sqlite3_busy_timeout(s->db, 10000);
    /* WAL + synchronous=NORMAL: a killed process loses nothing committed; a power cut may lose
     * the last transactions but never leaves a half-written one. */
    if (ok)
        ok = index_store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", err, errlen);
    if (ok) ok = store_check(s, create, err, errlen) && store_id(s, create, err, errlen);
    int64_t old = s->rebuilt_from;
    if (!ok) index_store_close(s);
    s->rebuilt_from = old;
    return ok;
}

void index_store_close(index_store *s) {
    if (s->db) sqlite3_close(s->db);
    free(s->dir);
    memset(s, 0, sizeof *s);
}

bool index_store_remove(const char *root, char *err, size_t errlen) {
    static const char *const names[] = {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm"};
    char path[4096], *dir = index_dir(root);
    struct stat st;
    if (!dir) return !snprintf(err, errlen, "index: out of memory");
    if (lstat(dir, &st) != 0 && errno == ENOENT) {
        free(dir);
        return true; /* nothing to remove */
    }
    if (!index_dir_check(root, dir, false, err, errlen)) {
        free(dir);
        return false; /* never delete through a planted link */
    }
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            free(dir);
            return false;
        }
    }
    /* FAISS files too (the new database's id fences them anyway: they are only dead weight). */
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, "vectors.", 8)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    free(dir);
    return true;
}

bool index_store_files(index_store *s, store_file **files, int64_t *n, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id, path, hash, size, mtime_ns FROM files ORDER BY path",
                           -1, &st, NULL) != SQLITE_OK)
        return index_store_fail(s, "index database", err, errlen);
    store_file *v = NULL;
    int64_t count = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            store_file *t = realloc(v, (size_t)cap * sizeof *t);
            if (!t) break;
            v = t;
        }
        const char *path = (const char *)sqlite3_column_text(st, 1);
        v[count] = (store_file){sqlite3_column_int64(st, 0), strdup(path ? path : ""),
                                (uint64_t)sqlite3_column_int64(st, 2),
                                (uint64_t)sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)};
        if (!v[count].path) break;
        count++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        index_store_files_free(v, count);
        return index_store_fail(s, "index database", err, errlen);
    }
    *files = v;
    *n = count;
    return true;
}

void index_store_files_free(store_file *files, int64_t n) {
    for (int64_t i = 0; i < n; i++) free(files[i].path);
    free(files);
}

/* Runs a statement binding one integer parameter. */
static bool exec_id(index_store *s, const char *sql, int64_t id) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return false;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
}

/* Removes a file's chunks with their FTS rows and vectors (inside the caller's transaction). */
static bool delete_chunks(index_store *s, int64_t file_id) {
    return exec_id(s,
                   "INSERT INTO chunks_fts(chunks_fts, rowid, path, symbol, head, text, words) "
                   "SELECT 'delete', id, path, symbol, head, text, words FROM chunks "
                   "WHERE file_id=?",
                   file_id) &&
           exec_id(s,
                   "DELETE FROM vectors WHERE chunk_id IN "
                   "(SELECT id FROM chunks WHERE file_id=?)",
                   file_id) &&
           exec_id(s, "DELETE FROM chunks WHERE file_id=?", file_id) &&
           exec_id(s, "DELETE FROM refs WHERE file_id=?", file_id) &&
           exec_id(s, "DELETE FROM defs WHERE file_id=?", file_id);
}

static bool bump_generation(index_store *s) {
    return sqlite3_exec(s->db,
                        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                        "WHERE key='generation'",
                        NULL, NULL, NULL) == SQLITE_OK;
}

static bool finish(index_store *s, bool ok, const char *what, char *err, size_t errlen) {
    if (ok && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return true;
    index_store_fail(s, what, err, errlen);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return false;
}

/* The files row: updated in place (keeping its id) or inserted; *id receives it. */
static bool upsert_file(index_store *s, const char *path, uint64_t hash, uint64_t size,
                        int64_t mtime_ns, const char *language, int64_t *id) {
    sqlite3_stmt *st;
    const char *sql = "INSERT INTO files(path, hash, size, mtime_ns, language) VALUES(?,?,?,?,?) "
                      "ON CONFLICT(path) DO UPDATE SET hash=excluded.hash, size=excluded.size, "
                      "mtime_ns=excluded.mtime_ns, language=excluded.language RETURNING id";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return false;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)hash);
    sqlite3_bind_int64(st, 3, (int64_t)size);
    sqlite3_bind_int64(st, 4, mtime_ns);
    sqlite3_bind_text(st, 5, language, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) *id = sqlite3_column_int64(st, 0);
    ok = sqlite3_step(st) == SQLITE_DONE && ok;
    sqlite3_finalize(st);
    return ok;
}

typedef struct {
    sqlite3_stmt *chunk, *fts, *vec;
} put_stmts;

/* The searchable extras of a chunk: its head (doc comment and signature lines) and the
 * sub-words of its symbol and text. */
static bool chunk_extras(const index_chunk *c, char **head, char **words) {
    const char *end = c->text;
    for (int32_t i = 0; i < c->head_lines && end; i++) {
        end = strchr(end, '\n');
        if (end) end++;
    }
    size_t n = end ? (size_t)(end - c->text) : strlen(c->text);
    *head = strndup(c->text, n);
    char *a = index_subwords(c->symbol ? c->symbol : ""), *b = index_subwords(c->text);
    *words = a && b ? malloc(strlen(a) + strlen(b) + 2) : NULL;
    if (*words) sprintf(*words, "%s %s", a, b);
    free(a);
    free(b);
    return *head && *words;
}

static bool put_chunk(index_store *s, put_stmts *ps, int64_t file_id, const char *path,
                      const char *language, const index_chunk *c, uint64_t hash, const float *vec,
                      int32_t dim) {
    char *head = NULL, *words = NULL;
    bool ok = chunk_extras(c, &head, &words);
    sqlite3_stmt *st = ps->chunk;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, file_id);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, c->start_line);
    sqlite3_bind_int(st, 4, c->end_line);
    sqlite3_bind_text(st, 5, language, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->symbol, -1, SQLITE_STATIC); /* NULL binds NULL */
    sqlite3_bind_text(st, 7, c->text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (int64_t)hash);
    sqlite3_bind_text(st, 9, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 10, c->def_start);
    sqlite3_bind_int(st, 11, c->def_end);
    sqlite3_bind_int(st, 12, c->declaration);
    sqlite3_bind_text(st, 13, head, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, words, -1, SQLITE_STATIC);
    ok = ok && sqlite3_step(st) == SQLITE_DONE;
    int64_t id = sqlite3_last_insert_rowid(s->db);
    st = ps->fts;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->symbol, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, head, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, c->text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, words, -1, SQLITE_STATIC);
    ok = ok && sqlite3_step(st) == SQLITE_DONE;
    free(head);
    free(words);
    if (!ok || !vec) return ok;
    st = ps->vec;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob(st, 2, vec, (int)((size_t)dim * sizeof(float)), SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE;
}

bool index_store_put_file(index_store *s, const char *path, uint64_t hash, uint64_t size,
                          int64_t mtime_ns, const char *language, const index_chunk *chunks,
                          const uint64_t *chunk_hashes, int32_t n_chunks,
                          const index_symbols *symbols, const float *vecs, int32_t dim, char *err,
                          size_t errlen) {
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return index_store_fail(s, path, err, errlen);
    put_stmts ps = {0};
    int64_t id = 0;
    bool ok = upsert_file(s, path, hash, size, mtime_ns, language, &id) && delete_chunks(s, id);
    ok = ok &&
         sqlite3_prepare_v2(s->db,
                            "INSERT INTO chunks(file_id, path, start_line, end_line, language,"
                            " symbol, text, hash, name, def_start, def_end, decl, head, words)"
                            " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            -1, &ps.chunk, NULL) == SQLITE_OK &&
         sqlite3_prepare_v2(s->db,
                            "INSERT INTO chunks_fts(rowid, path, symbol, head, text, words) "
                            "VALUES(?,?,?,?,?,?)",
                            -1, &ps.fts, NULL) == SQLITE_OK &&
         sqlite3_prepare_v2(s->db, "INSERT INTO vectors(chunk_id, vec) VALUES(?,?)", -1, &ps.vec,
                            NULL) == SQLITE_OK;
    for (int32_t i = 0; ok && i < n_chunks; i++)
        ok = put_chunk(s, &ps, id, path, language, &chunks[i], chunk_hashes[i],
                       vecs ? vecs + (size_t)i * (size_t)dim : NULL, dim);
    ok = ok && index_store_put_symbols(s, id, symbols) && bump_generation(s);
    sqlite3_finalize(ps.chunk);
    sqlite3_finalize(ps.fts);
    sqlite3_finalize(ps.vec);
    return finish(s, ok, path, err, errlen);
}

bool index_store_find_vector(index_store *s, uint64_t hash, const char *text, int32_t dim,
                             float *out) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT v.vec FROM chunks c JOIN vectors v ON v.chunk_id = c.id "
                           "WHERE c.hash = ? AND c.text = ? LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_int64(st, 1, (int64_t)hash);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW &&
                 sqlite3_column_bytes(st, 0) == (int)((size_t)dim * sizeof *out);
    if (found) memcpy(out, sqlite3_column_blob(st, 0), (size_t)dim * sizeof *out);
    sqlite3_finalize(st);
    return found;
}

bool index_store_touch_file(index_store *s, int64_t id, int64_t mtime_ns, char *err,
                            size_t errlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "UPDATE files SET mtime_ns=? WHERE id=?", -1, &st, NULL) !=
        SQLITE_OK)
        return index_store_fail(s, "index database", err, errlen);
    sqlite3_bind_int64(st, 1, mtime_ns);
    sqlite3_bind_int64(st, 2, id);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok || index_store_fail(s, "index database", err, errlen);
}

bool index_store_delete_file(index_store *s, int64_t id, char *err, size_t errlen) {
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return index_store_fail(s, "index database", err, errlen);
    bool ok = delete_chunks(s, id) && exec_id(s, "DELETE FROM files WHERE id=?", id) &&
              bump_generation(s);
    return finish(s, ok, "index database", err, errlen);
}

bool index_store_put_vectors(index_store *s, const int64_t *ids, const float *vecs, int32_t n,
                             int32_t dim, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return index_store_fail(s, "index database", err, errlen);
    bool ok = sqlite3_prepare_v2(s->db,
                                 "INSERT OR REPLACE INTO vectors(chunk_id, vec) "
                                 "VALUES(?,?)",
                                 -1, &st, NULL) == SQLITE_OK;
    for (int32_t i = 0; ok && i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, ids[i]);
        sqlite3_bind_blob(st, 2, vecs + (size_t)i * (size_t)dim, (int)((size_t)dim * sizeof(float)),
                          SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    ok = ok && bump_generation(s);
    return finish(s, ok, "index database", err, errlen);
}

/* ---- where the index lives ---- */

static int location = -1; /* -1: the environment decides; 0 repo; 1 cache */

bool index_set_location(const char *where) {
    if (!where)
        location = -1;
    else if (!strcmp(where, "repo"))
        location = 0;
    else if (!strcmp(where, "cache"))
        location = 1;
    else
        return false;
    return true;
}

char *index_dir(const char *root) {
    int where = location;
    if (where < 0) {
        const char *env = getenv("HEARTH_INDEX_LOCATION");
        where = env && !strcmp(env, "cache");
    }
    char *dir = NULL;
    if (!where) return asprintf(&dir, "%s/%s", root, INDEX_DIR) < 0 ? NULL : dir;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    const char *base = strrchr(root, '/');
    base = base && base[1] ? base + 1 : "root";
    unsigned long long h = (unsigned long long)index_hash(root, strlen(root));
    int n = xdg && *xdg ? asprintf(&dir, "%s/hearth/index/%s-%016llx", xdg, base, h)
                        : asprintf(&dir, "%s/.cache/hearth/index/%s-%016llx",
                                   home && *home ? home : "/tmp", base, h);
    return n < 0 ? NULL : dir;
}

/* mkdir -p: the cache location may be several levels deep. */
bool index_make_dirs(const char *dir, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p && *p != '/') continue;
        char c = *p;
        *p = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return false;
        }
        if (!c) return true;
        *p = c;
    }
}
