/* Tokenizer tests: reference vectors of the kit (vocab/<name>.{gguf,code,special}.inp/.out) must
 * match exactly; detokenization round trips; utf8_stream; malformed metadata is rejected. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "test.h"
#include "tokenizer.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = 0, *len = (size_t)n;
    return b;
}

static void print_escaped(const char *s, size_t n) {
    fputc('"', stderr);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\t')
            fputs("\\t", stderr);
        else if (c == '\r')
            fputs("\\r", stderr);
        else if (c < 0x20)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputs("\"\n", stderr);
}

static void print_ids(const char *what, const int32_t *v, int64_t n) {
    fprintf(stderr, "  %s (%lld):", what, (long long)n);
    for (int64_t i = 0; i < n; i++) fprintf(stderr, " %d", v[i]);
    fputc('\n', stderr);
}

static int32_t *encode(const tokenizer *t, const char *s, size_t n, bool add_special, bool parse,
                       int64_t *count) {
    char err[256];
    int64_t k = tokenizer_encode(t, s, n, add_special, parse, NULL, 0, err, sizeof(err));
    CHECKF(k >= 0, "encode failed: %s", err);
    if (k < 0) return NULL;
    int32_t *ids = malloc((size_t)(k + 1) * sizeof(int32_t));
    int64_t k2 = tokenizer_encode(t, s, n, add_special, parse, ids, k, err, sizeof(err));
    CHECK(k2 == k);
    *count = k;
    return ids;
}

static char *detok(const tokenizer *t, const int32_t *ids, int64_t n, bool special, size_t *len) {
    size_t cap = 256, k = 0;
    char *out = malloc(cap);
    for (int64_t i = 0; i < n; i++) {
        char buf[512];
        int l = tokenizer_piece(t, ids[i], special, buf, sizeof(buf));
        CHECK(l >= 0 && l <= (int)sizeof(buf));
        if (l < 0 || l > (int)sizeof(buf)) continue;
        while (k + (size_t)l + 1 > cap) out = realloc(out, cap *= 2);
        memcpy(out + k, buf, (size_t)l);
        k += (size_t)l;
    }
    *len = k;
    return out;
}

typedef struct {
    int texts, passed;
} vec_result;

/* Runs one vector set: base is e.g. "<dir>/vocab/qwen3.code" (.inp/.out appended). */
static vec_result run_vectors(const tokenizer *t, bool is_bpe, bool is_spm, const char *base,
                              bool parse_special) {
    vec_result r = {0, 0};
    char path[1200];
    size_t ni, no;
    snprintf(path, sizeof(path), "%s.inp", base);
    char *inp = read_all(path, &ni);
    snprintf(path, sizeof(path), "%s.out", base);
    char *out = read_all(path, &no);
    CHECKF(inp && out, "cannot read %s.inp/.out", base);
    if (!inp || !out) return r;
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *p = inp, *line = out;
    bool reported = false;
    while (p < inp + ni) {
        char *e = strstr(p, sep);
        size_t tl = e ? (size_t)(e - p) : (size_t)(inp + ni - p);
        char *nl = strchr(line, '\n');
        if (!nl) nl = line + strlen(line);
        int32_t want[4096];
        int64_t nw = 0;
        for (char *q = line; q < nl;) {
            char *end;
            long v = strtol(q, &end, 10);
            if (end == q) break;
            if (nw < 4096) want[nw++] = (int32_t)v;
            q = end;
        }
        int64_t ng = 0;
        int32_t *got = encode(t, p, tl, false, parse_special, &ng);
        bool same = got && ng == nw && !memcmp(got, want, (size_t)nw * sizeof(int32_t));
        r.texts++;
        r.passed += same;
        if (!same && (!reported || getenv("HEARTH_TOK_VERBOSE"))) {
            fprintf(stderr, "%s: text %d differs: ", base, r.texts - 1);
            print_escaped(p, tl);
            print_ids("want", want, nw);
            print_ids("got ", got, ng);
            reported = true;
        }
        /* Round trip: pieces concatenate back to the text (SPM adds the leading space). */
        if (got && (is_bpe || is_spm)) {
            size_t dl;
            char *d = detok(t, got, ng, true, &dl);
            const char *cmp = d;
            if (is_spm && dl > 0 && d[0] == ' ' && tl > 0) cmp++, dl--;
            if (is_spm && tl == 0) dl = 0;
            CHECKF(dl == tl && !memcmp(cmp, p, tl), "%s: round trip of text %d", base, r.texts - 1);
            free(d);
        }
        free(got);
        line = *nl ? nl + 1 : nl;
        if (!e) break;
        p = e + strlen(sep);
    }
    CHECKF(r.passed == r.texts, "%s: %d/%d texts match", base, r.passed, r.texts);
    free(inp);
    free(out);
    return r;
}

