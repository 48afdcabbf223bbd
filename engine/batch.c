/* Many sequences over one paged KV cache: a free list of fixed-size blocks, a block table per
 * sequence, and evaluation of tokens from several sequences in one forward pass (continuous
 * batching). Each token attends to its own sequence's positions through its block table.
 * Sliding-window layers have a second, smaller pool of blocks and a second table per sequence:
 * a block is taken when the sequence first writes a position in it and returned as soon as the
 * sequence's next token can no longer see any of its positions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

#define PAGED_MAX_SEQS      4096
#define PAGED_MAX_BLOCK     4096
#define PAGED_MAX_POSITIONS (1 << 24) /* blocks x block size, all sequences together */

/* One sequence of a paged context: its length and the blocks holding its positions. */
typedef struct {
    bool live;
    int32_t n_past;
    int32_t *blocks;     /* blocks[i] holds positions i*kv_block .. (i+1)*kv_block-1 */
    int32_t *swa_blocks; /* the same in sliding-window layers, -1 where none is held */
    int32_t swa_first;   /* swa_blocks below it were returned (or never taken) */
} kv_seq;

/* The paged kind: the core's kv_rows are n_kv_blocks blocks of kv_block rows. */
struct batch_paged {
    int32_t kv_block, n_kv_blocks, n_free_blocks;
    int32_t *free_blocks; /* stack of free block indices */
    kv_seq *seqs;
    int32_t n_seq_max, max_blocks_per_seq;
    const int32_t **tok_blocks; /* (n_batch) each batch token's block table */
    int32_t *seq_logit_row;     /* engine_eval_seqs: logits row of each token or -1 */
    int32_t seq_logit_cap, n_last_seq_eval;
    int32_t *seq_add, *tok_ids; /* engine_eval_seqs scratch: positions added per sequence, ids */
    int32_t n_swa;              /* the model's window; 0: no second pool */
    int32_t n_free_swa;
    int32_t *free_swa;              /* stack of free blocks of the sliding-window layers */
    const int32_t **tok_swa_blocks; /* (n_batch) each batch token's sliding-window table */
};

/* Blocks the sliding-window layers can ever hold at once. Between calls a sequence holds the
 * blocks of its last n_swa - 1 positions; during a chunk also those of its a new positions, the
 * chunk's a adding up to at most n_batch. L consecutive positions span at most
 * ceil((L - 1) / B) + 1 blocks, so all together at most
 * sum over sequences of ((n_swa - 1 + a) + B - 2) / B + 1. A sequence never holds more of them
 * than of the other layers' blocks, so n_blocks is enough too. */
static int32_t swa_pool_blocks(int32_t n_swa, const engine_paged_params *pp, int32_t n_batch) {
    int64_t B = pp->block_size, seqs = pp->n_seq_max;
    int64_t bound = (seqs * (n_swa + B - 3) + n_batch) / B + seqs;
    return bound < pp->n_blocks ? (int32_t)bound : pp->n_blocks;
}

static batch_paged *paged_new(const engine_paged_params *pp, int32_t n_ctx, int32_t n_batch,
                              int32_t n_swa, int32_t n_swa_blocks) {
    batch_paged *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->kv_block = pp->block_size;
    p->n_kv_blocks = pp->n_blocks;
    p->n_seq_max = pp->n_seq_max;
    p->max_blocks_per_seq = (n_ctx + p->kv_block - 1) / p->kv_block;
    p->free_blocks = malloc((size_t)p->n_kv_blocks * sizeof(int32_t));
    p->seqs = calloc((size_t)p->n_seq_max, sizeof *p->seqs);
    p->seq_add = calloc((size_t)p->n_seq_max, sizeof(int32_t));
    p->tok_blocks = calloc((size_t)n_batch, sizeof *p->tok_blocks);
    p->tok_ids = calloc((size_t)n_batch, sizeof(int32_t));
    p->n_swa = n_swa;
    p->free_swa = malloc((size_t)(n_swa_blocks > 0 ? n_swa_blocks : 1) * sizeof(int32_t));
    p->tok_swa_blocks = calloc((size_t)n_batch, sizeof *p->tok_swa_blocks);
    bool ok = p->free_blocks && p->seqs && p->seq_add && p->tok_blocks && p->tok_ids &&
              p->free_swa && p->tok_swa_blocks;
    for (int32_t s = 0; ok && s < p->n_seq_max; s++) {
        kv_seq *q = &p->seqs[s];
        ok = (q->blocks = malloc((size_t)p->max_blocks_per_seq * sizeof(int32_t))) &&
             (q->swa_blocks = malloc((size_t)p->max_blocks_per_seq * sizeof(int32_t)));
        for (int32_t b = 0; ok && b < p->max_blocks_per_seq; b++) q->swa_blocks[b] = -1;
    }
    if (!ok) {
        batch_paged_free(p);
        return NULL;
    }
    /* the stack pops low block numbers first */
    for (int32_t b = 0; b < p->n_kv_blocks; b++) p->free_blocks[b] = p->n_kv_blocks - 1 - b;
    p->n_free_blocks = p->n_kv_blocks;
    for (int32_t b = 0; b < n_swa_blocks; b++) p->free_swa[b] = n_swa_blocks - 1 - b;
    p->n_free_swa = n_swa_blocks;
    return p;
}

