/* The vector index: FAISS through its C API, an exact inner-product index (IndexFlatIP) with
 * chunk ids as labels (IndexIDMap2). Vectors are L2-normalised, so inner product is cosine.
 *
 * The FAISS file is a cache of the vectors table: it is named after the store's generation
 * (bumped by every transaction that changes chunks), written to a temporary path, fsync'ed and
 * renamed, so a reader either finds the file of the current generation or rebuilds from SQLite.
 * Exact search (IndexFlatIP) up to INDEX_HNSW_THRESHOLD vectors; past it an HNSW graph (M = 32,
 * efSearch = 64: approximate, but sub-millisecond where the flat scan grows linearly). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <omp.h>

#include <faiss/c_api/AutoTune_c.h>
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/MetaIndexes_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include "internal.h"

struct index_vectors {
    FaissIndex *index;
    int32_t dim;
    int64_t generation;
    /* A flat index's vectors as halves with their chunk ids, made on the second search (scan.c;
     * one search, a `hearth search` process, is cheaper through FAISS than copying first);
     * half_tried: made or found impossible (HNSW, out of memory: FAISS searches then). */
    uint16_t *half;
    int64_t *half_ids, n_half, searches;
    bool half_tried;
};

static bool faiss_fail(const char *what, char *err, size_t errlen) {
    const char *m = faiss_get_last_error();
    snprintf(err, errlen, "vector index: %s: %s", what, m && *m ? m : "failed");
    return false;
}

static int64_t hnsw_threshold = INDEX_HNSW_THRESHOLD;

void index_vectors_set_hnsw_threshold(int64_t n) {
    hnsw_threshold = n > 0 ? n : INDEX_HNSW_THRESHOLD;
}

/* How far HNSW searches look (recall against speed); not every FAISS version keeps it in the
 * file, so it is set after every load too. A flat index has no such parameter: ignored. */
static void set_ef_search(FaissIndex *ix) {
    FaissParameterSpace *ps = NULL;
    if (faiss_ParameterSpace_new(&ps) == 0) {
        faiss_ParameterSpace_set_index_parameters(ps, ix, "efSearch=64");
        faiss_ParameterSpace_free(ps);
    }
}

/* HEARTH_HNSW_THRESHOLD overrides the default (benchmarks compare flat and HNSW with it). */
static int64_t threshold(void) {
    const char *env = getenv("HEARTH_HNSW_THRESHOLD");
    long long n = env ? atoll(env) : 0;
    return hnsw_threshold != INDEX_HNSW_THRESHOLD || n <= 0 ? hnsw_threshold : (int64_t)n;
}

static index_vectors *vectors_new(int32_t dim, int64_t n, char *err, size_t errlen) {
    index_vectors *v = calloc(1, sizeof *v);
    FaissIndexFlatIP *flat = NULL;
    if (!v) {
        snprintf(err, errlen, "vector index: out of memory");
        return NULL;
    }
    v->dim = dim;
    if (n >= threshold()) {
        if (faiss_index_factory(&v->index, dim, "IDMap2,HNSW32", METRIC_INNER_PRODUCT)) {
            faiss_fail("create HNSW", err, errlen);
            free(v);
            return NULL;
        }
        set_ef_search(v->index);
        return v;
    }
    if (faiss_IndexFlatIP_new_with(&flat, dim) || faiss_IndexIDMap2_new(&v->index, flat)) {
        faiss_fail("create", err, errlen);
        if (flat) faiss_Index_free(flat);
        free(v);
        return NULL;
    }
    faiss_IndexIDMap2_set_own_fields(v->index, 1);
    return v;
}

/* Adds a batch of vectors with their chunk ids. */
static bool vectors_flush(index_vectors *v, const float *x, const int64_t *ids, int64_t n,
                          char *err, size_t errlen) {
    if (n && faiss_Index_add_with_ids(v->index, n, x, ids)) return faiss_fail("add", err, errlen);
    return true;
}

