/* FIM prompt layouts, token by token, for every family: the kit's real vocabularies (Qwen2.5-Coder,
 * StarCoder, DeepSeek-Coder) and tiny SentencePiece vocabularies written here (CodeLlama,
 * Codestral, and FIM ids given only by GGUF metadata). Also: a keystroke inside a line changes
 * only the prompt's last tokens, a newline keeps the head window's start.
 *
 * usage: test_completion_fim REFERENCE_VOCAB_DIR TMP_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "completion.h"
#include "engine.h"
#include "fim.h"
#include "gguf.h"
#include "test.h"

static const char *vocab_dir, *tmp_dir;

typedef struct {
    int32_t ids[8192];
    int n;
} seq;

static void push(seq *s, int32_t id) {
    if (s->n < 8192) s->ids[s->n++] = id;
}

static void push_text(const engine_model *m, seq *s, const char *t, size_t len) {
    char err[256];
    int64_t n =
        engine_tokenize(m, t, len, false, false, s->ids + s->n, 8192 - s->n, err, sizeof err);
    CHECKF(n >= 0 && s->n + n <= 8192, "%s", err);
    if (n > 0) s->n += (int)n;
}

static void push_str(const engine_model *m, seq *s, const char *t) {
    push_text(m, s, t, strlen(t));
}

static bool same(const fim_prompt *p, const seq *s) {
    if (p->n != s->n) {
        fprintf(stderr, "  prompt has %lld tokens, expected %d\n", (long long)p->n, s->n);
        return false;
    }
    for (int i = 0; i < s->n; i++)
        if (p->ids[i] != s->ids[i]) {
            fprintf(stderr, "  token %d is %d, expected %d\n", i, p->ids[i], s->ids[i]);
            return false;
        }
    return true;
}

static engine_model *load(const char *name) {
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s", vocab_dir, name);
    engine_model *m = engine_model_load_vocab(path, err, sizeof err);
    CHECKF(m != NULL, "%s: %s", path, err);
    return m;
}

static const char *P = "import os\n\ndef area(w, h):\n    return w * h\n\ndef main():\n    x = ar";
static const char *HEAD = "import os\n\ndef area(w, h):\n    return w * h\n\ndef main():\n";
static const char *LINE = "    x = ar";
static const char *S = "ea(2, 3)\n    print(x)\n";

static bool build(const engine_model *m, const fim_template *t, bool line_in_middle,
                  const char *prefix, const fim_chunk *chunks, int n_chunks, fim_prompt *out) {
    fim_budget b = {1024, 256, 512, line_in_middle};
    fim_input in = {prefix, strlen(prefix), S, strlen(S), "src/app.py", chunks, n_chunks};
    char err[512];
    bool ok = completion_fim_prompt_build(m, t, &b, &in, out, err, sizeof err);
    CHECKF(ok, "%s", err);
    return ok;
}

/* PSM families: [BOS] PRE head SUF suffix MID line (or PRE head line SUF suffix MID). */
static void check_psm(const char *vocab, fim_family family, const char *name) {
    engine_model *m = load(vocab);
    if (!m) return;
    fim_template t;
    char err[512];
    CHECKF(completion_fim_template_find(m, &t, err, sizeof err), "%s: %s", vocab, err);
    CHECKF(t.family == family, "%s: family %s", vocab, t.name);
    CHECK(!strcmp(t.name, name));
    fim_prompt p = {0};
    for (int lim = 0; lim < 2; lim++) {
        seq s = {.n = 0};
        if (t.bos) push(&s, engine_token_bos(m));
        push(&s, t.prefix);
        push_str(m, &s, lim ? HEAD : P); /* classic: the prefix in one piece */
        push(&s, t.suffix);
        push_str(m, &s, S);
        push(&s, t.middle);
        if (lim) push_str(m, &s, LINE);
        if (build(m, &t, lim == 1, P, NULL, 0, &p))
            CHECKF(same(&p, &s), "%s layout %d", vocab, lim);
    }
    free(p.ids);
    engine_model_free(m);
}

