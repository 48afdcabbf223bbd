/* Sampling: greedy ties, top-k / top-p / min-p truncation, temperature, repetition penalty and
 * seeded reproducibility, on hand-made logits whose answers are known. */
#include <math.h>
#include <stdlib.h>

#include "engine.h"
#include "test.h"

enum { V = 8 };
static const float LOGITS[V] = {1.0f, 3.0f, 3.0f, 0.5f, 2.9f, -1.0f, 0.0f, 2.0f};

static engine_sampler *make(float temp, int top_k, float top_p, float min_p, float rep,
                            uint64_t seed) {
    engine_sampler_params p = engine_sampler_default_params();
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repeat_penalty = rep;
    p.seed = seed;
    return engine_sampler_new(&p, V);
}

static void count_picks(engine_sampler *s, int n, int *hits) {
    for (int i = 0; i < V; i++) hits[i] = 0;
    for (int i = 0; i < n; i++) hits[engine_sample(s, LOGITS)]++;
}

static void test_greedy_takes_lowest_id_on_ties(void) {
    engine_sampler *s = make(0.0f, 0, 1.0f, 0.0f, 1.0f, 1);
    CHECK(engine_sample(s, LOGITS) == 1);
    engine_sampler_free(s);
}

static void test_top_k_keeps_only_k_best(void) {
    engine_sampler *s = make(1.0f, 2, 1.0f, 0.0f, 1.0f, 7);
    int hits[V];
    count_picks(s, 2000, hits);
    CHECK(hits[1] > 0 && hits[2] > 0 && hits[1] + hits[2] == 2000);
    engine_sampler_free(s);
}

static void test_top_p_and_min_p_cut_the_tail(void) {
    /* ids 1, 2, 4 hold ~70 % of the mass at T=1; top_p 0.6 keeps exactly those three */
    engine_sampler *s = make(1.0f, 0, 0.6f, 0.0f, 1.0f, 3);
    int hits[V];
    count_picks(s, 3000, hits);
    CHECK(hits[1] + hits[2] + hits[4] == 3000 && hits[4] > 0);
    engine_sampler_free(s);
    /* min_p 0.5: ids within a factor 2 of the best: 1, 2, 4 (e^-0.1), not 7 (e^-1) */
    s = make(1.0f, 0, 1.0f, 0.5f, 1.0f, 3);
    count_picks(s, 3000, hits);
    CHECK(hits[1] + hits[2] + hits[4] == 3000);
    engine_sampler_free(s);
}

static void test_temperature_spreads_the_choice(void) {
    engine_sampler *s = make(1.0f, 0, 1.0f, 0.0f, 1.0f, 11);
    int hits[V];
    count_picks(s, 20000, hits);
    /* P(id 7) = e^2 / sum e^l ~ 0.13; P(id 5) ~ 0.007 */
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp(LOGITS[i]);
    CHECKF(fabs(hits[7] / 20000.0 - exp(2.0) / sum) < 0.015, "id 7 drawn %d times", hits[7]);
    CHECK(hits[5] > 0);
    engine_sampler_free(s);
}

static void test_same_seed_same_draws(void) {
    engine_sampler *a = make(0.9f, 0, 1.0f, 0.0f, 1.0f, 42),
                   *b = make(0.9f, 0, 1.0f, 0.0f, 1.0f, 42);
    bool same = true;
    for (int i = 0; i < 200; i++) same &= engine_sample(a, LOGITS) == engine_sample(b, LOGITS);
    CHECK(same);
    engine_sampler_free(a);
    engine_sampler_free(b);
}

static void test_repetition_penalty_moves_greedy(void) {
    engine_sampler *s = make(0.0f, 0, 1.0f, 0.0f, 1.5f, 1);
    engine_sampler_accept(s, 1);
    engine_sampler_accept(s, 2);
    engine_sampler_accept(s, 1);          /* counted once */
    CHECK(engine_sample(s, LOGITS) == 4); /* 3/1.5 = 2 < 2.9 */
    engine_sampler_free(s);
}

/* The heap selection keeps exactly the k best of a large vocabulary (ties to the lower id). */
static void test_top_k_over_a_large_vocabulary(void) {
    enum { BIG = 5000, K = 5 };
    static float logits[BIG];
    unsigned x = 12345;
    for (int i = 0; i < BIG; i++) {
        x = x * 1664525u + 1013904223u;
        logits[i] = (float)(x >> 16) / 4096.0f;
    }
    logits[17] = logits[4000] = 100.0f; /* a tie at the top */
    int best[K], nb = 0;
    for (int r = 0; r < K; r++) { /* reference: repeated selection */
        int b = -1;
        for (int i = 0; i < BIG; i++) {
            bool taken = false;
            for (int j = 0; j < nb; j++) taken |= best[j] == i;
            if (!taken && (b < 0 || logits[i] > logits[b])) b = i;
        }
        best[nb++] = b;
    }
    engine_sampler_params p = engine_sampler_default_params();
    p.temperature = 1000.0f; /* nearly uniform over the kept candidates */
    p.top_k = K;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 9;
    engine_sampler *s = engine_sampler_new(&p, BIG);
    int seen[K] = {0};
    bool inside = true;
    for (int i = 0; i < 3000; i++) {
        int id = engine_sample(s, logits), at = -1;
        for (int j = 0; j < K; j++) at = best[j] == id ? j : at;
        inside &= at >= 0;
        if (at >= 0) seen[at]++;
    }
    CHECK(inside);
    for (int j = 0; j < K; j++) CHECKF(seen[j] > 0, "top-%d candidate %d never drawn", j, best[j]);
    engine_sampler_free(s);
}

int main(void) {
    test_top_k_over_a_large_vocabulary();
    test_greedy_takes_lowest_id_on_ties();
    test_top_k_keeps_only_k_best();
    test_top_p_and_min_p_cut_the_tail();
    test_temperature_spreads_the_choice();
    test_same_seed_same_draws();
    test_repetition_penalty_moves_greedy();
    return test_summary("test_sample");
}
