/* Model loading: a well-formed tiny model loads and runs; each class of inconsistent model (missing
 * key, wrong shape, missing tensor, unsupported architecture or type) is rejected with a message
 * naming the problem, by the API and as one line from the CLI.
 *
 * usage: test_model VOCAB.gguf [HEARTH_BINARY] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "gguf.h"
#include "quant.h"
#include "test.h"

typedef struct {
    const char *name, *expect;
    const char *skip_key;    /* metadata key left out */
    const char *skip_tensor; /* tensor left out */
    const char *arch;        /* general.architecture; NULL = llama */
    int q_rows;              /* rows of blk.0.attn_q.weight; 0 = right */
    int head_count_kv;       /* 0 = right */
    int ffn_type;            /* tensor type of blk.0.ffn_up.weight; 0 = F32 */
} model_case;

enum { E = 64, H = 4, KV = 2, HD = 16, FF = 128, V = 512 };

static const gguf_file *vocab;

static void add(gguf_writer *w, const model_case *c, const char *name, int cols, int rows,
                int type) {
    if (c->skip_tensor && !strcmp(c->skip_tensor, name)) return;
    size_t n = (size_t)cols * rows;
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)sin((double)i * 0.37 + cols) * 0.2f;
    size_t rb = quant_row_size((tensor_type)type, cols);
    void *q = type == TT_F32 ? (void *)x : malloc(rb * rows);
    if (type != TT_F32) quant_traits(type)->from_float(x, q, (int64_t)n);
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    char err[256];
    CHECKF(
        gguf_writer_add_tensor(w, name, (uint32_t)type, rows == 1 ? 1 : 2, ne, q, err, sizeof err),
        "%s", err);
    if (q != x) free(q);
    free(x);
}

static void key_u32(gguf_writer *w, const model_case *c, const char *key, uint32_t v) {
    if (!c->skip_key || strcmp(c->skip_key, key)) gguf_write_u32(w, key, v);
}

static bool write_model(const model_case *c, const char *path) {
    gguf_writer *w = gguf_writer_new();
    gguf_write_str(w, "general.architecture", c->arch ? c->arch : "llama");
    key_u32(w, c, "llama.embedding_length", E);
    key_u32(w, c, "llama.block_count", 1);
    key_u32(w, c, "llama.attention.head_count", H);
    key_u32(w, c, "llama.attention.head_count_kv",
            c->head_count_kv ? (uint32_t)c->head_count_kv : KV);
    key_u32(w, c, "llama.feed_forward_length", FF);
    key_u32(w, c, "llama.context_length", 256);
    for (uint64_t i = 0; i < vocab->n_kv; i++) {
        char key[128];
        gguf_str k = vocab->kv[i].key;
        if (k.len < sizeof key && k.len > 10 && !memcmp(k.ptr, "tokenizer.", 10)) {
            snprintf(key, sizeof key, "%.*s", (int)k.len, k.ptr);
            gguf_write_value(w, key, &vocab->kv[i].val);
        }
    }
    add(w, c, "token_embd.weight", E, V, TT_F32);
    add(w, c, "output_norm.weight", E, 1, TT_F32);
    add(w, c, "blk.0.attn_norm.weight", E, 1, TT_F32);
    add(w, c, "blk.0.attn_q.weight", E, c->q_rows ? c->q_rows : H * HD, TT_F32);
    add(w, c, "blk.0.attn_k.weight", E, KV * HD, TT_F32);
    add(w, c, "blk.0.attn_v.weight", E, KV * HD, TT_F32);
    add(w, c, "blk.0.attn_output.weight", H * HD, E, TT_F32);
    add(w, c, "blk.0.ffn_norm.weight", E, 1, TT_F32);
    add(w, c, "blk.0.ffn_gate.weight", E, FF, TT_F32);
    add(w, c, "blk.0.ffn_up.weight", E, FF, c->ffn_type ? c->ffn_type : TT_F32);
    add(w, c, "blk.0.ffn_down.weight", FF, E, TT_F32);
    char err[256];
    bool ok = gguf_writer_save(w, path, err, sizeof err);
    CHECKF(ok, "%s", err);
    gguf_writer_free(w);
    return ok;
}

