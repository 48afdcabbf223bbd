/* embed/: the embedding service's policy at the token level.
 *  - prompts per family, recognised from GGUF metadata: the token ids fed to the model are the
 *    tokenization of the model card's exact format (Qwen3-Embedding from the reference kit's
 *    tiny-qwen3-embed; nomic-bert and bge-small-en-v1.5 synthesised with their general.name;
 *    tiny-bert, a generic BERT, gets none); overrides and the prompt version in the model id;
 *  - special-token text in the input stays text;
 *  - truncation: documents cut keeping the closing special token and reported, queries refused;
 *  - the vector cache (hits, LRU eviction) and batching (packed == alone, up to kernel rounding).
 *
 * usage: test_embed_service REF_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embed.h"
#include "test.h"

#define QWEN3_QUERY                                                                                \
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"
#define BGE_QUERY "Represent this sentence for searching relevant passages: "

static const char *REF;
static char TMP[] = "/tmp/hearth-embed-XXXXXX";

static engine_model *load(const char *path) {
    char err[ENGINE_ERR_LEN];
    engine_model *m = engine_model_load(path, err, sizeof err);
    CHECKF(m != NULL, "%s: %s", path, err);
    return m;
}

/* A one-layer random model with a public model's shapes and general.name, bert-bge vocabulary. */
static engine_model *synth(const char *like, const char *type) {
    char out[512], vocab[512], err[ENGINE_ERR_LEN];
    snprintf(out, sizeof out, "%s/%s.gguf", TMP, like);
    snprintf(vocab, sizeof vocab, "%s/vocab/bert-bge.gguf", REF);
    engine_synth_params p = {
        .like = like, .type = type, .vocab_path = vocab, .n_layers = 1, .seed = 7};
    bool ok = engine_synth(&p, out, err, sizeof err);
    CHECKF(ok, "synth %s: %s", like, err);
    engine_model *m = ok ? load(out) : NULL;
    unlink(out);
    return m;
}

static embed_service *service(engine_model *m, const embed_params *p) {
    char err[EMBED_ERR_LEN];
    embed_service *e = m ? embed_new_local(m, p, err, sizeof err) : NULL;
    CHECKF(!m || e, "embed_new_local: %s", err);
    return e;
}

/* The ids embed_prepare feeds the model equal the tokenization of `expect` (specials added,
 * never parsed). */
static void check_ids(embed_service *e, engine_model *m, embed_kind kind, const char *text,
                      const char *expect) {
    char err[EMBED_ERR_LEN];
    int32_t want[1024];
    int64_t n =
        engine_tokenize(m, expect, strlen(expect), true, false, want, 1024, err, sizeof err);
    embed_item it;
    bool ok = embed_prepare(e, kind, text, strlen(text), &it, err, sizeof err);
    CHECKF(ok, "prepare: %s", err);
    bool same = ok && n == it.n_ids && !memcmp(want, it.ids, (size_t)n * sizeof *want);
    CHECKF(same, "%s %s: %d ids, want %lld of %s", embed_family(e),
           kind == EMBED_QUERY ? "query" : "document", ok ? it.n_ids : -1, (long long)n, expect);
    CHECK(!it.truncated && it.n_original == it.n_ids);
    char *formatted = embed_format(e, kind, text, strlen(text));
    CHECKF(formatted && !strcmp(formatted, expect), "format: %s", formatted ? formatted : "NULL");
    free(formatted);
    embed_item_clear(&it);
}

static void check_family(engine_model *m, const char *family, const char *query,
                         const char *document) {
    embed_service *e = service(m, NULL);
    if (!e) return;
    CHECKF(!strcmp(embed_family(e), family), "family %s, want %s", embed_family(e), family);
    CHECK(!strcmp(embed_prompt(e, EMBED_QUERY), query));
    CHECK(!strcmp(embed_prompt(e, EMBED_DOCUMENT), document));
    const char *q = "where is the config parsed", *d = "int parse_config(const char *path);";
    char want[512];
    snprintf(want, sizeof want, "%s%s", query, q);
    check_ids(e, m, EMBED_QUERY, q, want);
    snprintf(want, sizeof want, "%s%s", document, d);
    check_ids(e, m, EMBED_DOCUMENT, d, want);
    embed_free(e);
}

