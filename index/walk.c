/* The walker: lists the files of a repository worth indexing, honouring nested .gitignore and
 * .hearthignore files (a deeper file overrides a shallower one; .hearthignore overrides
 * .gitignore in the same directory), with built-in rules for vendored directories below them.
 *
 * Symlinks are followed only inside the repository, and every directory and file is visited at
 * most once (by device and inode), which is what ends symlink loops and keeps aliases from being
 * indexed twice. Files are opened only later, by the build, with O_NONBLOCK so a fifo can never
 * hang it, and read only if they are still what the walk saw (index_read_walked); here they are
 * only stat'ed. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define MAX_DEPTH 128

/* Lowest precedence: a repository can re-include any of these with a '!' rule. */
static const char BUILTIN_VENDORED[] = "node_modules/\nbower_components/\nvendor/\n"
                                       "third_party/\nthirdparty/\n__pycache__/\n.venv/\n"
                                       ".tox/\n.mypy_cache/\n.pytest_cache/\n";

typedef struct {
    index_ignore *ig;
    size_t base_len; /* length of the directory prefix (with its '/') the rules are relative to */
    bool builtin;
} rule_set;

typedef struct {
    dev_t dev;
    ino_t ino;
} file_id;

typedef struct {
    const char *root;
    char *root_real;
    uint64_t max_bytes;
    rule_set *sets;
    int n_sets, cap_sets;
    file_id *seen; /* open-addressing set of visited (dev, inode) */
    size_t seen_cap, seen_n;
    index_file *files;
    int64_t n_files, cap_files;
    index_skips *skips;
    char *err;
    size_t errlen;
} walker;

static uint64_t id_hash(file_id id) {
    uint64_t h = (uint64_t)id.dev * 0x9E3779B97F4A7C15ull ^ (uint64_t)id.ino;
    return h * 0xBF58476D1CE4E5B9ull;
}

/* Adds id to the visited set; false if it was there already (or out of memory: *oom). */
static bool seen_add(walker *w, file_id id, bool *oom) {
    if ((w->seen_n + 1) * 2 > w->seen_cap) {
        size_t cap = w->seen_cap ? w->seen_cap * 2 : 1024;
        file_id *t = calloc(cap, sizeof *t);
        if (!t) return !(*oom = true);
        for (size_t i = 0; i < w->seen_cap; i++) {
            if (!w->seen[i].ino) continue;
            size_t j = id_hash(w->seen[i]) & (cap - 1);
            while (t[j].ino) j = (j + 1) & (cap - 1);
            t[j] = w->seen[i];
        }
        free(w->seen);
        w->seen = t;
        w->seen_cap = cap;
    }
    if (!id.ino) id.ino = (ino_t)-1; /* 0 marks an empty slot */
    size_t j = id_hash(id) & (w->seen_cap - 1);
    for (; w->seen[j].ino; j = (j + 1) & (w->seen_cap - 1))
        if (w->seen[j].ino == id.ino && w->seen[j].dev == id.dev) return false;
    w->seen[j] = id;
    w->seen_n++;
    return true;
}

static bool fail(walker *w, const char *what) {
    snprintf(w->err, w->errlen, "%s: %s", what, strerror(errno ? errno : ENOMEM));
    return false;
}

static bool push_set(walker *w, index_ignore *ig, size_t base_len, bool builtin) {
    if (w->n_sets == w->cap_sets) {
        int cap = w->cap_sets ? w->cap_sets * 2 : 16;
        rule_set *s = realloc(w->sets, (size_t)cap * sizeof *s);
        if (!s) return false;
        w->sets = s;
        w->cap_sets = cap;
    }
    w->sets[w->n_sets++] = (rule_set){ig, base_len, builtin};
    return true;
}

/* Loads <dir>/<name> as a rule set if it is a readable, reasonably sized regular file. */
static bool load_rules(walker *w, const char *rel_dir, const char *name, size_t base_len) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s%s", w->root, rel_dir, name) >= (int)sizeof path)
        return true;
    size_t len;
    char *text = index_read_file(path, 1u << 20, &len);
    if (!text) return true; /* absent or unreadable: no rules */
    index_ignore *ig = index_ignore_parse(text, len);
    free(text);
    if (!ig || !push_set(w, ig, base_len, false)) {
        index_ignore_free(ig);
        errno = ENOMEM;
        return fail(w, name);
    }
    return true;
}

