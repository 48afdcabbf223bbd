/* runtime/: the model registry (one load per file whatever the name, sharing across threads,
 * idle unloading, install hints) and the backend choice per role. Needs the reference kit's
 * tiny-qwen2-peaked model; the models dir is a temporary XDG_DATA_HOME. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "test.h"

#define CATALOGUE_NAME "qwen2.5-coder-0.5b:q8_0"
#define CATALOGUE_FILE "qwen2.5-coder-0.5b-q8_0.gguf"

static char model[4096]; /* the reference file */
static char tmp[] = "/tmp/hearth-runtime-XXXXXX";

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* $tmp/hearth/models/<catalogue file> -> the reference model (a symlink: same inode). */
static bool install_models_dir(void) {
    char dir[4200], link[4400];
    if (!mkdtemp(tmp)) return false;
    snprintf(dir, sizeof dir, "%s/hearth", tmp);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/hearth/models", tmp);
    mkdir(dir, 0700);
    snprintf(link, sizeof link, "%s/%s", dir, CATALOGUE_FILE);
    setenv("XDG_DATA_HOME", tmp, 1);
    return symlink(model, link) == 0;
}

static void test_registry_loads_a_file_once_under_three_names(void) {
    runtime_registry *r = runtime_registry_new(0);
    char err[RUNTIME_ERR_LEN];
    engine_model *a = runtime_model_acquire(r, model, MODELS_ROLE_COMPLETION, err, sizeof err);
    CHECKF(a, "%s", err);
    engine_model *b = runtime_model_acquire(r, CATALOGUE_NAME, MODELS_ROLE_CHAT, err, sizeof err);
    CHECKF(b == a, "catalogue name: %s", b ? "another model" : err);
    engine_model *c =
        runtime_model_acquire(r, "qwen2.5-coder-0.5b-q8_0", MODELS_ROLE_EMBEDDING, err, sizeof err);
    CHECKF(c == a, "file name without .gguf: %s", c ? "another model" : err);
    CHECK(runtime_model_loads(r, model) == 1);
    CHECK(runtime_model_loads(r, CATALOGUE_NAME) == 1);
    runtime_model_stat st[4];
    CHECK(runtime_registry_stats(r, st, 4) == 1);
    CHECK(st[0].users == 3 && st[0].loaded && st[0].loads == 1);
    runtime_model_release(r, a);
    runtime_model_release(r, b);
    CHECK(runtime_sweep(r) == 0); /* still used by c */
    runtime_model_release(r, c);
    runtime_registry_free(r);
}

static void test_registry_unloads_after_the_idle_period(void) {
    runtime_registry *r = runtime_registry_new(200);
    char err[RUNTIME_ERR_LEN];
    engine_model *m =
        runtime_model_acquire(r, CATALOGUE_NAME, MODELS_ROLE_COMPLETION, err, sizeof err);
    CHECKF(m, "%s", err);
    runtime_model_release(r, m);
    CHECK(runtime_sweep(r) == 0); /* released just now: kept for the idle period */
    runtime_model_stat st;
    CHECK(runtime_registry_stats(r, &st, 1) == 1 && st.loaded && st.users == 0);
    engine_model *again = runtime_model_acquire(r, model, MODELS_ROLE_COMPLETION, err, sizeof err);
    CHECK(again == m && runtime_model_loads(r, model) == 1); /* reused, not reloaded */
    runtime_model_release(r, again);
    sleep_ms(250);
    CHECK(runtime_sweep(r) == 1);
    CHECK(runtime_registry_stats(r, &st, 1) == 1 && !st.loaded);
    m = runtime_model_acquire(r, model, MODELS_ROLE_COMPLETION, err, sizeof err);
    CHECKF(m, "%s", err);
    CHECK(runtime_model_loads(r, model) == 2); /* loaded again after the sweep */
    runtime_model_release(r, m);
    runtime_registry_free(r);
}

static void test_missing_names_say_how_to_install(void) {
    runtime_registry *r = runtime_registry_new(0);
    char err[RUNTIME_ERR_LEN];
    CHECK(!runtime_model_acquire(r, "qwen2.5-coder-7b:q4_k_m", MODELS_ROLE_COMPLETION, err,
                                 sizeof err));
    CHECKF(strstr(err, "hearth pull qwen2.5-coder-7b:q4_k_m") && strstr(err, "completion model"),
           "%s", err);
    CHECK(!runtime_model_acquire(r, "no-such-model", MODELS_ROLE_CHAT, err, sizeof err));
    CHECKF(strstr(err, "no-such-model") && strstr(err, "hearth pull") && strstr(err, "chat model"),
           "%s", err);
    CHECK(!runtime_model_acquire(r, "/nonexistent/m.gguf", MODELS_ROLE_EMBEDDING, err, sizeof err));
    CHECKF(strstr(err, "/nonexistent/m.gguf"), "%s", err);
    CHECK(runtime_registry_stats(r, NULL, 0) == 0);
    runtime_registry_free(r);
}