/* completion_prompt_tokens (what serve/'s /v1/completions with a suffix sends): the family's own
 * markers in the classic layout, [BOS] PRE prefix SUF suffix MID. */
static void check_prompt_tokens(const char *vocab, const char *pre_text) {
    engine_model *m = load(vocab);
    if (!m) return;
    fim_template t;
    char err[512];
    CHECK(completion_fim_template_find(m, &t, err, sizeof err));
    completion_params p;
    completion_params_init(&p);
    p.prefix_tokens = p.suffix_tokens = 4096;
    p.context_tokens = -1;
    p.line_in_middle = false;
    completion_request r = {
        .prefix = P, .prefix_len = strlen(P), .suffix = S, .suffix_len = strlen(S)};
    int32_t *ids = NULL;
    int64_t n = 0;
    CHECKF(completion_prompt_tokens(m, &p, &r, &ids, &n, err, sizeof err), "%s: %s", vocab, err);
    seq s = {.n = 0};
    if (t.bos) push(&s, engine_token_bos(m));
    push(&s, t.prefix);
    push_str(m, &s, P);
    push(&s, t.suffix);
    push_str(m, &s, S);
    push(&s, t.middle);
    fim_prompt got = {ids, n, n, 0};
    CHECKF(same(&got, &s), "%s", vocab);
    /* the marker is the family's: its text is what the model card spells */
    char piece[64];
    int k =
        ids ? engine_token_piece(m, ids[t.bos ? 1 : 0], true, piece, (int)sizeof piece - 1) : -1;
    if (k >= 0) piece[k] = '\0';
    CHECKF(k > 0 && strstr(piece, pre_text), "%s: the prefix marker is \"%s\"", vocab,
           k > 0 ? piece : "");
    free(ids);
    engine_model_free(m);
    /* a model without FIM tokens: a message, no prompt */
    m = load("llama-spm.gguf");
    ids = NULL;
    CHECK(m && !completion_prompt_tokens(m, &p, &r, &ids, &n, err, sizeof err) && !ids &&
          !completion_fim_supported(m, err, sizeof err));
    engine_model_free(m);
}

static int64_t common_prefix(const fim_prompt *a, const fim_prompt *b) {
    int64_t k = 0;
    while (k < a->n && k < b->n && a->ids[k] == b->ids[k]) k++;
    return k;
}

/* Typing inside a line changes only the tokens after MID; a newline keeps the head's start. */
static void check_keystrokes(void) {
    engine_model *m = load("qwen2.5-coder.gguf");
    if (!m) return;
    fim_template t;
    char err[512];
    CHECK(completion_fim_template_find(m, &t, err, sizeof err));
    size_t cap = 64 * 1024;
    char *text = malloc(cap);
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(text + n, cap - n, "def f%d(x):\n    return x * %d\n", i, i);
    n += (size_t)snprintf(text + n, cap - n, "def g(y):\n    ret");
    fim_budget b = {512, 128, 0, true};
    fim_input in = {text, n, S, strlen(S), NULL, NULL, 0};
    fim_prompt a = {0}, c = {0};
    CHECK(completion_fim_prompt_build(m, &t, &b, &in, &a, err, sizeof err));
    CHECKF(a.n > 300 && a.n <= 512 + 128 + 3, "%lld tokens", (long long)a.n);
    for (const char *typed = "urn y"; *typed; typed++) {
        text[n++] = *typed;
        in.prefix_len = n;
        CHECK(completion_fim_prompt_build(m, &t, &b, &in, &c, err, sizeof err));
        int64_t k = common_prefix(&a, &c);
        CHECKF(c.n - k <= 3, "typing '%c' changed %lld tokens", *typed, (long long)(c.n - k));
        CHECK(c.ids[k > 0 ? k - 1 : 0] == a.ids[k > 0 ? k - 1 : 0]);
        fim_prompt tmp = a;
        a = c, c = tmp;
    }
    /* The middle marker sits right before the cursor line ("    return y"). */
    int64_t mid = 0;
    while (mid < a.n && a.ids[mid] != t.middle) mid++;
    CHECK(mid < a.n && a.n - mid - 1 <= 4);
    /* Newlines: the head window start stays (anchored) for most of them. */
    int kept = 0;
    for (int i = 0; i < 20; i++) {
        n += (size_t)snprintf(text + n, cap - n, "\n    y = y + %d", i);
        in.prefix_len = n;
        CHECK(completion_fim_prompt_build(m, &t, &b, &in, &c, err, sizeof err));
        if (common_prefix(&a, &c) > 100) kept++;
        fim_prompt tmp = a;
        a = c, c = tmp;
    }
    CHECKF(kept >= 18, "head start moved %d times in 20 newlines", 20 - kept);
    free(a.ids);
    free(c.ids);
    free(text);
    engine_model_free(m);
}

