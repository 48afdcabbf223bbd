/* Cross-file context by text: regions around a buffer's latest edit, identifiers near the cursor
 * and the lines that define them in other buffers. Pure functions: callers own the buffers. */
#include <string.h>

#include "completion.h"

static bool is_word(unsigned char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

/* Leading blanks of a line (bytes). */
static int indent(const char *s, size_t n) {
    int i = 0;
    while ((size_t)i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    return i;
}

static size_t line_start(const char *t, size_t at) {
    while (at > 0 && t[at - 1] != '\n') at--;
    return at;
}

static size_t next_line(const char *t, size_t len, size_t at) {
    const char *nl = memchr(t + at, '\n', len - at);
    return nl ? (size_t)(nl - t) + 1 : len;
}

void completion_region(const char *text, size_t len, size_t at, size_t max_bytes, size_t *start,
                       size_t *end) {
    if (at > len) at = len;
    size_t s = line_start(text, at), e = next_line(text, len, at);
    while (s > 0) { /* a third of the room before the edit, whole lines */
        size_t p = line_start(text, s - 1);
        if (e - p > max_bytes || at - p > max_bytes / 3) break;
        s = p;
    }
    while (e < len) {
        size_t ne = next_line(text, len, e);
        if (ne - s > max_bytes) break;
        e = ne;
    }
    if (e - s > max_bytes) e = s; /* one line longer than the room: nothing */
    *start = s, *end = e;
}

static const char *const k_keywords[] = {
    "and",   "break", "case",   "class",  "const",   "continue", "def",    "else",   "elif",
    "enum",  "false", "for",    "from",   "func",    "function", "if",     "import", "in",
    "int",   "let",   "not",    "null",   "return",  "self",     "static", "struct", "switch",
    "this",  "true",  "type",   "var",    "void",    "while",    "None",   "True",   "False",
    "char",  "bool",  "size_t", "pass",   "print",   "unsigned", "sizeof", "with",   "yield",
    "async", "await", "export", "public", "private", NULL};

static bool is_keyword(const char *w, size_t n) {
    for (const char *const *k = k_keywords; *k; k++)
        if (strlen(*k) == n && !memcmp(*k, w, n)) return true;
    return false;
}

int completion_identifiers(const char *text, size_t len, char out[][64], int max) {
    int n = 0;
    for (size_t i = 0; i < len && n < max;) {
        if (!is_word((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && is_word((unsigned char)text[i])) i++;
        size_t wn = i - s;
        if ((text[s] >= '0' && text[s] <= '9') || wn < 3 || wn >= 64 || is_keyword(text + s, wn))
            continue;
        bool seen = false;
        for (int k = 0; k < n && !seen; k++)
            seen = strlen(out[k]) == wn && !memcmp(out[k], text + s, wn);
        if (seen) continue;
        memcpy(out[n], text + s, wn);
        out[n++][wn] = '\0';
    }
    return n;
}

/* Words that introduce a definition of the name after them. */
static const char *const k_definers[] = {
    "def",  "class", "function", "fn",  "func", "struct",         "type",         "interface",
    "enum", "trait", "const",    "let", "var",  "local function", "macro_rules!", NULL};

/* The line [s, e) defines ident at byte i (its occurrence): a definer word before it, or a
 * C-style declaration at the line's start ("type name(" / "#define name"). */
static bool defines_at(const char *t, size_t s, size_t i, size_t n_ident, size_t e) {
    size_t p = i;
    while (p > s && (t[p - 1] == ' ' || t[p - 1] == '\t' || t[p - 1] == '*')) p--;
    for (const char *const *d = k_definers; *d; d++) {
        size_t dn = strlen(*d);
        if (p >= s + dn && !memcmp(t + p - dn, *d, dn) && p < i &&
            (p - dn == s || !is_word((unsigned char)t[p - dn - 1])))
            return true;
    }
    if (p >= s + 7 && !memcmp(t + p - 7, "#define", 7)) return true;
    /* C-style: the line starts unindented with a type word, the name is followed by "(" */
    size_t a = i + n_ident;
    return s < i && is_word((unsigned char)t[s]) && a < e && t[a] == '(' && p > s &&
           memchr(t + s, '=', i - s) == NULL && memchr(t + s, '(', i - s) == NULL;
}

bool completion_find_definition(const char *text, size_t len, const char *ident, size_t max_bytes,
                                size_t *start, size_t *end) {
    size_t n = strlen(ident);
    if (n == 0) return false;
    for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), ident, n)) != NULL;
         p += n) {
        size_t i = (size_t)(p - text);
        if ((i > 0 && is_word((unsigned char)text[i - 1])) ||
            (i + n < len && is_word((unsigned char)text[i + n])))
            continue;
        size_t s = line_start(text, i), e = next_line(text, len, i);
        if (!defines_at(text, s, i, n, e)) continue;
        /* its body: the lines indented deeper, and a closing line at its own indentation */
        int ind = indent(text + s, e - s);
        while (e < len && text[e] != '\n' && text[e] != '\r') {
            size_t ne = next_line(text, len, e);
            if (ne - s > max_bytes) break;
            int li = indent(text + e, ne - e);
            const char *first = text + e + li;
            size_t rest = ne - e - (size_t)li;
            bool closer = (rest > 0 && (*first == '}' || *first == ')' || *first == ']')) ||
                          (rest >= 3 && !memcmp(first, "end", 3));
            if (li <= ind && !closer) break;
            e = ne;
            if (li <= ind) break; /* the closing line ends it */
        }
        if (e - s > max_bytes) continue;
        *start = s, *end = e;
        return true;
    }
    return false;
}
