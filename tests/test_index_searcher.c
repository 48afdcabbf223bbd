/* index/ with an embedding model (the reference kit's tiny-bert): the long-lived searcher gives
 * index_search's hits and reloads only when the index changed (a re-index, a --rebuild); a
 * corrupt, truncated, stale or missing FAISS file is rebuilt from SQLite; a build over a
 * borrowed embed_service writes the vectors a build that opens the model writes.
 * usage: test_index_searcher REF_DIR */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

static char MODEL[1024];
static char TMP[] = "/tmp/idx2-searcher-XXXXXX";

static void write_file(const char *root, const char *rel, const char *text) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    CHECKF(f != NULL, "%s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static const char *const PARSE_C =
    "#include <stdio.h>\n\n"
    "/* Reads one configuration line into key and value. */\n"
    "int parse_config_line(const char *line, char *key, char *value) {\n"
    "    return sscanf(line, \"%63[^=]=%63s\", key, value) == 2;\n"
    "}\n\n"
    "/* Frees the tokens of a lexer. */\n"
    "void lexer_free(struct lexer *lx) {\n"
    "    free(lx->tokens);\n"
    "    free(lx);\n"
    "}\n";
static const char *const CACHE_PY =
    "class LruCache:\n"
    "    \"\"\"A bounded cache that evicts the least recently used entry.\"\"\"\n\n"
    "    def __init__(self, capacity):\n"
    "        self.capacity = capacity\n"
    "        self.items = {}\n\n"
    "    def get(self, key):\n"
    "        value = self.items.pop(key)\n"
    "        self.items[key] = value\n"
    "        return value\n\n"
    "def retry_with_backoff(fn, attempts=5):\n"
    "    for i in range(attempts):\n"
    "        try:\n"
    "            return fn()\n"
    "        except OSError:\n"
    "            time.sleep(2 ** i)\n";
static const char *const NOTES_MD = "# Notes\n\nThe scheduler runs completion before indexing.\n"
                                    "Batches of embeddings share one forward pass.\n";

static void make_repo(const char *root) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/src'", root);
    CHECK(system(cmd) == 0);
    write_file(root, "src/parse.c", PARSE_C);
    write_file(root, "src/cache.py", CACHE_PY);
    write_file(root, "NOTES.md", NOTES_MD);
}

static bool build(const char *root, embed_service *borrowed, bool rebuild, index_build_stats *st) {
    char err[INDEX_ERR_LEN];
    index_build_params p = {
        .root = root, .embed_model = MODEL, .embed = borrowed, .rebuild = rebuild, .n_threads = 1};
    bool ok = index_build(&p, st, err, sizeof err);
    CHECKF(ok, "index_build %s: %s", root, err);
    return ok;
}

/* Every chunk's text and vector, in path and line order. */
typedef struct {
    char text[4096];
    float vec[1024];
    int dim;
} chunk_vec;

static int read_vectors(const char *root, chunk_vec *out, int max) {
    char err[INDEX_ERR_LEN];
    index_store s;
    if (!index_store_open(&s, root, false, err, sizeof err)) return -1;
    sqlite3_stmt *st;
    int n = 0;
    if (sqlite3_prepare_v2(s.db,
                           "SELECT c.text, v.vec FROM chunks c JOIN vectors v ON v.chunk_id=c.id "
                           "ORDER BY c.path, c.start_line",
                           -1, &st, NULL) == SQLITE_OK)
        while (n < max && sqlite3_step(st) == SQLITE_ROW) {
            snprintf(out[n].text, sizeof out[n].text, "%s", sqlite3_column_text(st, 0));
            int bytes = sqlite3_column_bytes(st, 1);
            out[n].dim = bytes / (int)sizeof(float);
            if (out[n].dim > 1024) out[n].dim = 1024;
            memcpy(out[n].vec, sqlite3_column_blob(st, 1), (size_t)out[n].dim * sizeof(float));
            n++;
        }
    sqlite3_finalize(st);
    index_store_close(&s);
    return n;
}

/* A borrowed service (the LSP's, over the registry's model) gives the vectors an own one does,
 * and stays usable after the build. */