static tokenizer *load_vocab(const char *path, gguf_file **gf, double *ms) {
    char err[256];
    *gf = gguf_open(path, err, sizeof(err));
    CHECKF(*gf, "%s: %s", path, err);
    if (!*gf) return NULL;
    double t0 = now_s();
    tokenizer *t = tokenizer_load(*gf, err, sizeof(err));
    *ms = (now_s() - t0) * 1e3;
    CHECKF(t, "%s: %s", path, err);
    return t;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_reference_vectors(const char *ref) {
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/vocab", ref);
    DIR *d = opendir(dir);
    CHECKF(d, "cannot open %s", dir);
    if (!d) return;
    char *names[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".inp")) names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp_str);
    for (int i = 0; i < n; i++) {
        /* <vocab>.<set>.inp with set gguf, code or special */
        char vocab[256], base[1024], gpath[1024];
        snprintf(vocab, sizeof(vocab), "%s", names[i]);
        vocab[strlen(vocab) - 4] = 0;
        char *dot = strrchr(vocab, '.');
        if (!dot) continue;
        const char *set = dot + 1;
        bool parse_special = !strcmp(set, "special");
        snprintf(base, sizeof(base), "%s/%s", dir, vocab);
        *dot = 0;
        snprintf(gpath, sizeof(gpath), "%s/%s.gguf", dir, vocab);
        gguf_file *g;
        double ms;
        tokenizer *t = load_vocab(gpath, &g, &ms);
        if (t) {
            gguf_str model = {0};
            gguf_get_str(g, "tokenizer.ggml.model", &model);
            bool bpe = gguf_str_eq(model, "gpt2"), spm = gguf_str_eq(model, "llama");
            vec_result r = run_vectors(t, bpe, spm, base, parse_special);
            printf("%-16s %-8s %3d/%3d texts match  (load %.1f ms, n_vocab %d)\n", vocab, set,
                   r.passed, r.texts, ms, tokenizer_n_vocab(t));
            tokenizer_free(t);
        }
        gguf_close(g);
        free(names[i]);
    }
}

/* Load time and encode throughput on the qwen2.5-coder code vectors. */
static void bench_qwen(const char *ref) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/vocab/qwen2.5-coder.gguf", ref);
    gguf_file *g;
    double ms;
    tokenizer *t = load_vocab(path, &g, &ms);
    if (!t) {
        gguf_close(g);
        return;
    }
    snprintf(path, sizeof(path), "%s/vocab/qwen2.5-coder.code.inp", ref);
    size_t n;
    char *text = read_all(path, &n);
    CHECK(text != NULL);
    if (text) {
        int64_t cap = (int64_t)n + 16, total = 0;
        int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
        int reps = 0;
        double t0 = now_s(), el;
        do {
            total += tokenizer_encode(t, text, n, false, false, ids, cap, NULL, 0);
            reps++;
        } while ((el = now_s() - t0) < 0.3);
        printf("qwen2.5-coder: load %.1f ms; encode %.1f MB/s (%zu bytes -> %lld tokens)\n", ms,
               (double)n * reps / el / 1e6, n, (long long)(total / reps));
        free(ids);
    }
    free(text);
    tokenizer_free(t);
    gguf_close(g);
}