void batch_paged_free(batch_paged *p) {
    if (!p) return;
    for (int32_t s = 0; p->seqs && s < p->n_seq_max; s++) {
        free(p->seqs[s].blocks);
        free(p->seqs[s].swa_blocks);
    }
    free(p->free_swa);
    free(p->tok_swa_blocks);
    free(p->seqs);
    free(p->free_blocks);
    free(p->seq_add);
    free(p->tok_blocks);
    free(p->tok_ids);
    free(p->seq_logit_row);
    free(p);
}

engine_ctx *engine_ctx_new_paged(const engine_model *m, const engine_ctx_params *p,
                                 const engine_paged_params *pp, char *err, size_t errlen) {
    if (!pp) {
        snprintf(err, errlen, "paged context: no parameters");
        return NULL;
    }
    engine_paged_params d = *pp;
    if (d.block_size == 0) d.block_size = 16;
    if (d.n_seq_max < 1 || d.n_seq_max > PAGED_MAX_SEQS || d.block_size < 1 ||
        d.block_size > PAGED_MAX_BLOCK || d.n_blocks < 1 || d.max_seq_len < 0 ||
        (int64_t)d.n_blocks * d.block_size > PAGED_MAX_POSITIONS) {
        snprintf(err, errlen,
                 "invalid paged context parameters (sequences 1..%d, block size 1..%d, at most "
                 "%d positions in all)",
                 PAGED_MAX_SEQS, PAGED_MAX_BLOCK, PAGED_MAX_POSITIONS);
        return NULL;
    }
    if (m->arch && m->arch->family == FAMILY_BERT) {
        snprintf(err, errlen, "paged contexts are for causal models, not encoders");
        return NULL;
    }
    int32_t total = d.n_blocks * d.block_size;
    if (d.max_seq_len == 0) d.max_seq_len = m->info.n_ctx_train > 0 ? m->info.n_ctx_train : total;
    if (d.max_seq_len > total) d.max_seq_len = total;
    int32_t n_batch = ctx_n_batch(p, d.max_seq_len);
    int32_t n_swa = m->n_swa > 0 ? m->n_swa : 0;
    int32_t swa_blocks = n_swa ? swa_pool_blocks(n_swa, &d, n_batch) : 0;
    engine_ctx *c =
        ctx_new(m, p, d.max_seq_len, total, n_swa ? swa_blocks * d.block_size : 0, err, errlen);
    if (c && !(c->paged = paged_new(&d, c->core.n_ctx, c->core.n_batch, n_swa, swa_blocks))) {
        engine_ctx_free(c);
        snprintf(err, errlen, "out of memory allocating a %d-sequence paged context", d.n_seq_max);
        return NULL;
    }
    return c;
}

static bool seq_ok(const batch_paged *p, int32_t seq) {
    return p && seq >= 0 && seq < p->n_seq_max && p->seqs[seq].live;
}

int32_t engine_seq_new(engine_ctx *c, char *err, size_t errlen) {
    batch_paged *p = c->paged;
    if (!p) {
        snprintf(err, errlen, "engine_seq_new needs a paged context");
        return -1;
    }
    for (int32_t s = 0; s < p->n_seq_max; s++)
        if (!p->seqs[s].live) {
            p->seqs[s].live = true;
            p->seqs[s].n_past = 0;
            return s;
        }
    snprintf(err, errlen, "all %d sequences of the context are in use", p->n_seq_max);
    return -1;
}

