/* UTF-8 decoding and table lookups for the tokenizers. */
#include "unicode.h"

int ucd_seq_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    if (c < 0xF5) return 4;
    return 0;
}

uint32_t ucd_decode(const unsigned char *s, size_t n, int *len) {
    unsigned char c = s[0];
    *len = 1;
    if (c < 0x80) return c;
    int l = ucd_seq_len(c);
    if (l == 0 || (size_t)l > n) return UCD_INVALID_BASE | c;
    uint32_t cp = c & (0x7F >> l);
    for (int i = 1; i < l; i++) {
        if ((s[i] & 0xC0) != 0x80) return UCD_INVALID_BASE | c;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* Reject overlong forms, surrogates and values past U+10FFFF. */
    if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return UCD_INVALID_BASE | c;
    *len = l;
    return cp;
}

/* Value of the last range starting at or before cp (cp >= ranges[0].start). */
static uint32_t range_lookup(const ucd_range *r, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (r[mid].start <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return r[lo].flags;
}

uint8_t ucd_flags(uint32_t cp) {
    if (cp < UCD_DIRECT) return ucd_direct_flags[cp];
    if (cp >= 0x110000) return UCD_S;
    return (uint8_t)range_lookup(ucd_ranges, ucd_n_ranges, cp);
}

uint8_t ucd_case(uint32_t cp) {
    if (cp < UCD_DIRECT) return ucd_direct_case[cp];
    if (cp >= 0x110000) return 0;
    return (uint8_t)range_lookup(ucd_case_ranges, ucd_n_case_ranges, cp);
}

static uint32_t pair_lookup(const ucd_pair *t, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && t[lo].cp == cp) ? t[lo].to : cp;
}

uint32_t ucd_tolower(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp >= 0x110000) return cp;
    return pair_lookup(ucd_lower, ucd_lower_n, cp);
}

uint32_t ucd_nfd_first_of(uint32_t cp) {
    if (cp < 0xC0 || cp >= 0x110000) return cp;
    if (cp >= 0xAC00 && cp <= 0xD7A3) return 0x1100 + (cp - 0xAC00) / 588; /* Hangul leading jamo */
    return pair_lookup(ucd_nfd_first, ucd_nfd_first_n, cp);
}

int ucd_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