static void test_specials(const char *ref) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/vocab/qwen2.5-coder.gguf", ref);
    gguf_file *g;
    double ms;
    tokenizer *t = load_vocab(path, &g, &ms);
    if (t) {
        const tokenizer_specials *sp = tokenizer_specials_get(t);
        CHECK(sp->eos == 151643 && sp->bos == 151643 && !sp->add_bos && !sp->add_eos);
        CHECK(sp->eot == 151645); /* <|im_end|> */
        CHECK(sp->fim_pre == 151659 && sp->fim_suf == 151661 && sp->fim_mid == 151660);
        CHECK(sp->fim_pad == 151662 && sp->fim_rep == 151663 && sp->fim_sep == 151664);
        CHECK(sp->nl == 198);
        CHECK(tokenizer_is_eog(t, 151643) && tokenizer_is_eog(t, 151645));
        CHECK(tokenizer_is_eog(t, 151662) && tokenizer_is_eog(t, 151664));
        CHECK(!tokenizer_is_eog(t, 151644) && !tokenizer_is_eog(t, 198));
        char buf[64];
        CHECK(tokenizer_piece(t, 151645, false, buf, sizeof(buf)) == 0);
        CHECK(tokenizer_piece(t, 151645, true, buf, sizeof(buf)) == 10 &&
              !memcmp(buf, "<|im_end|>", 10));
        CHECK(tokenizer_piece(t, 198, false, buf, sizeof(buf)) == 1 && buf[0] == '\n');
        CHECK(tokenizer_piece(t, -1, false, buf, sizeof(buf)) == -1);
        CHECK(tokenizer_piece(t, tokenizer_n_vocab(t), false, buf, sizeof(buf)) == -1);
        /* Truncated buffer: the length is still reported. */
        CHECK(tokenizer_piece(t, 151645, true, buf, 3) == 10);
        /* Invalid UTF-8 must neither crash nor lose bytes. */
        const char bad[] = "a\xff\xfe b\xc3 \xe2\x82 \xf0\x9f\x98 c\x80\x80";
        int64_t k;
        int32_t *ids = encode(t, bad, sizeof(bad) - 1, false, false, &k);
        size_t dl;
        char *d = detok(t, ids, k, false, &dl);
        CHECK(dl == sizeof(bad) - 1 && !memcmp(d, bad, dl));
        free(d);
        free(ids);
        /* Buffer too small: returns the full count. */
        int32_t two[2];
        CHECK(tokenizer_encode(t, "hello world again", 17, false, false, two, 2, NULL, 0) == 3);
        tokenizer_free(t);
    }
    gguf_close(g);

    snprintf(path, sizeof(path), "%s/vocab/llama-spm.gguf", ref);
    t = load_vocab(path, &g, &ms);
    if (t) {
        const tokenizer_specials *sp = tokenizer_specials_get(t);
        CHECK(sp->bos == 1 && sp->eos == 2 && sp->unk == 0 && sp->add_bos && !sp->add_eos);
        int64_t k;
        int32_t *ids = encode(t, "Hello", 5, true, false, &k);
        CHECK(ids && k >= 2 && ids[0] == 1);
        free(ids);
        ids = encode(t, "", 0, true, false, &k);
        CHECK(ids && k == 1 && ids[0] == 1);
        free(ids);
        ids = encode(t, "<s>x", 4, false, true, &k);
        CHECK(ids && k >= 2 && ids[0] == 1);
        free(ids);
        char buf[8];
        CHECK(tokenizer_piece(t, 3 + 0x41, false, buf, sizeof(buf)) == 1 && buf[0] == 'A');
        CHECK(tokenizer_is_eog(t, 2) && !tokenizer_is_eog(t, 1));
        tokenizer_free(t);
    }
    gguf_close(g);

    /* Phi-3 swallows whitespace after its special tokens (their rstrip attribute). */
    snprintf(path, sizeof(path), "%s/vocab/phi-3.gguf", ref);
    t = load_vocab(path, &g, &ms);
    if (t) {
        int64_t k;
        int32_t *ids = encode(t, "<|user|>\n  hi<|end|>", 20, false, true, &k);
        CHECK(ids && k >= 3 && ids[0] == 32010 && ids[1] != 13 && ids[k - 1] == 32007);
        free(ids);
        tokenizer_free(t);
    }
    gguf_close(g);

    snprintf(path, sizeof(path), "%s/vocab/bert-bge.gguf", ref);
    t = load_vocab(path, &g, &ms);
    if (t) {
        int64_t k;
        int32_t *ids = encode(t, "hello world", 11, true, false, &k);
        CHECK(ids && k == 4 && ids[0] == 101 && ids[3] == 102);
        free(ids);
        tokenizer_free(t);
    }
    gguf_close(g);
}