static const model_case BAD[] = {
    {"missing_embedding_length", "llama.embedding_length", "llama.embedding_length", NULL, NULL, 0,
     0, 0},
    {"missing_block_count", "llama.block_count", "llama.block_count", NULL, NULL, 0, 0, 0},
    {"missing_tensor", "missing required tensor blk.0.ffn_down.weight", NULL,
     "blk.0.ffn_down.weight", NULL, 0, 0, 0},
    {"wrong_shape", "blk.0.attn_q.weight has shape", NULL, NULL, NULL, 48, 0, 0},
    {"unknown_arch", "unsupported architecture 'mamba'", NULL, NULL, "mamba", 0, 0, 0},
    {"bad_head_count_kv", "not a multiple", NULL, NULL, NULL, 0, 3, 0},
    {"unusable_type", "cannot be used for matrix products", NULL, NULL, NULL, 0, 0, TT_Q8_1},
};
#define N_BAD (sizeof BAD / sizeof BAD[0])

static void test_good_model_loads_and_runs(const char *dir) {
    model_case good = {"good", NULL, NULL, NULL, NULL, 0, 0, 0};
    char path[256], err[ENGINE_ERR_LEN];
    snprintf(path, sizeof path, "%s/good.gguf", dir);
    if (!write_model(&good, path)) return;
    engine_model *m = engine_model_load(path, err, sizeof err);
    CHECKF(m != NULL, "%s", err);
    if (!m) return;
    const engine_model_info *in = engine_model_get_info(m);
    CHECK(in->n_vocab == V && in->n_embd == E && in->n_head_kv == KV && in->tied_output);
    engine_ctx *c = engine_ctx_new(m, NULL, err, sizeof err);
    int32_t ids[3] = {1, 300, 301};
    CHECKF(c && engine_eval(c, ids, 3, true, err, sizeof err), "%s", err);
    /* the same tokens one at a time give the same logits as the batch */
    float batch_last[V];
    if (c) memcpy(batch_last, engine_logits(c, 2), sizeof batch_last);
    engine_kv_keep(c, 0);
    for (int i = 0; c && i < 3; i++) CHECK(engine_eval(c, &ids[i], 1, false, err, sizeof err));
    double d = 0;
    for (int i = 0; c && i < V; i++) d = fmax(d, fabs(engine_logits(c, -1)[i] - batch_last[i]));
    CHECKF(d < 1e-4, "batched vs token-by-token logits differ by %g", d);
    CHECK(c && engine_n_past(c) == 3);
    engine_kv_keep(c, 1);
    CHECK(c && engine_n_past(c) == 1);
    engine_ctx_free(c);
    engine_model_free(m);
    unlink(path);
}

static void test_bad_models_are_rejected(const char *dir, const char *hearth) {
    for (size_t i = 0; i < N_BAD; i++) {
        char path[256], errf[300], cmd[1024], err[ENGINE_ERR_LEN] = "";
        snprintf(path, sizeof path, "%s/%s.gguf", dir, BAD[i].name);
        if (!write_model(&BAD[i], path)) continue;
        engine_model *m = engine_model_load(path, err, sizeof err);
        CHECKF(m == NULL, "%s: accepted", BAD[i].name);
        CHECKF(strstr(err, BAD[i].expect) != NULL, "%s: '%s' lacks '%s'", BAD[i].name, err,
               BAD[i].expect);
        engine_model_free(m);
        if (hearth) {
            snprintf(errf, sizeof errf, "%s.err", path);
            snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -p hi >/dev/null 2>'%s'", hearth, path,
                     errf);
            int st = system(cmd);
            char line[1024] = "", extra[8];
            FILE *f = fopen(errf, "r");
            bool one = f && fgets(line, sizeof line, f) && !fgets(extra, sizeof extra, f);
            if (f) fclose(f);
            CHECKF(WIFEXITED(st) && WEXITSTATUS(st) != 0 && one && !strncmp(line, "hearth: ", 8),
                   "%s: status %d, stderr '%s'", BAD[i].name, st, line);
            unlink(errf);
        }
        unlink(path);
    }
}