/* Vectors of dimension dim in the store (inside the caller's read transaction). */
static int64_t count_vectors(index_store *s, int32_t dim) {
    sqlite3_stmt *st;
    int64_t n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM vectors WHERE length(vec)=?", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, (int64_t)dim * (int64_t)sizeof(float));
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

index_vectors *index_vectors_from_store(index_store *s, int32_t dim, char *err, size_t errlen) {
    enum { BATCH = 1024 };
    /* Read the generation and count in the same read transaction as the vectors. */
    if (!index_store_exec(s, "BEGIN", err, errlen)) return NULL;
    int64_t generation = index_store_meta_int(s, "generation", 0);
    index_vectors *v = vectors_new(dim, count_vectors(s, dim), err, errlen);
    float *x = malloc((size_t)BATCH * (size_t)dim * sizeof *x);
    int64_t *ids = malloc(BATCH * sizeof *ids), n = 0;
    sqlite3_stmt *st = NULL;
    bool ok = v && x && ids;
    if (!ok && v) snprintf(err, errlen, "vector index: out of memory");
    if (ok) v->generation = generation;
    if (ok && sqlite3_prepare_v2(s->db, "SELECT chunk_id, vec FROM vectors", -1, &st, NULL))
        ok = index_store_fail(s, "vector index", err, errlen);
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != (int)((size_t)dim * sizeof(float)))
            continue; /* a vector of another dimension cannot be searched with this model */
        memcpy(x + (size_t)n * (size_t)dim, sqlite3_column_blob(st, 1),
               (size_t)dim * sizeof(float));
        ids[n++] = sqlite3_column_int64(st, 0);
        if (n == BATCH) {
            ok = vectors_flush(v, x, ids, n, err, errlen);
            n = 0;
        }
    }
    ok = ok && vectors_flush(v, x, ids, n, err, errlen);
    sqlite3_finalize(st);
    if (s->db && !sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "COMMIT", 0, 0, 0);
    free(x);
    free(ids);
    if (!ok) index_vectors_free(v);
    return ok ? v : NULL;
}

void index_vectors_path(const index_store *s, int64_t gen, char *buf, size_t n) {
    if (s->id[0]) /* "": an index from before ids, until its next build gives it one */
        snprintf(buf, n, "%s/vectors.%s.%lld.faiss", s->dir, s->id, (long long)gen);
    else
        snprintf(buf, n, "%s/vectors.%lld.faiss", s->dir, (long long)gen);
}

/* The largest chunk id with a vector: at least the number of vectors (ids are distinct and
 * positive), found in O(log n) where counting them reads the whole table (as long as reading
 * the FAISS file itself). */
static int64_t max_vector_id(index_store *s) {
    sqlite3_stmt *st;
    int64_t n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT max(chunk_id) FROM vectors", -1, &st, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A FAISS file worth reading: not larger than n vectors can explain (a flat index holds dim
 * floats and an id per vector, HNSW adds its links), so a hostile or garbled file cannot make
 * the reader allocate more than the index could ever need. */
static bool plausible_file(const char *path, int64_t n, int32_t dim) {
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false; /* a link: not ours */
    uint64_t per = (uint64_t)dim * sizeof(float) + 8 + 1024;
    return (uint64_t)st.st_size <= (uint64_t)n * per + (1u << 20);
}

/* The fixed part of a FAISS index header (faiss/impl/index_write.cpp): fourcc, d (int32),
 * ntotal (int64), two unused int64, is_trained (1 byte), metric type (int32). */
enum { HEADER_BYTES = 37 };

static bool read_at(int fd, uint64_t off, void *buf, size_t n) {
    return pread(fd, buf, n, (off_t)off) == (ssize_t)n;
}