/* Qwen2.5-Coder's repo-level form when cross-file chunks are given. */
static void check_qwen_repo(void) {
    engine_model *m = load("qwen2.5-coder.gguf");
    if (!m) return;
    fim_template t;
    char err[512];
    CHECK(completion_fim_template_find(m, &t, err, sizeof err));
    CHECK(t.repo >= 0 && t.file_sep >= 0);
    fim_chunk ch[2] = {{"lib/geo.py", "def area(w, h):\n    return w * h\n", 32},
                       {"lib/big.py", NULL, 0}};
    size_t big = 40000;
    char *bt = malloc(big);
    memset(bt, 'x', big);
    for (size_t i = 80; i < big; i += 81) bt[i] = '\n';
    ch[1].text = bt, ch[1].len = big; /* too big for the context budget: left out */
    seq s = {.n = 0};
    push(&s, t.repo);
    push_str(m, &s, "workspace\n");
    push(&s, t.file_sep);
    push_str(m, &s, "lib/geo.py\n");
    push_str(m, &s, ch[0].text);
    push(&s, t.file_sep);
    push_str(m, &s, "src/app.py");
    push_str(m, &s, "\n");
    push(&s, t.prefix);
    push_str(m, &s, HEAD);
    push(&s, t.suffix);
    push_str(m, &s, S);
    push(&s, t.middle);
    push_str(m, &s, LINE);
    fim_prompt p = {0};
    if (build(m, &t, true, P, ch, 2, &p)) {
        CHECK(same(&p, &s));
        CHECK(p.n_chunks == 1);
    }
    free(p.ids);
    free(bt);
    engine_model_free(m);
}

/* A tiny SentencePiece vocabulary: specials, byte tokens, and the given control tokens. */
static char *write_vocab(const char *name, const char *const *controls, int n_controls,
                         bool fim_keys) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/hearth-fim-%s.gguf", tmp_dir, name);
    int n = 3 + 256 + 2 + n_controls;
    const char **toks = calloc((size_t)n, sizeof *toks);
    char(*bytes)[8] = malloc(256 * 8);
    float *scores = calloc((size_t)n, sizeof *scores);
    int32_t *types = calloc((size_t)n, sizeof *types);
    toks[0] = "<unk>", toks[1] = "<s>", toks[2] = "</s>";
    types[0] = 2, types[1] = 3, types[2] = 3;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], 8, "<0x%02X>", b);
        toks[3 + b] = bytes[b], types[3 + b] = 6;
    }
    toks[259] = "\xe2\x96\x81", types[259] = 1, scores[259] = -1;
    toks[260] = "x", types[260] = 1, scores[260] = -2;
    for (int i = 0; i < n_controls; i++) toks[261 + i] = controls[i], types[261 + i] = 3;
    gguf_writer *w = gguf_writer_new();
    gguf_write_str(w, "general.architecture", "llama");
    gguf_write_str(w, "general.name", name);
    gguf_write_str(w, "tokenizer.ggml.model", "llama");
    gguf_write_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
    gguf_write_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)n);
    gguf_write_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)n);
    if (fim_keys) { /* unusual texts: only the metadata says what they are */
        gguf_write_u32(w, "tokenizer.ggml.fim_pre_token_id", 261);
        gguf_write_u32(w, "tokenizer.ggml.fim_suf_token_id", 262);
        gguf_write_u32(w, "tokenizer.ggml.fim_mid_token_id", 263);
    }
    char err[512];
    bool ok = gguf_writer_save(w, path, err, sizeof err);
    CHECKF(ok, "%s", err);
    gguf_writer_free(w);
    free(toks);
    free(bytes);
    free(scores);
    free(types);
    return ok ? path : NULL;
}

