/* The o200k_harmony vocabulary (gpt-oss; tokenizer.ggml.pre "gpt-4o"): the engine's tokens for
 * the kit's texts equal gpt-tokenizer's own (tests/data/o200k_harmony.{gguf,code}.out, written by
 * tools/o200k/vectors.mjs), the pre-tokenizer splits hand-picked texts and 1 500 random ones
 * (tests/data/o200k_splits.json, tools/o200k/splits.mjs) where the package's
 * O200K_TOKEN_SPLIT_REGEX does, and harmony's special tokens end generation or render as the
 * chat format needs.
 *
 * usage: test_o200k VOCAB.gguf REF_DIR DATA_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "test.h"
#include "tokenizer.h"
#include "tokenizer/tok_internal.h"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) free(b), b = NULL;
    fclose(f);
    if (b) b[n] = 0, *len = (size_t)n;
    return b;
}

/* Where gpt-tokenizer is not tiktoken: it looks byte runs up as text decoded by a default
 * TextDecoder, which drops a leading U+FEFF, so it never merges EF BB BF (rank 5574) and splits
 * the BOM in two. tiktoken's byte-pair merge over the ranks (and so the model's tokenizer) gives
 * these ids; only the BOM's tokens differ from the .out line. */
static const struct {
    const char *out; /* file name ending */
    int text;
    int32_t ids[8];
    int n;
} TIKTOKEN_NOT_GPT_TOKENIZER[] = {
    {"o200k_harmony.code.out", 68, {5574, 33, 2760, 540, 1604}, 5}, /* "\uFEFFBOM at start" */
};

/* The ids tiktoken gives text i of out_path, when gpt-tokenizer's differ (else want unchanged). */
static void tiktoken_ids(const char *out_path, int text, int32_t *want, int64_t *nw) {
    for (size_t i = 0; i < sizeof TIKTOKEN_NOT_GPT_TOKENIZER / sizeof *TIKTOKEN_NOT_GPT_TOKENIZER;
         i++) {
        size_t l = strlen(out_path), k = strlen(TIKTOKEN_NOT_GPT_TOKENIZER[i].out);
        if (TIKTOKEN_NOT_GPT_TOKENIZER[i].text != text || l < k ||
            strcmp(out_path + l - k, TIKTOKEN_NOT_GPT_TOKENIZER[i].out))
            continue;
        *nw = TIKTOKEN_NOT_GPT_TOKENIZER[i].n;
        memcpy(want, TIKTOKEN_NOT_GPT_TOKENIZER[i].ids, (size_t)*nw * sizeof *want);
    }
}

/* Every text of inp (kit format) tokenizes to its line of out, and its pieces give it back. */
static void check_vectors(const tokenizer *t, const char *inp_path, const char *out_path) {
    size_t ni = 0, no = 0;
    char *inp = read_all(inp_path, &ni), *out = read_all(out_path, &no);
    CHECKF(inp && out, "cannot read %s or %s", inp_path, out_path);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    int texts = 0, same = 0;
    char *p = inp, *line = out;
    while (inp && out && p < inp + ni && *line) {
        char *e = strstr(p, sep), *nl = strchr(line, '\n');
        size_t tl = e ? (size_t)(e - p) : (size_t)(inp + ni - p);
        if (!nl) nl = line + strlen(line);
        int32_t want[4096], got[4096];
        int64_t nw = 0;
        for (char *q = line, *end; q < nl && nw < 4096; q = end) {
            long v = strtol(q, &end, 10);
            if (end == q) break;
            want[nw++] = (int32_t)v;
        }
        tiktoken_ids(out_path, texts, want, &nw);
        int64_t ng = tokenizer_encode(t, p, tl, false, false, got, 4096, NULL, 0);
        bool ok = ng == nw && !memcmp(got, want, (size_t)nw * sizeof *got);
        CHECKF(ok, "%s: text %d (%.40s...) gives %lld tokens, want %lld", inp_path, texts, p,
               (long long)ng, (long long)nw);
        for (int64_t i = 0; !ok && i < nw && i < ng; i++)
            if (got[i] != want[i]) {
                fprintf(stderr, "  first difference at %lld: got %d want %d\n", (long long)i,
                        got[i], want[i]);
                break;
            }
        char back[65536];
        size_t bl = 0;
        for (int64_t i = 0; i < ng && i < 4096; i++) {
            int l = tokenizer_piece(t, got[i], true, back + bl, (int)(sizeof back - bl));
            if (l > 0 && bl + (size_t)l <= sizeof back) bl += (size_t)l;
        }
        CHECKF(bl == tl && !memcmp(back, p, tl), "%s: text %d does not round-trip", inp_path,
               texts);
        texts++, same += ok;
        line = *nl ? nl + 1 : nl;
        if (!e) break;
        p = e + strlen(sep);
    }
    CHECKF(texts > 10, "%s: only %d texts", inp_path, texts);
    printf("%s: %d/%d texts match\n", out_path, same, texts);
    free(inp);
    free(out);
}