static void test_prompts_per_family(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/models/tiny-qwen3-embed-F32.gguf", REF);
    engine_model *qwen = load(path);
    if (qwen) check_family(qwen, "qwen3-embedding", QWEN3_QUERY, "");
    engine_model_free(qwen);
    engine_model *nomic = synth("tiny-nomic-bert", "F16");
    if (nomic) check_family(nomic, "nomic", "search_query: ", "search_document: ");
    engine_model_free(nomic);
    engine_model *bge = synth("bge-small-en-v1.5", "Q8_0");
    if (bge) check_family(bge, "bge-en-v1.5", BGE_QUERY, "");
    engine_model_free(bge);
    snprintf(path, sizeof path, "%s/models/tiny-bert-F16.gguf", REF);
    engine_model *bert = load(path);
    if (bert) check_family(bert, "none", "", "");
    engine_model_free(bert);
}

/* Overrides replace the family's prompts and change the model id (the prompt version). */
static void test_prompt_overrides(engine_model *qwen) {
    embed_params p = embed_default_params();
    embed_service *own = service(qwen, &p);
    p.query_prompt = EMBED_PROMPT_NONE;
    embed_service *none = service(qwen, &p);
    p.query_prompt = "find: ";
    p.document_prompt = "code: ";
    embed_service *custom = service(qwen, &p);
    if (!own || !none || !custom) goto out;
    CHECK(!strcmp(embed_prompt(none, EMBED_QUERY), ""));
    check_ids(none, qwen, EMBED_QUERY, "abc", "abc");
    check_ids(custom, qwen, EMBED_QUERY, "abc", "find: abc");
    check_ids(custom, qwen, EMBED_DOCUMENT, "abc", "code: abc");
    CHECK(strcmp(embed_model_id(own), embed_model_id(none)));
    CHECK(strcmp(embed_model_id(own), embed_model_id(custom)));
    CHECK(strcmp(embed_model_id(none), embed_model_id(custom)));
out:
    embed_free(own);
    embed_free(none);
    embed_free(custom);
}

/* "</s>" in a text is the three characters, not the end-of-sequence token. */
static void test_special_text_stays_text(engine_model *qwen, embed_service *e) {
    char err[EMBED_ERR_LEN];
    embed_item it;
    const char *text = "a</s>b";
    CHECK(embed_prepare(e, EMBED_DOCUMENT, text, strlen(text), &it, err, sizeof err));
    int32_t eos = it.n_ids > 0 ? it.ids[it.n_ids - 1] : -1;
    CHECK(engine_token_is_eog(qwen, eos)); /* add_eos_token: Qwen3-Embedding pools on it */
    int n_eos = 0;
    for (int32_t i = 0; i < it.n_ids; i++) n_eos += it.ids[i] == eos;
    CHECKF(n_eos == 1, "%d end tokens", n_eos);
    embed_item_clear(&it);
}

static char *long_text(int words) {
    char *s = malloc((size_t)words * 6 + 1);
    for (int i = 0; s && i < words; i++) memcpy(s + i * 6, "word. ", 6);
    if (s) s[words * 6] = 0;
    return s;
}

/* Over the limit: a document keeps its head and the closing token; a query is an error. */
static void test_truncation(embed_service *e, const char *what) {
    char err[EMBED_ERR_LEN], *text = long_text(3000);
    embed_item doc, full, q;
    int32_t max = embed_max_tokens(e);
    CHECK(embed_prepare(e, EMBED_DOCUMENT, text, strlen(text), &doc, err, sizeof err));
    CHECKF(doc.truncated && doc.n_ids == max && doc.n_original > max, "%s: %d of %d (max %d)", what,
           doc.n_ids, doc.n_original, max);
    /* the same text's full tokenization: same head, same last token */
    char *small = long_text(10);
    CHECK(embed_prepare(e, EMBED_DOCUMENT, small, strlen(small), &full, err, sizeof err));
    CHECKF(doc.ids[doc.n_ids - 1] == full.ids[full.n_ids - 1], "%s keeps its closing token", what);
    CHECK(doc.ids[0] == full.ids[0] && doc.ids[1] == full.ids[1]);
    bool ok = embed_prepare(e, EMBED_QUERY, text, strlen(text), &q, err, sizeof err);
    char want[64];
    snprintf(want, sizeof want, "at most %d", max);
    CHECKF(!ok && strstr(err, "query is") && strstr(err, want), "%s: %s", what, err);
    float *out = NULL;
    const char *texts[1] = {text};
    ok = embed_queries(e, texts, NULL, 1, &out, NULL, err, sizeof err);
    CHECKF(!ok && !out && strstr(err, "query 0"), "%s: %s", what, err);
    embed_info info;
    CHECK(embed_documents(e, texts, NULL, 1, &out, &info, err, sizeof err));
    CHECK(info.truncated && info.n_tokens == max && info.n_original == doc.n_original);
    free(out);
    embed_item_clear(&doc);
    embed_item_clear(&full);
    free(text);
    free(small);
}

