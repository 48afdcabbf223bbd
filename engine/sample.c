/* Token sampling: repetition penalty, then greedy or temperature + top-k + top-p + min-p. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

typedef struct {
    float logit;
    int32_t id;
} candidate;

struct engine_sampler {
    engine_sampler_params p;
    int32_t n_vocab;
    uint64_t rng;
    int32_t *history; /* ring of the last repeat_last_n tokens */
    int32_t n_history, history_pos;
    float *scratch_logit;
    candidate *cand;
};

engine_sampler_params engine_sampler_default_params(void) {
    engine_sampler_params p = {0.0f, 40, 0.95f, 0.05f, 1.0f, 64, 0};
    return p;
}

engine_sampler *engine_sampler_new(const engine_sampler_params *p, int32_t n_vocab) {
    engine_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = p ? *p : engine_sampler_default_params();
    if (s->p.repeat_last_n < 0) s->p.repeat_last_n = 0;
    s->n_vocab = n_vocab;
    s->rng = s->p.seed ^ 0x9e3779b97f4a7c15ull;
    s->history = calloc((size_t)(s->p.repeat_last_n ? s->p.repeat_last_n : 1), sizeof(int32_t));
    s->scratch_logit = malloc((size_t)n_vocab * sizeof(float));
    s->cand = malloc((size_t)n_vocab * sizeof(candidate));
    if (!s->history || !s->scratch_logit || !s->cand) {
        engine_sampler_free(s);
        return NULL;
    }
    return s;
}

void engine_sampler_free(engine_sampler *s) {
    if (!s) return;
    free(s->history);
    free(s->scratch_logit);
    free(s->cand);
    free(s);
}

void engine_sampler_accept(engine_sampler *s, int32_t id) {
    if (s->p.repeat_last_n == 0) return;
    s->history[s->history_pos] = id;
    s->history_pos = (s->history_pos + 1) % s->p.repeat_last_n;
    if (s->n_history < s->p.repeat_last_n) s->n_history++;
}

/* splitmix64: small, seedable, good enough for sampling. */
static double next_uniform(engine_sampler *s) {
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* The penalty divides positive logits and multiplies negative ones, once per distinct token. */
static void apply_penalty(engine_sampler *s, float *logit) {
    if (s->p.repeat_penalty == 1.0f) return;
    for (int32_t i = 0; i < s->n_history; i++) {
        int32_t id = s->history[i];
        if (id < 0 || id >= s->n_vocab) continue;
        bool seen = false;
        for (int32_t j = 0; j < i && !seen; j++) seen = s->history[j] == id;
        if (seen) continue;
        logit[id] =
            logit[id] > 0 ? logit[id] / s->p.repeat_penalty : logit[id] * s->p.repeat_penalty;
    }
}

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static int by_logit_desc(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : 1;
}

/* a ranks before b: higher logit, ties to the lower id */
static bool ranks_before(const candidate *a, const candidate *b) {
    return a->logit != b->logit ? a->logit > b->logit : a->id < b->id;
}

/* Sift-down in a min-heap (by rank) of k candidates: the root is the worst kept. */
static void sift_down(candidate *h, int32_t k, int32_t i) {
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < k && ranks_before(&h[w], &h[l])) w = l;
        if (r < k && ranks_before(&h[w], &h[r])) w = r;
        if (w == i) return;
        candidate t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* The k best candidates, sorted best first. A heap keeps selection O(n log k): sorting all of a
 * 150k-token vocabulary for every sampled token would cost milliseconds. */
static int32_t top_candidates(engine_sampler *s, const float *logit) {
    int32_t n = s->n_vocab, k = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n;
    candidate *h = s->cand;
    if (k == n) {
        for (int32_t i = 0; i < n; i++) h[i] = (candidate){logit[i], i};
    } else {
        for (int32_t i = 0; i < k; i++) h[i] = (candidate){logit[i], i};
        for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down(h, k, i);
        for (int32_t i = k; i < n; i++) {
            candidate c = {logit[i], i};
            if (ranks_before(&c, &h[0])) {
                h[0] = c;
                sift_down(h, k, 0);
            }
        }
    }
    qsort(h, (size_t)k, sizeof(candidate), by_logit_desc);
    return k;
}

int32_t engine_sample(engine_sampler *s, const float *logits) {
    float *logit = s->scratch_logit;
    memcpy(logit, logits, (size_t)s->n_vocab * sizeof(float));
    apply_penalty(s, logit);
    if (s->p.temperature <= 0.0f) return argmax(logit, s->n_vocab);
    int32_t k = top_candidates(s, logit);
    const candidate *cand = s->cand;
    /* probabilities over the top-k at temperature T */
    double *prob = malloc((size_t)k * sizeof(double)), sum = 0.0;
    if (!prob) return cand[0].id;
    float max = cand[0].logit;
    for (int32_t i = 0; i < k; i++) sum += prob[i] = exp((cand[i].logit - max) / s->p.temperature);
    int32_t keep = k;
    double cum = 0.0;
    for (int32_t i = 0; i < k; i++) {
        if (s->p.min_p > 0.0f && prob[i] < s->p.min_p * prob[0]) {
            keep = i;
            break;
        }
        cum += prob[i] / sum;
        if (cum >= s->p.top_p) {
            keep = i + 1;
            break;
        }
    }
    if (keep < 1) keep = 1;
    double total = 0.0;
    for (int32_t i = 0; i < keep; i++) total += prob[i];
    double r = next_uniform(s) * total;
    int32_t pick = cand[keep - 1].id;
    for (int32_t i = 0; i < keep; i++) {
        r -= prob[i];
        if (r <= 0.0) {
            pick = cand[i].id;
            break;
        }
    }
    free(prob);
    return pick;
}
