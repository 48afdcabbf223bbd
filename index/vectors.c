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

/* A stream over a FAISS file being checked: reads fail at its end, counted in pos. */
typedef struct {
    FILE *f;
    uint64_t pos;
} faiss_reader;

static bool rd(faiss_reader *r, void *buf, size_t n) {
    bool ok = fread(buf, 1, n, r->f) == n;
    r->pos += n;
    return ok;
}

static bool skip(faiss_reader *r, uint64_t n) {
    r->pos += n;
    return fseeko(r->f, (off_t)r->pos, SEEK_SET) == 0;
}

/* A vector's length (a size_t) equal to want. */
static bool count_is(faiss_reader *r, uint64_t want) {
    uint64_t n;
    return rd(r, &n, 8) && n == want;
}

/* The node levels of an HNSW graph over n nodes (levels[i]: node i lives on levels
 * 0..levels[i]-1, 1 <= levels[i] <= max_levels) and their neighbour offsets, which must follow
 * from the levels (cum: neighbours per node up to each level). */
static bool hnsw_levels(faiss_reader *r, int64_t n, const int32_t *cum, int32_t max_levels,
                        int32_t *levels) {
    if (!count_is(r, (uint64_t)n) || !rd(r, levels, (size_t)n * 4)) return false;
    for (int64_t i = 0; i < n; i++)
        if (levels[i] < 1 || levels[i] > max_levels) return false;
    uint64_t at = 0, off;
    if (!count_is(r, (uint64_t)n + 1)) return false;
    for (int64_t i = 0; i <= n; i++) {
        if (!rd(r, &off, 8) || off != at) return false;
        if (i < n) at += (uint64_t)cum[levels[i]];
    }
    return count_is(r, at); /* the neighbours' count */
}

/* Every neighbour id: -1 (an empty place) or a node that lives on the neighbour's level, so
 * FAISS's search never leaves the graph. */
static bool hnsw_neighbours(faiss_reader *r, int64_t n, const int32_t *cum, const int32_t *levels) {
    int32_t buf[4096];
    size_t have = 0, next = 0;
    for (int64_t i = 0; i < n; i++)
        for (int32_t level = 0; level < levels[i]; level++)
            for (int32_t k = cum[level]; k < cum[level + 1]; k++) {
                if (next == have) { /* in blocks, maybe past the neighbours: seeked back */
                    have = fread(buf, 4, sizeof buf / 4, r->f);
                    next = 0;
                    if (have == 0) return false;
                }
                int32_t v = buf[next++];
                r->pos += 4;
                if (v != -1 && (v < 0 || v >= n || levels[v] <= level)) return false;
            }
    return fseeko(r->f, (off_t)r->pos, SEEK_SET) == 0;
}

/* The graph part of an HNSW file (faiss/impl/index_write.cpp, write_HNSW, FAISS 1.7): level
 * probabilities, cumulative neighbours per level, node levels, offsets, neighbours, entry point,
 * max level, efConstruction, efSearch, upper_beam. FAISS's reader checks none of it against the
 * rest, and its search would follow a bad neighbour id out of bounds. */
static bool hnsw_graph(faiss_reader *r, int64_t n) {
    enum { MAX_LEVELS = 64, MAX_NEIGHBOURS = 1 << 12 };
    uint64_t n_prob, n_cum;
    int32_t cum[MAX_LEVELS + 1];
    if (!rd(r, &n_prob, 8) || n_prob < 1 || n_prob > MAX_LEVELS || !skip(r, n_prob * 8) ||
        !rd(r, &n_cum, 8) || n_cum != n_prob + 1 || !rd(r, cum, (size_t)n_cum * 4) || cum[0] != 0)
        return false;
    for (uint64_t l = 0; l + 1 < n_cum; l++)
        if (cum[l + 1] < cum[l] || cum[l + 1] > MAX_NEIGHBOURS) return false;
    int32_t *levels = malloc((size_t)(n > 0 ? n : 1) * sizeof *levels), tail[5];
    bool ok = levels && hnsw_levels(r, n, cum, (int32_t)n_prob, levels) &&
              hnsw_neighbours(r, n, cum, levels) && rd(r, tail, sizeof tail);
    /* entry point and max level: the highest node (none in an empty graph); efConstruction and
     * efSearch positive; upper_beam 1 as FAISS sets it */
    if (ok && n > 0)
        ok = tail[0] >= 0 && tail[0] < n && tail[1] == levels[tail[0]] - 1;
    else if (ok)
        ok = tail[0] == -1 && tail[1] == -1;
    ok = ok && tail[2] > 0 && tail[3] > 0 && tail[4] == 1;
    free(levels);
    return ok;
}

/* A FAISS file FAISS can read without throwing (its reader leaks what it built so far when a
 * file turns out corrupt) or being led out of bounds later, checked whole: IndexIDMap2 over
 * IndexFlatIP (two headers, the vectors, the ids) or, past INDEX_HNSW_THRESHOLD, over an
 * IndexHNSWFlat (two headers, the graph, the flat storage's header and vectors, the ids): every
 * count, every graph link, the exact size. */
static bool faiss_file_valid(const char *path, int32_t dim) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    int32_t d1 = 0, d2 = 0, d3 = 0;
    int64_t n1 = -1, n2 = -1, n3 = -1;
    bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              header_ok(fd, 0, "IxM2", &d1, &n1) && d1 == dim;
    bool flat = ok && header_ok(fd, HEADER_BYTES, "IxFI", &d2, &n2);
    if (ok && !flat) ok = header_ok(fd, HEADER_BYTES, "IHNf", &d2, &n2);
    ok = ok && d2 == dim && n2 == n1;
    uint64_t n = ok ? (uint64_t)n1 : 0, per = 4 * (uint64_t)dim + 8;
    ok = ok && n <= ((uint64_t)st.st_size - 2 * HEADER_BYTES) / per; /* before any allocation */
    FILE *f = ok ? fdopen(fd, "rb") : NULL;
    faiss_reader r = {f, 2 * HEADER_BYTES};
    if (f) {
        fd = -1;
        ok = fseeko(f, (off_t)r.pos, SEEK_SET) == 0;
        if (ok && !flat) { /* the graph, then the storage's own header */
            ok = hnsw_graph(&r, n1) && header_ok(fileno(f), r.pos, "IxFI", &d3, &n3) && d3 == dim &&
                 n3 == n1 && skip(&r, HEADER_BYTES);
        }
        /* the vectors (as a count of floats), then the ids, then nothing */
        ok = ok && count_is(&r, n * (uint64_t)dim) && skip(&r, n * (uint64_t)dim * 4) &&
             count_is(&r, n) && r.pos + n * 8 == (uint64_t)st.st_size;
        fclose(f);
    } else
        ok = false;
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
