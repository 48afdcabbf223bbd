/* hearth run: stream a generation to stdout, timings to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "options.h"

static const cli_opt OPTS[] = {
    CLI_OPT_MODEL,
    {"-p", "--prompt", "TEXT", "the prompt"},
    {"-f", "--file", "FILE", "read the prompt from a file"},
    {"-n", "--predict", "N", "tokens to generate at most (default 128)"},
    {NULL, "--temp", "T", "temperature; 0 is greedy (default 0.8)"},
    {NULL, "--seed", "S", "sampling seed (default: the time)"},
    CLI_OPT_THREADS,
    CLI_OPT_CTX,
    {NULL, "--top-k", "K", "sample from the K likeliest tokens only (0 = all)"},
    {NULL, "--top-p", "P", "nucleus sampling threshold"},
    {NULL, "--min-p", "P", "drop tokens below P times the likeliest one's probability"},
    {NULL, "--repeat-penalty", "R", "penalty for repeating recent tokens (1 = none)"},
    {NULL, "--stop", "STR", "stop at this string (up to 8 times)"},
    {NULL, "--lookup", "N", "greedy only: verify up to N tokens copied from the text per step"},
    {NULL, "--draft-model", "MODEL", "greedy only: a smaller model of the same vocabulary drafts"},
    {NULL, "--draft", "N", "tokens the draft model proposes per step (default 8)"},
    {NULL, "--kv-type", "TYPE", "KV cache type: f16 (default), f32 or q8_0 (~53 % of f16)"},
    CLI_OPT_END};

static const cli_cmd CMD = {
    "run", "[MODEL] [PROMPT] [options]\n-m MODEL (-p PROMPT | -f FILE) [options]",
    "MODEL may also come first, Ollama-style: hearth run qwen2.5-coder-1.5b:q5_k_m \"def fib\".\n"
    "Generation stops after N tokens, at an end-of-generation token or at a stop string.\n"
    "--lookup and --draft-model give the same output as without them, faster.\n",
    OPTS};

typedef struct {
    const char *model, *prompt, *file, *draft_model;
    const char *stops[8];
    int n_stops;
    long n_predict, threads, n_ctx, lookup, n_draft;
    engine_kv_type kv;
    engine_sampler_params sp;
    bool help;
} run_args;

static bool parse_args(int argc, char **argv, run_args *a) {
    a->n_predict = 128;
    a->n_draft = 8;
    a->sp = engine_sampler_default_params();
    a->sp.temperature = 0.8f;
    a->sp.seed = (uint64_t)time(NULL);
    const char *pos[2];
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        long l;
        double d;
        cli_kind k = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (k == CLI_HELP) return a->help = true, false;
        if (k == CLI_BAD) return false;
        if (k == CLI_ARG) {
            if (v && n_pos == 2)
                return cli_error(v, "too many arguments (quote the prompt)"), false;
            if (v) pos[n_pos++] = v;
            continue;
        }
        if (!strcmp(o, "-m"))
            a->model = v;
        else if (!strcmp(o, "-p"))
            a->prompt = v;
        else if (!strcmp(o, "-f"))
            a->file = v;
        else if (!strcmp(o, "--draft-model"))
            a->draft_model = v;
        else if (!strcmp(o, "--draft")) {
            if (!cli_int(o, v, 1, 64, &a->n_draft)) return false;
        } else if (!strcmp(o, "-n")) {
            if (!cli_int(o, v, 0, 1 << 20, &a->n_predict)) return false;
        } else if (!strcmp(o, "-t")) {
            if (!cli_int(o, v, 1, 256, &a->threads)) return false;
        } else if (!strcmp(o, "-c")) {
            if (!cli_int(o, v, 1, 1 << 20, &a->n_ctx)) return false;
        } else if (!strcmp(o, "--kv-type")) {
            if (!cli_kv_type(o, v, &a->kv)) return false;
        } else if (!strcmp(o, "--lookup")) {
            if (!cli_int(o, v, 0, 64, &a->lookup)) return false;
        } else if (!strcmp(o, "--temp")) {
            if (!cli_float(o, v, 0, 100, &d)) return false;
            a->sp.temperature = (float)d;
        } else if (!strcmp(o, "--top-p")) {
            if (!cli_float(o, v, 0, 1, &d)) return false;
            a->sp.top_p = (float)d;
        } else if (!strcmp(o, "--min-p")) {
            if (!cli_float(o, v, 0, 1, &d)) return false;
            a->sp.min_p = (float)d;
        } else if (!strcmp(o, "--repeat-penalty")) {
            if (!cli_float(o, v, 0.01, 100, &d)) return false;
            a->sp.repeat_penalty = (float)d;
        } else if (!strcmp(o, "--top-k")) {
            if (!cli_int(o, v, 0, 1 << 24, &l)) return false;
            a->sp.top_k = (int32_t)l;
        } else if (!strcmp(o, "--seed")) {
            if (!cli_int(o, v, 0, 0x7fffffffL, &l)) return false;
            a->sp.seed = (uint64_t)l;
        } else if (!strcmp(o, "--stop")) {
            if (a->n_stops == 8 || !*v)
                return cli_error(o, "at most 8 non-empty stop strings"), false;
            a->stops[a->n_stops++] = v;
        } else
            return cli_error(o, "unknown option (try 'hearth run --help')"), false;
    }
    int next = 0;
    if (!a->model && next < n_pos) a->model = pos[next++];
    if (!a->prompt && !a->file && next < n_pos) a->prompt = pos[next++];
    if (next < n_pos) return cli_error(pos[next], "unexpected argument"), false;
    if (!a->model) return cli_error("run", "missing MODEL (or -m MODEL)"), false;
    if (!a->prompt == !a->file)
        return cli_error("run", "give exactly one of -p PROMPT or -f FILE"), false;
    if (a->draft_model && (a->sp.temperature > 0.0f || a->sp.repeat_penalty != 1.0f)) {
        fprintf(stderr, "[hearth] --draft-model works with --temp 0 and no repetition penalty "
                        "only: generating without it\n");
        a->draft_model = NULL;
    }
    return true;
}

static bool write_out(const char *s, size_t n, void *user) {
    (void)user;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    return true;
}

int cmd_run(int argc, char **argv) {
    run_args a = {0};
    if (!parse_args(argc, argv, &a)) return a.help ? 0 : 2;
    size_t len = 0;
    char *text = a.file ? cli_read_file(a.file, &len) : strdup(a.prompt);
    if (!text) return 1;
    if (!a.file) len = strlen(text);
    engine_model *m = cli_load_model_ctx(a.model, a.n_ctx);
    if (!m) return free(text), 1;
    int rc = 1;
    int64_t n_prompt = 0;
    int32_t *ids = cli_tokenize(m, text, len, true, true, &n_prompt);
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = (int32_t)a.threads;
    cp.n_ctx = (int32_t)(a.n_ctx ? a.n_ctx : 0);
    cp.kv_type = a.kv;
    char err[ENGINE_ERR_LEN];
    engine_ctx *c = ids ? engine_ctx_new(m, &cp, err, sizeof err) : NULL;
    if (ids && !c) cli_error("context", "%s", err);
    cli_draft draft = {0};
    if (c && a.draft_model &&
        !cli_draft_open(&draft, a.draft_model, (int32_t)a.n_draft, m, c, cp.n_threads))
        engine_ctx_free(c), c = NULL;
    if (c) {
        engine_gen_request req = {.prompt = ids,
                                  .n_prompt = n_prompt,
                                  .n_predict = (int32_t)a.n_predict,
                                  .sampling = a.sp,
                                  .stops = a.stops,
                                  .n_stops = a.n_stops,
                                  .emit = write_out,
                                  .lookup_draft = (int32_t)a.lookup};
        engine_gen_stats st;
        double t0 = cli_now_s();
        bool ok = draft.ctx ? engine_generate_draft(m, c, &draft.spec, &req, &st, err, sizeof err)
                            : engine_generate(m, c, &req, &st, err, sizeof err);
        if (!ok) {
            cli_error("run", "%s", err);
        } else {
            double t1 = cli_now_s();
            if (st.n_drafted)
                fprintf(stderr, "\n[hearth] %s: %d of %d drafted tokens accepted (%.0f %%)",
                        draft.ctx ? "draft model" : "lookup", st.n_draft_accepted, st.n_drafted,
                        100.0 * st.n_draft_accepted / st.n_drafted);
            fprintf(stderr,
                    "\n[hearth] prompt %lld tokens %.1f tok/s | generated %d tokens %.1f tok/s | "
                    "total %.2f s (%s)\n",
                    (long long)n_prompt, st.prompt_s > 0 ? n_prompt / st.prompt_s : 0.0,
                    st.n_generated, st.gen_s > 0 ? st.n_generated / st.gen_s : 0.0, t1 - t0,
                    engine_simd_name());
            rc = 0;
        }
        engine_ctx_free(c);
    }
    cli_draft_close(&draft);
    free(ids);
    engine_model_free(m);
    free(text);
    return rc;
}
