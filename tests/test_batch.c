/* Paged KV cache and multi-sequence evaluation (engine/batch.c): sequences of different lengths
 * decoded together — joining at different steps — give each exactly the greedy tokens it gets
 * decoded alone in a classic context; blocks return to the free list and are reused; running out
 * of blocks and hostile parameters are clear errors that change nothing.
 * usage: test_batch MODEL.gguf THREADS */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "test.h"

#define N_SEQ 5
#define N_GEN 12
#define MAX_P 64

static const char *PROMPTS[N_SEQ] = {
    "Once upon a time",
    "The cat sat on the mat and looked at the dog, who was sleeping in the sun near the door.",
    "x",
    "def add(a, b):\n    return a + b\n\ndef sub(a, b):",
    "Lily and Ben went to the park. They played on the swings and",
};

static int32_t argmax(const float *l, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (l[i] > l[best]) best = i;
    return best;
}

typedef struct {
    int32_t ids[MAX_P];
    int32_t n;
} prompt;

static void tokenize_all(const engine_model *m, prompt *p) {
    char err[ENGINE_ERR_LEN];
    for (int s = 0; s < N_SEQ; s++) {
        int64_t n = engine_tokenize(m, PROMPTS[s], strlen(PROMPTS[s]), true, false, p[s].ids, MAX_P,
                                    err, sizeof err);
        CHECKF(n > 0 && n <= MAX_P, "%s", err);
        p[s].n = n > 0 && n <= MAX_P ? (int32_t)n : 1;
        if (n <= 0 || n > MAX_P) p[s].ids[0] = 1;
    }
}

/* Greedy tokens of one prompt decoded alone, the classic single-sequence way. */
static void decode_alone(const engine_model *m, int threads, const prompt *p, int32_t *out) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_ctx = 256;
    cp.n_threads = threads;
    engine_ctx *c = engine_ctx_new(m, &cp, err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    if (!c) return;
    int32_t nv = engine_model_get_info(m)->n_vocab;
    CHECKF(engine_eval(c, p->ids, p->n, false, err, sizeof err), "%s", err);
    for (int i = 0; i < N_GEN; i++) {
        out[i] = argmax(engine_logits(c, -1), nv);
        if (i + 1 < N_GEN) CHECKF(engine_eval(c, &out[i], 1, false, err, sizeof err), "%s", err);
    }
    engine_ctx_free(c);
}