/* d and ntotal of the header at off, if its fourcc is one of ours and its metric is IP. */
static bool header_ok(int fd, uint64_t off, const char *fourcc, int32_t *d, int64_t *ntotal) {
    unsigned char h[HEADER_BYTES];
    int32_t metric;
    if (!read_at(fd, off, h, sizeof h) || memcmp(h, fourcc, 4)) return false;
    memcpy(d, h + 4, 4);
    memcpy(ntotal, h + 8, 8);
    memcpy(&metric, h + 33, 4);
    return metric == METRIC_INNER_PRODUCT && *ntotal >= 0;
}

/* A FAISS file FAISS can read without throwing: its reader leaks what it built so far when a
 * file turns out corrupt, so a flat file (IndexIDMap2 over IndexFlatIP: two headers, the
 * vectors, the ids, nothing else) is checked whole first — every count, the exact size. An HNSW
 * file (past INDEX_HNSW_THRESHOLD) is checked to its inner header; the size bound of
 * plausible_file covers the rest. */
static bool faiss_file_valid(const char *path, int32_t dim) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    int32_t d1 = 0, d2 = 0;
    int64_t n1 = -1, n2 = -1;
    uint64_t floats = 0, ids = 0;
    bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              header_ok(fd, 0, "IxM2", &d1, &n1) && d1 == dim;
    bool flat = ok && header_ok(fd, HEADER_BYTES, "IxFI", &d2, &n2);
    if (ok && !flat) ok = header_ok(fd, HEADER_BYTES, "IHNf", &d2, &n2) && d2 == dim && n2 == n1;
    if (ok && flat) { /* sizes as size_t (8 bytes), after the two headers and after the floats */
        uint64_t n = (uint64_t)n1, per = 4 * (uint64_t)dim + 8;
        ok = d2 == dim && n2 == n1 && n <= ((uint64_t)st.st_size - 2 * HEADER_BYTES) / per &&
             (uint64_t)st.st_size == 2 * HEADER_BYTES + 16 + n * per &&
             read_at(fd, 2 * HEADER_BYTES, &floats, 8) && floats == n * (uint64_t)dim &&
             read_at(fd, 2 * HEADER_BYTES + 8 + floats * 4, &ids, 8) && ids == n;
    }
    if (fd >= 0) close(fd);
    return ok;
}

index_vectors *index_vectors_load(index_store *s, int32_t dim, bool *rebuilt, char *err,
                                  size_t errlen) {
    char path[4096];
    if (rebuilt) *rebuilt = false;
    if (!index_store_exec(s, "BEGIN", err, errlen)) return NULL;
    int64_t gen = index_store_meta_int(s, "generation", 0), n = max_vector_id(s);
    index_store_exec(s, "COMMIT", err, errlen);
    index_vectors_path(s, gen, path, sizeof path);
    FaissIndex *ix = NULL;
    if (plausible_file(path, n, dim) && faiss_file_valid(path, dim) &&
        faiss_read_index_fname(path, 0, &ix) == 0 && ix && faiss_Index_d(ix) == dim &&
        faiss_Index_ntotal(ix) <= n) {
        set_ef_search(ix);
        index_vectors *v = calloc(1, sizeof *v);
        if (v) {
            *v = (index_vectors){.index = ix, .dim = dim, .generation = gen};
            return v;
        }
    }
    if (ix) faiss_Index_free(ix);
    /* Missing, stale or unreadable: SQLite has everything needed to rebuild it. */
    if (rebuilt) *rebuilt = true;
    return index_vectors_from_store(s, dim, err, errlen);
}

/* Removes vectors.*.faiss files of other generations or databases and leftover temporary
 * files. */
static void remove_stale(const char *dir, const char *keep_path) {
    DIR *d = opendir(dir);
    char path[4096];
    const char *mine = strrchr(keep_path, '/') + 1;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, "vectors.", 8) || !strcmp(e->d_name, mine)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
}

