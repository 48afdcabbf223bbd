/* Where models live on disk: the XDG paths, the per-model manifest, name resolution, listing and
 * removal, and whether a model fits in memory. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "internal.h"

/* $VAR/sub, or $HOME/fallback/sub when VAR is unset or not absolute (as the XDG spec says). */
static bool xdg_path(const char *var, const char *fallback, const char *sub, char *out, size_t cap,
                     char *err, size_t errlen) {
    const char *base = getenv(var), *home = getenv("HOME");
    int n;
    if (base && base[0] == '/')
        n = snprintf(out, cap, "%s/%s", base, sub);
    else if (home && home[0] == '/')
        n = snprintf(out, cap, "%s/%s/%s", home, fallback, sub);
    else {
        snprintf(err, errlen, "neither $%s nor $HOME is set to an absolute path", var);
        return false;
    }
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, errlen, "$%s is too long", var);
        return false;
    }
    return true;
}

bool models_dir(char *out, size_t cap, char *err, size_t errlen) {
    return xdg_path("XDG_DATA_HOME", ".local/share", "hearth/models", out, cap, err, errlen);
}

bool models_config_path(char *out, size_t cap, char *err, size_t errlen) {
    return xdg_path("XDG_CONFIG_HOME", ".config", "hearth/config.json", out, cap, err, errlen);
}

bool models_join(char *out, size_t cap, const char *dir, const char *file, const char *suffix,
                 char *err, size_t errlen) {
    int n = snprintf(out, cap, "%s/%s%s", dir, file, suffix ? suffix : "");
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, errlen, "path too long: %s/%s", dir, file);
        return false;
    }
    return true;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

bool models_file_name_ok(const char *f) {
    if (!f[0] || f[0] == '.' || strlen(f) > 255) return false;
    for (const char *p = f; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            !strchr("._-+", *p))
            return false;
    return true;
}

/* The installed file a name stands for (catalogue name, file name, file name without .gguf). */
static bool installed_path(const char *dir, const char *name, char *out, size_t cap) {
    char e[8];
    const models_entry *c = models_catalogue_find(name);
    if (c) return models_join(out, cap, dir, c->file, NULL, e, 0) && is_file(out);
    if (!models_file_name_ok(name)) return false;
    if (models_join(out, cap, dir, name, NULL, e, 0) && ends_with(name, ".gguf") && is_file(out))
        return true;
    return models_join(out, cap, dir, name, ".gguf", e, 0) && is_file(out);
}

char *models_resolve(const char *what, char *err, size_t errlen) {
    char dir[MODELS_PATH_LEN], path[MODELS_PATH_LEN];
    if (!what || !*what) {
        snprintf(err, errlen, "no model given");
        return NULL;
    }
    if (is_file(what)) return strdup(what);
    struct stat st;
    if (stat(what, &st) == 0) { /* a directory, fifo, device: say what it is */
        snprintf(err, errlen, "%s is %s, not a model file", what, base_file_kind(st.st_mode));
        return NULL;
    }
    if (strchr(what, '/')) {
        snprintf(err, errlen, "%s: no such file", what);
        return NULL;
    }
    if (!models_dir(dir, sizeof dir, err, errlen)) return NULL;
    if (installed_path(dir, what, path, sizeof path)) return strdup(path);
    if (models_catalogue_find(what))
        snprintf(err, errlen, "%s is not installed in %s: run 'hearth pull %s'", what, dir, what);
    else
        snprintf(err, errlen, "%s: no such file, catalogue name or model in %s (see 'hearth list')",
                 what, dir);
    return NULL;
}

/* ---- manifests: <dir>/<file>.json ---- */

bool models_manifest_write(const char *dir, const char *file, const models_manifest *m, char *err,
                           size_t errlen) {
    char path[MODELS_PATH_LEN], tmp[MODELS_PATH_LEN];
    if (!models_join(path, sizeof path, dir, file, ".json", err, errlen) ||
        !models_join(tmp, sizeof tmp, dir, file, ".json.tmp", err, errlen))
        return false;
    json_t *o = json_pack("{s:s?, s:s?, s:I, s:s, s:b}", "name", m->name, "url", m->url, "size",
                          (json_int_t)m->size, "sha256", m->sha256, "verified", m->verified);
    int rc = o ? json_dump_file(o, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) : -1;
    json_decref(o);
    if (rc != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return false;
    }
    return true;
}

/* Reads what a manifest says; false when it is missing or malformed (then nothing is known). */
static bool manifest_read(const char *dir, const char *file, models_installed *m) {
    char path[MODELS_PATH_LEN], e[8];
    if (!models_join(path, sizeof path, dir, file, ".json", e, 0)) return false;
    json_t *o = json_load_file(path, 0, NULL);
    const char *sha = json_string_value(json_object_get(o, "sha256"));
    const char *name = json_string_value(json_object_get(o, "name"));
    bool ok = sha && strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64;
    if (ok) {
        memcpy(m->sha256, sha, 65);
        m->sha256_known = true;
        m->sha256_verified = json_is_true(json_object_get(o, "verified"));
        if (name && models_catalogue_find(name)) m->name = strdup(name);
    }
    json_decref(o);
    return ok;
}

/* ---- listing and removal ---- */

static int by_file(const void *a, const void *b) {
    return strcmp(((const models_installed *)a)->file, ((const models_installed *)b)->file);
}