static void test_utf8_stream(void) {
    const char *text = "a\xc3\xa9z\xe2\x82\xac\xf0\x9f\x98\x80!"; /* a é z € 😀 ! */
    size_t n = strlen(text);
    /* Feed every split into 1..3-byte pieces: output must equal the input and never end inside
     * a multi-byte sequence. */
    for (size_t step = 1; step <= 3; step++) {
        utf8_stream s = {0};
        char out[64], buf[16];
        int k = 0;
        for (size_t i = 0; i < n; i += step) {
            int l = (int)(i + step <= n ? step : n - i);
            int w = utf8_stream_push(&s, text + i, l, buf, sizeof(buf));
            CHECK(w >= 0);
            if (w > 0) {
                unsigned char last = (unsigned char)buf[w - 1];
                CHECK(last < 0x80 || (last & 0xC0) == 0x80);
                memcpy(out + k, buf, (size_t)w);
                k += w;
            }
        }
        k += utf8_stream_flush(&s, out + k, (int)sizeof(out) - k);
        CHECK(k == (int)n && !memcmp(out, text, n));
    }
    utf8_stream s = {0};
    char buf[16];
    CHECK(utf8_stream_push(&s, "\xe2\x82", 2, buf, sizeof(buf)) == 0 && s.n_pending == 2);
    CHECK(utf8_stream_push(&s, "\xac", 1, buf, sizeof(buf)) == 3 &&
          !memcmp(buf, "\xe2\x82\xac", 3));
    /* A cut sequence followed by ASCII is emitted as-is. */
    CHECK(utf8_stream_push(&s, "\xe2", 1, buf, sizeof(buf)) == 0);
    CHECK(utf8_stream_push(&s, "x", 1, buf, sizeof(buf)) == 2 && buf[0] == '\xe2' && buf[1] == 'x');
    CHECK(utf8_stream_push(&s, "\xf0\x9f", 2, buf, sizeof(buf)) == 0);
    CHECK(utf8_stream_flush(&s, buf, sizeof(buf)) == 2 && s.n_pending == 0);
    CHECK(utf8_stream_push(&s, "\xff\x80", 2, buf, sizeof(buf)) == 2);
}

/* ---- malformed metadata: tiny GGUF images built by hand ---- */
typedef struct {
    uint8_t *b;
    size_t n, cap;
    uint64_t n_kv;
} img;

