/* Byte-level BPE ("gpt2" vocabularies): bytes are mapped to GPT-2's printable code points, words
 * from the pre-tokenizer are merged pairwise by merge rank (lowest first, leftmost on ties). Merges
 * are keyed by the ids of their two parts, so the hot loop never builds strings. */
#include <stdio.h>
#include <stdlib.h>

#include "tok_internal.h"
#include "unicode.h"

/* GPT-2 maps printable Latin-1 bytes to themselves and the rest to U+0100.. in byte order. */
static bool bpe_byte_is_direct(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/* The 68 remapped bytes are 0x00-0x20, 0x7F-0xA0 and 0xAD, numbered from U+0100 in that order. */
uint32_t bpe_byte_to_cp(uint8_t b) {
    if (bpe_byte_is_direct(b)) return b;
    if (b <= 0x20) return 0x100u + b;
    if (b <= 0xA0) return 0x100u + 33 + (b - 0x7Fu);
    return 0x143; /* 0xAD */
}

int bpe_cp_to_byte(uint32_t cp) {
    if (cp < 0x100) return bpe_byte_is_direct((int)cp) ? (int)cp : -1;
    if (cp <= 0x120) return (int)(cp - 0x100);
    if (cp <= 0x142) return (int)(cp - 0x100 - 33 + 0x7F);
    return cp == 0x143 ? 0xAD : -1;
}

static uint64_t pair_key(uint32_t l, uint32_t r) {
    return ((uint64_t)l << 32) | r;
}

static uint32_t pair_hash(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 32);
}

static const tok_pair_slot *pair_find(const tok_pairmap *m, uint32_t l, uint32_t r) {
    uint64_t k = pair_key(l, r);
    for (uint32_t i = pair_hash(k) & m->mask;; i = (i + 1) & m->mask) {
        const tok_pair_slot *s = &m->slots[i];
        if (s->key == k) return s;
        if (s->key == TOK_PAIR_EMPTY) return NULL;
    }
}

/* Index of a text (h: its tok_hash), adding it as a merge-only string when it is no token. */
static int64_t text_index(tokenizer *t, const char *s, size_t n, uint64_t h) {
    int64_t i = tok_strmap_get_h(t, &t->map, s, n, h);
    if (i >= 0) return i;
    i = tok_add_text(t, s, n);
    if (i < 0) return -1;
    /* Keep the map at most half full: rebuild it when merge-only strings pile up. */
    if ((uint64_t)t->n_text * 2 > t->map.mask) {
        tok_strmap nm;
        if (!tok_strmap_init(&nm, t->n_text * 2)) return -1;
        tok_strmap_free(&t->map);
        t->map = nm;
        for (uint32_t k = 0; k < t->n_text; k++) tok_strmap_put(t, &t->map, k);
    } else {
        tok_strmap_put_h(t, &t->map, (uint32_t)i, h);
    }
    return i;
}

/* One parsed merge line: its two parts and their concatenation (in the chunk buffer). */
typedef struct {
    const char *l, *r;
    size_t nl, nr, cat;
    uint64_t hl, hr, hc;
} merge_line;

#define MERGE_CHUNK 32

static bool add_merge(tokenizer *t, const merge_line *m, const char *cat, uint32_t rank) {
    int64_t li = text_index(t, m->l, m->nl, m->hl), ri = text_index(t, m->r, m->nr, m->hr),
            res = text_index(t, cat + m->cat, m->nl + m->nr, m->hc);
    if (li < 0 || ri < 0 || res < 0) return false;
    uint64_t k = pair_key((uint32_t)li, (uint32_t)ri);
    for (uint32_t i = pair_hash(k) & t->merges.mask;; i = (i + 1) & t->merges.mask) {
        tok_pair_slot *e = &t->merges.slots[i];
        if (e->key == k) break; /* the first (best ranked) duplicate wins */
        if (e->key == TOK_PAIR_EMPTY) {
            *e = (tok_pair_slot){k, rank, (uint32_t)res};
            break;
        }
    }
    return true;
}

