/* Pre-tokenizers of byte-level BPE vocabularies, hand-written instead of regular expressions.
 * Each pipeline is a list of patterns; every pattern splits every current piece into its matches
 * and the unmatched gaps between them (like a regex "split, keep delimiters"), and lookarounds see
 * the piece's end as the end of the text. Each matcher below returns the length (in characters) of
 * its pattern's leftmost-first match starting at i, 0 if none. */
#include <stdlib.h>

#include "tok_internal.h"
#include "unicode.h"

typedef struct {
    const uint32_t *cp;
    const uint8_t *fl;
} pt_text;

typedef size_t (*pt_match)(const pt_text *x, size_t i, size_t e);

#define IS_L(f)  ((f)&UCD_L)
#define IS_N(f)  ((f)&UCD_N)
#define IS_WS(f) ((f)&UCD_WS)
/* [^\s\p{L}\p{N}] */
#define IS_OTHER(f) (!((f) & (UCD_WS | UCD_L | UCD_N)))

static size_t run(const pt_text *x, size_t i, size_t e, uint8_t mask) {
    size_t j = i;
    while (j < e && (x->fl[j] & mask)) j++;
    return j - i;
}

static size_t run_other(const pt_text *x, size_t i, size_t e) {
    size_t j = i;
    while (j < e && IS_OTHER(x->fl[j])) j++;
    return j - i;
}

