/* hearth ask: a question about the repository, answered by a chat model from the chunks the
 * index retrieves, streamed, then the sources as path:start-end. With --chat, questions come one
 * per line from stdin and the conversation keeps its history (each question retrieves afresh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "cli_remote.h"
#include "hits.h"
#include "index.h"

/* Lines of code shown per source when there is no chat model to answer. */
#define ASK_SOURCE_LINES 40

typedef struct {
    const char *model, *root;
    index_search_params sp;
    long n_predict, n_ctx, threads;
    engine_sampler_params sampling;
    bool chat, help;
} ask_args;

static const cli_opt OPTS[] = {
    {"-m", "--model", "MODEL",
     "chat model (default: the configured or installed one; none: "
     "the sources)"},
    {"-k", "--top", "K", "chunks to retrieve (default 8)"},
    {"-n", "--predict", "N", "tokens of the answer at most (default 512)"},
    CLI_OPT_CTX,
    {NULL, "--mode", "MODE", "retrieval: hybrid, lexical or vector"},
    {NULL, "--root", "DIR", "the repository (default: the nearest indexed ancestor)"},
    {NULL, "--embedding-model", "MODEL", "embedding model (default: the index's)"},
    {NULL, "--temp", "T", "temperature (default 0: greedy)"},
    {NULL, "--seed", "S", "sampling seed"},
    CLI_OPT_THREADS,
    {NULL, "--chat", NULL, "questions from stdin, one a line; the conversation keeps its history"},
    CLI_OPT_END};

static const cli_cmd CMD = {"ask", "QUESTION [options]\n--chat [options]",
                            "Without a chat model: the retrieved sources with their code.\n", OPTS};

static bool parse(int argc, char **argv, ask_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        long n;
        double d;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return a->help = true, false;
        if (kind == CLI_BAD) return false;
        if (kind == CLI_ARG && v && a->sp.query)
            return !cli_error(v, "give the question as one argument (quote it)");
        if (kind == CLI_ARG) {
            a->sp.query = v ? v : a->sp.query;
            continue;
        }
        if (!strcmp(o, "--chat"))
            a->chat = true;
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
    if (!a->sp.query && !a->chat) return !cli_error("ask", "missing QUESTION");
    if (a->chat && !a->model) return !cli_error("ask", "--chat needs -m CHAT_MODEL");
    return true;
}

typedef struct {
    char *text;
    size_t len;
    bool keep;        /* keep the text (for the history), not only print it */
    int64_t n_prompt; /* tokens of the prompt (told by index_ask) */
} answer_text;

/* Before the prompt is evaluated (which takes a while on a CPU): what is about to happen. */
static void on_prompt(int32_t n_excerpts, int64_t n_tokens, void *user) {
    ((answer_text *)user)->n_prompt = n_tokens;
    fprintf(stderr, "hearth: ask: %d chunks, %lld prompt tokens; evaluating the prompt...\n",
            n_excerpts, (long long)n_tokens);
}

/* After the answer: the timings, as hearth run prints them. */
static void print_timings(const engine_gen_stats *st, int64_t n_prompt, double seconds) {
    fprintf(stderr,
            "[hearth] prompt %lld tokens %.1f tok/s | generated %d tokens %.1f tok/s | total "
            "%.2f s\n",
            (long long)n_prompt, st->prompt_s > 0 ? n_prompt / st->prompt_s : 0.0, st->n_generated,
            st->gen_s > 0 ? st->n_generated / st->gen_s : 0.0, seconds);
}

/* Prints the answer as it comes; keeps it too when user is an answer_text (for the history). */
static bool emit(const char *s, size_t n, void *user) {
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    answer_text *a = user;
    if (!a || !a->keep) return true;
    char *t = realloc(a->text, a->len + n + 1);
    if (!t) return false;
    memcpy(t + a->len, s, n);
    t[a->len += n] = 0;
    a->text = t;
    return true;
}

