/* hearth perplexity: perplexity of a model on a text and, with --kl-base, how far its next-token
 * distributions are from a base run's (mean and p99 KL divergence, top-1 agreement) — the measure
 * of what a quantization costs. Each chunk of CTX tokens is evaluated at once; its second half is
 * scored, so every scored token has at least CTX/2 tokens of context.
 *
 * The base is either a model (evaluated alongside) or a logits file written by --logits-out, so
 * a big base (F16) runs once and every quantization is compared against its saved logits. The
 * logits file, all little-endian:
 *   bytes 0..23   "HLGT", u32 version (1), u32 n_vocab, u32 n_positions, u32 ctx, u32 0
 *   then          n_positions x int32: the token following each scored position
 *   then          n_positions x n_vocab x float32: the logits, one position after another */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the logits file is little-endian");

typedef struct {
    double nll, kl_sum;
    long scored, agree;
    double *kl; /* per scored position, for the p99 */
} ppl_totals;

typedef struct {
    uint32_t magic_version[2], n_vocab, n_positions, ctx, reserved;
} logits_header;

static const char LOGITS_MAGIC[4] = {'H', 'L', 'G', 'T'};

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
    if (lb) {
        log_softmax(lb, nv, lp_b);
        double kl = 0.0;
        for (int v = 0; v < nv; v++) kl += exp(lp_b[v]) * (lp_b[v] - lp_t[v]);
        t->kl[t->scored] = kl;
        t->kl_sum += kl;
        t->agree += argmax(lp_t, nv) == argmax(lp_b, nv);
    }
    t->scored++;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The smallest value at or above 99 % of the others. */
static double p99(double *v, long n) {
    qsort(v, (size_t)n, sizeof *v, by_value);
    long k = (long)ceil(0.99 * (double)n) - 1;
    return v[k < 0 ? 0 : k];
}

static bool is_logits_file(const char *path) {
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    bool yes = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, LOGITS_MAGIC, 4);
    if (f) fclose(f);
    return yes;
}

/* Opens a saved base run and checks it was made on the same text, vocabulary and chunking. */
static FILE *open_base_logits(const char *path, const logits_header *want, const int32_t *next) {
    FILE *f = fopen(path, "rb");
    logits_header h;
    if (!f || fread(&h, sizeof h, 1, f) != 1) {
        cli_error(path, "cannot read the logits file header");
        if (f) fclose(f);
        return NULL;
    }
    const char *bad = h.magic_version[1] != 1              ? "has an unknown version"
                      : h.n_vocab != want->n_vocab         ? "was made with another vocabulary"
                      : h.ctx != want->ctx                 ? "was made with another --ctx"
                      : h.n_positions != want->n_positions ? "covers another number of tokens"
                                                           : NULL;
    for (uint32_t i = 0; !bad && i < h.n_positions; i++) {
        int32_t id;
        if (fread(&id, sizeof id, 1, f) != 1)
            bad = "is truncated";
        else if (id != next[i])
            bad = "was made on other tokens (another text or tokenizer)";
    }
    if (bad) {
        cli_error(path, "this logits file %s", bad);
        fclose(f);
        return NULL;
    }
    return f;
}

typedef struct {
    const char *model, *file, *base, *logits_out;
    long ctx, threads;
} ppl_options;

static const cli_opt OPTS[] = {
    CLI_OPT_MODEL,
    {"-f", "--file", "FILE", "the text to score"},
    {"-c", "--ctx", "N", "tokens per scored chunk (default 512)"},
    CLI_OPT_THREADS,
    {NULL, "--kl-base", "BASE", "KL divergence to a base model (.gguf) or saved logits (.logits)"},
    {NULL, "--logits-out", "FILE", "save this model's logits for a later --kl-base"},
    CLI_OPT_END};

static const cli_cmd CMD = {"perplexity", "[MODEL] -f TEXT [options]", NULL, OPTS};