bool bpe_setup(tokenizer *t, const gguf_value *merges, char *err, size_t errlen) {
    for (int b = 0; b < 256; b++) {
        char u[4];
        int n = ucd_encode(bpe_byte_to_cp((uint8_t)b), u);
        t->byte_tok[b] = tok_lookup(t, u, (size_t)n);
    }
    uint64_t nm = merges->arr.n;
    if (nm > (1u << 28)) {
        snprintf(err, errlen, "tokenizer.ggml.merges has %llu entries", (unsigned long long)nm);
        return false;
    }
    uint32_t cap = 16;
    while (cap < nm * 2) cap <<= 1;
    t->merges.slots = malloc(cap * sizeof(tok_pair_slot));
    t->merges.mask = cap - 1;
    char *buf = NULL;
    size_t buf_cap = 0;
    if (!t->merges.slots) goto oom;
    for (uint32_t i = 0; i < cap; i++) t->merges.slots[i].key = TOK_PAIR_EMPTY;
    /* Chunks: parse and hash a few lines and prefetch their map slots, then look them up. */
    for (uint64_t r0 = 0; r0 < nm; r0 += MERGE_CHUNK) {
        merge_line ml[MERGE_CHUNK];
        uint64_t n = nm - r0 < MERGE_CHUNK ? nm - r0 : MERGE_CHUNK;
        size_t need = 0;
        for (uint64_t j = 0; j < n; j++) need += (size_t)merges->arr.items[r0 + j].str.len;
        if (need > buf_cap) {
            buf_cap = need * 2;
            char *nb = realloc(buf, buf_cap);
            if (!nb) goto oom;
            buf = nb;
        }
        size_t used = 0;
        for (uint64_t j = 0; j < n; j++) {
            gguf_str s = merges->arr.items[r0 + j].str;
            /* The separator is the first space after the first byte (a part may start with one). */
            const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
            if (!sp) {
                snprintf(err, errlen, "tokenizer.ggml.merges[%llu] '%.*s' has no space separator",
                         (unsigned long long)(r0 + j), (int)(s.len > 40 ? 40 : s.len), s.ptr);
                goto fail;
            }
            merge_line *m = &ml[j];
            m->l = s.ptr, m->nl = (size_t)(sp - s.ptr);
            m->r = sp + 1, m->nr = (size_t)s.len - m->nl - 1;
            m->cat = used;
            memcpy(buf + used, m->l, m->nl);
            memcpy(buf + used + m->nl, m->r, m->nr);
            used += m->nl + m->nr;
            m->hl = tok_hash(m->l, m->nl);
            m->hr = tok_hash(m->r, m->nr);
            m->hc = tok_hash(buf + m->cat, m->nl + m->nr);
            tok_strmap_prefetch(&t->map, m->hl);
            tok_strmap_prefetch(&t->map, m->hr);
            tok_strmap_prefetch(&t->map, m->hc);
        }
        for (uint64_t j = 0; j < n; j++)
            if (!add_merge(t, &ml[j], buf, (uint32_t)(r0 + j))) goto oom;
    }
    free(buf);
    return true;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    free(buf);
    return false;
}

typedef struct {
    uint32_t start, len;
    int32_t id; /* text index; -1: byte without a token */
    int32_t prev, next;
} bpe_sym;

typedef struct {
    uint32_t rank, left, right, result;
    int32_t lid, rid; /* ids of both sides when queued: a changed side makes the entry stale */
} bpe_pair;