/* 1 ignored (*builtin says by which rules), 0 kept: the deepest decisive rule set wins. */
static bool is_ignored(const walker *w, const char *rel, bool is_dir, bool *builtin) {
    for (int i = w->n_sets - 1; i >= 0; i--) {
        const rule_set *s = &w->sets[i];
        int v = index_ignore_match(s->ig, rel + s->base_len, is_dir);
        if (v) {
            *builtin = s->builtin;
            return v > 0;
        }
    }
    return false;
}

static bool push_file(walker *w, const char *rel, const struct stat *st) {
    if (w->n_files == w->cap_files) {
        int64_t cap = w->cap_files ? w->cap_files * 2 : 256;
        index_file *f = realloc(w->files, (size_t)cap * sizeof *f);
        if (!f) return false;
        w->files = f;
        w->cap_files = cap;
    }
    char *p = strdup(rel);
    if (!p) return false;
    w->files[w->n_files++] = (index_file){
        p, (uint64_t)st->st_size, (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
        (uint64_t)st->st_dev, (uint64_t)st->st_ino};
    return true;
}

/* A symlink is followed only when it resolves inside the repository. */
static bool symlink_target(walker *w, const char *full, const char *rel, struct stat *st) {
    if (stat(full, st) != 0) {
        index_skips_add(w->skips, INDEX_SKIP_SYMLINK, rel); /* ELOOP, dangling, ... */
        return false;
    }
    char *real = realpath(full, NULL);
    size_t n = strlen(w->root_real);
    bool inside = real && !strncmp(real, w->root_real, n) && (real[n] == '/' || real[n] == 0);
    free(real);
    if (!inside) index_skips_add(w->skips, INDEX_SKIP_SYMLINK, rel);
    return inside;
}

static bool walk_dir(walker *w, char *rel, size_t rel_len, int depth);

/* Handles one directory entry; false only on a fatal error (out of memory). */
static bool walk_entry(walker *w, char *rel, size_t rel_len, const char *name, int depth) {
    char full[PATH_MAX];
    size_t nlen = strlen(name);
    rel[rel_len] = 0; /* drop the previous entry's name */
    if (rel_len + nlen + 2 >= PATH_MAX ||
        snprintf(full, sizeof full, "%s/%s%s", w->root, rel, name) >= (int)sizeof full) {
        index_skips_add(w->skips, INDEX_SKIP_UNREADABLE, name); /* path too long */
        return true;
    }
    memcpy(rel + rel_len, name, nlen + 1);
    if (!strcmp(name, ".git") || !strcmp(name, ".hg") || !strcmp(name, ".svn") ||
        !strcmp(name, INDEX_DIR))
        return true; /* version-control metadata and our own index: never content, not logged */
    struct stat st;
    bool oom = false, builtin = false;
    if (lstat(full, &st) != 0) {
        index_skips_add(w->skips, INDEX_SKIP_UNREADABLE, rel);
        return true;
    }
    if (S_ISLNK(st.st_mode) && !symlink_target(w, full, rel, &st)) return true;
    bool is_dir = S_ISDIR(st.st_mode);
    if (is_ignored(w, rel, is_dir, &builtin)) {
        index_skips_add(w->skips, builtin ? INDEX_SKIP_VENDORED : INDEX_SKIP_IGNORED, rel);
        return true;
    }
    if (!is_dir && !S_ISREG(st.st_mode)) {
        index_skips_add(w->skips, INDEX_SKIP_SPECIAL, rel);
        return true;
    }
    if (!seen_add(w, (file_id){st.st_dev, st.st_ino}, &oom)) {
        index_skips_add(w->skips, INDEX_SKIP_SYMLINK, rel); /* a loop or an alias */
        return true;
    }
    if (oom) return fail(w, "walk");
    if (is_dir) {
        memcpy(rel + rel_len + nlen, "/", 2);
        return walk_dir(w, rel, rel_len + nlen + 1, depth + 1);
    }
    if ((uint64_t)st.st_size > w->max_bytes) {
        index_skips_add(w->skips, INDEX_SKIP_TOO_LARGE, rel);
        return true;
    }
    return push_file(w, rel, &st) || fail(w, "walk");
}

static int path_cmp(const void *a, const void *b) {
    return strcmp(((const index_file *)a)->path, ((const index_file *)b)->path);
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entry names of a directory, sorted (so walks and logs are deterministic). */
static char **list_dir(const char *path, int *n_out) {
    DIR *d = opendir(path);
    if (!d) return NULL;
    char **names = NULL;
    int n = 0, cap = 0;
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **t = realloc(names, (size_t)cap * sizeof *t);
            if (!t) break;
            names = t;
        }
        ok = (names[n] = strdup(e->d_name)) != NULL;
        n += ok;
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, name_cmp);
    *n_out = n;
    return names ? names : calloc(1, sizeof *names);
}

