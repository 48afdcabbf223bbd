/* hearth ask: a question about the repository, answered by a chat model from the chunks the
 * index retrieves, streamed, then the sources as path:start-end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "index.h"

#define SYSTEM_PROMPT                                                                              \
    "You answer questions about a code repository using only the excerpts below. Name the files "  \
    "you rely on as path:start-end. If the excerpts do not answer the question, say so."

typedef struct {
    const char *model, *root;
    index_search_params sp;
    long n_predict, n_ctx, threads;
    engine_sampler_params sampling;
} ask_args;

static int usage(void) {
    fprintf(stderr, "usage: hearth ask QUESTION -m CHAT_MODEL [-k 8] [-n 512] [-c CTX]\n"
                    "                  [--mode hybrid|lexical|vector] [--root DIR]\n"
                    "                  [--embedding-model PATH] [--temp T] [--seed S] [-t N]\n");
    return 2;
}

static bool parse(int argc, char **argv, ask_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        long n;
        double d;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) return usage() && false;
        if (o[0] != '-' && !a->sp.query)
            a->sp.query = o;
        else if (o[0] != '-')
            return !cli_error(o, "give the question as one argument (quote it)");
        else if (!(v = cli_value(argc, argv, &i)))
            return false;
        else if (!strcmp(o, "-m"))
            a->model = v;
        else if (!strcmp(o, "--root"))
            a->root = v;
        else if (!strcmp(o, "--embedding-model"))
            a->sp.embed_model = v;
        else if (!strcmp(o, "--mode"))
            a->sp.mode = !strcmp(v, "lexical")  ? INDEX_MODE_LEXICAL
                         : !strcmp(v, "vector") ? INDEX_MODE_VECTOR
                         : !strcmp(v, "hybrid") ? INDEX_MODE_HYBRID
                                                : (index_mode)-1;
        else if (!strcmp(o, "-k") && cli_int(o, v, 1, 100, &n))
            a->sp.k = (int32_t)n;
        else if (!strcmp(o, "-n") && cli_int(o, v, 1, 1 << 20, &n))
            a->n_predict = n;
        else if (!strcmp(o, "-c") && cli_int(o, v, 64, 1 << 20, &n))
            a->n_ctx = n;
        else if (!strcmp(o, "-t") && cli_int(o, v, 1, 256, &n))
            a->threads = n;
        else if (!strcmp(o, "--seed") && cli_int(o, v, 0, __LONG_MAX__, &n))
            a->sampling.seed = (uint64_t)n;
        else if (!strcmp(o, "--temp") && cli_float(o, v, 0, 10, &d))
            a->sampling.temperature = (float)d;
        else if (strcmp(o, "-k") && strcmp(o, "-n") && strcmp(o, "-c") && strcmp(o, "-t") &&
                 strcmp(o, "--seed") && strcmp(o, "--temp"))
            return !cli_error(o, "unknown option (try 'hearth ask --help')");
        else
            return false; /* a malformed number, already reported */
    }
    if ((int)a->sp.mode < 0) return !cli_error("--mode", "not hybrid, lexical or vector");
    if (!a->sp.query) return !cli_error("ask", "missing QUESTION");
    if (!a->model) return !cli_error("ask", "missing -m CHAT_MODEL");
    return true;
}

/* Repository text must not smuggle control tokens (<|im_end|>, <|eot_id|>) into the prompt,
 * which is tokenized with special tokens parsed: "<|" loses its meaning as "< |". */
static bool append_defused(char **buf, size_t *len, const char *s) {
    size_t n = strlen(s), extra = 0;
    for (size_t i = 0; i + 1 < n; i++) extra += s[i] == '<' && s[i + 1] == '|';
    char *b = realloc(*buf, *len + n + extra + 1);
    if (!b) return false;
    for (size_t i = 0; i < n; i++) {
        b[(*len)++] = s[i];
        if (s[i] == '<' && s[i + 1] == '|') b[(*len)++] = ' ';
    }
    b[*len] = 0;
    *buf = b;
    return true;
}

static int64_t count_tokens(const engine_model *m, const char *s) {
    char err[ENGINE_ERR_LEN];
    size_t len = strlen(s);
    int32_t *ids = malloc((len + 16) * sizeof *ids);
    int64_t n =
        ids ? engine_tokenize(m, s, len, false, false, ids, (int64_t)len + 16, err, sizeof err)
            : -1;
    free(ids);
    return n;
}

