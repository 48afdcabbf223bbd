/* The configuration file: a backend per role.
 *
 *   {"completion": {"backend": "openai", "base_url": "http://gpu-box:8080/v1",
 *                   "model": "qwen2.5-coder-7b", "api_key_env": "HEARTH_API_KEY",
 *                   "timeout_s": 10, "retries": 1, "fallback": "local",
 *                   "local_model": "qwen2.5-coder-1.5b:q5_k_m"},
 *    "chat": {...}, "embedding": {...}}
 *
 * Unknown keys are errors (a misspelt key would otherwise be silently ignored). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const char *const ROLE_NAMES[MODELS_ROLES] = {"completion", "chat", "embedding"};

const char *models_role_name(models_role r) {
    return r >= 0 && r < MODELS_ROLES ? ROLE_NAMES[r] : "?";
}

static void backend_defaults(models_backend *b) {
    memset(b, 0, sizeof *b);
    b->kind = MODELS_BACKEND_LOCAL;
    b->timeout_s = 60;
    b->connect_timeout_s = 5;
    b->retries = 2;
    b->batch = 64;
}

typedef struct {
    const char *origin, *role;
    char *err;
    size_t errlen;
} where;

static bool bad(const where *w, const char *key, const char *why) {
    snprintf(w->err, w->errlen, "%s: %s.%s: %s", w->origin, w->role, key, why);
    return false;
}

static bool get_string(const where *w, json_t *v, const char *key, char **out) {
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return bad(w, key, "must be a string (without NUL)");
    free(*out);
    *out = strdup(json_string_value(v));
    return *out || bad(w, key, "out of memory");
}

static bool get_number(const where *w, json_t *v, const char *key, double lo, double hi,
                       double *out) {
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
        char why[96];
        snprintf(why, sizeof why, "must be a number in [%g, %g]", lo, hi);
        return bad(w, key, why);
    }
    *out = json_number_value(v);
    return true;
}

static bool set_key(const where *w, models_backend *b, const char *key, json_t *v) {
    double d;
    const char *s = json_string_value(v);
    if (!strcmp(key, "backend")) {
        if (!s || (strcmp(s, "local") && strcmp(s, "openai")))
            return bad(w, key, "must be \"local\" or \"openai\"");
        b->kind = strcmp(s, "local") ? MODELS_BACKEND_OPENAI : MODELS_BACKEND_LOCAL;
        return true;
    }
    if (!strcmp(key, "fallback")) {
        if (!s || (strcmp(s, "local") && strcmp(s, "none")))
            return bad(w, key, "must be \"local\" or \"none\"");
        b->fallback_local = !strcmp(s, "local");
        return true;
    }
    if (!strcmp(key, "base_url")) {
        if (!get_string(w, v, key, &b->base_url)) return false;
        if (strncasecmp(b->base_url, "http://", 7) && strncasecmp(b->base_url, "https://", 8))
            return bad(w, key, "must start with http:// or https://");
        size_t n = strlen(b->base_url);
        while (n > 8 && b->base_url[n - 1] == '/') b->base_url[--n] = 0;
        return true;
    }
    if (!strcmp(key, "model")) return get_string(w, v, key, &b->model);
    if (!strcmp(key, "api_key")) return get_string(w, v, key, &b->api_key);
    if (!strcmp(key, "api_key_env")) return get_string(w, v, key, &b->api_key_env);
    if (!strcmp(key, "local_model")) return get_string(w, v, key, &b->local_model);
    if (!strcmp(key, "timeout_s")) return get_number(w, v, key, 0.1, 86400, &b->timeout_s);
    if (!strcmp(key, "connect_timeout_s"))
        return get_number(w, v, key, 0.1, 3600, &b->connect_timeout_s);
    if (!strcmp(key, "retries") && get_number(w, v, key, 0, 10, &d)) return b->retries = (int)d, 1;
    if (!strcmp(key, "context_size") && get_number(w, v, key, 0, 1 << 24, &d))
        return b->context_size = (int32_t)d, 1;
    if (!strcmp(key, "batch") && get_number(w, v, key, 1, 4096, &d))
        return b->batch = (int32_t)d, 1;
    if (!strcmp(key, "retries") || !strcmp(key, "context_size") || !strcmp(key, "batch"))
        return false; /* reported by get_number */
    return bad(w, key,
               "unknown key (known: backend, base_url, model, api_key, api_key_env, timeout_s, "
               "connect_timeout_s, retries, fallback, local_model, context_size, batch)");
}