static double cosine(const float *a, const float *b, int32_t n) {
    double d = 0;
    for (int32_t i = 0; i < n; i++) d += (double)a[i] * b[i];
    return d;
}

/* Hits return the same vector; with one entry, a third text evicts the first. */
static void test_cache(engine_model *m) {
    embed_params p = embed_default_params();
    p.cache_entries = 1;
    embed_service *e = service(m, &p);
    if (!e) return;
    char err[EMBED_ERR_LEN];
    embed_item a, b;
    CHECK(embed_prepare(e, EMBED_DOCUMENT, "alpha", 5, &a, err, sizeof err));
    CHECK(embed_prepare(e, EMBED_DOCUMENT, "beta", 4, &b, err, sizeof err));
    float *v1 = NULL, *v2 = NULL, *v3 = NULL, *v4 = NULL;
    int32_t hits = -1, dim = embed_dim(e);
    CHECK(embed_run(e, &a, 1, &v1, &hits, err, sizeof err) && hits == 0);
    CHECK(embed_run(e, &a, 1, &v2, &hits, err, sizeof err) && hits == 1);
    CHECK(v1 && v2 && !memcmp(v1, v2, (size_t)dim * sizeof *v1));
    CHECK(embed_run(e, &b, 1, &v3, &hits, err, sizeof err) && hits == 0);
    CHECK(embed_run(e, &a, 1, &v4, &hits, err, sizeof err) && hits == 0); /* evicted by b */
    CHECK(v3 && v4 && !memcmp(v1, v4, (size_t)dim * sizeof *v1));
    /* a query of the same text is another key */
    embed_item qa;
    CHECK(embed_prepare(e, EMBED_QUERY, "alpha", 5, &qa, err, sizeof err));
    CHECK(qa.key[0] != a.key[0] || qa.key[1] != a.key[1]);
    free(v1), free(v2), free(v3), free(v4);
    embed_item_clear(&a), embed_item_clear(&b), embed_item_clear(&qa);
    embed_free(e);
}

/* Several texts in one call equal each alone (kernel rounding aside), in order. */
static void test_batch(engine_model *m) {
    embed_params p = embed_default_params();
    p.cache_entries = -1;
    embed_service *e = service(m, &p);
    if (!e) return;
    const char *texts[3] = {"fn main() {}", "hello world", "int x = 1;"};
    char err[EMBED_ERR_LEN];
    float *all = NULL, *one = NULL;
    int32_t dim = embed_dim(e);
    CHECK(embed_documents(e, texts, NULL, 3, &all, NULL, err, sizeof err));
    for (int i = 0; all && i < 3; i++) {
        CHECK(embed_documents(e, &texts[i], NULL, 1, &one, NULL, err, sizeof err));
        double c = one ? cosine(all + (size_t)i * dim, one, dim) : 0;
        CHECKF(c > 0.9999, "text %d: cosine %.6f", i, c);
        free(one);
    }
    CHECK(all && cosine(all, all + dim, dim) < 0.999); /* different texts, different vectors */
    float *bad = NULL;
    const char *empty[2] = {"x", ""};
    CHECK(!embed_documents(e, empty, NULL, 2, &bad, NULL, err, sizeof err) && !bad &&
          strstr(err, "text 1"));
    free(all);
    embed_free(e);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_embed_service REF_DIR\n");
        return 2;
    }
    REF = argv[1];
    if (!mkdtemp(TMP)) return 2;
    test_prompts_per_family();
    char path[512];
    snprintf(path, sizeof path, "%s/models/tiny-qwen3-embed-F32.gguf", REF);
    engine_model *qwen = load(path);
    snprintf(path, sizeof path, "%s/models/tiny-bert-F16.gguf", REF);
    engine_model *bert = load(path);
    embed_params p = embed_default_params();
    p.n_threads = 1;
    embed_service *eq = service(qwen, &p), *eb = service(bert, &p);
    if (qwen && eq) {
        test_prompt_overrides(qwen);
        test_special_text_stays_text(qwen, eq);
        test_truncation(eq, "qwen3-embed");
        test_cache(qwen);
        test_batch(qwen);
    }
    if (bert && eb) {
        test_truncation(eb, "bert");
        test_batch(bert);
    }
    embed_free(eq);
    embed_free(eb);
    engine_model_free(qwen);
    engine_model_free(bert);
    rmdir(TMP);
    return test_summary("test_embed_service");
}
