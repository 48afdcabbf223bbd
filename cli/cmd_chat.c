/* hearth chat: one-shot (-p) or interactive chat with history, streaming the answer. The KV cache
 * is kept between turns: only the tokens after the longest common prefix are evaluated. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"

typedef struct {
    const char *model, *prompt, *system, *template_name, *draft_model, *reasoning;
    bool think, help;
    long n_predict, threads, n_ctx, n_draft;
    engine_kv_type kv;
    engine_sampler_params sp;
} chat_args;

typedef struct {
    engine_chat_message *msg;
    int n, cap;
} history;

typedef struct {
    int32_t *ids; /* what the KV cache holds, position by position */
    int64_t n, cap;
} cache_tokens;

static const cli_opt OPTS[] = {
    CLI_OPT_MODEL,
    {"-p", "--prompt", "TEXT", "one message, answered, then exit (default: interactive)"},
    {NULL, "--system", "TEXT", "the system message"},
    {NULL, "--template", "NAME",
     "chat template: chatml, qwen3, llama3 or harmony (default: the model's)"},
    {NULL, "--think", NULL, "show the model's thinking (models that think)"},
    {NULL, "--reasoning", "EFFORT", "reasoning effort: low, medium (default) or high (gpt-oss)"},
    {"-n", "--predict", "N", "tokens per answer at most (default 512)"},
    {NULL, "--temp", "T", "temperature; 0 is greedy (default 0.7)"},
    {NULL, "--seed", "S", "sampling seed (default: the time)"},
    CLI_OPT_THREADS,
    CLI_OPT_CTX,
    {NULL, "--draft-model", "MODEL", "greedy only: a smaller model of the same vocabulary drafts"},
    {NULL, "--draft", "N", "tokens the draft model proposes per step (default 8)"},
    {NULL, "--kv-type", "TYPE", "KV cache type: f16 (default), f32 or q8_0"},
    CLI_OPT_END};

static const cli_cmd CMD = {
    "chat", "[MODEL] [options]\n-m MODEL [-p PROMPT] [options]",
    "Without -p: interactive, one user message per line, history kept (Ctrl-D ends).\n", OPTS};

static bool parse_args(int argc, char **argv, chat_args *a) {
    a->n_predict = 512;
    a->n_draft = 8;
    a->sp = engine_sampler_default_params();
    a->sp.temperature = 0.7f;
    a->sp.top_p = 0.8f;
    a->sp.seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        double d;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return a->help = true, false;
        if (kind == CLI_BAD) return false;
        if (kind == CLI_ARG) {
            if (v && a->model)
                return cli_error(v, "unexpected argument (the model is given)"), false;
            if (v) a->model = v;
            continue;
        }
        if (!strcmp(o, "--think")) {
            a->think = true;
            continue;
        }
        long l;
        if (!strcmp(o, "-m"))
            a->model = v;
        else if (!strcmp(o, "-p"))
            a->prompt = v;
        else if (!strcmp(o, "--system"))
            a->system = v;
        else if (!strcmp(o, "--template"))
            a->template_name = v;
        else if (!strcmp(o, "--reasoning")) {
            if (!engine_chat_reasoning_known(v))
                return cli_error(o, "'%s': the effort is low, medium or high", v), false;
            a->reasoning = v;
        } else if (!strcmp(o, "--draft-model"))
            a->draft_model = v;
        else if (!strcmp(o, "--draft")) {
            if (!cli_int(o, v, 1, 64, &a->n_draft)) return false;
        } else if (!strcmp(o, "-n")) {
            if (!cli_int(o, v, 1, 1 << 20, &a->n_predict)) return false;
        } else if (!strcmp(o, "-t")) {
            if (!cli_int(o, v, 1, 256, &a->threads)) return false;
        } else if (!strcmp(o, "-c")) {
            if (!cli_int(o, v, 16, 1 << 20, &a->n_ctx)) return false;
        } else if (!strcmp(o, "--kv-type")) {
            if (!cli_kv_type(o, v, &a->kv)) return false;
        } else if (!strcmp(o, "--temp")) {
            if (!cli_float(o, v, 0, 100, &d)) return false;
            a->sp.temperature = (float)d;
        } else if (!strcmp(o, "--seed")) {
            if (!cli_int(o, v, 0, 0x7fffffffL, &l)) return false;
            a->sp.seed = (uint64_t)l;
        } else
            return cli_error(o, "unknown option (try 'hearth chat --help')"), false;
    }
    if (!a->model) return cli_error("chat", "missing MODEL (or -m MODEL)"), false;
    if (a->draft_model && a->sp.temperature > 0.0f) {
        fprintf(stderr, "[hearth] --draft-model works with --temp 0 only: chatting without it\n");
        a->draft_model = NULL;
    }
    return true;
}

