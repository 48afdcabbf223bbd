/* tokenizer_encode / tokenizer_piece: special-token partitioning, dispatch to the model's
 * algorithm, and token -> bytes. */
#include <stdio.h>
#include <stdlib.h>

#include "tok_internal.h"
#include "unicode.h"

typedef struct {
    uint32_t start, len;
    int32_t id; /* -1: raw text */
} tok_frag;

typedef struct {
    uint32_t rank, pos; /* rank: index in the longest-first special list */
} tok_match;

typedef struct {
    uint32_t pos;
    int32_t id;
} tok_hit;

static int cmp_hit(const void *a, const void *b) {
    uint32_t x = ((const tok_hit *)a)->pos, y = ((const tok_hit *)b)->pos;
    return (x > y) - (x < y);
}

static int cmp_match(const void *a, const void *b) {
    const tok_match *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static bool is_space_byte(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Splits text into raw fragments and special tokens. Tokens are taken longest first over the
 * whole text, each one at its leftmost non-overlapping occurrences inside still-raw text; control
 * and unknown tokens only with parse_special. Returns the fragment count or -1 (out of memory). */
/* True when [pos, pos + n) lies inside one of the sorted spans. */
static bool in_spans(const tokenizer_span *sp, size_t n_sp, size_t pos, size_t n) {
    size_t lo = 0, hi = n_sp; /* the last span starting at or before pos */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sp[mid].start <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && pos + n <= sp[lo - 1].start + sp[lo - 1].len;
}

/* spans (when not NULL): control and unknown tokens only inside them (see tokenizer_encode_ex). */
static int64_t partition(const tokenizer *t, const char *text, size_t len, bool parse_special,
                         const tokenizer_span *spans, size_t n_spans, tok_frag **frags_out) {
    tok_match *m = NULL;
    size_t nm = 0, cm = 0;
    bool present[256] = {false}, any_first = false;
    for (size_t p = 0; p < len; p++) present[(uint8_t)text[p]] = true;
    for (int b = 0; b < 256; b++) any_first |= present[b] && t->special_first_byte[b];
    if (any_first) {
        for (uint32_t r = 0; r < t->n_special; r++) {
            int32_t id = t->special_ids[r];
            uint8_t ty = t->type[id];
            if (!present[(uint8_t)tok_text(t, id)[0]]) continue;
            bool marker = ty == TT_CONTROL || ty == TT_UNKNOWN;
            if (!parse_special && !spans && marker) continue;
            const char *s = tok_text(t, id);
            size_t n = t->text_len[id];
            for (const char *q = text; (size_t)(q - text) + n <= len;) {
                const char *hit = memmem(q, len - (size_t)(q - text), s, n);
                if (!hit) break;
                if (spans && marker && !in_spans(spans, n_spans, (size_t)(hit - text), n)) {
                    q = hit + 1;
                    continue;
                }
                if (nm == cm) {
                    cm = cm ? cm * 2 : 16;
                    tok_match *mm = realloc(m, cm * sizeof(*m));
                    if (!mm) {
                        free(m);
                        return -1;
                    }
                    m = mm;
                }
                m[nm++] = (tok_match){r, (uint32_t)(hit - text)};
                q = hit + 1;
            }
        }
    }
    /* state per byte: 0 raw, 1 swallowed whitespace, 2 token start, 3 inside a token */
    uint8_t *st = NULL;
    tok_hit *hits = NULL;
    size_t n_tok = 0;
    if (nm) {
        qsort(m, nm, sizeof(*m), cmp_match);
        st = calloc(len, 1);
        hits = malloc(nm * sizeof(tok_hit));
        if (!st || !hits) {
            free(m), free(st), free(hits);
            return -1;
        }
        for (size_t i = 0; i < nm; i++) {
            int32_t id = t->special_ids[m[i].rank];
            size_t p = m[i].pos, n = t->text_len[id], k;
            for (k = 0; k < n && st[p + k] == 0; k++) {
            }
            if (k < n) continue;
            st[p] = 2;
            memset(st + p + 1, 3, n - 1);
            hits[n_tok++] = (tok_hit){(uint32_t)p, id};
            if (t->attr[id] & TOK_LSTRIP)
                for (size_t q = p; q > 0 && st[q - 1] == 0 && is_space_byte(text[q - 1]); q--)
                    st[q - 1] = 1;
            if (t->attr[id] & TOK_RSTRIP)
                for (size_t q = p + n; q < len && st[q] == 0 && is_space_byte(text[q]); q++)
                    st[q] = 1;
        }
    }
    free(m);
    if (n_tok) qsort(hits, n_tok, sizeof(tok_hit), cmp_hit);
    tok_frag *f = malloc((2 * n_tok + 1) * sizeof(tok_frag));
    if (!f) {
        free(st), free(hits);
        return -1;
    }
    int64_t nf = 0;
    if (!n_tok) {
        if (len) f[nf++] = (tok_frag){0, (uint32_t)len, -1};
    } else {
        size_t p = 0, h = 0;
        while (p < len) {
            if (st[p] == 2) {
                int32_t id = hits[h++].id;
                f[nf++] = (tok_frag){(uint32_t)p, t->text_len[id], id};
                p += t->text_len[id];
            } else if (st[p] == 1) {
                p++;
            } else {
                size_t q = p;
                while (q < len && st[q] == 0) q++;
                f[nf++] = (tok_frag){(uint32_t)p, (uint32_t)(q - p), -1};
                p = q;
            }
        }
    }
    free(st);
    free(hits);
    *frags_out = f;
    return nf;
}

/* SentencePiece input: optional leading "▁", spaces replaced by "▁". */
static char *spm_escape(const char *s, size_t n, bool prefix, size_t *out_len) {
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
    char *b = malloc(n + 2 * spaces + 3 + 1);
    if (!b) return NULL;
    size_t k = 0;
    if (prefix) memcpy(b, "\xe2\x96\x81", 3), k = 3;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            memcpy(b + k, "\xe2\x96\x81", 3), k += 3;
        else
            b[k++] = s[i];
    }
    *out_len = k;
    return b;
}

int64_t tokenizer_encode(const tokenizer *t, const char *text, size_t len, bool add_special,
                         bool parse_special, int32_t *ids, int64_t max, char *err, size_t errlen) {
    return tokenizer_encode_ex(t, text, len, add_special, parse_special, NULL, 0, 0, ids, max, err,
                               errlen);
}

int64_t tokenizer_encode_ex(const tokenizer *t, const char *text, size_t len, bool add_special,
                            bool parse_special, const tokenizer_span *spans, size_t n_spans,
                            int64_t limit, int32_t *ids, int64_t max, char *err, size_t errlen) {
    if (len > UINT32_MAX / 4) {
        if (err && errlen) snprintf(err, errlen, "text too long (%zu bytes)", len);
        return -1;
    }
    tok_frag *frags = NULL;
    int64_t nf =
        partition(t, text ? text : "", text ? len : 0, parse_special, spans, n_spans, &frags);
    tok_out out = {.limit = limit > 0 ? (size_t)limit : 0};
    bool ok = nf >= 0;
    if (ok && add_special && t->sp.add_bos) tok_out_push(&out, t->sp.bos);
    bool prev_special = true;
    for (int64_t i = 0; ok && i < nf && !tok_out_done(&out); i++) {
        const tok_frag *f = &frags[i];
        if (f->id >= 0) {
            tok_out_push(&out, f->id);
            prev_special = true;
            continue;
        }
        const char *s = text + f->start;
        switch (t->kind) {
        case TOK_SPM: {
            size_t n;
            char *b = spm_escape(s, f->len, t->add_space_prefix && prev_special, &n);
            ok = b && (tok_out_skip(&out, t, n) || spm_encode_fragment(t, b, n, &out));
            free(b);
            break;
        }
        case TOK_BPE:
            ok = bpe_encode_fragment(t, s, f->len, &out);
            break;
        case TOK_WPM:
            ok = wpm_encode_fragment(t, s, f->len, &out);
            break;
        }
        prev_special = false;
    }
    if (ok && add_special && t->sp.add_eos) tok_out_push(&out, t->sp.eos);
    free(frags);
    if (!ok || out.oom) {
        free(out.v);
        if (err && errlen) snprintf(err, errlen, "out of memory while tokenizing");
        return -1;
    }
    if (ids && max > 0 && out.n > 0) /* no tokens: out.v is NULL, which memcpy may not get */
        memcpy(ids, out.v, (size_t)((int64_t)out.n < max ? (int64_t)out.n : max) * sizeof(int32_t));
    free(out.v);
    if (out.over && out.n <= out.limit) return (int64_t)out.limit + 1; /* above the limit */
    return (int64_t)out.n;
}

static int copy_out(const char *s, int n, char *buf, int buflen) {
    if (buf && n <= buflen) memcpy(buf, s, (size_t)n);
    return n;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int tokenizer_piece(const tokenizer *t, int32_t id, bool render_special, char *buf, int buflen) {
    if (id < 0 || id >= t->n_vocab) return -1;
    const char *s = tok_text(t, (uint32_t)id);
    int n = (int)t->text_len[id];
    switch (t->type[id]) {
    case TT_CONTROL:
    case TT_UNKNOWN:
        return render_special || (t->attr[id] & TOK_SHOWN) ? copy_out(s, n, buf, buflen) : 0;
    case TT_UNUSED:
        return 0;
    case TT_USER:
        return copy_out(s, n, buf, buflen);
    case TT_BYTE:
        if (t->kind != TOK_BPE && n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' &&
            hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
            char c = (char)(hexval(s[3]) * 16 + hexval(s[4]));
            return copy_out(&c, 1, buf, buflen);
        }
        break;
    default:
        break;
    }
    int k = 0;
    if (t->kind == TOK_BPE) { /* GPT-2 code points back to bytes */
        for (int i = 0; i < n;) {
            int l;
            uint32_t cp = ucd_decode((const unsigned char *)s + i, (size_t)(n - i), &l);
            int b = bpe_cp_to_byte(cp);
            if (b >= 0) {
                if (buf && k < buflen) buf[k] = (char)b;
                k++;
            } else {
                if (buf && k + l <= buflen) memcpy(buf + k, s + i, (size_t)l);
                k += l;
            }
            i += l;
        }
        return k;
    }
    for (int i = 0; i < n;) { /* SentencePiece / WordPiece: "▁" is a space */
        if (i + 3 <= n && !memcmp(s + i, "\xe2\x96\x81", 3)) {
            if (buf && k < buflen) buf[k] = ' ';
            k++, i += 3;
        } else {
            if (buf && k < buflen) buf[k] = s[i];
            k++, i++;
        }
    }
    return k;
}
