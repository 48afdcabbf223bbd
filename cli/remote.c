/* The CLI side of remote backends: which backend a role uses (the configuration file), and the
 * remote versions of `hearth embed` and `hearth ask`. The HTTP client is models/remote.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_remote.h"
#include "runtime.h"

int cli_role_backend(models_role role, models_config *cfg) {
    char err[MODELS_ERR_LEN + MODELS_PATH_LEN];
    runtime_backend be; /* no model given: the configuration decides (runtime/backend.c) */
    if (!runtime_backend_load(cfg, role, NULL, true, &be, err, sizeof err))
        return -cli_error("config", "%s", err);
    if (be.remote) return 1;
    models_config_free(cfg);
    return 0;
}

/* Says why the remote call failed; true when the configuration asks for the local model. */
static bool remote_failed(const models_backend *b, models_role role, const models_remote_stats *st,
                          const char *err) {
    runtime_backend be = {.remote = b, .local = b->local_model};
    bool fallback =
        runtime_backend_falls_back(&be, st->backend_down || st->attempts == 0, st->emitted > 0);
    if (fallback)
        fprintf(stderr, "hearth: %s backend: %s; falling back to the local model %s\n",
                models_role_name(role), err, b->local_model);
    else
        cli_error(models_role_name(role), "%s", err);
    return fallback;
}

int cli_embed_remote(const models_backend *b, char *const *texts, const size_t *lens, int32_t n,
                     bool query, bool json) {
    char err[MODELS_ERR_LEN + 512];
    embed_service *e = embed_new_remote(b, NULL, err, sizeof err);
    if (!e) return cli_error("embed", "%s", err);
    float *v = NULL;
    bool ok = (query ? embed_queries : embed_documents)(e, (const char *const *)texts, lens, n, &v,
                                                        NULL, err, sizeof err);
    int rc = 0;
    if (!ok)
        rc = remote_failed(b, MODELS_ROLE_EMBEDDING, embed_remote_stats(e), err) ? CLI_FALLBACK : 1;
    for (int32_t i = 0; ok && i < n; i++) {
        const float *x = v + (size_t)i * embed_dim(e);
        if (json) printf("{\"index\": %d, \"embedding\": [", i);
        for (int32_t k = 0; k < embed_dim(e); k++)
            printf(k ? (json ? ", %.9g" : " %.9g") : "%.9g", x[k]);
        printf(json ? "]}\n" : "\n");
    }
    free(v);
    embed_free(e);
    return rc;
}

/* ---- hearth ask over a remote chat backend ---- */

static int64_t estimate(const char *s) {
    return index_count_estimate(s, strlen(s), NULL);
}

static bool print_text(const char *s, size_t n, void *user) {
    (void)user;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    return true;
}

int cli_ask_remote(const models_backend *b, const char *question, const char *map,
                   const index_hit *hits, int32_t n_hits, int32_t n_predict, double temperature,
                   int64_t seed) {
    int64_t ctx = b->context_size > 0 ? b->context_size : 8192;
    int64_t budget = ctx - n_predict - estimate(INDEX_ASK_SYSTEM) - estimate(question) - 64;
    if (budget <= 0)
        return cli_error("ask",
                         "the backend's context (%lld tokens) leaves no room for excerpts: "
                         "lower -n or set context_size in the config",
                         (long long)ctx);
    bool *used = calloc((size_t)n_hits + 1, sizeof *used);
    char *user = used ? index_ask_message(NULL, question, map, hits, n_hits, budget, used) : NULL;
    if (!user) {
        free(used);
        return cli_error("ask", "out of memory");
    }
    models_chat_message msgs[2] = {{"system", INDEX_ASK_SYSTEM}, {"user", user}};
    models_gen_params g = models_gen_default_params();
    g.max_tokens = n_predict;
    g.temperature = (float)temperature;
    g.seed = seed;
    models_remote_stats st;
    char err[MODELS_ERR_LEN + 512];
    int rc = 0;
    if (models_remote_chat(b, msgs, 2, &g, print_text, NULL, &st, err, sizeof err)) {
        printf("\n\nSources:\n");
        for (int32_t i = 0; i < n_hits; i++)
            if (used[i]) printf("  %s:%d-%d\n", hits[i].path, hits[i].start_line, hits[i].end_line);
    } else {
        if (st.emitted) putchar('\n');
        rc = remote_failed(b, MODELS_ROLE_CHAT, &st, err) ? CLI_FALLBACK : 1;
    }
    free(user);
    free(used);
    return rc;
}

/* ---- model names for long-running servers ---- */

char *cli_model_for_role(const char *given, models_role role) {
    char err[MODELS_ERR_LEN + MODELS_PATH_LEN];
    if (given) return runtime_resolve(given, role, err, sizeof err);
    models_config cfg;
    runtime_backend be;
    if (!runtime_backend_load(&cfg, role, NULL, false, &be, err, sizeof err))
        fprintf(stderr, "hearth: config: %s\n", err);
    /* a local role's model, or a server's local fallback; quietly none when not installed */
    char *path = be.local ? runtime_resolve(be.local, role, err, sizeof err) : NULL;
    models_config_free(&cfg);
    return path;
}