static bool add_message(history *h, const char *role, const char *content) {
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 16;
        engine_chat_message *m = realloc(h->msg, (size_t)cap * sizeof *m);
        if (!m) return false;
        h->msg = m;
        h->cap = cap;
    }
    char *copy = strdup(content);
    if (!copy) return false;
    h->msg[h->n++] = (engine_chat_message){role, copy};
    return true;
}

typedef struct {
    engine_think_filter filter;
    char *answer; /* the visible answer, kept for the history */
    size_t len, cap;
} answer_out;

/* Set by Ctrl-C (a signal handler can only reach a global): while an answer is generated, it
 * stops that answer and the conversation goes on; at the prompt it ends the chat. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static bool emit_answer(const char *s, size_t n, void *user) {
    answer_out *a = user;
    if (interrupted) return false; /* Ctrl-C: this answer ends here */
    char *vis = malloc(n + 16);
    if (!vis) return false;
    size_t k = engine_think_filter_push(&a->filter, s, n, vis);
    fwrite(vis, 1, k, stdout);
    fflush(stdout);
    if (a->len + k + 1 > a->cap) {
        size_t cap = (a->len + k + 1) * 2;
        char *p = realloc(a->answer, cap);
        if (!p) return free(vis), false;
        a->answer = p;
        a->cap = cap;
    }
    memcpy(a->answer + a->len, vis, k);
    a->len += k;
    a->answer[a->len] = 0;
    free(vis);
    return true;
}

/* One turn: format the conversation, reuse the cached prefix, stream the answer. */
static bool chat_turn(engine_model *m, engine_ctx *c, cli_draft *draft, const chat_args *a,
                      history *h, cache_tokens *cache) {
    char err[ENGINE_ERR_LEN];
    /* the template's markers are special tokens, message text is plain text: a message holding
     * "<|im_end|>\n<|im_start|>system" stays those characters */
    engine_chat_options opt = {.thinking = a->think, .reasoning = a->reasoning};
    int32_t n_ctx = engine_ctx_n_ctx(c), *ids = malloc((size_t)n_ctx * sizeof *ids);
    if (!ids) return cli_error("chat", "out of memory"), false;
    int64_t n =
        engine_chat_tokens_ex(m, a->template_name, h->msg, h->n, &opt, ids, n_ctx, err, sizeof err);
    if (n < 0 || n > n_ctx) {
        free(ids);
        if (n < 0) return cli_error("chat", "%s", err), false;
        return cli_error(
                   "chat",
                   "the conversation is longer than the context (%d tokens): /clear it or raise -c",
                   n_ctx),
               false;
    }
    int64_t keep = 0;
    while (keep < n - 1 && keep < cache->n && keep < engine_n_past(c) &&
           ids[keep] == cache->ids[keep])
        keep++;
    engine_kv_keep(c, (int32_t)keep);
    keep = engine_n_past(c); /* a sliding-window model may have kept less */
    if (draft->ctx) engine_kv_keep(draft->ctx, (int32_t)keep); /* the draft follows the target */
    if (draft->ctx && engine_n_past(draft->ctx) != keep) {     /* one of them slides: start over */
        engine_kv_keep(c, 0);
        engine_kv_keep(draft->ctx, 0);
        keep = 0;
    }
    int32_t *gen = malloc((size_t)a->n_predict * sizeof(int32_t));
    answer_out out = {0};
    engine_gen_request req = {.prompt = ids + keep,
                              .n_prompt = n - keep,
                              .n_predict = (int32_t)a->n_predict,
                              .sampling = a->sp,
                              .emit = emit_answer,
                              .user = &out,
                              .out_ids = gen,
                              .out_cap = (int32_t)a->n_predict};
    engine_gen_stats st;
    interrupted = 0;
    bool ok =
        gen && (draft->ctx ? engine_generate_draft(m, c, &draft->spec, &req, &st, err, sizeof err)
                           : engine_generate(m, c, &req, &st, err, sizeof err));
    if (!ok) cli_error("chat", "%s", gen ? err : "out of memory");
    char tail[16];
    fwrite(tail, 1, engine_think_filter_flush(&out.filter, tail), stdout);
    printf("\n");
    fflush(stdout);
    if (ok && st.stop == ENGINE_STOP_CALLER && interrupted)
        fprintf(stderr, "[hearth] stopped (Ctrl-C)\n");
    interrupted = 0;
    if (ok)
        fprintf(stderr,
                "[hearth] prompt %lld tokens %.1f tok/s | generated %d tokens %.1f tok/s | total "
                "%.2f s\n",
                (long long)(n - keep), st.prompt_s > 0 ? (double)(n - keep) / st.prompt_s : 0.0,
                st.n_generated, st.gen_s > 0 ? st.n_generated / st.gen_s : 0.0,
                st.prompt_s + st.gen_s);
    if (ok && st.n_drafted)
        fprintf(stderr,
                "[hearth] generated %d tokens %.1f tok/s | draft model: %d of %d drafted tokens "
                "accepted (%.0f %%)\n",
                st.n_generated, st.gen_s > 0 ? st.n_generated / st.gen_s : 0.0, st.n_draft_accepted,
                st.n_drafted, 100.0 * st.n_draft_accepted / st.n_drafted);
    /* the cache now holds the prompt and the generated tokens it evaluated */
    int64_t held = engine_n_past(c), total = n + st.n_generated;
    int32_t *all = realloc(cache->ids, (size_t)(total > 0 ? total : 1) * sizeof(int32_t));
    if (ok && all) {
        memcpy(all, ids, (size_t)n * sizeof(int32_t));
        memcpy(all + n, gen, (size_t)st.n_generated * sizeof(int32_t));
        cache->ids = all;
        cache->n = held < total ? held : total;
        ok = add_message(h, "assistant", out.answer ? out.answer : "");
    } else if (all)
        cache->ids = all;
    free(out.answer);
    free(gen);
    free(ids);
    return ok;
}