/* Copies src to dst, leaving out the metadata key `drop_key`, overriding the u32 key `set_key` with
 * `set_val`, and leaving out the tensor `drop_tensor` (any may be NULL). */
static bool rewrite(const char *src, const char *dst, const char *drop_key, const char *set_key,
                    uint32_t set_val, const char *drop_tensor) {
    char err[256];
    gguf_file *g = gguf_open(src, err, sizeof err);
    if (!g) return false;
    gguf_writer *w = gguf_writer_new();
    for (uint64_t i = 0; i < g->n_kv; i++) {
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)g->kv[i].key.len, g->kv[i].key.ptr);
        if (drop_key && !strcmp(key, drop_key)) continue;
        if (set_key && !strcmp(key, set_key))
            gguf_write_u32(w, key, set_val);
        else
            gguf_write_value(w, key, &g->kv[i].val);
    }
    bool ok = true;
    for (uint64_t i = 0; ok && i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (drop_tensor && !strcmp(name, drop_tensor)) continue;
        ok = gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, err, sizeof err);
    }
    ok = ok && gguf_writer_save(w, dst, err, sizeof err);
    gguf_writer_free(w);
    gguf_close(g);
    return ok;
}

typedef struct {
    const char *shape, *drop_key, *set_key;
    uint32_t set_val;
    const char *drop_tensor, *expect;
} misshape_case;

static const misshape_case MISSHAPED[] = {
    {"tiny-qwen3moe", NULL, "qwen3moe.expert_count", 6, NULL,
     "blk.0.ffn_gate_inp.weight has shape [256, 8"},
    {"tiny-qwen3moe", "qwen3moe.expert_used_count", NULL, 0, NULL,
     "missing required metadata key qwen3moe.expert_used_count"},
    {"tiny-qwen3moe", NULL, NULL, 0, "blk.1.ffn_down_exps.weight",
     "missing required tensor blk.1.ffn_down_exps.weight"},
    {"tiny-bert", NULL, NULL, 0, "token_types.weight",
     "missing required tensor token_types.weight"},
    {"tiny-bert", NULL, NULL, 0, "position_embd.weight",
     "missing required tensor position_embd.weight"},
    {"tiny-bert", NULL, NULL, 0, "blk.0.layer_output_norm.bias",
     "missing required tensor blk.0.layer_output_norm.bias"},
    {"tiny-bert", NULL, "bert.pooling_type", 9, NULL, "bert.pooling_type = 9 is out of range"},
};

/* MoE and embedding models with a wrong expert count or missing pooling/position tensors. */
static void test_misshaped_moe_and_embedding_models(const char *dir, const char *vocab_path) {
    for (size_t i = 0; i < sizeof MISSHAPED / sizeof MISSHAPED[0]; i++) {
        const misshape_case *mc = &MISSHAPED[i];
        char good[256], bad[256], err[ENGINE_ERR_LEN] = "";
        snprintf(good, sizeof good, "%s/%s.gguf", dir, mc->shape);
        snprintf(bad, sizeof bad, "%s/bad.gguf", dir);
        engine_synth_params p = {mc->shape, "F16", vocab_path, 0, 1, NULL, NULL, false};
        CHECKF(engine_synth(&p, good, err, sizeof err), "%s", err);
        engine_model *m = engine_model_load(good, err, sizeof err);
        CHECKF(m != NULL, "the unmodified %s must load: %s", mc->shape, err);
        engine_model_free(m);
        CHECK(rewrite(good, bad, mc->drop_key, mc->set_key, mc->set_val, mc->drop_tensor));
        m = engine_model_load(bad, err, sizeof err);
        CHECKF(m == NULL && strstr(err, mc->expect), "case %zu: '%s' lacks '%s'", i, err,
               mc->expect);
        engine_model_free(m);
        unlink(bad);
        unlink(good);
    }
}

