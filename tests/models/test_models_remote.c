/* Drives the OpenAI-compatible client for tests/models/test_models.py:
 *
 *   test_models_remote CONFIG_JSON complete PROMPT [MAX_TOKENS [CANCEL_AFTER]]
 *   test_models_remote CONFIG_JSON chat MESSAGE [MAX_TOKENS]
 *   test_models_remote CONFIG_JSON embed TEXT...
 *
 * CONFIG_JSON is a configuration text (models_config_parse); complete uses the completion role,
 * chat the chat role, embed the embedding role. Streamed text goes to stdout as it arrives,
 * vectors as one line of numbers each; the last line on stderr is JSON: {"ok", "err", "attempts",
 * "status", "down", "cancelled", "emitted", "finish"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

typedef struct {
    long calls, cancel_after;
} sink;

static bool emit(const char *text, size_t len, void *user) {
    sink *s = user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return ++s->calls != s->cancel_after;
}

static void json_escape(const char *s) {
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            fprintf(stderr, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(stderr, "\\u%04x", *s);
        else
            fputc(*s, stderr);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_models_remote CONFIG_JSON complete|chat|embed ARGS...\n");
        return 2;
    }
    models_config c;
    char err[MODELS_ERR_LEN + 256] = "";
    if (!models_config_parse(argv[1], strlen(argv[1]), "config", &c, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    models_remote_stats st;
    models_gen_params g = models_gen_default_params();
    g.temperature = 0;
    sink s = {0, argc > 5 ? atol(argv[5]) : -1};
    if (argc > 4) g.max_tokens = atoi(argv[4]);
    const char *mode = argv[2];
    bool ok = false;
    if (!strcmp(mode, "complete")) {
        ok = models_remote_complete(&c.role[MODELS_ROLE_COMPLETION], argv[3], &g, emit, &s, &st,
                                    err, sizeof err);
    } else if (!strcmp(mode, "chat")) {
        models_chat_message m[2] = {{"system", "Be brief."}, {"user", argv[3]}};
        ok =
            models_remote_chat(&c.role[MODELS_ROLE_CHAT], m, 2, &g, emit, &s, &st, err, sizeof err);
    } else if (!strcmp(mode, "embed")) {
        float *v = NULL;
        int32_t dim = 0, n = argc - 3;
        ok = models_remote_embed(&c.role[MODELS_ROLE_EMBEDDING], (const char *const *)argv + 3, n,
                                 &v, &dim, &st, err, sizeof err);
        for (int32_t i = 0; ok && i < n; i++)
            for (int32_t k = 0; k < dim; k++)
                printf(k + 1 < dim ? "%.7g " : "%.7g\n", v[(size_t)i * dim + k]);
        free(v);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    fflush(stdout);
    fprintf(stderr, "\n{\"ok\": %s, \"err\": \"", ok ? "true" : "false");
    json_escape(err);
    fprintf(stderr,
            "\", \"attempts\": %d, \"status\": %d, \"down\": %s, \"cancelled\": %s, "
            "\"emitted\": %llu, \"finish\": \"%s\"}\n",
            st.attempts, st.http_status, st.backend_down ? "true" : "false",
            st.cancelled ? "true" : "false", (unsigned long long)st.emitted, st.finish_reason);
    models_config_free(&c);
    return ok ? 0 : 1;
}