static int answer(const ask_args *a, engine_model *m, const char *map, const index_hit *hits,
                  int32_t n_hits, const engine_chat_message *history, int32_t n_history,
                  answer_text *out) {
    char err[INDEX_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = (int32_t)a->n_ctx;
    cp.n_threads = (int32_t)a->threads;
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    if (!c) return cli_error("context", "%s", err);
    bool *used = calloc((size_t)n_hits + 1, sizeof *used);
    index_ask_request r = {.question = a->sp.query,
                           .hits = hits,
                           .n_hits = n_hits,
                           .map = map,
                           .used = used,
                           .n_predict = (int32_t)a->n_predict,
                           .sampling = a->sampling,
                           .emit = emit,
                           .user = out,
                           .history = history,
                           .n_history = n_history,
                           .on_prompt = on_prompt};
    engine_gen_stats st;
    r.stats = &st;
    double t0 = cli_now_s();
    bool ok = used && index_ask(m, c, &r, err, sizeof err);
    if (ok) {
        fflush(stdout);
        fprintf(stderr, "\n");
        print_timings(&st, out->n_prompt, cli_now_s() - t0);
        printf("\n\nSources:\n");
        for (int32_t i = 0; i < n_hits; i++)
            if (used[i]) printf("  %s:%d-%d\n", hits[i].path, hits[i].start_line, hits[i].end_line);
    } else {
        cli_error("ask", "%s", used ? err : "out of memory");
    }
    free(used);
    engine_ctx_free(c);
    return ok ? 0 : 1;
}

/* --chat: one question a line; each answer joins the history the next question sees. The
 * index stays open for the session (the embedding model and the vectors are loaded once). */
static int chat_loop(ask_args *a, engine_model *m) {
    engine_chat_message *hist = NULL;
    int32_t n_hist = 0;
    char line[4096], err[INDEX_ERR_LEN];
    index_searcher_params sp = {a->sp.root, a->sp.embed_model, NULL, a->sp.n_threads};
    index_searcher *s = index_searcher_open(&sp, err, sizeof err);
    int rc = s ? 0 : cli_error("ask", "%s", err);
    while (rc == 0 && fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        index_hit *hits = NULL;
        int32_t n_hits = 0;
        index_query q = {line, a->sp.k, a->sp.mode, a->sp.max_per_file};
        a->sp.query = line; /* the question answer() asks */
        answer_text out = {.keep = true};
        engine_chat_message *more = realloc(hist, ((size_t)n_hist + 2) * sizeof *hist);
        if (!more)
            rc = cli_error("ask", "out of memory");
        else if (!index_searcher_search(s, &q, &hits, &n_hits, err, sizeof err))
            rc = cli_error("ask", "%s", err);
        else {
            char *map = index_searcher_map(s, hits, n_hits, 0, err, sizeof err);
            rc = answer(a, m, map, hits, n_hits, more, n_hist, &out); /* no map: no harm */
            free(map);
        }
        hist = more ? more : hist;
        if (rc == 0) {
            printf("\n");
            fflush(stdout);
            hist[n_hist++] = (engine_chat_message){"user", strdup(line)};
            hist[n_hist++] = (engine_chat_message){"assistant", out.text ? out.text : strdup("")};
        } else {
            free(out.text);
        }
        index_hits_free(hits, n_hits);
    }
    for (int32_t i = 0; i < n_hist; i++) free((char *)hist[i].content);
    free(hist);
    index_searcher_close(s);
    return rc;
}

/* No chat model: the retrieved chunks themselves, with their code, are the answer. */
static int print_sources(const index_hit *hits, int32_t n_hits) {
    fprintf(stderr,
            "hearth: ask: no chat model (give -m MODEL, set the chat role in the "
            "configuration, or 'hearth pull %s'): showing the sources\n",
            MODELS_DEFAULT_CHAT);
    if (n_hits == 0) printf("No chunk of the index matches the question.\n");
    for (int32_t i = 0; i < n_hits; i++) {
        printf("%s%d. %s:%d-%d%s%s\n", i ? "\n" : "", i + 1, hits[i].path, hits[i].start_line,
               hits[i].end_line, hits[i].symbol ? " " : "", hits[i].symbol ? hits[i].symbol : "");
        cli_print_hit_code(stdout, &hits[i], ASK_SOURCE_LINES);
    }
    return 0;
}

/* The chat model when -m is not given and the chat role is local: the configuration's, else the
 * catalogue's default chat model when it is installed; NULL (quietly) when there is none. */
static char *local_chat_model(void) {
    char *path = cli_model_for_role(NULL, MODELS_ROLE_CHAT);
    char err[MODELS_ERR_LEN + MODELS_PATH_LEN];
    return path ? path : models_resolve(MODELS_DEFAULT_CHAT, err, sizeof err);
}

int cmd_ask(int argc, char **argv) {
    ask_args a = {.n_predict = 512, .sampling = engine_sampler_default_params()};
    a.sampling.temperature = 0;
    a.sp.k = 8;
    if (!parse(argc, argv, &a)) return a.help ? 0 : 2;
    char err[INDEX_ERR_LEN];
    char *root = index_find_root(a.root ? a.root : ".", err, sizeof err);
    if (!root) return cli_error("ask", "%s", err);
    a.sp.root = root;
    a.sp.n_threads = (int32_t)a.threads;
    index_hit *hits = NULL;
    int32_t n_hits = 0;
    int rc = 1;
    char *map = NULL; /* the repository map beside the excerpts (none when it cannot be made) */
    /* No -m: the configuration's chat backend, if it is a server (cli/remote.c). */
    models_config cfg;
    int remote = a.model ? 0 : cli_role_backend(MODELS_ROLE_CHAT, &cfg);
    char *chat_path = remote == 0 && !a.model ? local_chat_model() : NULL;
    if (chat_path) a.model = chat_path;
    if (remote == 0 && !a.model && a.chat)
        cli_error("ask",
                  "--chat needs a chat model: -m MODEL, the configuration's chat role, or "
                  "'hearth pull %s'",
                  MODELS_DEFAULT_CHAT);
    if (remote < 0 || (remote == 0 && !a.model && a.chat)) {
        free(root);
        return 2;
    }
    if (!a.chat) fprintf(stderr, "hearth: ask: searching the index of %s...\n", root);
    if (a.chat) {
        engine_model *m = cli_load_model_ctx(a.model, a.n_ctx);
        rc = m ? chat_loop(&a, m) : 1;
        engine_model_free(m);
    } else if (!index_search(&a.sp, &hits, &n_hits, err, sizeof err)) {
        cli_error("ask", "%s", err);
    } else if (!remote && !a.model) {
        rc = print_sources(hits, n_hits);
    } else if (remote &&
               (rc = cli_ask_remote(&cfg.role[MODELS_ROLE_CHAT], a.sp.query,
                                    (map = index_repo_map(root, hits, n_hits, 0, err, sizeof err)),
                                    hits, n_hits, (int32_t)a.n_predict, a.sampling.temperature,
                                    (int64_t)a.sampling.seed)) != CLI_FALLBACK) {
        /* answered by the server, or its failure reported */
    } else {
        if (remote) a.model = cfg.role[MODELS_ROLE_CHAT].local_model;
        fprintf(stderr, "hearth: ask: %d chunks found; loading %s...\n", n_hits, a.model);
        engine_model *m = cli_load_model_ctx(a.model, a.n_ctx);
        answer_text out = {0};
        if (!map) map = index_repo_map(root, hits, n_hits, 0, err, sizeof err);
        if (m) rc = answer(&a, m, map, hits, n_hits, NULL, 0, &out);
        engine_model_free(m);
    }
    free(chat_path);
    free(map);
    if (remote) models_config_free(&cfg);
    index_hits_free(hits, n_hits);
    free(root);
    return rc;
}