static void test_build_with_borrowed_service(const char *own_root, const char *lent_root) {
    index_build_stats a, b;
    build(own_root, NULL, false, &a);
    char err[INDEX_ERR_LEN];
    engine_model *m = engine_model_load(MODEL, err, sizeof err);
    CHECKF(m != NULL, "%s", err);
    embed_service *e = m ? index_embed_new(m, MODEL, 1, err, sizeof err) : NULL;
    CHECKF(e != NULL, "%s", err);
    build(lent_root, e, false, &b);
    CHECK(a.vectors_written > 0 && a.vectors_written == b.vectors_written);
    CHECK(a.chunks_written == b.chunks_written);
    static chunk_vec va[64], vb[64];
    int na = read_vectors(own_root, va, 64), nb = read_vectors(lent_root, vb, 64);
    CHECK(na > 3 && na == nb);
    int same = 0;
    for (int i = 0; i < na && i < nb; i++) {
        bool eq = !strcmp(va[i].text, vb[i].text) && va[i].dim == vb[i].dim;
        for (int d = 0; eq && d < va[i].dim; d++) eq = fabsf(va[i].vec[d] - vb[i].vec[d]) < 1e-6f;
        same += eq;
    }
    CHECKF(same == na, "%d of %d chunks have the same vector", same, na);
    char *recorded = index_embed_model(lent_root);
    CHECK(recorded && !strcmp(recorded, MODEL));
    free(recorded);
    /* Still the caller's: usable after the build. */
    float *v = NULL;
    const char *q = "configuration";
    CHECK(e && embed_queries(e, &q, NULL, 1, &v, NULL, err, sizeof err) && v);
    free(v);
    /* A borrowed service without the model's file name cannot be recorded. */
    index_build_params p = {.root = lent_root, .embed = e, .n_threads = 1};
    index_build_stats st;
    char empty[2048];
    snprintf(empty, sizeof empty, "%s/empty", TMP);
    CHECK(index_make_dirs(empty, err, sizeof err));
    p.root = empty;
    CHECK(!index_build(&p, &st, err, sizeof err) && strstr(err, "embed_model"));
    index_build_stats_free(&st);
    index_build_stats_free(&a);
    index_build_stats_free(&b);
    embed_free(e);
    engine_model_free(m);
}

static const char *const QUERIES[] = {"parse configuration line",
                                      "cache evicts least recently",
                                      "retry backoff",
                                      "lexer_free",
                                      "scheduler forward pass",
                                      "LruCache get"};
#define N_QUERIES (int)(sizeof QUERIES / sizeof *QUERIES)

/* The searcher's hits equal index_search's (same chunks, same order, same scores). */
static int same_hits(index_searcher *s, const char *root, const char *query, index_mode mode) {
    char err[INDEX_ERR_LEN];
    index_hit *a = NULL, *b = NULL;
    int32_t na = -1, nb = -2;
    index_query q = {query, 5, mode, 0};
    bool ok_a = index_searcher_search(s, &q, &a, &na, err, sizeof err);
    CHECKF(ok_a, "searcher '%s': %s", query, err);
    index_search_params p = {.root = root, .query = query, .k = 5, .mode = mode, .n_threads = 1};
    bool ok_b = index_search(&p, &b, &nb, err, sizeof err);
    CHECKF(ok_b, "index_search '%s': %s", query, err);
    bool eq = ok_a && ok_b && na == nb && na > 0;
    for (int32_t i = 0; eq && i < na; i++)
        eq = !strcmp(a[i].path, b[i].path) && a[i].start_line == b[i].start_line &&
             a[i].end_line == b[i].end_line && a[i].score == b[i].score;
    CHECKF(eq, "'%s' mode %d: %d vs %d hits differ", query, (int)mode, na, nb);
    index_hits_free(a, na);
    index_hits_free(b, nb);
    return eq;
}

static bool has_hit(index_searcher *s, const char *query, index_mode mode, const char *path) {
    char err[INDEX_ERR_LEN];
    index_hit *h = NULL;
    int32_t n = 0;
    index_query q = {query, 10, mode, 0};
    bool ok = index_searcher_search(s, &q, &h, &n, err, sizeof err), found = false;
    CHECKF(ok, "'%s': %s", query, err);
    for (int32_t i = 0; i < n; i++) found |= !strcmp(h[i].path, path);
    index_hits_free(h, n);
    return found;
}

/* The FAISS file of the index's current generation (there is one after a build). */
static bool faiss_file(const char *root, char *path, size_t n) {
    char *dir = index_dir(root);
    DIR *d = dir ? opendir(dir) : NULL;
    bool found = false;
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, "vectors.", 8) && strstr(e->d_name, ".faiss")) {
            snprintf(path, n, "%s/%s", dir, e->d_name);
            found = true;
        }
    if (d) closedir(d);
    free(dir);
    return found;
}