/* hearth synth without --vocab: as many vocabulary entries as token_embd rows (other GGUF
 * readers refuse a mismatch), the built-in byte tokens first, padding tokens UNUSED; the model
 * loads and byte-level text round-trips through it. */
static void test_synth_without_vocab_is_consistent(const char *dir) {
    char path[256], err[ENGINE_ERR_LEN] = "";
    snprintf(path, sizeof path, "%s/novocab.gguf", dir);
    engine_synth_params p = {.like = "tiny-qwen2", .type = "Q8_0", .seed = 3};
    CHECKF(engine_synth(&p, path, err, sizeof err), "%s", err);
    gguf_file *g = gguf_open(path, err, sizeof err);
    CHECKF(g != NULL, "%s", err);
    if (!g) return;
    const gguf_tensor *emb = gguf_find_tensor(g, "token_embd.weight");
    const gguf_value *toks = gguf_get_arr(g, "tokenizer.ggml.tokens"),
                     *types = gguf_get_arr(g, "tokenizer.ggml.token_type");
    CHECK(emb && toks && types);
    if (emb && toks && types) {
        CHECKF(toks->arr.n == emb->ne[1] && types->arr.n == emb->ne[1],
               "%llu tokens, %llu types, token_embd has %llu rows", (unsigned long long)toks->arr.n,
               (unsigned long long)types->arr.n, (unsigned long long)emb->ne[1]);
        CHECK(emb->ne[1] == 512); /* the shape's vocabulary, unchanged */
    }
    if (emb && toks && types && toks->arr.n == 512 && types->arr.n == 512) {
        CHECK(gguf_str_eq(toks->arr.items[256].str, "<|endoftext|>"));
        CHECK(gguf_str_eq(toks->arr.items[511].str, "[PAD511]") && gguf_arr_i64(types, 511) == 5);
        CHECK(gguf_str_eq(toks->arr.items[65].str, "A") && gguf_arr_i64(types, 65) == 1);
    }
    gguf_close(g);
    engine_model *m = engine_model_load(path, err, sizeof err);
    CHECKF(m != NULL, "%s", err);
    if (m) {
        const char text[] = "int main() { return 0; } // [PAD300] \xc3\xa9";
        int32_t ids[128];
        int64_t n = engine_tokenize(m, text, strlen(text), false, true, ids, 128, err, sizeof err);
        CHECKF(n == (int64_t)strlen(text), "%lld tokens for %zu bytes", (long long)n, strlen(text));
        char back[256];
        size_t len = 0;
        for (int64_t i = 0; i < n && i < 128; i++) {
            CHECK(ids[i] < 256);
            int k = engine_token_piece(m, ids[i], false, back + len, (int)(sizeof back - len));
            if (k > 0) len += (size_t)k;
        }
        CHECK(len == strlen(text) && memcmp(back, text, len) == 0);
        engine_model_free(m);
    }
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: test_model VOCAB.gguf [HEARTH]\n"), 2;
    char err[256];
    vocab = gguf_open(argv[1], err, sizeof err);
    if (!vocab) return fprintf(stderr, "%s: %s\n", argv[1], err), 2;
    char dir[] = "/tmp/hearth_model_XXXXXX";
    if (!mkdtemp(dir)) return 2;
    test_good_model_loads_and_runs(dir);
    test_bad_models_are_rejected(dir, argc > 2 ? argv[2] : NULL);
    test_misshaped_moe_and_embedding_models(dir, argv[1]);
    test_synth_without_vocab_is_consistent(dir);
    rmdir(dir);
    gguf_close((gguf_file *)vocab);
    return test_summary("test_model");
}