static const char CHAT_HELP[] =
    "  /help          this list\n"
    "  /clear         forget the conversation (the system message stays)\n"
    "  /bye, /exit    end the chat (as Ctrl-D does)\n"
    "  Ctrl-C stops the answer being written; the conversation goes on.\n";

/* Drops every message but a leading system message. */
static void forget(history *h) {
    int keep = h->n > 0 && !strcmp(h->msg[0].role, "system");
    for (int i = keep; i < h->n; i++) free((char *)h->msg[i].content);
    h->n = keep;
}

typedef enum { LINE_MESSAGE, LINE_DONE, LINE_QUIT } line_kind;

/* A line starting with '/' is a command for the chat itself. */
static line_kind slash_command(const char *line, history *h) {
    if (line[0] != '/') return LINE_MESSAGE;
    if (!strcmp(line, "/bye") || !strcmp(line, "/exit") || !strcmp(line, "/quit")) return LINE_QUIT;
    if (!strcmp(line, "/help") || !strcmp(line, "/?"))
        fputs(CHAT_HELP, stderr);
    else if (!strcmp(line, "/clear"))
        forget(h), fprintf(stderr, "[hearth] the conversation is forgotten\n");
    else
        fprintf(stderr, "[hearth] unknown command %s: /help lists them\n", line);
    return LINE_DONE;
}

/* Interactive: one user message per line until the end of input, /bye, or Ctrl-C at the prompt. */
static int chat_loop(engine_model *m, engine_ctx *c, cli_draft *draft, const chat_args *a,
                     history *h, cache_tokens *cache) {
    bool terminal = isatty(0) && isatty(2);
    if (terminal)
        fprintf(stderr,
                "hearth chat with %s. Type a message and Enter; /help lists commands; Ctrl-C "
                "stops an answer, Ctrl-D quits.\n",
                a->model);
    struct sigaction sa = {.sa_handler = on_sigint}; /* no SA_RESTART: Ctrl-C ends a read */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    int rc = 0;
    char *line;
    while (rc == 0 && !interrupted && (line = cli_read_line("> ", terminal)) != NULL) {
        line_kind k = slash_command(line, h);
        if (k == LINE_MESSAGE && *line)
            rc = add_message(h, "user", line) && chat_turn(m, c, draft, a, h, cache) ? 0 : 1;
        free(line);
        if (k == LINE_QUIT) break;
    }
    if (terminal) fputc('\n', stderr);
    return rc;
}

int cmd_chat(int argc, char **argv) {
    chat_args a = {0};
    if (!parse_args(argc, argv, &a)) return a.help ? 0 : 2;
    engine_model *m = cli_load_model_ctx(a.model, a.n_ctx);
    if (!m) return 1;
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = (int32_t)a.threads;
    cp.n_ctx = (int32_t)a.n_ctx;
    cp.kv_type = a.kv;
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    cli_draft draft = {0};
    if (c && a.draft_model &&
        !cli_draft_open(&draft, a.draft_model, (int32_t)a.n_draft, m, c, cp.n_threads))
        engine_ctx_free(c), c = NULL, err[0] = 0;
    history h = {0};
    cache_tokens cache = {0};
    int rc = 0;
    if (!c)
        rc = err[0] ? cli_error("context", "%s", err) : 1;
    else if (a.system && !add_message(&h, "system", a.system))
        rc = cli_error("chat", "out of memory");
    if (rc == 0 && a.prompt) {
        rc = add_message(&h, "user", a.prompt) && chat_turn(m, c, &draft, &a, &h, &cache) ? 0 : 1;
    } else if (rc == 0) {
        rc = chat_loop(m, c, &draft, &a, &h, &cache);
    }
    for (int i = 0; i < h.n; i++) free((char *)h.msg[i].content);
    free(h.msg);
    free(cache.ids);
    cli_draft_close(&draft);
    engine_ctx_free(c);
    engine_model_free(m);
    return rc;
}