static engine_ctx *paged(const engine_model *m, int threads, int32_t n_blocks, int32_t bs) {
    char err[ENGINE_ERR_LEN];
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = threads;
    cp.n_batch = 32; /* small, so the joint prefill is split into several forward passes */
    engine_paged_params pp = {N_SEQ, n_blocks, bs, 256};
    engine_ctx *c = engine_ctx_new_paged(m, &cp, &pp, err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    return c;
}

/* All prompts decoded together; sequence s joins at step s (its whole prompt in that step's
 * batch beside the other sequences' single decode tokens). */
static void decode_together(engine_ctx *c, int32_t nv, const prompt *p, int32_t out[][N_GEN]) {
    char err[ENGINE_ERR_LEN];
    int32_t seq[N_SEQ], done[N_SEQ] = {0}, last[N_SEQ];
    engine_seq_token toks[N_SEQ * MAX_P];
    for (int step = 0; step < N_SEQ + N_GEN; step++) {
        int n = 0, owner[N_SEQ * MAX_P];
        for (int s = 0; s < N_SEQ; s++) {
            if (s == step) { /* joins now */
                seq[s] = engine_seq_new(c, err, sizeof err);
                CHECKF(seq[s] >= 0, "%s", err);
                for (int i = 0; i < p[s].n; i++) {
                    owner[n] = i == p[s].n - 1 ? s : -1;
                    toks[n++] = (engine_seq_token){seq[s], p[s].ids[i], i == p[s].n - 1};
                }
            } else if (s < step && done[s] > 0 && done[s] < N_GEN) {
                owner[n] = s;
                toks[n++] = (engine_seq_token){seq[s], last[s], true};
            }
        }
        if (n == 0) break;
        CHECKF(engine_eval_seqs(c, toks, n, err, sizeof err), "%s", err);
        for (int i = 0; i < n; i++) {
            if (owner[i] < 0) continue;
            const float *l = engine_seq_logits(c, i);
            CHECK(l != NULL);
            if (!l) continue;
            int s = owner[i];
            last[s] = out[s][done[s]++] = argmax(l, nv);
        }
    }
    for (int s = 0; s < N_SEQ; s++) CHECK(done[s] == N_GEN);
    for (int s = 0; s < N_SEQ; s++) engine_seq_free(c, seq[s]);
}

static void test_batched_equals_alone(const engine_model *m, int threads, const prompt *p) {
    int32_t alone[N_SEQ][N_GEN], together[N_SEQ][N_GEN];
    int32_t nv = engine_model_get_info(m)->n_vocab;
    for (int s = 0; s < N_SEQ; s++) decode_alone(m, threads, &p[s], alone[s]);
    engine_ctx *c = paged(m, threads, 64, 16);
    if (!c) return;
    for (int round = 0; round < 2; round++) { /* the second round runs on reused blocks */
        memset(together, 0xff, sizeof together);
        decode_together(c, nv, p, together);
        for (int s = 0; s < N_SEQ; s++)
            CHECKF(!memcmp(alone[s], together[s], sizeof alone[s]),
                   "round %d: sequence %d (%d prompt tokens) decoded differently in a batch", round,
                   s, p[s].n);
        CHECK(engine_kv_blocks_free(c) == 64); /* every block back on the free list */
    }
    engine_ctx_free(c);
}

static void test_out_of_blocks(const engine_model *m, int threads) {
    char err[ENGINE_ERR_LEN] = "";
    engine_ctx *c = paged(m, threads, 3, 4); /* 12 positions in all */
    if (!c) return;
    int32_t a = engine_seq_new(c, err, sizeof err), b = engine_seq_new(c, err, sizeof err);
    engine_seq_token t[10];
    for (int i = 0; i < 10; i++) t[i] = (engine_seq_token){i < 6 ? a : b, 1, i == 9};
    CHECK(engine_eval_seqs(c, t, 8, err, sizeof err)); /* a: 6 positions (2 blocks), b: 2 (1) */
    CHECK(engine_kv_blocks_free(c) == 0);
    CHECK(engine_eval_seqs(c, t + 8, 2, err, sizeof err)); /* b still fits in its block */
    CHECK(engine_seq_n_past(c, b) == 4);
    CHECK(!engine_eval_seqs(c, t + 9, 1, err, sizeof err));
    CHECKF(strstr(err, "out of KV blocks") != NULL, "%s", err);
    CHECK(engine_seq_n_past(c, b) == 4); /* nothing changed */
    engine_seq_free(c, a);
    CHECK(engine_kv_blocks_free(c) == 2);
    CHECK(engine_eval_seqs(c, t + 9, 1, err, sizeof err)); /* a's blocks serve b now */
    CHECK(engine_seq_n_past(c, b) == 5);
    engine_ctx_free(c);
}

static void test_hostile_params(const engine_model *m) {
    char err[ENGINE_ERR_LEN];
    engine_paged_params bad[] = {
        {0, 16, 16, 0},        {4, 0, 16, 0},   {4, 16, -1, 0},
        {4, 1 << 30, 1024, 0}, {4, 16, 16, -5}, {1 << 20, 16, 16, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        engine_ctx *c = engine_ctx_new_paged(m, NULL, &bad[i], err, sizeof err);
        CHECKF(c == NULL, "bad params %zu accepted", i);
        engine_ctx_free(c);
    }
    CHECK(engine_ctx_new_paged(m, NULL, NULL, err, sizeof err) == NULL);
    engine_ctx *c = paged(m, 1, 8, 16);
    if (!c) return;
    int32_t s = engine_seq_new(c, err, sizeof err);
    engine_seq_token t[3] = {{s, 1, true}, {s + 1, 1, false}, {-7, 1, false}};
    CHECK(!engine_eval_seqs(c, t, 2, err, sizeof err) && strstr(err, "no live sequence"));
    CHECK(!engine_eval_seqs(c, t + 2, 1, err, sizeof err));
    t[0].id = -3;
    CHECK(!engine_eval_seqs(c, t, 1, err, sizeof err) && strstr(err, "out of range"));
    t[0].id = engine_model_get_info(m)->n_vocab;
    CHECK(!engine_eval_seqs(c, t, 1, err, sizeof err));
    CHECK(!engine_eval_seqs(c, t, 0, err, sizeof err));
    CHECK(engine_seq_n_past(c, s) == 0 && engine_seq_n_past(c, 99) == -1);
    CHECK(engine_seq_blocks_needed(c, s, 17) == 2 && engine_seq_blocks_needed(c, 99, 1) == -1);
    int32_t id = 1, ids[3] = {1, 2, 3};
    CHECK(!engine_eval(c, &id, 1, false, err, sizeof err)); /* not the classic API */
    /* misuse after a paged batch: an embedding call must not touch the block tables */
    engine_seq_token one = {s, 1, true};
    CHECK(engine_eval_seqs(c, &one, 1, err, sizeof err));
    float *vec = malloc((size_t)engine_model_get_info(m)->n_embd * sizeof(float));
    if (vec) engine_embed(c, ids, 3, ENGINE_POOL_LAST, vec, err, sizeof err);
    free(vec);
    CHECK(engine_seq_n_past(c, s) == 1);
    CHECK(engine_seq_logits(c, 1) == NULL && engine_seq_logits(c, -1) == NULL);
    engine_seq_free(c, 1234); /* ignored */
    engine_seq_free(c, -1);
    for (int i = 1; i < N_SEQ; i++) CHECK(engine_seq_new(c, err, sizeof err) >= 0);
    CHECK(engine_seq_new(c, err, sizeof err) == -1); /* N_SEQ alive */
    engine_ctx_free(c);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_batch MODEL.gguf THREADS\n");
        return 2;
    }
    char err[ENGINE_ERR_LEN];
    engine_model *m = engine_model_load(argv[1], err, sizeof err);
    if (!m) {
        fprintf(stderr, "test_batch: %s\n", err);
        return 1;
    }
    int threads = atoi(argv[2]);
    prompt p[N_SEQ];
    tokenize_all(m, p);
    test_batched_equals_alone(m, threads, p);
    test_out_of_blocks(m, threads);
    test_hostile_params(m);
    engine_model_free(m);
    return test_summary("test_batch");
}
