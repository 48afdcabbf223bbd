/* models/ without a network: SHA-256 against FIPS 180-4's examples and NIST's vectors, the
 * configuration parser (good files and each kind of bad one), the memory-fit sentence, the
 * catalogue, XDG paths and name resolution, listing and removal. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models.h"
#include "test.h"

static void sha_of(const void *data, size_t len, char hex[65]) {
    models_sha256 s;
    models_sha256_init(&s);
    models_sha256_update(&s, data, len);
    models_sha256_final(&s, hex);
}

static void test_sha256_fips_vectors(void) {
    char hex[65];
    sha_of("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    sha_of("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_of(m448, strlen(m448), hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    const char *m896 =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
        "klmnopqrlmnopqrsmnopqrstnopqrstu";
    sha_of(m896, strlen(m896), hex);
    CHECK(!strcmp(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
    /* one million 'a', fed in uneven pieces so every buffering path is taken */
    models_sha256 s;
    models_sha256_init(&s);
    char a[1000];
    memset(a, 'a', sizeof a);
    size_t fed = 0, step = 1;
    while (fed < 1000000) {
        size_t n = step < 1000000 - fed ? step : 1000000 - fed;
        n = n < sizeof a ? n : sizeof a;
        models_sha256_update(&s, a, n);
        fed += n;
        step = step * 7 % 997 + 1;
    }
    models_sha256_final(&s, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    /* lengths around the padding boundary (55, 56, 63, 64 bytes) agree with one-shot hashing */
    for (size_t len = 54; len <= 66; len++) {
        char one[65], split[65];
        sha_of(a, len, one);
        models_sha256_init(&s);
        models_sha256_update(&s, a, len / 3);
        models_sha256_update(&s, a, len - len / 3);
        models_sha256_final(&s, split);
        CHECK(!strcmp(one, split));
    }
}

static void test_config_parses_roles(void) {
    setenv("HEARTH_TEST_KEY", "s3cret", 1);
    const char *j = "{\"completion\": {\"backend\": \"openai\", \"base_url\": \"http://h:8/v1/\","
                    " \"model\": \"m\", \"api_key_env\": \"HEARTH_TEST_KEY\", \"timeout_s\": 3,"
                    " \"retries\": 1, \"fallback\": \"local\", \"local_model\": \"x.gguf\"},"
                    " \"embedding\": {\"backend\": \"openai\", \"base_url\": \"https://e/v1\","
                    " \"api_key\": \"k\", \"batch\": 16}}";
    models_config c;
    char err[MODELS_ERR_LEN];
    CHECKF(models_config_parse(j, strlen(j), "cfg", &c, err, sizeof err), "%s", err);
    models_backend *b = &c.role[MODELS_ROLE_COMPLETION];
    CHECK(b->kind == MODELS_BACKEND_OPENAI && !strcmp(b->base_url, "http://h:8/v1"));
    CHECK(!strcmp(b->model, "m") && !strcmp(b->api_key, "s3cret") && b->timeout_s == 3);
    CHECK(b->retries == 1 && b->fallback_local && !strcmp(b->local_model, "x.gguf"));
    CHECK(c.role[MODELS_ROLE_CHAT].kind == MODELS_BACKEND_LOCAL);
    CHECK(!strcmp(c.role[MODELS_ROLE_EMBEDDING].api_key, "k"));
    CHECK(c.role[MODELS_ROLE_EMBEDDING].batch == 16);
    models_config_free(&c);
}

static void bad_config(const char *json, const char *want) {
    models_config c;
    char err[MODELS_ERR_LEN] = "";
    bool ok = models_config_parse(json, strlen(json), "cfg", &c, err, sizeof err);
    CHECKF(!ok && strstr(err, want), "%s -> '%s' (want '%s')", json, err, want);
    if (ok) models_config_free(&c);
}

static void test_config_rejects_bad_files(void) {
    bad_config("{", "cfg:");
    bad_config("[]", "must be a JSON object");
    bad_config("{\"complete\": {}}", "unknown key \"complete\"");
    bad_config("{\"chat\": 3}", "chat: must be an object");
    bad_config("{\"chat\": {\"backend\": \"vllm\"}}", "chat.backend");
    bad_config("{\"chat\": {\"backend\": \"openai\"}}", "chat.base_url: is needed");
    bad_config("{\"chat\": {\"base_url\": \"ftp://x\"}}", "must start with http");
    bad_config("{\"chat\": {\"timeout_s\": -1}}", "chat.timeout_s: must be a number");
    bad_config("{\"chat\": {\"retries\": \"3\"}}", "chat.retries");
    bad_config("{\"chat\": {\"modle\": \"x\"}}", "chat.modle: unknown key");
    bad_config("{\"chat\": {}, \"chat\": {}}", "duplicate");
    bad_config("{\"chat\": {\"model\": \"a\\u0000b\"}}", "u0000");
}

static void test_fit_check_says_by_how_much(void) {
    char msg[MODELS_ERR_LEN];
    CHECK(models_fit_check(1000000000, 500000000, 2000000000, msg, sizeof msg));
    CHECK(!models_fit_check(8000000000ull, 1100000000ull, 6000000000ull, msg, sizeof msg));
    CHECKF(strstr(msg, "needs 9.10 GB") && strstr(msg, "6.00 GB is available") &&
               strstr(msg, "3.10 GB short"),
           "%s", msg);
    uint64_t avail = 0;
    CHECK(models_mem_available(&avail, msg, sizeof msg) && avail > 0);
}