static uint32_t ascii_lower(uint32_t c) {
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive. */
static size_t contraction(const pt_text *x, size_t i, size_t e, bool icase) {
    if (x->cp[i] != '\'' || i + 1 >= e) return 0;
    uint32_t a = x->cp[i + 1], b = i + 2 < e ? x->cp[i + 2] : 0;
    if (icase) a = ascii_lower(a), b = ascii_lower(b);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* \s+(?!\S)|\s+ at a whitespace character: the run, minus its last character when a
 * non-space follows and the run is longer than one. */
static size_t ws_tail(const pt_text *x, size_t i, size_t e) {
    size_t n = run(x, i, e, UCD_WS);
    if (i + n < e && n > 1) n--;
    return n;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t m_gpt2(const pt_text *x, size_t i, size_t e) {
    size_t n = contraction(x, i, e, false);
    if (n) return n;
    size_t k = (x->cp[i] == ' ' && i + 1 < e) ? i + 1 : i;
    uint8_t f = x->fl[k];
    if (IS_L(f)) return k - i + run(x, k, e, UCD_L);
    if (IS_N(f)) return k - i + run(x, k, e, UCD_N);
    if (IS_OTHER(f)) return k - i + run_other(x, k, e);
    if (IS_WS(x->fl[i])) return ws_tail(x, i, e);
    return 0;
}

static bool is_crlf(uint32_t c) {
    return c == '\r' || c == '\n';
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+   (Llama 3; Qwen2 with max_digits 1) */
static size_t m_llama3_impl(const pt_text *x, size_t i, size_t e, size_t max_digits) {
    size_t n = contraction(x, i, e, true);
    if (n) return n;
    uint8_t f = x->fl[i];
    uint32_t c = x->cp[i];
    if (IS_L(f)) return run(x, i, e, UCD_L);
    if (!is_crlf(c) && !IS_N(f) && i + 1 < e && IS_L(x->fl[i + 1]))
        return 1 + run(x, i + 1, e, UCD_L);
    if (IS_N(f)) return run(x, i, i + max_digits < e ? i + max_digits : e, UCD_N);
    size_t k = (c == ' ' && i + 1 < e && IS_OTHER(x->fl[i + 1])) ? i + 1 : i;
    if (IS_OTHER(x->fl[k])) {
        size_t j = k + run_other(x, k, e);
        while (j < e && is_crlf(x->cp[j])) j++;
        return j - i;
    }
    if (IS_WS(f)) {
        size_t end = i + run(x, i, e, UCD_WS);
        for (size_t q = end; q > i; q--) /* last CR/LF of the run */
            if (is_crlf(x->cp[q - 1])) return q - i;
        return ws_tail(x, i, e);
    }
    return 0;
}

static size_t m_llama3(const pt_text *x, size_t i, size_t e) {
    return m_llama3_impl(x, i, e, 3);
}
static size_t m_qwen2(const pt_text *x, size_t i, size_t e) {
    return m_llama3_impl(x, i, e, 1);
}

/* o200k's letter classes: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (a word's head) and
 * [\p{Ll}\p{Lm}\p{Lo}\p{M}] (its tail); Lm, Lo and marks are both. */
static bool o200k_head(const pt_text *x, size_t j) {
    uint8_t f = x->fl[j];
    return (f & UCD_M) || (IS_L(f) && ucd_case(x->cp[j]) != UCD_LOWER);
}
static bool o200k_tail(const pt_text *x, size_t j) {
    uint8_t f = x->fl[j];
    return (f & UCD_M) || (IS_L(f) && ucd_case(x->cp[j]) != UCD_UPPER);
}

/* head*tail+ at s as a backtracking matcher takes it: the head run, then a tail run; when no
 * tail character follows the head run, the match ends after the run's last character that is
 * also a tail character. 0 when none is. */
static size_t o200k_alt1(const pt_text *x, size_t s, size_t e) {
    size_t a = s;
    while (a < e && o200k_head(x, a)) a++;
    if (a < e && o200k_tail(x, a)) {
        while (a < e && o200k_tail(x, a)) a++;
        return a - s;
    }
    for (size_t k = a; k > s; k--)
        if (o200k_tail(x, k - 1)) return k - s;
    return 0;
}

/* head+tail* at s, tried only where head*tail+ failed: then the head run is followed by no
 * tail character, so the match is the head run. */
static size_t o200k_alt2(const pt_text *x, size_t s, size_t e) {
    size_t a = s;
    while (a < e && o200k_head(x, a)) a++;
    return a - s;
}

/* [^\r\n\p{L}\p{N}] */
static bool o200k_prefix(const pt_text *x, size_t i) {
    return !is_crlf(x->cp[i]) && !IS_L(x->fl[i]) && !IS_N(x->fl[i]);
}

/* [^\r\n\p{L}\p{N}]?<head>*<tail>+<c>?|[^\r\n\p{L}\p{N}]?<head>+<tail>*<c>?|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+   (o200k, GPT-4o and gpt-oss; <c> is
 * '(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE]). Each word alternative is tried with its
 * optional first character, then without it, before the next alternative: a mark before
 * capitals is a word of its own (the first alternative matches it alone). */
static size_t m_o200k(const pt_text *x, size_t i, size_t e) {
    bool pre = o200k_prefix(x, i) && i + 1 < e;
    size_t n = pre ? o200k_alt1(x, i + 1, e) : 0;
    n = n ? n + 1 : o200k_alt1(x, i, e);
    if (!n && pre && (n = o200k_alt2(x, i + 1, e))) n++;
    if (!n) n = o200k_alt2(x, i, e);
    if (n) return n + (i + n < e ? contraction(x, i + n, e, true) : 0);
    uint8_t f = x->fl[i];
    if (IS_N(f)) return run(x, i, i + 3 < e ? i + 3 : e, UCD_N);
    size_t k = (x->cp[i] == ' ' && i + 1 < e && IS_OTHER(x->fl[i + 1])) ? i + 1 : i;
    if (IS_OTHER(x->fl[k])) {
        size_t j = k + run_other(x, k, e);
        while (j < e && (is_crlf(x->cp[j]) || x->cp[j] == '/')) j++;
        return j - i;
    }
    if (IS_WS(f)) {
        size_t end = i + run(x, i, e, UCD_WS);
        for (size_t q = end; q > i; q--) /* last CR/LF of the run */
            if (is_crlf(x->cp[q - 1])) return q - i;
        return ws_tail(x, i, e);
    }
    return 0;
}

/* \p{N} */
static size_t m_digit(const pt_text *x, size_t i, size_t e) {
    (void)e;
    return IS_N(x->fl[i]) ? 1 : 0;
}

/* \p{N}+ */
static size_t m_digits(const pt_text *x, size_t i, size_t e) {
    return run(x, i, e, UCD_N);
}

/* [0-9][0-9][0-9] */
static size_t m_ascii3(const pt_text *x, size_t i, size_t e) {
    if (i + 3 > e) return 0;
    for (size_t k = i; k < i + 3; k++)
        if (x->cp[k] < '0' || x->cp[k] > '9') return 0;
    return 3;
}

static size_t punct_run(const pt_text *x, size_t i, size_t e, const char *extra) {
    size_t j = i;
    while (j < e &&
           ((x->fl[j] & UCD_P) || (x->cp[j] < 0x80 && x->cp[j] && strchr(extra, (int)x->cp[j]))))
        j++;
    return j - i;
}

/* [\p{P}\$\+<=>\^~\|]+ */
static size_t m_punct_default(const pt_text *x, size_t i, size_t e) {
    return punct_run(x, i, e, "$+<=>^~|");
}

/* [\p{P}\$\+<=>\^~\|`]+ */
static size_t m_punct_falcon(const pt_text *x, size_t i, size_t e) {
    return punct_run(x, i, e, "$+<=>^~|`");
}

/* [\r\n] */
static size_t m_crlf1(const pt_text *x, size_t i, size_t e) {
    (void)e;
    return is_crlf(x->cp[i]) ? 1 : 0;
}

/* \s?<class>+ */
static size_t ws_opt_run(const pt_text *x, size_t i, size_t e, uint8_t mask) {
    if (x->fl[i] & mask) return run(x, i, e, mask);
    if (IS_WS(x->fl[i]) && i + 1 < e && (x->fl[i + 1] & mask)) return 1 + run(x, i + 1, e, mask);
    return 0;
}

static size_t m_ws_letters(const pt_text *x, size_t i, size_t e) {
    return ws_opt_run(x, i, e, UCD_L);
}
static size_t m_ws_punct(const pt_text *x, size_t i, size_t e) {
    return ws_opt_run(x, i, e, UCD_P);
}

/* [一-龥ࠀ-一가-퟿]+ */
static bool is_cjk_deepseek(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x0800 && c <= 0x4E00) ||
           (c >= 0xAC00 && c <= 0xD7FF);
}

static size_t m_cjk(const pt_text *x, size_t i, size_t e) {
    size_t j = i;
    while (j < e && is_cjk_deepseek(x->cp[j])) j++;
    return j - i;
}

#define MAX_STAGES 5
typedef struct {
    int n;
    pt_match m[MAX_STAGES];
} pt_pipeline;

static const pt_pipeline k_pipelines[] = {
    [PRE_DEFAULT] = {4, {m_punct_default, m_gpt2, m_digits, m_ascii3}},
    [PRE_GPT2] = {1, {m_gpt2}},
    [PRE_LLAMA3] = {1, {m_llama3}},
    [PRE_QWEN2] = {1, {m_qwen2}},
    [PRE_STARCODER] = {2, {m_digit, m_gpt2}},
    [PRE_DEEPSEEK_CODER] = {5, {m_crlf1, m_ws_letters, m_ws_punct, m_cjk, m_digit}},
    [PRE_FALCON] = {3, {m_punct_falcon, m_gpt2, m_ascii3}},
    [PRE_O200K] = {1, {m_o200k}},
};

static const struct {
    const char *name;
    tok_pre pre;
    bool ignore_merges;
} k_names[] = {
    {"default", PRE_DEFAULT, false},
    {"gpt-2", PRE_GPT2, false},
    {"gpt2", PRE_GPT2, false},
    {"phi-2", PRE_GPT2, false},
    {"mpt", PRE_GPT2, false},
    {"olmo", PRE_GPT2, false},
    {"jais", PRE_GPT2, false},
    {"roberta-bpe", PRE_GPT2, false},
    {"llama3", PRE_LLAMA3, true},
    {"llama-v3", PRE_LLAMA3, true},
    {"llama-bpe", PRE_LLAMA3, true},
    {"falcon3", PRE_LLAMA3, true},
    {"dbrx", PRE_LLAMA3, false},
    {"smaug-bpe", PRE_LLAMA3, false},
    {"qwen2", PRE_QWEN2, false},
    {"stablelm2", PRE_QWEN2, false},
    {"deepseek-r1-qwen", PRE_QWEN2, false},
    {"hunyuan", PRE_QWEN2, false},
    {"starcoder", PRE_STARCODER, false},
    {"refact", PRE_STARCODER, false},
    {"command-r", PRE_STARCODER, false},
    {"smollm", PRE_STARCODER, false},
    {"codeshell", PRE_STARCODER, false},
    {"exaone", PRE_STARCODER, false},
    {"minerva-7b", PRE_STARCODER, false},
    {"deepseek-coder", PRE_DEEPSEEK_CODER, false},
    {"falcon", PRE_FALCON, false},
    {"gpt-4o", PRE_O200K, true}, /* tiktoken takes a word that is a token whole */
};

bool pretok_parse_name(const char *name, size_t len, tok_pre *pre, bool *ignore_merges) {
    for (size_t i = 0; i < sizeof(k_names) / sizeof(k_names[0]); i++) {
        if (strlen(k_names[i].name) == len && !memcmp(k_names[i].name, name, len)) {
            *pre = k_names[i].pre;
            *ignore_merges = k_names[i].ignore_merges;
            return true;
        }
    }
    return false;
}

typedef struct {
    uint32_t *v;
    size_t n, cap;
} pt_vec;

static bool vec_push(pt_vec *v, uint32_t x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        uint32_t *p = realloc(v->v, cap * sizeof(uint32_t));
        if (!p) return false;
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return true;
}

int64_t pretok_split(tok_pre pre, const char *text, size_t len, uint32_t **ends_out) {
    *ends_out = NULL;
    if (len == 0) return 0;
    uint32_t *cp = malloc(len * sizeof(uint32_t));
    uint8_t *fl = malloc(len);
    uint32_t *off = malloc((len + 1) * sizeof(uint32_t)); /* byte offset of each character */
    pt_vec a = {0}, b = {0};
    int64_t result = -1;
    if (!cp || !fl || !off) goto done;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        int l;
        cp[n] = ucd_decode((const unsigned char *)text + i, len - i, &l);
        fl[n] = ucd_flags(cp[n]);
        off[n++] = (uint32_t)i;
        i += (size_t)l;
    }
    off[n] = (uint32_t)len;
    pt_text x = {cp, fl};
    if (!vec_push(&a, (uint32_t)n)) goto done;
    const pt_pipeline *p = &k_pipelines[pre];
    for (int s = 0; s < p->n; s++) {
        b.n = 0;
        size_t start = 0;
        for (size_t w = 0; w < a.n; w++) {
            size_t end = a.v[w], gap = start, i = start;
            while (i < end) {
                size_t m = p->m[s](&x, i, end);
                if (!m) {
                    i++;
                    continue;
                }
                if (gap < i && !vec_push(&b, (uint32_t)i)) goto done;
                i += m;
                if (!vec_push(&b, (uint32_t)i)) goto done;
                gap = i;
            }
            if (gap < end && !vec_push(&b, (uint32_t)end)) goto done;
            start = end;
        }
        pt_vec tmp = a;
        a = b;
        b = tmp;
    }
    for (size_t w = 0; w < a.n; w++) a.v[w] = off[a.v[w]];
    *ends_out = a.v;
    a.v = NULL;
    result = (int64_t)a.n;
done:
    free(cp);
    free(fl);
    free(off);
    free(a.v);
    free(b.v);
    return result;
}