static void put(img *m, const void *p, size_t n) {
    while (m->n + n > m->cap) m->b = realloc(m->b, m->cap = m->cap ? m->cap * 2 : 256);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
static void put_u32(img *m, uint32_t v) {
    put(m, &v, 4);
}
static void put_u64(img *m, uint64_t v) {
    put(m, &v, 8);
}
static void put_s(img *m, const char *s) {
    put_u64(m, strlen(s));
    put(m, s, strlen(s));
}
static void kv_str(img *m, const char *k, const char *v) {
    put_s(m, k), put_u32(m, 8), put_s(m, v), m->n_kv++;
}
static void kv_u32(img *m, const char *k, uint32_t v) {
    put_s(m, k), put_u32(m, 4), put_u32(m, v), m->n_kv++;
}
static void kv_strs(img *m, const char *k, const char *const *v, uint64_t n) {
    put_s(m, k), put_u32(m, 9), put_u32(m, 8), put_u64(m, n);
    for (uint64_t i = 0; i < n; i++) put_s(m, v[i]);
    m->n_kv++;
}
static void kv_i32s(img *m, const char *k, const int32_t *v, uint64_t n) {
    put_s(m, k), put_u32(m, 9), put_u32(m, 5), put_u64(m, n);
    put(m, v, n * 4);
    m->n_kv++;
}
static void kv_f32s(img *m, const char *k, const float *v, uint64_t n) {
    put_s(m, k), put_u32(m, 9), put_u32(m, 6), put_u64(m, n);
    put(m, v, n * 4);
    m->n_kv++;
}

/* Builds header + kvs (the kv count patched in at the end). */
static uint8_t *finish(img *m, size_t *len) {
    img h = {0};
    put(&h, "GGUF", 4), put_u32(&h, 3), put_u64(&h, 0), put_u64(&h, m->n_kv);
    put(&h, m->b, m->n);
    free(m->b);
    size_t pad = (32 - h.n % 32) % 32;
    uint8_t z[32] = {0};
    put(&h, z, pad);
    *len = h.n;
    return h.b;
}

enum {
    BAD_NONE,
    BAD_NO_TOKENS,
    BAD_TYPES_LEN,
    BAD_SCORES_TYPE,
    BAD_BOS_RANGE,
    BAD_MODEL,
    BAD_PRE,
    BAD_MERGE,
    BAD_NO_MERGES,
    BAD_TYPE_VALUE,
    BAD_EOS_TYPE
};

static tokenizer *build(int bad, bool bpe, char *err, size_t errlen) {
    static const char *const spm_toks[] = {"<unk>",
                                           "<s>",
                                           "</s>",
                                           "\xe2\x96\x81",
                                           "a",
                                           "b",
                                           "\xe2\x96\x81"
                                           "a",
                                           "ab",
                                           "\xe2\x96\x81"
                                           "ab"};
    static const char *const bpe_toks[] = {"a", "b", "c", "ab", "abc", "\xc4\xa0", "<|endoftext|>"};
    static const char *const merges[] = {"a b", "ab c"};
    static const char *const bad_merges[] = {"a b", "abc"};
    const char *const *toks = bpe ? bpe_toks : spm_toks;
    uint64_t nt = bpe ? 7 : 9;
    int32_t types[9] = {2, 3, 3, 1, 1, 1, 1, 1, 1};
    if (bpe) types[0] = 1, types[1] = 1, types[2] = 1, types[6] = 3;
    float scores[9] = {0, 0, 0, -1, -2, -3, -4, -5, -6};
    img m = {0};
    kv_str(&m, "tokenizer.ggml.model", bad == BAD_MODEL ? "t9" : bpe ? "gpt2" : "llama");
    if (bpe) kv_str(&m, "tokenizer.ggml.pre", bad == BAD_PRE ? "nonesuch" : "qwen2");
    if (bad != BAD_NO_TOKENS) kv_strs(&m, "tokenizer.ggml.tokens", toks, nt);
    if (bad == BAD_TYPE_VALUE) types[3] = 42;
    kv_i32s(&m, "tokenizer.ggml.token_type", types, bad == BAD_TYPES_LEN ? nt - 1 : nt);
    if (bad == BAD_SCORES_TYPE)
        kv_i32s(&m, "tokenizer.ggml.scores", types, nt);
    else if (!bpe)
        kv_f32s(&m, "tokenizer.ggml.scores", scores, nt);
    if (bpe && bad != BAD_NO_MERGES)
        kv_strs(&m, "tokenizer.ggml.merges", bad == BAD_MERGE ? bad_merges : merges, 2);
    kv_u32(&m, "tokenizer.ggml.bos_token_id", bad == BAD_BOS_RANGE ? 1000 : 1);
    if (bad == BAD_EOS_TYPE) kv_str(&m, "tokenizer.ggml.eos_token_id", "2");
    size_t len;
    uint8_t *data = finish(&m, &len);
    gguf_file *g = gguf_open_memory(data, len, err, errlen);
    CHECKF(g, "in-memory gguf: %s", err);
    tokenizer *t = g ? tokenizer_load(g, err, errlen) : NULL;
    gguf_close(g);
    free(data); /* the tokenizer owns copies of everything it needs */
    return t;
}

static void test_malformed(void) {
    char err[256];
    for (int bpe = 0; bpe < 2; bpe++) {
        tokenizer *t = build(BAD_NONE, bpe, err, sizeof(err));
        CHECKF(t, "valid image rejected: %s", err);
        if (t) {
            int32_t ids[8];
            int64_t n = tokenizer_encode(t, "ab abc", 6, false, false, ids, 8, err, sizeof(err));
            if (bpe)
                CHECK(n == 3 && ids[0] == 3 && ids[1] == 5 && ids[2] == 4);
            else
                CHECK(n == 3 && ids[0] == 8 && ids[1] == 8 && ids[2] == 0); /* ▁ab ▁ab <unk> */
            tokenizer_free(t);
        }
    }
    static const struct {
        int bad;
        bool bpe;
        const char *expect;
    } cases[] = {
        {BAD_NO_TOKENS, false, "tokenizer.ggml.tokens"},
        {BAD_TYPES_LEN, false, "token_type"},
        {BAD_SCORES_TYPE, false, "scores"},
        {BAD_BOS_RANGE, false, "bos_token_id"},
        {BAD_MODEL, false, "t9"},
        {BAD_PRE, true, "nonesuch"},
        {BAD_MERGE, true, "merges"},
        {BAD_NO_MERGES, true, "merges"},
        {BAD_TYPE_VALUE, false, "token_type"},
        {BAD_EOS_TYPE, true, "eos_token_id"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = 0;
        tokenizer *t = build(cases[i].bad, cases[i].bpe, err, sizeof(err));
        CHECKF(!t, "malformed case %zu accepted", i);
        CHECKF(strstr(err, cases[i].expect), "case %zu: message '%s' lacks '%s'", i, err,
               cases[i].expect);
        tokenizer_free(t);
    }
}

/* Random and pathological inputs: no crash, no hang, lossless for byte-level BPE. */
static void test_hostile(const char *ref) {
    static const char *const vocabs[] = {"qwen2.5-coder", "llama-spm", "bert-bge", "deepseek-coder",
                                         "gpt-2"};
    static const char *const frags[] = {"<|im_end|>",   "<|im_",        "\xe2\x96\x81", "\xc3",
                                        "\xf0\x9f\x98", "  ",           "\r\n",         "'s",
                                        "123456",       "\xef\xbd\x9c", "\t",           "a"};
    uint64_t rng = 0x1234567;
    size_t big = 1 << 18;
    char *buf = malloc(big + 1);
    for (size_t v = 0; v < sizeof(vocabs) / sizeof(vocabs[0]); v++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/vocab/%s.gguf", ref, vocabs[v]);
        gguf_file *g;
        double ms;
        tokenizer *t = load_vocab(path, &g, &ms);
        if (!t) {
            gguf_close(g);
            continue;
        }
        /* deepseek-coder maps bytes that never occur in UTF-8 to user-defined tokens, which
         * render as text: lossless only for valid UTF-8, so it is not checked here. */
        bool bpe = v == 0 || v == 4;
        for (int iter = 0; iter < 300; iter++) {
            size_t n = 0, want = (size_t)(iter % 60) * 3;
            while (n < want) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                uint32_t r = (uint32_t)(rng >> 33);
                if (r % 3 == 0) {
                    const char *f = frags[(r / 3) % (sizeof(frags) / sizeof(frags[0]))];
                    size_t fl = strlen(f);
                    memcpy(buf + n, f, fl);
                    n += fl;
                } else {
                    buf[n++] = (char)(r >> 8);
                }
            }
            for (int parse = 0; parse < 2; parse++) {
                int64_t k;
                int32_t *ids = encode(t, buf, n, parse, parse, &k);
                for (int64_t i = 0; ids && i < k; i++)
                    CHECK(ids[i] >= 0 && ids[i] < tokenizer_n_vocab(t));
                if (ids && bpe) {
                    size_t dl;
                    char *d = detok(t, ids, k, true, &dl);
                    CHECKF(dl == n && !memcmp(d, buf, n), "%s: random text %d not lossless",
                           vocabs[v], iter);
                    free(d);
                }
                free(ids);
            }
        }
        /* Long runs: one huge word, whitespace, special-looking text. Must stay near-linear. */
        static const char *const fills[] = {"a",    " ", "<", "<|im_end|>", "\xe4\xb8\xad",
                                            "\xff", "1"};
        for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
            size_t fl = strlen(fills[f]), n = 0;
            while (n + fl <= big) memcpy(buf + n, fills[f], fl), n += fl;
            double t0 = now_s();
            int64_t k = tokenizer_encode(t, buf, n, false, true, NULL, 0, NULL, 0);
            double el = now_s() - t0;
            if (getenv("HEARTH_TOK_VERBOSE"))
                printf("%s fill %zu: %lld tokens %.3f s\n", vocabs[v], f, (long long)k, el);
            CHECKF(k >= 0 && el < 10.0, "%s: fill %zu: %lld tokens in %.2f s", vocabs[v], f,
                   (long long)k, el);
        }
        tokenizer_free(t);
        gguf_close(g);
    }
    free(buf);
}