/* The pre-tokenizer's words of text, joined by '|'. */
static void check_split(const char *text, const char *want) {
    uint32_t *ends = NULL;
    size_t len = strlen(text);
    int64_t n = pretok_split(PRE_O200K, text, len, &ends);
    char got[512];
    size_t k = 0, start = 0;
    for (int64_t i = 0; i < n && k + (ends[i] - start) + 2 < sizeof got; i++) {
        if (i) got[k++] = '|';
        memcpy(got + k, text + start, ends[i] - start);
        k += ends[i] - start;
        start = ends[i];
    }
    got[k] = 0;
    CHECKF(!strcmp(got, want), "split of \"%s\": got \"%s\", want \"%s\"", text, got, want);
    free(ends);
}

static void test_split(void) {
    check_split("HelloWorld", "Hello|World"); /* a capital starts a word */
    check_split("camelCaseID", "camel|Case|ID");
    check_split("HELLOworld", "HELLOworld"); /* capitals, then lower case */
    check_split("\xcc\x81"
                "ABC",
                "\xcc\x81|ABC"); /* a mark before capitals: alone */
    check_split("a\xcc\x81\xcc\x81"
                "B",
                "a\xcc\x81\xcc\x81|B");
    check_split("don't DON'T we'LL", "don't| DON'T| we'LL"); /* contractions, any case */
    check_split("Ab'sX", "Ab's|X");
    check_split("a/b//\n\nc", "a|/b|//\n\n|c"); /* '/' and newlines after symbols */
    check_split("!!!abc", "!!!|abc");
    check_split("12345 6", "123|45| |6"); /* digits in threes */
    check_split("  hi", " | hi");
    check_split("\tfoo", "\tfoo"); /* any non-newline space prefixes */
    check_split("x\r\n\r\n  y", "x|\r\n\r\n| | y");
    check_split("x  \n", "x|  \n");
    check_split("\xc7\x85ungla \xc7\x85", "\xc7\x85ungla| \xc7\x85"); /* Lt is a capital */
    check_split("\xca\xb0"
                "a\xca\xb0",
                "\xca\xb0"
                "a\xca\xb0"); /* Lm is both */
    check_split("\xc3\xbc"
                "ber \xc3\x9c"
                "BER",
                "\xc3\xbc"
                "ber| \xc3\x9c"
                "BER");
    check_split("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
}

/* The regular expression's words for random texts (tools/o200k/splits.mjs). */
static void test_split_vectors(const char *data_dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/o200k_splits.json", data_dir);
    json_error_t e;
    json_t *all = json_load_file(path, 0, &e);
    CHECKF(json_is_array(all) && json_array_size(all) >= 1000, "%s: %s", path, e.text);
    size_t i, same = 0;
    json_t *c;
    json_array_foreach(all, i, c) {
        json_t *jt = json_object_get(c, "text"), *words = json_object_get(c, "words");
        const char *text = json_string_value(jt);
        size_t len = json_string_length(jt), start = 0;
        uint32_t *ends = NULL;
        int64_t n = text ? pretok_split(PRE_O200K, text, len, &ends) : -1;
        bool ok = n >= 0 && (size_t)n == json_array_size(words);
        for (int64_t k = 0; ok && k < n; k++) {
            json_t *w = json_array_get(words, (size_t)k);
            ok = json_string_length(w) == ends[k] - start &&
                 !memcmp(json_string_value(w), text + start, ends[k] - start);
            start = ends[k];
        }
        CHECKF(ok, "split %zu of %s differs (text %s)", i, path, text ? text : "?");
        same += ok;
        free(ends);
    }
    printf("%s: %zu/%zu splits match\n", path, same, json_array_size(all));
    json_decref(all);
}

static void test_harmony_specials(const tokenizer *t) {
    const tokenizer_specials *sp = tokenizer_specials_get(t);
    CHECK(!sp->add_bos && sp->eos == 200002);
    CHECK(tokenizer_is_eog(t, 200002)); /* <|return|> */
    CHECK(tokenizer_is_eog(t, 200012)); /* <|call|> */
    CHECK(tokenizer_is_eog(t, 199999)); /* <|endoftext|> */
    /* <|end|> closes a message, not the answer: the final channel follows the analysis */
    CHECK(!tokenizer_is_eog(t, 200007));
    /* the message structure is part of the generated text, for the chat filter to read */
    static const struct {
        int32_t id;
        const char *text;
    } shown[] = {{200005, "<|channel|>"},
                 {200008, "<|message|>"},
                 {200006, "<|start|>"},
                 {200007, "<|end|>"},
                 {200003, "<|constrain|>"}};
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++) {
        char buf[32];
        int n = tokenizer_piece(t, shown[i].id, false, buf, sizeof buf);
        CHECKF(n == (int)strlen(shown[i].text) && !memcmp(buf, shown[i].text, (size_t)n),
               "piece of %d", shown[i].id);
    }
    char buf[32];
    CHECK(tokenizer_piece(t, 199998, false, buf, sizeof buf) == 0); /* <|startoftext|> */
    /* the markers stay control tokens: message text cannot forge them */
    int32_t ids[16];
    int64_t n = tokenizer_encode(t, "<|end|>", 7, false, false, ids, 16, NULL, 0);
    CHECK(n > 1);
    n = tokenizer_encode(t, "<|end|>", 7, false, true, ids, 16, NULL, 0);
    CHECK(n == 1 && ids[0] == 200007);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_o200k VOCAB.gguf REF_DIR DATA_DIR\n");
        return 2;
    }
    test_split();
    test_split_vectors(argv[3]);
    char err[256], inp[1024], out[1024];
    gguf_file *g = gguf_open(argv[1], err, sizeof err);
    CHECKF(g, "%s: %s", argv[1], err);
    tokenizer *t = g ? tokenizer_load(g, err, sizeof err) : NULL;
    CHECKF(t, "%s: %s", argv[1], err);
    if (t) {
        CHECK(tokenizer_n_vocab(t) == 201088);
        snprintf(inp, sizeof inp, "%s/vocab/gpt-2.gguf.inp", argv[2]);
        snprintf(out, sizeof out, "%s/o200k_harmony.gguf.out", argv[3]);
        check_vectors(t, inp, out);
        snprintf(inp, sizeof inp, "%s/vocab/qwen3.code.inp", argv[2]);
        snprintf(out, sizeof out, "%s/o200k_harmony.code.out", argv[3]);
        check_vectors(t, inp, out);
        test_harmony_specials(t);
    }
    tokenizer_free(t);
    if (g) gguf_close(g);
    return test_summary("test_o200k");
}