static void test_searcher_repeats_and_reloads(const char *root) {
    char err[INDEX_ERR_LEN];
    index_searcher_params sp = {.root = root, .n_threads = 1};
    index_searcher *s = index_searcher_open(&sp, err, sizeof err);
    CHECKF(s != NULL, "%s", err);
    if (!s) return;
    index_searcher_stats st = index_searcher_get_stats(s);
    CHECK(st.store_opens == 1 && st.vector_loads == 0 && st.embed_opens == 0);
    static const index_mode MODES[] = {INDEX_MODE_LEXICAL, INDEX_MODE_VECTOR, INDEX_MODE_HYBRID,
                                       INDEX_MODE_AUTO};
    for (int round = 0; round < 2; round++)
        for (int m = 0; m < 4; m++)
            for (int i = 0; i < N_QUERIES; i++) same_hits(s, root, QUERIES[i], MODES[m]);
    st = index_searcher_get_stats(s);
    CHECKF(st.vector_loads == 1 && st.embed_opens == 1 && st.store_opens == 1,
           "loads %lld, model opens %lld, store opens %lld", (long long)st.vector_loads,
           (long long)st.embed_opens, (long long)st.store_opens);
    CHECK(st.vector_rebuilds == 0 && st.vectors > 3 && st.queries == 2 * 4 * N_QUERIES);
    int64_t gen = st.generation, vectors = st.vectors;

    /* A re-index (a new file) is noticed: new generation, vectors read again, once. */
    CHECK(!has_hit(s, "tokenizer_reset_state", INDEX_MODE_LEXICAL, "src/tok.c"));
    write_file(root, "src/tok.c", "/* Starts over. */\nvoid tokenizer_reset_state(void) {}\n");
    index_build_stats bs;
    build(root, NULL, false, &bs);
    index_build_stats_free(&bs);
    CHECK(has_hit(s, "tokenizer_reset_state", INDEX_MODE_LEXICAL, "src/tok.c"));
    for (int i = 0; i < N_QUERIES; i++) same_hits(s, root, QUERIES[i], INDEX_MODE_HYBRID);
    same_hits(s, root, "tokenizer_reset_state", INDEX_MODE_VECTOR);
    st = index_searcher_get_stats(s);
    CHECKF(st.generation > gen && st.vector_loads == 2 && st.vectors == vectors + 1,
           "generation %lld -> %lld, loads %lld, vectors %lld -> %lld", (long long)gen,
           (long long)st.generation, (long long)st.vector_loads, (long long)vectors,
           (long long)st.vectors);
    CHECK(st.embed_opens == 1 && st.store_opens == 1);

    /* A --rebuild replaces the database file: reopened, and the hits are the new index's. */
    build(root, NULL, true, &bs);
    index_build_stats_free(&bs);
    for (int i = 0; i < N_QUERIES; i++) same_hits(s, root, QUERIES[i], INDEX_MODE_HYBRID);
    st = index_searcher_get_stats(s);
    CHECKF(st.store_opens == 2 && st.vector_loads == 3, "store opens %lld, loads %lld",
           (long long)st.store_opens, (long long)st.vector_loads);

    /* The index removed under it: a clear error, then a recovery once it is back. */
    char *dir = index_dir(root), cmd[4096];
    snprintf(cmd, sizeof cmd, "mv '%s' '%s.away'", dir, dir);
    CHECK(system(cmd) == 0);
    index_hit *h = NULL;
    int32_t n = 0;
    index_query q = {"retry", 5, INDEX_MODE_HYBRID, 0};
    CHECK(!index_searcher_search(s, &q, &h, &n, err, sizeof err) && strstr(err, "hearth index"));
    snprintf(cmd, sizeof cmd, "mv '%s.away' '%s'", dir, dir);
    CHECK(system(cmd) == 0);
    free(dir);
    same_hits(s, root, "retry backoff", INDEX_MODE_HYBRID);
    q.query = NULL;
    CHECK(!index_searcher_search(s, &q, &h, &n, err, sizeof err) && strstr(err, "no query"));
    index_searcher_close(s);
}

/* Overwrites the FAISS file with bytes (len 0: removes it; len < 0: truncates it to half). */
static void spoil_faiss(const char *root, const char *bytes, long len) {
    char path[4096];
    if (!faiss_file(root, path, sizeof path)) {
        CHECK(!"a FAISS file to spoil");
        return;
    }
    if (len == 0) {
        CHECK(unlink(path) == 0);
    } else if (len < 0) {
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (!f) return;
        fseek(f, 0, SEEK_END);
        CHECK(truncate(path, ftell(f) / 2) == 0);
        fclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(bytes, 1, (size_t)len, f) == (size_t)len);
        if (f) fclose(f);
    }
}