static void touch(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

static void test_paths_resolve_list_remove(void) {
    char tmp[] = "/tmp/hearth-models-unit-XXXXXX", dir[512], path[600], err[MODELS_ERR_LEN];
    CHECK(mkdtemp(tmp) != NULL);
    setenv("XDG_DATA_HOME", tmp, 1);
    setenv("XDG_CONFIG_HOME", tmp, 1);
    CHECK(models_dir(dir, sizeof dir, err, sizeof err));
    snprintf(path, sizeof path, "%s/hearth/models", tmp);
    CHECK(!strcmp(dir, path));
    CHECK(models_config_path(path, sizeof path, err, sizeof err) &&
          strstr(path, "hearth/config.json"));
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK(models_dir(path, sizeof path, err, sizeof err));
    CHECK(!strcmp(path, "/home/u/.local/share/hearth/models"));
    setenv("XDG_DATA_HOME", tmp, 1);

    models_config c; /* no file: everything local */
    CHECK(models_config_load(NULL, &c, err, sizeof err) && c.path[0] == 0);
    CHECK(c.role[MODELS_ROLE_CHAT].kind == MODELS_BACKEND_LOCAL);
    models_config_free(&c);

    const models_entry *e = models_catalogue_find("QWEN2.5-coder-1.5b:Q5_K_M");
    CHECK(e && !strcmp(e->file, "qwen2.5-coder-1.5b-q5_k_m.gguf"));
    CHECK(e && !strncmp(e->url, "https://huggingface.co/", 23) && strstr(e->url, "/resolve/main/"));
    CHECK(models_catalogue_find(MODELS_DEFAULT_COMPLETION) != NULL);

    char *r = models_resolve("qwen2.5-coder-1.5b:q5_k_m", err, sizeof err);
    CHECKF(!r && strstr(err, "hearth pull qwen2.5-coder-1.5b:q5_k_m"), "%s", err);
    mkdir(tmp, 0755);
    snprintf(path, sizeof path, "%s/hearth", tmp);
    mkdir(path, 0755);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/qwen2.5-coder-1.5b-q5_k_m.gguf", dir);
    touch(path, "GGUF");
    r = models_resolve("qwen2.5-coder-1.5b:q5_k_m", err, sizeof err);
    CHECK(r && !strcmp(r, path));
    free(r);
    r = models_resolve("qwen2.5-coder-1.5b-q5_k_m", err, sizeof err); /* file name without .gguf */
    CHECK(r && !strcmp(r, path));
    free(r);
    r = models_resolve(path, err, sizeof err); /* a path stays a path */
    CHECK(r && !strcmp(r, path));
    free(r);
    CHECK(!models_resolve("/nope/x.gguf", err, sizeof err) && strstr(err, "no such file"));
    CHECK(!models_resolve("../etc", err, sizeof err));

    snprintf(path, sizeof path, "%s/other.gguf.part", dir);
    touch(path, "GG");
    snprintf(path, sizeof path, "%s/qwen2.5-coder-1.5b-q5_k_m.gguf.json", dir);
    touch(path, "{\"name\": \"qwen2.5-coder-1.5b:q5_k_m\", \"sha256\": "
                "\"0000000000000000000000000000000000000000000000000000000000000000\", "
                "\"verified\": false}");
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    touch(path, "not a model");
    models_installed *m;
    int32_t n;
    CHECK(models_list(NULL, &m, &n, err, sizeof err) && n == 2);
    if (n == 2) {
        CHECK(!strcmp(m[0].file, "other.gguf.part") && m[0].partial && !m[0].name);
        CHECK(!strcmp(m[1].name, "qwen2.5-coder-1.5b:q5_k_m") && m[1].size == 4);
        CHECK(m[1].sha256_known && !m[1].sha256_verified);
    }
    models_installed_free(m, n);
    char removed[600];
    CHECK(
        models_remove(NULL, "qwen2.5-coder-1.5b:q5_k_m", removed, sizeof removed, err, sizeof err));
    CHECK(access(path, F_OK) == 0); /* notes.txt untouched */
    CHECK(!models_remove(NULL, "qwen2.5-coder-1.5b:q5_k_m", removed, sizeof removed, err,
                         sizeof err) &&
          strstr(err, "not installed"));
    CHECK(models_remove(NULL, "other", removed, sizeof removed, err, sizeof err));
    CHECK(!models_remove(NULL, "../x", removed, sizeof removed, err, sizeof err));
    CHECK(models_list(NULL, &m, &n, err, sizeof err) && n == 0);
    models_installed_free(m, n);
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/hearth", tmp);
    rmdir(path);
    rmdir(tmp);
}

int main(void) {
    test_sha256_fips_vectors();
    test_config_parses_roles();
    test_config_rejects_bad_files();
    test_fit_check_says_by_how_much();
    test_paths_resolve_list_remove();
    return test_summary("test_models_units");
}