static int hexnib(char c) {
    return c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
}

/* The prompts of every model reference (outputs/<model>.json, add_special and parse_special on)
 * must tokenize to the recorded ids, and greedy tokens must render to the recorded piece bytes. */
static void test_model_prompts(const char *ref) {
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/outputs", ref);
    DIR *d = opendir(dir);
    CHECKF(d, "cannot open %s", dir);
    if (!d) return;
    struct dirent *de;
    int files = 0, texts = 0, pieces = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".json") || strstr(de->d_name, "deqf32")) continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        json_error_t je;
        json_t *root = json_load_file(path, JSON_ALLOW_NUL, &je);
        CHECKF(root, "%s: %s", path, je.text);
        if (!root) continue;
        const char *model = json_string_value(json_object_get(root, "model_file"));
        json_t *items = json_object_get(root, "prompts");
        const char *tkey = "prompt";
        if (!items) items = json_object_get(root, "texts"), tkey = "text";
        char mpath[1024];
        snprintf(mpath, sizeof(mpath), "%s/models/%s", ref, model ? model : "?");
        gguf_file *g;
        double ms;
        tokenizer *t = model && items ? load_vocab(mpath, &g, &ms) : NULL;
        if (!t) {
            if (model && items) gguf_close(g);
            json_decref(root);
            continue;
        }
        files++;
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            json_t *jt = json_object_get(it, tkey);
            const char *text = json_string_value(jt);
            json_t *jids = json_object_get(it, "ids");
            if (!text || !jids) continue;
            int64_t n;
            int32_t *got = encode(t, text, json_string_length(jt), true, true, &n);
            bool same = got && (size_t)n == json_array_size(jids);
            for (int64_t k = 0; same && k < n; k++)
                same = got[k] == (int32_t)json_integer_value(json_array_get(jids, (size_t)k));
            CHECKF(same, "%s: prompt %zu tokenizes differently", de->d_name, i);
            texts++;
            free(got);
            json_t *gids = json_object_get(it, "greedy_ids");
            json_t *ghex = json_object_get(it, "greedy_pieces_hex");
            for (size_t k = 0; k < json_array_size(gids) && k < json_array_size(ghex); k++) {
                const char *hex = json_string_value(json_array_get(ghex, k));
                char want[256], buf[256];
                size_t wl = hex ? strlen(hex) / 2 : 0;
                for (size_t h = 0; h < wl && h < sizeof(want); h++)
                    want[h] = (char)(hexnib(hex[2 * h]) * 16 + hexnib(hex[2 * h + 1]));
                int32_t id = (int32_t)json_integer_value(json_array_get(gids, k));
                int pl = tokenizer_piece(t, id, true, buf, sizeof(buf));
                CHECKF(pl == (int)wl && !memcmp(buf, want, wl), "%s: piece of token %d", de->d_name,
                       id);
                pieces++;
            }
        }
        tokenizer_free(t);
        gguf_close(g);
        json_decref(root);
    }
    closedir(d);
    printf("model references: %d files, %d prompts, %d greedy pieces checked\n", files, texts,
           pieces);
}

