/* hearth logits: evaluate a prompt and print each position's argmax, log-sum-exp and top-K logits
 * as one JSON object — how tests and users compare engines and quantizations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static void print_position(const float *logits, int32_t n_vocab, int top) {
    double max = -INFINITY, sum = 0.0;
    int32_t arg = 0;
    for (int32_t i = 0; i < n_vocab; i++)
        if (logits[i] > max) max = logits[i], arg = i;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - max);
    printf("{\"argmax\": %d, \"lse\": %.9g, \"top\": [", arg, max + log(sum));
    /* top-K by repeated selection: K is small; ties go to the lower id */
    int32_t chosen[64];
    for (int k = 0; k < top && k < n_vocab; k++) {
        int32_t best = -1;
        for (int32_t i = 0; i < n_vocab; i++) {
            bool used = false;
            for (int j = 0; j < k && !used; j++) used = chosen[j] == i;
            if (!used && (best < 0 || logits[i] > logits[best])) best = i;
        }
        chosen[k] = best;
        printf("%s[%d, %.9g]", k ? ", " : "", best, logits[best]);
    }
    printf("]}");
}

static const cli_opt OPTS[] = {
    CLI_OPT_MODEL,
    {"-p", "--prompt", "TEXT", "the prompt"},
    {"-f", "--file", "FILE", "read the prompt from a file"},
    {NULL, "--top", "K", "logits per position: the K largest (default 10)"},
    CLI_OPT_THREADS,
    {NULL, "--json", NULL, "JSON output (the only format; required)"},
    CLI_OPT_END};

static const cli_cmd CMD = {"logits", "[MODEL] (-p PROMPT | -f FILE) --json [options]", NULL, OPTS};

int cmd_logits(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    long top = 10, threads = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG) {
            if (v && model) return cli_error(v, "unexpected argument (the model is given)"), 2;
            if (v) model = v;
            continue;
        }
        if (!strcmp(o, "--json")) {
            json = true;
            continue;
        }
        if (!strcmp(o, "-m"))
            model = v;
        else if (!strcmp(o, "-p"))
            prompt = v;
        else if (!strcmp(o, "-f"))
            file = v;
        else if (!strcmp(o, "--top")) {
            if (!cli_int(o, v, 1, 64, &top)) return 2;
        } else if (!strcmp(o, "-t")) {
            if (!cli_int(o, v, 1, 256, &threads)) return 2;
        } else
            return cli_error(o, "unknown option"), 2;
    }
    if (!model) return cli_error("logits", "missing -m MODEL"), 2;
    if (!prompt == !file) return cli_error("logits", "give exactly one of -p PROMPT or -f FILE"), 2;
    if (!json) return cli_error("logits", "only --json output exists; pass --json"), 2;
    size_t len = prompt ? strlen(prompt) : 0;
    char *buf = file ? cli_read_file(file, &len) : NULL;
    if (file && !buf) return 1;
    engine_model *m = cli_load_model(model);
    int64_t n = 0;
    int32_t *ids = m ? cli_tokenize(m, buf ? buf : prompt, len, true, true, &n) : NULL;
    int rc = 1;
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = (int32_t)threads;
    cp.n_ctx = (int32_t)(n > 0 ? n : 1);
    engine_ctx *c = ids && n > 0 ? engine_ctx_new(m, &cp, err, sizeof err) : NULL;
    if (ids && n == 0)
        cli_error("logits", "the prompt has no tokens");
    else if (ids && !c)
        cli_error("context", "%s", err);
    if (c && !engine_eval(c, ids, (int32_t)n, true, err, sizeof err))
        cli_error("eval", "%s", err);
    else if (c) {
        printf("{\"ids\": [");
        for (int64_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        printf("], \"positions\": [");
        for (int64_t i = 0; i < n; i++) {
            if (i) printf(", ");
            print_position(engine_logits(c, (int32_t)i), engine_model_get_info(m)->n_vocab,
                           (int)top);
        }
        printf("]}\n");
        rc = 0;
    }
    engine_ctx_free(c);
    free(ids);
    engine_model_free(m);
    free(buf);
    return rc;
}
