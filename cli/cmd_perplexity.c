/* hearth perplexity: perplexity of a model on a text and, with --kl-base, how far its next-token
 * distributions are from a base model's (mean KL divergence, top-1 agreement) — the measure of
 * what a quantization costs. Each chunk of CTX tokens is evaluated at once; its second half is
 * scored, so every scored token has at least CTX/2 tokens of context. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    double nll, kl;
    long scored, agree;
} ppl_totals;

/* log-softmax of logits into out (n floats, in double precision). */
static void log_softmax(const float *l, int n, double *out) {
    double max = -INFINITY, s = 0.0;
    for (int i = 0; i < n; i++) max = l[i] > max ? l[i] : max;
    for (int i = 0; i < n; i++) s += exp(l[i] - max);
    double lse = max + log(s);
    for (int i = 0; i < n; i++) out[i] = l[i] - lse;
}

static int argmax(const double *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static void score_position(const float *lt, const float *lb, int nv, int32_t next, double *lp_t,
                           double *lp_b, ppl_totals *t) {
    log_softmax(lt, nv, lp_t);
    t->nll -= lp_t[next];
    t->scored++;
    if (!lb) return;
    log_softmax(lb, nv, lp_b);
    double kl = 0.0;
    for (int v = 0; v < nv; v++) kl += exp(lp_b[v]) * (lp_b[v] - lp_t[v]);
    t->kl += kl;
    t->agree += argmax(lp_t, nv) == argmax(lp_b, nv);
}

static bool eval_chunk(engine_ctx *c, const int32_t *ids, int n, char *err, size_t errlen) {
    engine_kv_keep(c, 0);
    return engine_eval(c, ids, n, true, err, errlen);
}

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *base = NULL;
    long ctx = 512, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fprintf(stderr, "usage: hearth perplexity -m MODEL -f TEXT [--kl-base BASE.gguf] [-c "
                            "CTX] [-t N]\n");
            return 2;
        }
        if (!(v = cli_value(argc, argv, &i))) return 2;
        if (!strcmp(o, "-m"))
            model = v;
        else if (!strcmp(o, "-f"))
            file = v;
        else if (!strcmp(o, "--kl-base"))
            base = v;
        else if (!strcmp(o, "-c")) {
            if (!cli_int(o, v, 8, 1 << 16, &ctx)) return 2;
        } else if (!strcmp(o, "-t")) {
            if (!cli_int(o, v, 1, 256, &threads)) return 2;
        } else
            return cli_error(o, "unknown option"), 2;
    }
    if (!model || !file) return cli_error("perplexity", "-m MODEL and -f TEXT are required"), 2;
    size_t len;
    char *text = cli_read_file(file, &len);
    engine_model *m = text ? cli_load_model(model) : NULL;
    engine_model *mb = m && base ? cli_load_model(base) : NULL;
    int rc = 1;
    int64_t n = 0;
    int32_t *ids = m && (!base || mb) ? cli_tokenize(m, text, len, true, false, &n) : NULL;
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = (int32_t)ctx;
    cp.n_threads = (int32_t)threads;
    engine_ctx *c = ids ? engine_ctx_new(m, &cp, err, sizeof err) : NULL;
    engine_ctx *cb = c && mb ? engine_ctx_new(mb, &cp, err, sizeof err) : NULL;
    int nv = m ? engine_model_get_info(m)->n_vocab : 0;
    if (ids && (!c || (mb && !cb)))
        cli_error("context", "%s", err);
    else if (mb && engine_model_get_info(mb)->n_vocab != nv)
        cli_error("perplexity", "the base model's vocabulary differs (%d vs %d tokens)",
                  engine_model_get_info(mb)->n_vocab, nv);
    else if (c && n < ctx)
        cli_error("perplexity", "the text has %lld tokens, fewer than one chunk of %ld",
                  (long long)n, ctx);
    else if (c) {
        double *lp_t = malloc((size_t)nv * sizeof(double)),
               *lp_b = malloc((size_t)nv * sizeof(double));
        ppl_totals t = {0, 0, 0, 0};
        bool ok = lp_t && lp_b;
        for (int64_t start = 0; ok && start + ctx <= n; start += ctx) {
            ok = eval_chunk(c, ids + start, (int)ctx, err, sizeof err) &&
                 (!cb || eval_chunk(cb, ids + start, (int)ctx, err, sizeof err));
            for (int i = (int)ctx / 2; ok && i < ctx - 1; i++)
                score_position(engine_logits(c, i), cb ? engine_logits(cb, i) : NULL, nv,
                               ids[start + i + 1], lp_t, lp_b, &t);
        }
        if (!ok)
            cli_error("perplexity", "%s", lp_t && lp_b ? err : "out of memory");
        else {
            printf("perplexity %.4f over %ld scored tokens (chunks of %ld)", exp(t.nll / t.scored),
                   t.scored, ctx);
            if (cb)
                printf("; vs base: mean KL %.6f, top-1 agreement %.2f %%", t.kl / t.scored,
                       100.0 * t.agree / t.scored);
            printf("\n");
            rc = 0;
        }
        free(lp_t);
        free(lp_b);
    }
    engine_ctx_free(cb);
    engine_ctx_free(c);
    free(ids);
    engine_model_free(mb);
    engine_model_free(m);
    free(text);
    return rc;
}