/* An empty text has no tokens, and the caller's buffer is left alone: the empty result's token
 * buffer is NULL, and copying from it (even 0 bytes) aborted the UBSan build on an empty
 * prompt. With special tokens, only the vocabulary's BOS/CLS and EOS/SEP. */
static void test_empty_text(const char *ref) {
    static const char *const vocabs[] = {"qwen2.5-coder", "llama-spm", "bert-bge", "gpt-2"};
    for (size_t v = 0; v < sizeof vocabs / sizeof *vocabs; v++) {
        char path[1024], err[256];
        snprintf(path, sizeof path, "%s/vocab/%s.gguf", ref, vocabs[v]);
        gguf_file *g;
        double ms;
        tokenizer *t = load_vocab(path, &g, &ms);
        for (int parse = 0; t && parse < 2; parse++) {
            int32_t ids[4] = {-7, -7, -7, -7};
            CHECKF(tokenizer_encode(t, "", 0, false, parse, ids, 4, err, sizeof err) == 0 &&
                       ids[0] == -7,
                   "%s", vocabs[v]);
            int64_t k = tokenizer_encode(t, "", 0, true, parse, ids, 4, err, sizeof err);
            CHECKF(k >= 0 && k <= 2, "%s: %lld", vocabs[v], (long long)k);
        }
        tokenizer_free(t);
        gguf_close(g);
    }
}

int main(int argc, char **argv) {
    const char *ref = argc > 1 ? argv[1] : "../shared/reference";
    test_utf8_stream();
    test_malformed();
    test_empty_text(ref);
    test_specials(ref);
    test_reference_vectors(ref);
    test_model_prompts(ref);
    test_hostile(ref);
    bench_qwen(ref);
    return test_summary("test_tokenizer");
}