static int32_t blocks_held(const batch_paged *p, int32_t seq) {
    return (p->seqs[seq].n_past + p->kv_block - 1) / p->kv_block;
}

/* Returns the sliding-window blocks of s below block index `below`. */
static void swa_release(batch_paged *p, kv_seq *s, int32_t below) {
    for (; s->swa_first < below; s->swa_first++) {
        int32_t *b = &s->swa_blocks[s->swa_first];
        if (*b >= 0) p->free_swa[p->n_free_swa++] = *b;
        *b = -1;
    }
}

/* After a chunk: the blocks no position from n_past - n_swa + 1 on (what s's next token sees)
 * falls in go back. */
static void swa_trim(batch_paged *p, kv_seq *s) {
    int32_t from = s->n_past - p->n_swa + 1;
    if (p->n_swa && from > 0) swa_release(p, s, from / p->kv_block);
}

void engine_seq_free(engine_ctx *c, int32_t seq) {
    batch_paged *p = c->paged;
    if (!seq_ok(p, seq)) return;
    kv_seq *s = &p->seqs[seq];
    for (int32_t b = blocks_held(p, seq) - 1; b >= 0; b--)
        p->free_blocks[p->n_free_blocks++] = s->blocks[b];
    swa_release(p, s, blocks_held(p, seq));
    s->swa_first = 0;
    s->live = false;
    s->n_past = 0;
}

int32_t engine_seq_n_past(const engine_ctx *c, int32_t seq) {
    return seq_ok(c->paged, seq) ? c->paged->seqs[seq].n_past : -1;
}

int32_t engine_kv_blocks_free(const engine_ctx *c) {
    return c->paged ? c->paged->n_free_blocks : 0;
}

int32_t batch_swa_blocks_free(const engine_ctx *c) {
    return c->paged ? c->paged->n_free_swa : -1;
}

static int32_t blocks_needed(const batch_paged *p, int32_t seq, int32_t n) {
    int64_t end = (int64_t)p->seqs[seq].n_past + n;
    return (int32_t)((end + p->kv_block - 1) / p->kv_block) - blocks_held(p, seq);
}

int32_t engine_seq_blocks_needed(const engine_ctx *c, int32_t seq, int32_t n) {
    if (!seq_ok(c->paged, seq) || n < 0) return -1;
    return blocks_needed(c->paged, seq, n);
}

/* Checks a whole batch before anything changes; counts positions added per sequence. */
static bool check_batch(engine_ctx *c, const engine_seq_token *toks, int32_t n, char *err,
                        size_t errlen) {
    batch_paged *p = c->paged;
    int32_t n_vocab = c->core.m->info.n_vocab;
    if (!p) {
        snprintf(err, errlen, "engine_eval_seqs needs a paged context");
        return false;
    }
    if (n <= 0) {
        snprintf(err, errlen, "nothing to evaluate");
        return false;
    }
    memset(p->seq_add, 0, (size_t)p->n_seq_max * sizeof(int32_t));
    for (int32_t i = 0; i < n; i++) {
        if (!seq_ok(p, toks[i].seq)) {
            snprintf(err, errlen, "token %d: no live sequence %d", i, toks[i].seq);
            return false;
        }
        if (toks[i].id < 0 || toks[i].id >= n_vocab) {
            snprintf(err, errlen, "token id %d is out of range [0, %d)", toks[i].id, n_vocab);
            return false;
        }
        p->seq_add[toks[i].seq]++;
    }
    int64_t need = 0;
    for (int32_t s = 0; s < p->n_seq_max; s++) {
        if (!p->seq_add[s]) continue;
        if ((int64_t)p->seqs[s].n_past + p->seq_add[s] > c->core.n_ctx) {
            snprintf(err, errlen, "sequence %d is full: %d positions held, %d more exceed %d", s,
                     p->seqs[s].n_past, p->seq_add[s], c->core.n_ctx);
            return false;
        }
        need += blocks_needed(p, s, p->seq_add[s]);
    }
    if (need > p->n_free_blocks) {
        snprintf(err, errlen, "out of KV blocks: the batch needs %lld, %d are free",
                 (long long)need, p->n_free_blocks);
        return false;
    }
    return true;
}