/* The user message: as many excerpts as fit in budget tokens, best first; used[i] marks them. */
static char *fit_excerpts(const engine_model *m, const index_hit *h, int32_t n, int64_t budget,
                          const char *question, bool *used) {
    char *msg = NULL, head[600];
    size_t len = 0;
    bool ok = append_defused(&msg, &len, "Excerpts from the repository:\n\n");
    for (int32_t i = 0; ok && i < n; i++) {
        snprintf(head, sizeof head, "--- %s:%d-%d\n", h[i].path, h[i].start_line, h[i].end_line);
        int64_t cost = count_tokens(m, head) + count_tokens(m, h[i].text) + 2;
        if (cost < 0 || cost > budget) continue; /* a smaller one further down may still fit */
        budget -= cost;
        used[i] = true;
        ok = append_defused(&msg, &len, head) && append_defused(&msg, &len, h[i].text) &&
             append_defused(&msg, &len, "\n\n");
    }
    ok = ok && append_defused(&msg, &len, "Question: ") && append_defused(&msg, &len, question);
    if (!ok) free(msg);
    return ok ? msg : NULL;
}

static bool emit(const char *s, size_t n, void *user) {
    (void)user;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    return true;
}

static int answer(const ask_args *a, engine_model *m, const index_hit *hits, int32_t n_hits) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = (int32_t)a->n_ctx;
    cp.n_threads = (int32_t)a->threads;
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    if (!c) return cli_error("context", "%s", err);
    /* What the excerpts may use: the context minus the answer, the question, the system prompt
     * and the template's own tokens (a generous 64). */
    int64_t budget = engine_ctx_n_ctx(c) - a->n_predict - count_tokens(m, SYSTEM_PROMPT) -
                     count_tokens(m, a->sp.query) - 64;
    bool *used = calloc((size_t)n_hits + 1, sizeof *used);
    char *user =
        used && budget > 0 ? fit_excerpts(m, hits, n_hits, budget, a->sp.query, used) : NULL;
    engine_chat_message msgs[2] = {{"system", SYSTEM_PROMPT}, {"user", user}};
    char *prompt = user ? engine_chat_prompt(m, NULL, msgs, 2, false, err, sizeof err) : NULL;
    int64_t n = 0;
    int32_t *ids = prompt ? cli_tokenize(m, prompt, strlen(prompt), true, true, &n) : NULL;
    int rc = 1;
    if (budget <= 0)
        cli_error("ask",
                  "the context (%d tokens) leaves no room for excerpts: raise -c or lower -n",
                  engine_ctx_n_ctx(c));
    else if (user && !prompt)
        cli_error("ask", "%s", err);
    engine_gen_request req = {.prompt = ids,
                              .n_prompt = n,
                              .n_predict = (int32_t)a->n_predict,
                              .sampling = a->sampling,
                              .emit = emit};
    engine_gen_stats st;
    if (ids && engine_generate(m, c, &req, &st, err, sizeof err)) {
        printf("\n\nSources:\n");
        for (int32_t i = 0; i < n_hits; i++)
            if (used[i]) printf("  %s:%d-%d\n", hits[i].path, hits[i].start_line, hits[i].end_line);
        rc = 0;
    } else if (ids) {
        cli_error("ask", "%s", err);
    }
    free(ids);
    free(prompt);
    free(user);
    free(used);
    engine_ctx_free(c);
    return rc;
}

int cmd_ask(int argc, char **argv) {
    ask_args a = {.n_predict = 512, .sampling = engine_sampler_default_params()};
    a.sampling.temperature = 0;
    a.sp.k = 8;
    if (!parse(argc, argv, &a)) return 2;
    char err[INDEX_ERR_LEN];
    char *root = index_find_root(a.root ? a.root : ".", err, sizeof err);
    if (!root) return cli_error("ask", "%s", err);
    a.sp.root = root;
    a.sp.n_threads = (int32_t)a.threads;
    index_hit *hits = NULL;
    int32_t n_hits = 0;
    int rc = 1;
    if (!index_search(&a.sp, &hits, &n_hits, err, sizeof err)) {
        cli_error("ask", "%s", err);
    } else {
        engine_model *m = cli_load_model(a.model);
        if (m) rc = answer(&a, m, hits, n_hits);
        engine_model_free(m);
    }
    index_hits_free(hits, n_hits);
    free(root);
    return rc;
}