/* A corrupt, truncated, oversized or missing FAISS file: rebuilt from SQLite, same hits. */
static void test_searcher_survives_bad_faiss(const char *root) {
    static char huge[4 << 20];
    memset(huge, 0x7f, sizeof huge);
    struct {
        const char *what, *bytes;
        long len;
    } cases[] = {{"garbage", "IxM2 not really a faiss index", 28},
                 {"truncated", NULL, -1},
                 {"oversized", huge, (long)sizeof huge},
                 {"missing", NULL, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        index_build_stats bs;
        build(root, NULL, true, &bs); /* a fresh, valid FAISS file */
        index_build_stats_free(&bs);
        spoil_faiss(root, cases[c].bytes, cases[c].len);
        char err[INDEX_ERR_LEN];
        index_searcher_params sp = {.root = root, .n_threads = 1};
        index_searcher *s = index_searcher_open(&sp, err, sizeof err);
        CHECKF(s != NULL, "%s: %s", cases[c].what, err);
        if (!s) continue;
        for (int i = 0; i < N_QUERIES; i++) same_hits(s, root, QUERIES[i], INDEX_MODE_VECTOR);
        index_searcher_stats st = index_searcher_get_stats(s);
        CHECKF(st.vector_rebuilds == 1 && st.vector_loads == 1, "%s: %lld rebuilds", cases[c].what,
               (long long)st.vector_rebuilds);
        index_searcher_close(s);
    }
}

/* Vector mode is vector search only (issue 15): no symbol boost, so every hit scores exactly
 * 1 / (60 + its rank in the nearest-vector list), even when the query names a definition. */
static void test_vector_mode_not_boosted(const char *root) {
    char err[INDEX_ERR_LEN];
    index_searcher_params sp = {.root = root, .n_threads = 1};
    index_searcher *s = index_searcher_open(&sp, err, sizeof err);
    index_hit *h = NULL;
    int32_t n = 0;
    index_query q = {"parse_config_line lexer_free retry_with_backoff", 10, INDEX_MODE_VECTOR, 10};
    CHECKF(s && index_searcher_search(s, &q, &h, &n, err, sizeof err) && n >= 3, "%s", err);
    int plain = 0;
    for (int32_t i = 0; i < n; i++) {
        double r = 1.0 / h[i].score - 60.0;
        plain += fabs(r - floor(r + 0.5)) < 1e-6 && r > 0.5;
    }
    CHECKF(plain == n, "%d of %d hits score as one vector rank", plain, n);
    index_hits_free(h, n);
    index_searcher_close(s);
}

static void test_searcher_errors(const char *root) {
    char err[INDEX_ERR_LEN], empty[2048];
    snprintf(empty, sizeof empty, "%s/no-index", TMP);
    CHECK(index_make_dirs(empty, err, sizeof err));
    index_searcher_params sp = {.root = empty};
    CHECK(!index_searcher_open(&sp, err, sizeof err) && strstr(err, "run 'hearth index' first"));
    /* A borrowed service of another model: refused with the model named, lexical still works. */
    char other[1024];
    snprintf(other, sizeof other, "%s", MODEL);
    char *slash = strrchr(other, '/');
    snprintf(slash + 1, sizeof other - (size_t)(slash + 1 - other), "tiny-qwen3-embed-F32.gguf");
    engine_model *m = NULL;
    embed_service *e = index_embed_open(other, 1, &m, err, sizeof err);
    CHECKF(e != NULL, "%s", err);
    sp = (index_searcher_params){.root = root, .embed = e};
    index_searcher *s = e ? index_searcher_open(&sp, err, sizeof err) : NULL;
    index_hit *h = NULL;
    int32_t n = 0;
    index_query q = {"retry backoff", 5, INDEX_MODE_VECTOR, 0};
    CHECK(s && !index_searcher_search(s, &q, &h, &n, err, sizeof err) &&
          strstr(err, "another model"));
    q.mode = INDEX_MODE_LEXICAL;
    CHECK(s && index_searcher_search(s, &q, &h, &n, err, sizeof err) && n > 0);
    index_hits_free(h, n);
    index_searcher_close(s);
    embed_free(e);
    engine_model_free(m);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_index_searcher REF_DIR\n");
        return 2;
    }
    snprintf(MODEL, sizeof MODEL, "%s/models/tiny-bert-F16.gguf", argv[1]);
    if (!mkdtemp(TMP)) return 2;
    index_set_location("repo");
    char own[1024], lent[1024];
    snprintf(own, sizeof own, "%s/own", TMP);
    snprintf(lent, sizeof lent, "%s/lent", TMP);
    make_repo(own);
    make_repo(lent);
    test_build_with_borrowed_service(own, lent);
    test_searcher_repeats_and_reloads(own);
    test_searcher_survives_bad_faiss(lent);
    test_vector_mode_not_boosted(own);
    test_searcher_errors(own);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", TMP);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", TMP);
    return test_summary("test_index_searcher");
}