static bool list_add(models_installed **out, int32_t *n, int32_t *cap, const char *dir,
                     const char *file, uint64_t size, bool partial) {
    if (*n == *cap) {
        int32_t c = *cap ? *cap * 2 : 16;
        models_installed *m = realloc(*out, (size_t)c * sizeof *m);
        if (!m) return false;
        *out = m, *cap = c;
    }
    models_installed *m = &(*out)[*n];
    memset(m, 0, sizeof *m);
    m->file = strdup(file);
    if (!m->file) return false;
    m->size = size;
    m->partial = partial;
    if (!partial) manifest_read(dir, file, m);
    size_t nc;
    const models_entry *cat = models_catalogue(&nc);
    for (size_t i = 0; !m->name && i < nc; i++) {
        size_t fl = strlen(cat[i].file);
        if (!strncmp(file, cat[i].file, fl) && (!file[fl] || !strcmp(file + fl, ".part")))
            m->name = strdup(cat[i].name);
    }
    (*n)++;
    return true;
}

bool models_list(const char *dir_in, models_installed **out, int32_t *n, char *err, size_t errlen) {
    char dir[MODELS_PATH_LEN], path[MODELS_PATH_LEN];
    *out = NULL, *n = 0;
    if (dir_in)
        snprintf(dir, sizeof dir, "%s", dir_in);
    else if (!models_dir(dir, sizeof dir, err, errlen))
        return false;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return true;
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return false;
    }
    int32_t cap = 0;
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(d))) {
        bool partial = ends_with(de->d_name, ".gguf.part");
        if (!partial && !ends_with(de->d_name, ".gguf")) continue;
        struct stat st;
        if (!models_join(path, sizeof path, dir, de->d_name, NULL, err, errlen) ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        ok = list_add(out, n, &cap, dir, de->d_name, (uint64_t)st.st_size, partial);
    }
    closedir(d);
    if (!ok) {
        models_installed_free(*out, *n);
        *out = NULL, *n = 0;
        snprintf(err, errlen, "out of memory");
        return false;
    }
    if (*n) qsort(*out, (size_t)*n, sizeof **out, by_file);
    return true;
}

void models_installed_free(models_installed *m, int32_t n) {
    for (int32_t i = 0; m && i < n; i++) free(m[i].file), free(m[i].name);
    free(m);
}

bool models_remove(const char *dir_in, const char *name, char *removed, size_t removed_cap,
                   char *err, size_t errlen) {
    char dir[MODELS_PATH_LEN], base[MODELS_PATH_LEN], path[MODELS_PATH_LEN];
    if (dir_in)
        snprintf(dir, sizeof dir, "%s", dir_in);
    else if (!models_dir(dir, sizeof dir, err, errlen))
        return false;
    const models_entry *c = models_catalogue_find(name);
    snprintf(base, sizeof base, "%s%s", c ? c->file : name,
             c || ends_with(name, ".gguf") ? "" : ".gguf");
    if (!models_file_name_ok(base)) {
        snprintf(err, errlen, "%s: not a model name (see 'hearth list')", name);
        return false;
    }
    static const char *const SUFFIXES[] = {"", ".part", ".json"};
    bool gone = false;
    if (removed_cap) removed[0] = 0;
    for (int i = 0; i < 3; i++) {
        if (!models_join(path, sizeof path, dir, base, SUFFIXES[i], err, errlen)) return false;
        if (unlink(path) == 0) {
            if (i < 2 && !gone && removed_cap) snprintf(removed, removed_cap, "%s", path);
            gone |= i < 2; /* a manifest alone is not a model */
        } else if (errno != ENOENT) {
            snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
            return false;
        }
    }
    if (!gone) {
        snprintf(err, errlen, "%s is not installed in %s (see 'hearth list')", name, dir);
        return false;
    }
    return true;
}

/* ---- memory ---- */

bool models_mem_available(uint64_t *bytes, char *err, size_t errlen) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) {
        snprintf(err, errlen, "/proc/meminfo: %s", strerror(errno));
        return false;
    }
    char line[256];
    unsigned long long kb = 0;
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
    fclose(f);
    if (!found) {
        snprintf(err, errlen, "/proc/meminfo has no MemAvailable line");
        return false;
    }
    *bytes = (uint64_t)kb * 1024;
    return true;
}

/* 1.23 GB, 456.7 MB, 89.0 KB: the unit that keeps the number readable. */
static const char *fmt_bytes(double b, char *out, size_t cap) {
    if (b >= 1e9)
        snprintf(out, cap, "%.2f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(out, cap, "%.1f MB", b / 1e6);
    else
        snprintf(out, cap, "%.1f KB", b / 1e3);
    return out;
}

bool models_fit_check(uint64_t weights, uint64_t kv, uint64_t avail, char *msg, size_t msglen) {
    double need = (double)weights + (double)kv;
    char n[32], w[32], k[32], a[32], short_by[32];
    fmt_bytes(need, n, sizeof n), fmt_bytes((double)weights, w, sizeof w);
    fmt_bytes((double)kv, k, sizeof k), fmt_bytes((double)avail, a, sizeof a);
    if (need <= (double)avail) {
        snprintf(msg, msglen, "needs %s (weights %s + KV cache %s); %s available", n, w, k, a);
        return true;
    }
    snprintf(msg, msglen,
             "does not fit in memory: needs %s (weights %s + KV cache %s) but only %s is "
             "available, %s short (use a smaller quantization or context, or free memory)",
             n, w, k, a, fmt_bytes(need - (double)avail, short_by, sizeof short_by));
    return false;
}