/* rel is the directory relative to the root, "" or ending in '/'; a PATH_MAX buffer. */
static bool walk_dir(walker *w, char *rel, size_t rel_len, int depth) {
    char full[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", w->root, rel);
    if (depth > MAX_DEPTH) {
        index_skips_add(w->skips, INDEX_SKIP_UNREADABLE, rel);
        return true;
    }
    int n_sets = w->n_sets, n = 0;
    if (!load_rules(w, rel, ".gitignore", rel_len) || !load_rules(w, rel, ".hearthignore", rel_len))
        return false;
    char **names = list_dir(full, &n);
    bool ok = true;
    if (!names) index_skips_add(w->skips, INDEX_SKIP_UNREADABLE, rel_len ? rel : ".");
    for (int i = 0; i < n; i++) {
        if (ok) ok = walk_entry(w, rel, rel_len, names[i], depth);
        free(names[i]);
    }
    free(names);
    rel[rel_len] = 0;
    while (w->n_sets > n_sets) index_ignore_free(w->sets[--w->n_sets].ig);
    return ok;
}

static bool walk_setup(walker *w) {
    index_ignore *builtin = index_ignore_parse(BUILTIN_VENDORED, sizeof BUILTIN_VENDORED - 1);
    if (!builtin || !push_set(w, builtin, 0, true)) {
        index_ignore_free(builtin);
        errno = ENOMEM;
        return fail(w, "walk");
    }
    return load_rules(w, "", ".git/info/exclude", 0);
}

bool index_walk(const char *root, uint64_t max_file_bytes, index_file **files, int64_t *n_files,
                index_skips *skips, char *err, size_t errlen) {
    walker w = {.root = root,
                .max_bytes = max_file_bytes ? max_file_bytes : INDEX_MAX_FILE_BYTES,
                .skips = skips,
                .err = err,
                .errlen = errlen};
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", root);
        return false;
    }
    char *rel = calloc(1, PATH_MAX);
    bool oom = false;
    w.root_real = realpath(root, NULL);
    bool ok = rel && w.root_real ? walk_setup(&w) : fail(&w, root);
    if (ok) seen_add(&w, (file_id){st.st_dev, st.st_ino}, &oom);
    if (ok) ok = oom ? fail(&w, "walk") : walk_dir(&w, rel, 0, 0);
    while (w.n_sets) index_ignore_free(w.sets[--w.n_sets].ig);
    free(w.sets);
    free(w.seen);
    free(w.root_real);
    free(rel);
    if (!ok) {
        index_files_free(w.files, w.n_files);
        return false;
    }
    /* Directory order puts "web/x" before "web-old/y" ('-' < '/' only as whole paths): sort by
     * whole path, the store's order, or the incremental merge sees deletions and additions. */
    if (w.n_files) qsort(w.files, (size_t)w.n_files, sizeof *w.files, path_cmp);
    *files = w.files;
    *n_files = w.n_files;
    return true;
}

void index_files_free(index_file *files, int64_t n) {
    for (int64_t i = 0; i < n; i++) free(files[i].path);
    free(files);
}

static const char *const SKIP_NAMES[INDEX_SKIP_KINDS] = {
    "ignored by .gitignore/.hearthignore",
    "vendored",
    "generated",
    "minified",
    "binary",
    "over the size limit",
    "symlink loop, alias or link outside the repository",
    "not a regular file",
    "unreadable"};

const char *index_skip_kind_name(index_skip_kind k) {
    return k < INDEX_SKIP_KINDS ? SKIP_NAMES[k] : "?";
}

void index_skips_add(index_skips *s, index_skip_kind k, const char *path) {
    if (!s || k >= INDEX_SKIP_KINDS) return;
    if (!s->count[k]++) s->example[k] = strdup(path);
}

void index_skips_free(index_skips *s) {
    for (int k = 0; k < INDEX_SKIP_KINDS; k++) free(s->example[k]);
    memset(s, 0, sizeof *s);
}
