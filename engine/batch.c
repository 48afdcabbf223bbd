/* Many sequences over one paged KV cache: a free list of fixed-size blocks, a block table per
 * sequence, and evaluation of tokens from several sequences in one forward pass (continuous
 * batching). Each token attends to its own sequence's positions through its block table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

#define PAGED_MAX_SEQS      4096
#define PAGED_MAX_BLOCK     4096
#define PAGED_MAX_POSITIONS (1 << 24) /* blocks x block size, all sequences together */

bool batch_paged_alloc(engine_ctx *c, const engine_paged_params *pp) {
    int32_t nb = c->n_batch;
    c->n_seq_max = pp->n_seq_max;
    c->max_blocks_per_seq = (c->n_ctx + c->kv_block - 1) / c->kv_block;
    c->free_blocks = malloc((size_t)c->n_kv_blocks * sizeof(int32_t));
    c->seqs = calloc((size_t)c->n_seq_max, sizeof *c->seqs);
    c->seq_add = calloc((size_t)c->n_seq_max, sizeof(int32_t));
    c->kv_dst = calloc((size_t)nb, sizeof(int32_t));
    c->tok_blocks = calloc((size_t)nb, sizeof *c->tok_blocks);
    c->logit_tok = calloc((size_t)nb, sizeof(int32_t));
    c->tok_ids = calloc((size_t)nb, sizeof(int32_t));
    if (!c->free_blocks || !c->seqs || !c->seq_add || !c->kv_dst || !c->tok_blocks ||
        !c->logit_tok || !c->tok_ids)
        return false;
    for (int32_t s = 0; s < c->n_seq_max; s++) {
        c->seqs[s].blocks = malloc((size_t)c->max_blocks_per_seq * sizeof(int32_t));
        if (!c->seqs[s].blocks) return false;
    }
    /* the stack pops low block numbers first */
    for (int32_t b = 0; b < c->n_kv_blocks; b++) c->free_blocks[b] = c->n_kv_blocks - 1 - b;
    c->n_free_blocks = c->n_kv_blocks;
    return true;
}

void batch_paged_free(engine_ctx *c) {
    for (int32_t s = 0; c->seqs && s < c->n_seq_max; s++) free(c->seqs[s].blocks);
    free(c->seqs);
    free(c->free_blocks);
    free(c->seq_add);
    free(c->kv_dst);
    free(c->tok_blocks);
    free(c->logit_tok);
    free(c->tok_ids);
    free(c->seq_logit_row);
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
    return ctx_create(m, p, &d, err, errlen);
}

static bool seq_ok(const engine_ctx *c, int32_t seq) {
    return c->kv_block && seq >= 0 && seq < c->n_seq_max && c->seqs[seq].live;
}

int32_t engine_seq_new(engine_ctx *c, char *err, size_t errlen) {
    for (int32_t s = 0; c->kv_block && s < c->n_seq_max; s++)
        if (!c->seqs[s].live) {
            c->seqs[s].live = true;
            c->seqs[s].n_past = 0;
            return s;
        }
    snprintf(err, errlen, "all %d sequences of the context are in use", c->n_seq_max);
    return -1;
}

static int32_t blocks_held(const engine_ctx *c, int32_t seq) {
    return (c->seqs[seq].n_past + c->kv_block - 1) / c->kv_block;
}

void engine_seq_free(engine_ctx *c, int32_t seq) {
    if (!seq_ok(c, seq)) return;
    kv_seq *s = &c->seqs[seq];
    for (int32_t b = blocks_held(c, seq) - 1; b >= 0; b--)
        c->free_blocks[c->n_free_blocks++] = s->blocks[b];
    s->live = false;
    s->n_past = 0;
}

int32_t engine_seq_n_past(const engine_ctx *c, int32_t seq) {
    return seq_ok(c, seq) ? c->seqs[seq].n_past : -1;
}

int32_t engine_kv_blocks_free(const engine_ctx *c) {
    return c->n_free_blocks;
}

int32_t engine_seq_blocks_needed(const engine_ctx *c, int32_t seq, int32_t n) {
    if (!seq_ok(c, seq) || n < 0) return -1;
    int64_t end = (int64_t)c->seqs[seq].n_past + n;
    return (int32_t)((end + c->kv_block - 1) / c->kv_block) - blocks_held(c, seq);
}