static bool parse_role(const where *w, models_backend *b, json_t *o) {
    if (!json_is_object(o)) {
        snprintf(w->err, w->errlen, "%s: %s: must be an object", w->origin, w->role);
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) if (!set_key(w, b, key, v)) return false;
    if (b->kind == MODELS_BACKEND_OPENAI && !b->base_url)
        return bad(w, "base_url", "is needed for the openai backend");
    if (!b->api_key && b->api_key_env) {
        const char *k = getenv(b->api_key_env);
        if (k && *k && !(b->api_key = strdup(k))) return bad(w, "api_key_env", "out of memory");
    }
    for (const char *k = b->api_key; k && *k; k++) /* it goes into an HTTP header */
        if ((unsigned char)*k < 0x20 || *k == 0x7f)
            return bad(w, b->api_key_env ? "api_key_env" : "api_key",
                       "the key contains control characters");
    return true;
}

bool models_config_parse(const char *json, size_t len, const char *origin, models_config *c,
                         char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    for (int r = 0; r < MODELS_ROLES; r++) backend_defaults(&c->role[r]);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        if (root)
            snprintf(err, errlen, "%s: the configuration must be a JSON object", origin);
        else
            snprintf(err, errlen, "%s:%d:%d: %s", origin, je.line, je.column, je.text);
        json_decref(root);
        return false;
    }
    bool ok = true;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int r = 0;
        while (r < MODELS_ROLES && strcmp(key, ROLE_NAMES[r])) r++;
        if (r == MODELS_ROLES) {
            snprintf(err, errlen, "%s: unknown key \"%s\" (known: completion, chat, embedding)",
                     origin, key);
            ok = false;
            break;
        }
        where w = {origin, ROLE_NAMES[r], err, errlen};
        if (!(ok = parse_role(&w, &c->role[r], v))) break;
    }
    json_decref(root);
    if (!ok) models_config_free(c);
    return ok;
}

bool models_config_load(const char *path, models_config *c, char *err, size_t errlen) {
    char def[MODELS_PATH_LEN];
    if (!path && !models_config_path(def, sizeof def, err, errlen)) return false;
    if (!path) path = def;
    FILE *f = fopen(path, "rb");
    if (!f && errno == ENOENT) { /* no file: everything local */
        memset(c, 0, sizeof *c);
        for (int r = 0; r < MODELS_ROLES; r++) backend_defaults(&c->role[r]);
        return true;
    }
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    static const size_t MAX = 1 << 20;
    char *buf = malloc(MAX + 1);
    size_t n = buf ? fread(buf, 1, MAX + 1, f) : 0;
    bool ok = buf && !ferror(f) && n <= MAX;
    fclose(f);
    if (!ok)
        snprintf(err, errlen, "%s: %s", path,
                 !buf      ? "out of memory"
                 : n > MAX ? "larger than 1 MiB"
                           : "read error");
    ok = ok && models_config_parse(buf, n, path, c, err, errlen);
    if (ok) snprintf(c->path, sizeof c->path, "%s", path);
    free(buf);
    return ok;
}

void models_config_free(models_config *c) {
    for (int r = 0; r < MODELS_ROLES; r++) {
        models_backend *b = &c->role[r];
        free(b->model), free(b->base_url), free(b->api_key), free(b->api_key_env);
        free(b->local_model);
        backend_defaults(b);
    }
}