static int parse_options(int argc, char **argv, ppl_options *o) {
    for (int i = 1; i < argc; i++) {
        const char *opt, *v;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &opt, &v);
        if (kind == CLI_HELP) return -1;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG) {
            if (v && o->model) return cli_error(v, "unexpected argument (the model is given)"), 2;
            if (v) o->model = v;
            continue;
        }
        if (!strcmp(opt, "-m"))
            o->model = v;
        else if (!strcmp(opt, "-f"))
            o->file = v;
        else if (!strcmp(opt, "--kl-base"))
            o->base = v;
        else if (!strcmp(opt, "--logits-out"))
            o->logits_out = v;
        else if (!strcmp(opt, "-c")) {
            if (!cli_int(opt, v, 8, 1 << 16, &o->ctx)) return 2;
        } else if (!strcmp(opt, "-t")) {
            if (!cli_int(opt, v, 1, 256, &o->threads)) return 2;
        } else
            return cli_error(opt, "unknown option"), 2;
    }
    if (!o->model || !o->file)
        return cli_error("perplexity", "MODEL (or -m MODEL) and -f TEXT are required"), 2;
    return 0;
}

/* What one run needs: the model's context, the base's (model or saved logits), the output. */
typedef struct {
    engine_ctx *c, *cb;
    FILE *base_logits, *out;
    char out_tmp[4096];
    float *base_row;
    int nv;
} ppl_run;

static bool score_chunks(ppl_run *r, const int32_t *ids, int64_t n, long ctx, ppl_totals *t) {
    char err[ENGINE_ERR_LEN];
    double *lp_t = malloc((size_t)r->nv * sizeof(double)),
           *lp_b = malloc((size_t)r->nv * sizeof(double));
    bool ok = lp_t && lp_b;
    if (!ok) snprintf(err, sizeof err, "out of memory");
    cli_progress prog;
    cli_progress_init(&prog);
    long n_chunks = (long)(n / ctx), chunk = 0;
    for (int64_t start = 0; ok && start + ctx <= n; start += ctx) {
        double nll0 = t->nll;
        long scored0 = t->scored;
        engine_kv_keep(r->c, 0);
        ok = engine_eval(r->c, ids + start, (int)ctx, true, err, sizeof err);
        if (ok && r->cb) {
            engine_kv_keep(r->cb, 0);
            ok = engine_eval(r->cb, ids + start, (int)ctx, true, err, sizeof err);
        }
        for (int i = (int)ctx / 2; ok && i < ctx - 1; i++) {
            const float *lt = engine_logits(r->c, i), *lb = r->cb ? engine_logits(r->cb, i) : NULL;
            if (r->base_logits &&
                fread(r->base_row, sizeof(float), (size_t)r->nv, r->base_logits) != (size_t)r->nv)
                ok = false, snprintf(err, sizeof err, "the base logits file is truncated");
            if (r->base_logits) lb = r->base_row;
            if (ok && r->out && fwrite(lt, sizeof(float), (size_t)r->nv, r->out) != (size_t)r->nv)
                ok = false, snprintf(err, sizeof err, "cannot write the logits file (disk full?)");
            if (ok) score_position(lt, lb, r->nv, ids[start + i + 1], lp_t, lp_b, t);
        }
        chunk++;
        if (ok && t->scored > scored0) /* on a terminal: each chunk's value as it comes */
            cli_progress_show(&prog, "perplexity: chunk %ld/%ld: %.4f (so far %.4f)", chunk,
                              n_chunks, exp((t->nll - nll0) / (double)(t->scored - scored0)),
                              exp(t->nll / (double)t->scored));
    }
    cli_progress_clear(&prog);
    if (!ok) cli_error("perplexity", "%s", err);
    free(lp_t);
    free(lp_b);
    return ok;
}

/* Header and token list of --logits-out, into a temporary file renamed when complete. */
static bool start_logits_out(ppl_run *r, const char *path, const logits_header *h,
                             const int32_t *next) {
    snprintf(r->out_tmp, sizeof r->out_tmp, "%s.tmp", path);
    r->out = fopen(r->out_tmp, "wb");
    if (!r->out) return cli_error(r->out_tmp, "cannot create the logits file"), false;
    if (fwrite(h, sizeof *h, 1, r->out) == 1 &&
        fwrite(next, sizeof(int32_t), h->n_positions, r->out) == h->n_positions)
        return true;
    return cli_error(r->out_tmp, "cannot write the logits file"), false;
}

