/* WordPiece ("bert" vocabularies). BERT's basic pre-tokenization (whitespace split, control
 * characters dropped, accents stripped (first character of NFD, combining marks dropped),
 * lowercasing, punctuation
 * and CJK ideographs as single-character words), then greedy longest-prefix matching per word.
 * The GGUF vocabulary marks word starts with "▁" instead of marking continuations with "##". */
#include <stdlib.h>

#include "tok_internal.h"
#include "unicode.h"

static bool is_cjk_ideograph(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Greedy longest match of word[0..n) (which starts with "▁"); [UNK] if any part fails. */
static void wpm_word(const tokenizer *t, const char *w, size_t n, tok_out *out) {
    size_t first = out->n;
    for (size_t i = 0; i < n;) {
        size_t j = i + t->max_token_len < n ? i + t->max_token_len : n;
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = tok_lookup(t, w + i, j - i)) >= 0) break;
        if (id < 0) {
            out->n = first;
            break;
        }
        tok_out_push(out, id);
        i = j;
    }
    if (out->n == first && t->sp.unk >= 0) tok_out_push(out, t->sp.unk);
}

bool wpm_encode_fragment(const tokenizer *t, const char *text, size_t len, tok_out *out) {
    /* Worst case per input byte: 4 output bytes (lowercasing never grows a UTF-8 length by more).
     */
    char *w = malloc(len * 4 + 8);
    if (!w) return false;
    size_t n = 3;
    memcpy(w, "\xe2\x96\x81", 3);
#define FLUSH()                                                                                    \
    do {                                                                                           \
        if (n > 3) wpm_word(t, w, n, out);                                                         \
        n = 3;                                                                                     \
    } while (0)
    for (size_t i = 0; i < len;) {
        int l;
        uint32_t cp = ucd_decode((const unsigned char *)text + i, len - i, &l);
        i += (size_t)l;
        if (cp >= UCD_INVALID_BASE) continue; /* like U+FFFD: dropped */
        if (t->wpm_strip_accents) cp = ucd_nfd_first_of(cp);
        uint8_t f = ucd_flags(cp);
        if (t->wpm_strip_accents && (f & UCD_M)) continue; /* all marks, spacing ones too */
        if (f & UCD_WS) {
            FLUSH();
            continue;
        }
        if (cp == 0 || cp == 0xFFFD || (f & UCD_C)) continue;
        if (t->wpm_lower) cp = ucd_tolower(cp);
        if ((f & UCD_P) || (cp < 0x7F && (f & UCD_S)) || is_cjk_ideograph(cp)) {
            FLUSH();
            n += (size_t)ucd_encode(cp, w + n);
            FLUSH();
        } else {
            n += (size_t)ucd_encode(cp, w + n);
        }
    }
    FLUSH();
#undef FLUSH
    free(w);
    return !out->oom;
}
