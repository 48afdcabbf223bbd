/* Identifier sub-words: "BooleanOptionalAction" -> boolean optional action, "read_alignment2"
 * -> read alignment 2, "XMLHttpRequest" -> xml http request. The FTS table indexes whole
 * identifiers ('_' is a token character) in the text and symbol columns and these sub-words in
 * a column of their own, so a question in plain words finds an identifier made of them and a
 * question naming the identifier still matches it whole. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool ident_char(unsigned char c) {
    return isalnum(c) || c == '_';
}

/* Where the sub-word starting at s[i] ends, within s[0..n). */
static size_t part_end(const char *s, size_t i, size_t n) {
    size_t j = i + 1;
    if (isdigit((unsigned char)s[i])) {
        while (j < n && isdigit((unsigned char)s[j])) j++;
        return j;
    }
    if (isupper((unsigned char)s[i]) && j < n && isupper((unsigned char)s[j])) {
        /* an acronym: up to the capital that starts the next word (XMLHttp -> XML, Http) */
        while (j < n && isupper((unsigned char)s[j])) j++;
        if (j < n && islower((unsigned char)s[j])) j--;
        return j;
    }
    while (j < n && islower((unsigned char)s[j])) j++;
    return j;
}

int index_split_identifier(const char *s, size_t n, size_t *starts, size_t *lens, int max) {
    int count = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '_') {
            i++;
            continue;
        }
        size_t j = part_end(s, i, n);
        if (count < max) {
            starts[count] = i;
            lens[count] = j - i;
        }
        count++;
        i = j;
    }
    return count;
}

bool index_is_compound(const char *s, size_t n) {
    size_t st[2], ln[2];
    return index_split_identifier(s, n, st, ln, 2) >= 2;
}

/* Appends the sub-words of one identifier (when it has more than one) to out. */
static bool add_parts(index_buf *out, const char *s, size_t n) {
    enum { MAX_PARTS = 32 };
    size_t st[MAX_PARTS], ln[MAX_PARTS];
    int k = index_split_identifier(s, n, st, ln, MAX_PARTS);
    if (k < 2) return true;
    if (k > MAX_PARTS) k = MAX_PARTS;
    for (int i = 0; i < k; i++) {
        if (!index_buf_reserve(out, ln[i] + 2)) return false;
        if (out->len) out->s[out->len++] = ' ';
        for (size_t c = 0; c < ln[i]; c++)
            out->s[out->len++] = (char)tolower((unsigned char)s[st[i] + c]);
        out->s[out->len] = 0;
    }
    return true;
}

bool index_buf_reserve(index_buf *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) return false;
    b->s = s;
    b->cap = cap;
    return true;
}

char *index_subwords(const char *text) {
    index_buf out = {0};
    if (!index_buf_reserve(&out, 0)) return NULL;
    out.s[0] = 0;
    for (const char *p = text; p && *p;) {
        size_t n = 0;
        while (ident_char((unsigned char)p[n])) n++;
        /* identifiers only: a number or a one-part word adds nothing */
        if (n > 1 && n < 256 && !isdigit((unsigned char)p[0]) && !add_parts(&out, p, n)) {
            free(out.s);
            return NULL;
        }
        p += n ? n : 1;
    }
    return out.s;
}