static bool finish_logits_out(ppl_run *r, const char *path, bool ok) {
    if (!r->out) return ok;
    bool closed = fclose(r->out) == 0;
    r->out = NULL;
    if (ok && closed && rename(r->out_tmp, path) == 0) return true;
    if (ok) cli_error(path, "cannot write the logits file");
    remove(r->out_tmp);
    return false;
}

static void report(const ppl_totals *t, long ctx, bool with_base) {
    printf("perplexity %.4f over %ld scored tokens (chunks of %ld)", exp(t->nll / t->scored),
           t->scored, ctx);
    if (with_base)
        printf("; vs base: mean KL %.6f, p99 KL %.6f, top-1 agreement %.2f %%",
               t->kl_sum / t->scored, p99(t->kl, t->scored), 100.0 * t->agree / t->scored);
    printf("\n");
}

int cmd_perplexity(int argc, char **argv) {
    ppl_options o = {.ctx = 512};
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc; /* -1: the help was asked for */
    size_t len;
    char *text = cli_read_file(o.file, &len);
    engine_model *m = text ? cli_load_model(o.model) : NULL;
    bool base_is_file = o.base && is_logits_file(o.base);
    engine_model *mb = m && o.base && !base_is_file ? cli_load_model(o.base) : NULL;
    int64_t n = 0;
    int32_t *ids =
        m && (!o.base || base_is_file || mb) ? cli_tokenize(m, text, len, true, false, &n) : NULL;
    ppl_run r = {0};
    r.nv = m ? engine_model_get_info(m)->n_vocab : 0;
    long chunks = n / o.ctx, per_chunk = o.ctx - 1 - o.ctx / 2;
    logits_header h = {{0, 1}, (uint32_t)r.nv, (uint32_t)(chunks * per_chunk), (uint32_t)o.ctx, 0};
    memcpy(&h.magic_version[0], LOGITS_MAGIC, 4);
    int32_t *next = ids ? malloc(((size_t)h.n_positions + 1) * sizeof(int32_t)) : NULL;
    for (long k = 0; next && k < chunks; k++)
        for (long i = o.ctx / 2; i < o.ctx - 1; i++)
            next[k * per_chunk + i - o.ctx / 2] = ids[k * o.ctx + i + 1];
    ppl_totals t = {0, 0, 0, 0, next ? malloc(((size_t)h.n_positions + 1) * sizeof(double)) : NULL};
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = (int32_t)o.ctx;
    cp.n_threads = (int32_t)o.threads;
    rc = 1;
    if (ids && (!next || !t.kl))
        cli_error("perplexity", "out of memory");
    else if (ids && n < o.ctx)
        cli_error("perplexity", "the text has %lld tokens, fewer than one chunk of %ld",
                  (long long)n, o.ctx);
    else if (mb && engine_model_get_info(mb)->n_vocab != r.nv)
        cli_error("perplexity", "the base model's vocabulary differs (%d vs %d tokens)",
                  engine_model_get_info(mb)->n_vocab, r.nv);
    else if (ids && !(r.c = engine_ctx_new(m, &cp, err, sizeof err)))
        cli_error("context", "%s", err);
    else if (ids && mb && !(r.cb = engine_ctx_new(mb, &cp, err, sizeof err)))
        cli_error("context", "%s", err);
    else if (ids && base_is_file && !(r.base_row = malloc((size_t)r.nv * sizeof(float))))
        cli_error("perplexity", "out of memory");
    else if (ids && (!base_is_file || (r.base_logits = open_base_logits(o.base, &h, next))) &&
             (!o.logits_out || start_logits_out(&r, o.logits_out, &h, next))) {
        bool ok = finish_logits_out(&r, o.logits_out, score_chunks(&r, ids, n, o.ctx, &t));
        if (ok) report(&t, o.ctx, o.base != NULL), rc = 0;
    }
    finish_logits_out(&r, o.logits_out, false);
    if (r.base_logits) fclose(r.base_logits);
    free(r.base_row);
    free(t.kl);
    free(next);
    engine_ctx_free(r.cb);
    engine_ctx_free(r.c);
    free(ids);
    engine_model_free(mb);
    engine_model_free(m);
    free(text);
    return rc;
}