/* Gives each sequence of the batch the blocks its new positions fall in. */
static void take_blocks(batch_paged *p) {
    for (int32_t s = 0; s < p->n_seq_max; s++) {
        int32_t more = p->seq_add[s] ? blocks_needed(p, s, p->seq_add[s]) : 0;
        for (int32_t b = blocks_held(p, s); more > 0; more--, b++)
            p->seqs[s].blocks[b] = p->free_blocks[--p->n_free_blocks];
    }
}

static bool reserve_rows(engine_ctx *c, const engine_seq_token *toks, int32_t n) {
    batch_paged *p = c->paged;
    int32_t wanted = 0;
    for (int32_t i = 0; i < n; i++) wanted += toks[i].logits;
    if (n > p->seq_logit_cap) {
        int32_t *r = realloc(p->seq_logit_row, (size_t)n * sizeof(int32_t));
        if (!r) return false;
        p->seq_logit_row = r;
        p->seq_logit_cap = n;
    }
    return ctx_reserve_logits(&c->core, wanted > 0 ? wanted : 1);
}

/* Describes one chunk: each token at its sequence's next position, seeing that sequence up to
 * itself through its block table, its K/V in the row the table gives; the tokens wanting logits
 * fill logits rows row[1].. . row[0]: tokens of the call laid out before this chunk. */
static fwd_batch *layout_chunk(engine_ctx *c, const engine_seq_token *toks, int32_t n,
                               int32_t *row) {
    batch_paged *p = c->paged;
    fwd_batch *b = &c->core.batch;
    int32_t B = p->kv_block;
    b->n = n;
    b->ids = p->tok_ids;
    b->blocks = p->tok_blocks;
    b->kv_block = B;
    b->swa_row = c->core.swa_row;
    b->swa_blocks = p->tok_swa_blocks;
    b->swa_ring = 0;
    b->n_logits = 0;
    b->logits = c->core.logits + (size_t)row[1] * (size_t)c->core.m->info.n_vocab;
    b->hidden = NULL;
    for (int32_t t = 0; t < n; t++) {
        kv_seq *s = &p->seqs[toks[t].seq];
        int32_t pos = s->n_past++;
        p->tok_ids[t] = toks[t].id;
        b->pos[t] = pos;
        b->lo[t] = 0;
        b->hi[t] = pos + 1;
        b->kv_row[t] = s->blocks[pos / B] * B + pos % B;
        p->tok_blocks[t] = s->blocks;
        if (p->n_swa && s->swa_blocks[pos / B] < 0) /* swa_pool_blocks: never runs dry */
            s->swa_blocks[pos / B] = p->free_swa[--p->n_free_swa];
        b->swa_row[t] = p->n_swa ? s->swa_blocks[pos / B] * B + pos % B : b->kv_row[t];
        p->tok_swa_blocks[t] = s->swa_blocks;
        p->seq_logit_row[row[0] + t] = toks[t].logits ? row[1]++ : -1;
        if (toks[t].logits) b->logit_tok[b->n_logits++] = t;
    }
    return b;
}

bool engine_eval_seqs(engine_ctx *c, const engine_seq_token *toks, int32_t n, char *err,
                      size_t errlen) {
    if (!check_batch(c, toks, n, err, errlen)) return false;
    if (!reserve_rows(c, toks, n)) {
        snprintf(err, errlen, "out of memory for logits");
        return false;
    }
    take_blocks(c->paged);
    int32_t row[2] = {0, 0}; /* tokens laid out so far, logits rows filled so far */
    while (row[0] < n) {
        int32_t chunk = n - row[0] < c->core.n_batch ? n - row[0] : c->core.n_batch;
        const engine_seq_token *first = toks + row[0];
        forward_batch(&c->core, layout_chunk(c, first, chunk, row));
        for (int32_t t = 0; t < chunk; t++) swa_trim(c->paged, &c->paged->seqs[first[t].seq]);
        row[0] += chunk;
    }
    c->paged->n_last_seq_eval = n;
    return true;
}

const float *engine_seq_logits(const engine_ctx *c, int32_t i) {
    const batch_paged *p = c->paged;
    if (!p || i < 0 || i >= p->n_last_seq_eval || p->seq_logit_row[i] < 0) return NULL;
    return c->core.logits + (size_t)p->seq_logit_row[i] * (size_t)c->core.m->info.n_vocab;
}