/* Checks a whole batch before anything changes; counts positions added per sequence. */
static bool check_batch(engine_ctx *c, const engine_seq_token *toks, int32_t n, char *err,
                        size_t errlen) {
    if (!c->kv_block) {
        snprintf(err, errlen, "engine_eval_seqs needs a paged context");
        return false;
    }
    if (n <= 0) {
        snprintf(err, errlen, "nothing to evaluate");
        return false;
    }
    memset(c->seq_add, 0, (size_t)c->n_seq_max * sizeof(int32_t));
    for (int32_t i = 0; i < n; i++) {
        if (!seq_ok(c, toks[i].seq)) {
            snprintf(err, errlen, "token %d: no live sequence %d", i, toks[i].seq);
            return false;
        }
        if (toks[i].id < 0 || toks[i].id >= c->m->info.n_vocab) {
            snprintf(err, errlen, "token id %d is out of range [0, %d)", toks[i].id,
                     c->m->info.n_vocab);
            return false;
        }
        c->seq_add[toks[i].seq]++;
    }
    int64_t need = 0;
    for (int32_t s = 0; s < c->n_seq_max; s++) {
        if (!c->seq_add[s]) continue;
        if ((int64_t)c->seqs[s].n_past + c->seq_add[s] > c->n_ctx) {
            snprintf(err, errlen, "sequence %d is full: %d positions held, %d more exceed %d", s,
                     c->seqs[s].n_past, c->seq_add[s], c->n_ctx);
            return false;
        }
        need += engine_seq_blocks_needed(c, s, c->seq_add[s]);
    }
    if (need > c->n_free_blocks) {
        snprintf(err, errlen, "out of KV blocks: the batch needs %lld, %d are free",
                 (long long)need, c->n_free_blocks);
        return false;
    }
    return true;
}

/* Gives each sequence of the batch the blocks its new positions fall in. */
static void take_blocks(engine_ctx *c) {
    for (int32_t s = 0; s < c->n_seq_max; s++) {
        int32_t more = c->seq_add[s] ? engine_seq_blocks_needed(c, s, c->seq_add[s]) : 0;
        for (int32_t b = blocks_held(c, s); more > 0; more--, b++)
            c->seqs[s].blocks[b] = c->free_blocks[--c->n_free_blocks];
    }
}

static bool reserve_rows(engine_ctx *c, const engine_seq_token *toks, int32_t n) {
    int32_t wanted = 0;
    for (int32_t i = 0; i < n; i++) wanted += toks[i].logits;
    if (n > c->seq_logit_cap) {
        int32_t *r = realloc(c->seq_logit_row, (size_t)n * sizeof(int32_t));
        if (!r) return false;
        c->seq_logit_row = r;
        c->seq_logit_cap = n;
    }
    return ctx_reserve_logits(c, wanted > 0 ? wanted : 1);
}

/* Lays out one chunk: positions, attention ranges, cache rows, and which rows want logits. */
static void layout_chunk(engine_ctx *c, const engine_seq_token *toks, int32_t n, int32_t *row) {
    c->n_logit_tok = 0;
    for (int32_t t = 0; t < n; t++) {
        kv_seq *s = &c->seqs[toks[t].seq];
        int32_t p = s->n_past++;
        c->tok_ids[t] = toks[t].id;
        c->pos[t] = p;
        c->attn_lo[t] = 0;
        c->attn_hi[t] = p + 1;
        c->kv_dst[t] = s->blocks[p / c->kv_block] * c->kv_block + p % c->kv_block;
        c->tok_blocks[t] = s->blocks;
        c->seq_logit_row[row[0] + t] = toks[t].logits ? row[1]++ : -1;
        if (toks[t].logits) c->logit_tok[c->n_logit_tok++] = t;
    }
}

bool engine_eval_seqs(engine_ctx *c, const engine_seq_token *toks, int32_t n, char *err,
                      size_t errlen) {
    if (!check_batch(c, toks, n, err, errlen)) return false;
    if (!reserve_rows(c, toks, n)) {
        snprintf(err, errlen, "out of memory for logits");
        return false;
    }
    take_blocks(c);
    size_t nv = (size_t)c->m->info.n_vocab;
    int32_t row[2] = {0, 0}; /* tokens laid out so far, logits rows filled so far */
    c->packed = c->paged_eval = true;
    while (row[0] < n) {
        int32_t chunk = n - row[0] < c->n_batch ? n - row[0] : c->n_batch, first_row = row[1];
        layout_chunk(c, toks + row[0], chunk, row);
        c->n_past = 0;
        forward_batch(c, c->tok_ids, chunk, c->logits + (size_t)first_row * nv, false);
        row[0] += chunk;
    }
    c->packed = c->paged_eval = false;
    c->n_past = 0;
    c->n_logit_tok = -1;
    c->n_last_seq_eval = n;
    return true;
}

const float *engine_seq_logits(const engine_ctx *c, int32_t i) {
    if (!c->kv_block || i < 0 || i >= c->n_last_seq_eval || c->seq_logit_row[i] < 0) return NULL;
    return c->logits + (size_t)c->seq_logit_row[i] * (size_t)c->m->info.n_vocab;
}
