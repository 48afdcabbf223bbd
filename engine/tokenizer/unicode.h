/* Unicode helpers for the tokenizers: lenient UTF-8 decoding and category / case / NFD tables
 * generated from Python's unicodedata (tools/gen_unicode_tables.py). Private to engine/tokenizer.
 */
#ifndef HEARTH_TOK_UNICODE_H
#define HEARTH_TOK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Category flags: major general category (Cn has none) plus White_Space. */
enum {
    UCD_L = 0x01,
    UCD_N = 0x02,
    UCD_P = 0x04,
    UCD_S = 0x08,
    UCD_M = 0x10,
    UCD_Z = 0x20,
    UCD_C = 0x40,
    UCD_WS = 0x80,
};

#define UCD_DIRECT 0x800

typedef struct {
    uint32_t start;
    uint32_t flags;
} ucd_range;

typedef struct {
    uint32_t cp, to;
} ucd_pair;

extern const uint8_t ucd_direct_flags[UCD_DIRECT];
extern const ucd_range ucd_ranges[];
extern const size_t ucd_n_ranges;
/* Letter case: UCD_UPPER for Lu and Lt, UCD_LOWER for Ll, 0 for every other code point. */
enum { UCD_UPPER = 1, UCD_LOWER = 2 };
extern const uint8_t ucd_direct_case[UCD_DIRECT];
extern const ucd_range ucd_case_ranges[];
extern const size_t ucd_n_case_ranges;
extern const ucd_pair ucd_lower[];
extern const size_t ucd_lower_n;
extern const ucd_pair ucd_nfd_first[];
extern const size_t ucd_nfd_first_n;

/* Marks a byte that is not part of a valid UTF-8 sequence: decoded as its own character. */
#define UCD_INVALID_BASE 0x80000000u

/* Decodes one character at s[0..n) (n > 0). Invalid, overlong, surrogate or truncated sequences
 * yield UCD_INVALID_BASE | byte with length 1. Returns the code point, *len the byte length. */
uint32_t ucd_decode(const unsigned char *s, size_t n, int *len);
/* Flags of a code point (invalid bytes are classed like U+FFFD: a symbol). */
uint8_t ucd_flags(uint32_t cp);
uint32_t ucd_tolower(uint32_t cp);
/* UCD_UPPER, UCD_LOWER or 0 (invalid bytes and code points past U+10FFFF: 0). */
uint8_t ucd_case(uint32_t cp);
uint32_t ucd_nfd_first_of(uint32_t cp);
/* Encodes cp (< 0x110000) as UTF-8 into out (4 bytes room); returns the length. */
int ucd_encode(uint32_t cp, char *out);

/* Length of a valid UTF-8 sequence starting with lead byte c, or 0 for a non-lead byte. */
int ucd_seq_len(unsigned char c);

#endif
