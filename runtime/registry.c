/* The model registry: one entry per model file (device + inode) ever loaded, holding the loaded
 * model while anyone uses it (and for the idle period after), and the count of loads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "runtime.h"

typedef struct entry {
    dev_t dev;
    ino_t ino;
    char path[MODELS_PATH_LEN];
    engine_model *model; /* NULL when unloaded */
    bool loading;        /* one caller is loading it (unlocked); others wait on r->cv */
    int32_t users;
    int64_t loads;
    int64_t released_ms; /* when users last dropped to 0 */
    struct entry *next;
} entry;

struct runtime_registry {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t idle_ms;
    entry *head, *tail;
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

runtime_registry *runtime_registry_new(int64_t idle_ms) {
    runtime_registry *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->idle_ms = idle_ms < 0 ? 0 : idle_ms;
    return r;
}

void runtime_registry_free(runtime_registry *r) {
    if (!r) return;
    for (entry *e = r->head, *next; e; e = next) {
        next = e->next;
        engine_model_free(e->model);
        free(e);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* Locked. */
static entry *find_file(runtime_registry *r, const struct stat *st) {
    for (entry *e = r->head; e; e = e->next)
        if (e->dev == st->st_dev && e->ino == st->st_ino) return e;
    return NULL;
}

/* Locked: the entry of a file, added if new; NULL when out of memory. */
static entry *entry_for(runtime_registry *r, const struct stat *st, const char *path) {
    entry *e = find_file(r, st);
    if (e || !(e = calloc(1, sizeof *e))) return e;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    snprintf(e->path, sizeof e->path, "%s", path);
    if (r->tail)
        r->tail->next = e;
    else
        r->head = e;
    r->tail = e;
    return e;
}

/* Locked on entry and return; unlocked while it loads. */
static engine_model *load_entry(runtime_registry *r, entry *e, const char *path, char *err,
                                size_t errlen) {
    e->loading = true;
    pthread_mutex_unlock(&r->mu);
    char why[ENGINE_ERR_LEN];
    engine_model *m = engine_model_load(path, why, sizeof why);
    pthread_mutex_lock(&r->mu);
    e->loading = false;
    pthread_cond_broadcast(&r->cv);
    if (!m) {
        snprintf(err, errlen, "%s: %s", path, why);
        return NULL;
    }
    e->model = m;
    e->loads++;
    return m;
}

engine_model *runtime_model_acquire(runtime_registry *r, const char *name, models_role role,
                                    char *err, size_t errlen) {
    char *path = runtime_resolve(name, role, err, errlen);
    if (!path) return NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot read the file", path);
        free(path);
        return NULL;
    }
    pthread_mutex_lock(&r->mu);
    entry *e = entry_for(r, &st, path);
    while (e && e->loading) pthread_cond_wait(&r->cv, &r->mu);
    engine_model *m = !e ? NULL : e->model ? e->model : load_entry(r, e, path, err, errlen);
    if (!e) snprintf(err, errlen, "out of memory");
    if (m) e->users++;
    pthread_mutex_unlock(&r->mu);
    free(path);
    return m;
}

void runtime_model_release(runtime_registry *r, engine_model *m) {
    if (!m) return;
    pthread_mutex_lock(&r->mu);
    for (entry *e = r->head; e; e = e->next)
        if (e->model == m && e->users > 0) {
            if (--e->users == 0) e->released_ms = now_ms();
            break;
        }
    pthread_mutex_unlock(&r->mu);
}

int runtime_sweep(runtime_registry *r) {
    int n = 0;
    int64_t now = now_ms();
    pthread_mutex_lock(&r->mu);
    for (entry *e = r->head; e; e = e->next)
        if (e->model && e->users == 0 && !e->loading && now - e->released_ms >= r->idle_ms) {
            engine_model_free(e->model);
            e->model = NULL;
            n++;
        }
    pthread_mutex_unlock(&r->mu);
    return n;
}

int64_t runtime_model_loads(runtime_registry *r, const char *name) {
    char err[RUNTIME_ERR_LEN];
    char *path = runtime_resolve(name, MODELS_ROLE_COMPLETION, err, sizeof err);
    struct stat st;
    int64_t n = 0;
    if (path && stat(path, &st) == 0) {
        pthread_mutex_lock(&r->mu);
        entry *e = find_file(r, &st);
        n = e ? e->loads : 0;
        pthread_mutex_unlock(&r->mu);
    }
    free(path);
    return n;
}

int runtime_registry_stats(runtime_registry *r, runtime_model_stat *out, int max) {
    int n = 0;
    pthread_mutex_lock(&r->mu);
    for (entry *e = r->head; e; e = e->next, n++)
        if (n < max) {
            snprintf(out[n].path, sizeof out[n].path, "%s", e->path);
            out[n].loads = e->loads;
            out[n].users = e->users;
            out[n].loaded = e->model != NULL;
        }
    pthread_mutex_unlock(&r->mu);
    return n;
}