static bool fsync_path(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

bool index_vectors_save(index_vectors *v, index_store *s, char *err, size_t errlen) {
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/vectors.tmp.%ld", s->dir, (long)getpid());
    index_vectors_path(s, v->generation, path, sizeof path);
    unlink(tmp); /* FAISS's fopen follows a link a repository may have planted under this name */
    if (faiss_write_index_fname(v->index, tmp)) {
        unlink(tmp);
        return faiss_fail(tmp, err, errlen);
    }
    if (!fsync_path(tmp, O_RDONLY) || rename(tmp, path) != 0) {
        snprintf(err, errlen, "vector index: %s: %s", path, strerror(errno));
        unlink(tmp);
        return false;
    }
    fsync_path(s->dir, O_RDONLY | O_DIRECTORY);
    remove_stale(s->dir, path);
    return true;
}

void index_vectors_free(index_vectors *v) {
    if (!v) return;
    free(v->half);
    free(v->half_ids);
    if (v->index) faiss_Index_free(v->index);
    free(v);
}

int64_t index_vectors_count(const index_vectors *v) {
    return faiss_Index_ntotal(v->index);
}

/* The resident half-precision copy of a flat index (see struct index_vectors). */
static bool make_half(index_vectors *v) {
    if (v->half_tried) return v->half != NULL;
    v->half_tried = true;
    FaissIndexIDMap2 *map = faiss_IndexIDMap2_cast(v->index);
    FaissIndexFlat *flat = map ? faiss_IndexFlat_cast(faiss_IndexIDMap2_sub_index(map)) : NULL;
    float *xb = NULL;
    idx_t *ids = NULL;
    size_t floats = 0, n = 0;
    if (flat) faiss_IndexFlat_xb(flat, &xb, &floats);
    if (map) faiss_IndexIDMap2_id_map(map, &ids, &n);
    if (!xb || !ids || !n || floats != n * (size_t)v->dim) return false;
    v->half = malloc(floats * sizeof *v->half);
    v->half_ids = malloc(n * sizeof *v->half_ids);
    if (!v->half || !v->half_ids) {
        free(v->half);
        free(v->half_ids);
        v->half = NULL;
        v->half_ids = NULL;
        return false;
    }
    index_f16_from_f32(xb, floats, v->half);
    memcpy(v->half_ids, ids, n * sizeof *v->half_ids);
    v->n_half = (int64_t)n;
    return true;
}

/* FAISS's search, on this thread only. */
static int32_t faiss_search(const index_vectors *v, const float *q, int32_t k, int64_t *ids,
                            float *scores, char *err, size_t errlen) {
    /* One query on this thread, no OpenMP team: the team's workers would spin after the search
     * (libgomp's active wait) on the cores the engine's pool embeds the next query with, which
     * doubled query latency on 2 cores. Only this thread's setting changes, and only here. */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = faiss_Index_search(v->index, 1, q, k, scores, ids);
    omp_set_num_threads(threads);
    if (rc) {
        faiss_fail("search", err, errlen);
        return -1;
    }
    int32_t n = 0;
    while (n < k && ids[n] >= 0) n++; /* FAISS pads missing results with -1 */
    return n;
}

int32_t index_vectors_search(index_vectors *v, const float *q, int32_t k, int64_t *ids,
                             float *scores, char *err, size_t errlen) {
    if (k <= 0 || faiss_Index_ntotal(v->index) == 0) return 0;
    float *all = v->searches++ && make_half(v) ? malloc((size_t)v->n_half * sizeof *all) : NULL;
    if (!all) return faiss_search(v, q, k, ids, scores, err, errlen);
    index_dot_f16(v->half, v->n_half, v->dim, q, all);
    int32_t n = index_top_k(all, v->half_ids, v->n_half, k, ids, scores);
    free(all);
    return n;
}

bool index_vectors_get(const index_vectors *v, int64_t id, float *out, char *err, size_t errlen) {
    if (faiss_Index_reconstruct(v->index, id, out)) return faiss_fail("reconstruct", err, errlen);
    return true;
}

int64_t index_vectors_generation(const index_vectors *v) {
    return v->generation;
}

int32_t index_vectors_dim(const index_vectors *v) {
    return v->dim;
}
