/* SentencePiece-style BPE driven by token scores ("llama" vocabularies): characters are merged
 * pairwise, always the adjacent pair whose concatenation is the highest-scoring token (leftmost on
 * ties); characters left without a token fall back to <0xXX> byte tokens. */
#include <stdio.h>
#include <stdlib.h>

#include "tok_internal.h"
#include "unicode.h"

bool spm_setup(tokenizer *t, char *err, size_t errlen) {
    (void)err, (void)errlen;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof(name), "<0x%02X>", b);
        t->byte_tok[b] = tok_lookup(t, name, 6);
    }
    return true;
}

typedef struct {
    uint32_t start, len; /* len 0: merged into its left neighbour */
    int32_t prev, next;
} spm_sym;

typedef struct {
    float score;
    uint32_t left, right, size;
} spm_bigram;

/* Max-heap order: higher score first, then the leftmost pair. */
static bool spm_before(const spm_bigram *a, const spm_bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct {
    spm_bigram *v;
    size_t n, cap;
} spm_heap;

static bool spm_heap_push(spm_heap *h, spm_bigram e) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        spm_bigram *v = realloc(h->v, cap * sizeof(*v));
        if (!v) return false;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!spm_before(&e, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
    return true;
}

static spm_bigram spm_heap_pop(spm_heap *h) {
    spm_bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && spm_before(&h->v[c + 1], &h->v[c])) c++;
        if (!spm_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

static bool spm_try_pair(const tokenizer *t, const char *text, const spm_sym *sym, int32_t l,
                         int32_t r, spm_heap *h) {
    if (l < 0 || r < 0) return true;
    uint32_t size = sym[l].len + sym[r].len;
    int32_t id = tok_lookup(t, text + sym[l].start, size);
    if (id < 0) return true;
    spm_bigram b = {t->scores[id], (uint32_t)l, (uint32_t)r, size};
    return spm_heap_push(h, b);
}

bool spm_encode_fragment(const tokenizer *t, const char *text, size_t len, tok_out *out) {
    if (len == 0) return true;
    if (len > UINT32_MAX / 2) return false;
    spm_sym *sym = malloc(len * sizeof(spm_sym));
    spm_heap h = {0};
    bool ok = sym != NULL;
    int32_t n = 0;
    for (size_t i = 0; ok && i < len;) {
        int l;
        ucd_decode((const unsigned char *)text + i, len - i, &l);
        sym[n] = (spm_sym){(uint32_t)i, (uint32_t)l, n - 1, -1};
        if (n > 0) sym[n - 1].next = n;
        n++;
        i += (size_t)l;
    }
    for (int32_t i = 0; ok && i + 1 < n; i++) ok = spm_try_pair(t, text, sym, i, i + 1, &h);
    while (ok && h.n) {
        spm_bigram b = spm_heap_pop(&h);
        spm_sym *L = &sym[b.left], *R = &sym[b.right];
        if (L->len == 0 || R->len == 0 || L->len + R->len != b.size) continue; /* stale */
        L->len += R->len;
        R->len = 0;
        L->next = R->next;
        if (R->next >= 0) sym[R->next].prev = (int32_t)b.left;
        ok = spm_try_pair(t, text, sym, L->prev, (int32_t)b.left, &h) &&
             spm_try_pair(t, text, sym, (int32_t)b.left, L->next, &h);
    }
    for (int32_t i = 0; ok && i >= 0 && n > 0; i = sym[i].next) {
        int32_t id = tok_lookup(t, text + sym[i].start, sym[i].len);
        if (id >= 0) {
            tok_out_push(out, id);
            continue;
        }
        for (uint32_t k = 0; k < sym[i].len; k++) {
            int32_t b = t->byte_tok[(uint8_t)text[sym[i].start + k]];
            if (b < 0) b = t->sp.unk;
            if (b >= 0) tok_out_push(out, b);
        }
    }
    free(sym);
    free(h.v);
    return ok && !out->oom;
}