typedef struct {
    runtime_registry *r;
    engine_model *got;
} acquirer;

static void *acquire_thread(void *arg) {
    acquirer *a = arg;
    char err[RUNTIME_ERR_LEN];
    a->got = runtime_model_acquire(a->r, CATALOGUE_NAME, MODELS_ROLE_COMPLETION, err, sizeof err);
    return NULL;
}

static void test_concurrent_acquires_share_one_load(void) {
    runtime_registry *r = runtime_registry_new(0);
    acquirer a[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (acquirer){r, NULL};
        pthread_create(&t[i], NULL, acquire_thread, &a[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) CHECK(a[i].got && a[i].got == a[0].got);
    CHECK(runtime_model_loads(r, model) == 1);
    for (int i = 0; i < 4; i++) runtime_model_release(r, a[i].got);
    CHECK(runtime_sweep(r) == 1);
    runtime_registry_free(r);
}

static void test_backend_choice_per_role(void) {
    const char *j = "{\"completion\": {\"backend\": \"openai\", \"base_url\": \"http://h:8/v1\","
                    " \"fallback\": \"local\", \"local_model\": \"x.gguf\"},"
                    " \"chat\": {\"backend\": \"openai\", \"base_url\": \"http://h:8/v1\"},"
                    " \"embedding\": {\"model\": \"emb.gguf\"}}";
    models_config c;
    char err[MODELS_ERR_LEN];
    CHECKF(models_config_parse(j, strlen(j), "cfg", &c, err, sizeof err), "%s", err);
    runtime_backend b;
    runtime_backend_choose(&c, MODELS_ROLE_COMPLETION, "given.gguf", false, &b);
    CHECK(b.remote == &c.role[MODELS_ROLE_COMPLETION] && !strcmp(b.local, "x.gguf"));
    CHECK(runtime_backend_falls_back(&b, true, false));
    CHECK(!runtime_backend_falls_back(&b, true, true));   /* text already shown */
    CHECK(!runtime_backend_falls_back(&b, false, false)); /* the server answered (an error) */
    runtime_backend_choose(&c, MODELS_ROLE_COMPLETION, "given.gguf", true, &b);
    CHECK(!b.remote && !strcmp(b.local, "given.gguf")); /* a CLI -m pins the local engine */
    runtime_backend_choose(&c, MODELS_ROLE_CHAT, "given.gguf", false, &b);
    CHECK(b.remote && !b.local && !runtime_backend_falls_back(&b, true, false)); /* no fallback */
    runtime_backend_choose(&c, MODELS_ROLE_EMBEDDING, NULL, false, &b);
    CHECK(!b.remote && !strcmp(b.local, "emb.gguf") && !b.local_is_default);
    models_config_free(&c);
    runtime_backend_choose(NULL, MODELS_ROLE_COMPLETION, NULL, false, &b);
    CHECK(!b.remote && !strcmp(b.local, MODELS_DEFAULT_COMPLETION) && b.local_is_default);
    runtime_backend_choose(NULL, MODELS_ROLE_CHAT, NULL, false, &b);
    CHECK(!b.remote && !b.local);
}

static void cleanup(void) {
    char p[4400];
    snprintf(p, sizeof p, "%s/hearth/models/%s", tmp, CATALOGUE_FILE);
    unlink(p);
    snprintf(p, sizeof p, "%s/hearth/models", tmp);
    rmdir(p);
    snprintf(p, sizeof p, "%s/hearth", tmp);
    rmdir(p);
    rmdir(tmp);
}

int main(void) {
    const char *ref = getenv("HEARTH_REF_DIR");
    snprintf(model, sizeof model, "%s/models/tiny-qwen2-peaked-Q8_0.gguf",
             ref ? ref : "../shared/reference");
    char given[4096];
    snprintf(given, sizeof given, "%s", model);
    if (access(given, R_OK) != 0 || !realpath(given, model)) {
        fprintf(stderr, "skipped: no %s\n", model);
        return 77;
    }
    if (!install_models_dir()) {
        fprintf(stderr, "cannot make a models dir in /tmp\n");
        return 1;
    }
    test_registry_loads_a_file_once_under_three_names();
    test_registry_unloads_after_the_idle_period();
    test_missing_names_say_how_to_install();
    test_concurrent_acquires_share_one_load();
    test_backend_choice_per_role();
    cleanup();
    return test_summary("test_runtime");
}