static bool bpe_before(const bpe_pair *a, const bpe_pair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

typedef struct {
    bpe_sym *sym;
    size_t sym_cap;
    bpe_pair *heap;
    size_t n_heap, heap_cap;
    char *mapped;
    size_t mapped_cap;
} bpe_scratch;

static bool heap_push(bpe_scratch *s, bpe_pair e) {
    if (s->n_heap == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
        bpe_pair *v = realloc(s->heap, cap * sizeof(*v));
        if (!v) return false;
        s->heap = v;
        s->heap_cap = cap;
    }
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bpe_before(&e, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
    return true;
}

static bpe_pair heap_pop(bpe_scratch *s) {
    bpe_pair top = s->heap[0], last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bpe_before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!bpe_before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

static bool try_pair(const tokenizer *t, bpe_scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0 || s->sym[l].id < 0 || s->sym[r].id < 0) return true;
    const tok_pair_slot *m = pair_find(&t->merges, (uint32_t)s->sym[l].id, (uint32_t)s->sym[r].id);
    if (!m) return true;
    return heap_push(
        s, (bpe_pair){m->rank, (uint32_t)l, (uint32_t)r, m->result, s->sym[l].id, s->sym[r].id});
}

/* Emits a symbol whose text is no token: its bytes whose mapped character is a token alone. */
static void emit_fallback(const tokenizer *t, const uint8_t *w, const bpe_sym *y, tok_out *out) {
    for (uint32_t k = 0; k < y->len; k++) {
        uint8_t b = w[y->start + k];
        if (bpe_byte_is_direct(b) && b < 0x80 && t->byte_tok[b] >= 0)
            tok_out_push(out, t->byte_tok[b]);
    }
}

static bool bpe_word(const tokenizer *t, bpe_scratch *s, const uint8_t *w, size_t n, tok_out *out) {
    if (n == 0) return true;
    if (t->ignore_merges) {
        if (n * 2 > s->mapped_cap) {
            char *m = realloc(s->mapped, n * 2);
            if (!m) return false;
            s->mapped = m;
            s->mapped_cap = n * 2;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += (size_t)ucd_encode(bpe_byte_to_cp(w[i]), s->mapped + k);
        int32_t id = tok_lookup(t, s->mapped, k);
        if (id >= 0) {
            tok_out_push(out, id);
            return true;
        }
    }
    if (n == 1) {
        if (t->byte_tok[w[0]] >= 0) tok_out_push(out, t->byte_tok[w[0]]);
        return true;
    }
    if (n > s->sym_cap) {
        bpe_sym *v = realloc(s->sym, n * sizeof(bpe_sym));
        if (!v) return false;
        s->sym = v;
        s->sym_cap = n;
    }
    for (size_t i = 0; i < n; i++)
        s->sym[i] = (bpe_sym){(uint32_t)i, 1, t->byte_tok[w[i]], (int32_t)i - 1,
                              i + 1 < n ? (int32_t)i + 1 : -1};
    s->n_heap = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (!try_pair(t, s, (int32_t)i, (int32_t)i + 1)) return false;
    while (s->n_heap) {
        bpe_pair p = heap_pop(s);
        bpe_sym *L = &s->sym[p.left];
        bpe_sym *R = &s->sym[p.right];
        if (L->len == 0 || L->next != (int32_t)p.right || L->id != p.lid || R->id != p.rid)
            continue; /* stale */
        L->len += R->len;
        L->id = (int32_t)p.result;
        R->len = 0;
        L->next = R->next;
        if (R->next >= 0) s->sym[R->next].prev = (int32_t)p.left;
        if (!try_pair(t, s, L->prev, (int32_t)p.left) || !try_pair(t, s, (int32_t)p.left, L->next))
            return false;
    }
    for (int32_t i = 0; i >= 0; i = s->sym[i].next) {
        const bpe_sym *y = &s->sym[i];
        if (y->id >= 0 && y->id < t->n_vocab)
            tok_out_push(out, y->id);
        else
            emit_fallback(t, w, y, out);
    }
    return true;
}

bool bpe_encode_fragment(const tokenizer *t, const char *text, size_t len, tok_out *out) {
    uint32_t *ends = NULL;
    int64_t nw = pretok_split(t->pre, text, len, &ends);
    if (nw < 0) return false;
    bpe_scratch s = {0};
    bool ok = true;
    uint32_t start = 0;
    for (int64_t i = 0; ok && i < nw && !tok_out_done(out); i++) {
        if (tok_out_skip(out, t, ends[i] - start)) break;
        ok = bpe_word(t, &s, (const uint8_t *)text + start, ends[i] - start, out);
        start = ends[i];
    }
    free(ends);
    free(s.sym);
    free(s.heap);
    free(s.mapped);
    return ok && !out->oom;
}