static void check_spm_vocabs(void) {
    static const char *const llama[] = {"\xe2\x96\x81<PRE>", "\xe2\x96\x81<SUF>",
                                        "\xe2\x96\x81<MID>", "\xe2\x96\x81<EOT>"};
    static const char *const mistral[] = {"[INST]", "[PREFIX]", "[SUFFIX]"};
    static const char *const other[] = {"<hole_a>", "<hole_b>", "<hole_c>"};
    struct {
        const char *name;
        const char *const *controls;
        int n;
        bool keys;
        fim_family family;
    } cases[] = {{"codellama", llama, 4, false, FIM_CODELLAMA},
                 {"codestral", mistral, 3, false, FIM_CODESTRAL},
                 {"metadata", other, 3, true, FIM_GENERIC}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512];
        const char *path = write_vocab(cases[i].name, cases[i].controls, cases[i].n, cases[i].keys);
        engine_model *m = path ? engine_model_load_vocab(path, err, sizeof err) : NULL;
        CHECKF(m != NULL, "%s: %s", cases[i].name, err);
        if (!m) continue;
        fim_template t;
        CHECKF(completion_fim_template_find(m, &t, err, sizeof err), "%s: %s", cases[i].name, err);
        CHECKF(t.family == cases[i].family, "%s: %s", cases[i].name, t.name);
        seq s = {.n = 0};
        push(&s, 1);                     /* SentencePiece vocabularies add BOS */
        if (t.family == FIM_CODESTRAL) { /* SPM: [BOS] SUF suffix PRE head line */
            CHECK(t.spm && t.middle < 0 && t.prefix == 262 && t.suffix == 263);
            push(&s, t.suffix);
            push_str(m, &s, S);
            push(&s, t.prefix);
            push_str(m, &s, HEAD);
            push_str(m, &s, LINE);
        } else {
            CHECK(t.prefix == 261 && t.suffix == 262 && t.middle == 263);
            push(&s, t.prefix);
            push_str(m, &s, HEAD);
            push(&s, t.suffix);
            push_str(m, &s, S);
            push(&s, t.middle);
            push_str(m, &s, LINE);
        }
        fim_prompt p = {0};
        if (build(m, &t, true, P, NULL, 0, &p)) CHECKF(same(&p, &s), "%s", cases[i].name);
        free(p.ids);
        engine_model_free(m);
        remove(path);
    }
}

static void check_no_family(void) {
    engine_model *m = load("llama-spm.gguf");
    if (!m) return;
    fim_template t;
    char err[512] = "";
    CHECK(!completion_fim_template_find(m, &t, err, sizeof err));
    CHECKF(strstr(err, "fill-in-the-middle") && strstr(err, "Qwen2.5-Coder"), "%s", err);
    engine_model_free(m);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_completion_fim REFERENCE_VOCAB_DIR TMP_DIR\n");
        return 2;
    }
    vocab_dir = argv[1];
    tmp_dir = argv[2];
    check_psm("qwen2.5-coder.gguf", FIM_QWEN, "Qwen2.5-Coder");
    check_psm("starcoder.gguf", FIM_STARCODER, "StarCoder2");
    check_psm("deepseek-coder.gguf", FIM_DEEPSEEK, "DeepSeek-Coder");
    check_prompt_tokens("starcoder.gguf", "<fim_prefix>");
    check_prompt_tokens("deepseek-coder.gguf", "fim\xe2\x96\x81"
                                               "begin");
    check_prompt_tokens("qwen2.5-coder.gguf", "<|fim_prefix|>");
    check_keystrokes();
    check_qwen_repo();
    check_spm_vocabs();
    check_no_family();
    return test_summary("test_completion_fim");
}
