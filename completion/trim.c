/* Where a suggestion ends: line and block structure by indentation and brackets, the suffix's
 * text not repeated, brackets kept balanced. Works on bytes; only ASCII is structural. */
#include <string.h>

#include "trim.h"

static bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

static bool all_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_blank(s[i]) && s[i] != '\n') return false;
    return true;
}

/* Indentation width (a tab counts 4). */
static int indent_of(const char *s, size_t n) {
    int w = 0;
    for (size_t i = 0; i < n && is_blank(s[i]); i++) w += s[i] == '\t' ? 4 : 1;
    return w;
}

static size_t rtrim(const char *s, size_t n) {
    while (n > 0 && (is_blank(s[n - 1]) || s[n - 1] == '\n')) n--;
    return n;
}

static size_t line_end(const char *s, size_t n, size_t from) {
    const char *nl = memchr(s + from, '\n', n - from);
    return nl ? (size_t)(nl - s) : n;
}

static bool ends_with_word(const char *s, size_t n, const char *w) {
    size_t k = strlen(w);
    if (n < k || memcmp(s + n - k, w, k)) return false;
    char b = n > k ? s[n - k - 1] : ' ';
    return !(b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
             (b >= '0' && b <= '9'));
}

/* The line opens a block: the next lines are its body. */
static bool opens_block(const char *s, size_t n) {
    n = rtrim(s, n);
    if (n == 0) return false;
    char c = s[n - 1];
    if (c == '{' || c == ':' || c == '(' || c == '[') return true;
    if (n >= 2 && s[n - 2] == '=' && c == '>') return true;
    return ends_with_word(s, n, "do") || ends_with_word(s, n, "then") ||
           ends_with_word(s, n, "else");
}

static char closer_of(char c) {
    return c == '(' ? ')' : c == '[' ? ']' : c == '{' ? '}' : 0;
}

static bool is_closer(char c) {
    return c == ')' || c == ']' || c == '}';
}

/* Bracket scanning that skips quoted strings within a line. */
typedef struct {
    char stack[64];
    size_t at[64]; /* where each opener is (in the scanned text) */
    int n;
    char quote;
} brackets;

/* Feeds one byte; returns the closer that closed nothing on this stack (else 0). */
static char feed(brackets *b, const char *s, size_t i) {
    char c = s[i];
    if (b->quote) {
        if (c == '\\') return 0; /* the escaped byte is skipped by the caller's check below */
        if (c == b->quote && !(i > 0 && s[i - 1] == '\\')) b->quote = 0;
        if (c == '\n') b->quote = 0;
        return 0;
    }
    if (c == '"' || c == '\'' || c == '`') {
        b->quote = c;
        return 0;
    }
    if (closer_of(c)) {
        if (b->n < 64) b->stack[b->n] = c, b->at[b->n] = i;
        b->n++;
        return 0;
    }
    if (!is_closer(c)) return 0;
    if (b->n > 0 && (b->n > 64 || closer_of(b->stack[b->n - 1]) == c)) {
        b->n--;
        return 0;
    }
    return c;
}

/* The next non-blank line of the suffix after its first line, trimmed. */
static void next_suffix_line(const trim_context *c, const char **s, size_t *n) {
    size_t at = line_end(c->suffix, c->suffix_len, 0);
    *s = NULL, *n = 0;
    while (at < c->suffix_len) {
        size_t from = at + 1, e = line_end(c->suffix, c->suffix_len, from);
        while (from < e && is_blank(c->suffix[from])) from++;
        if (from < e && rtrim(c->suffix + from, e - from) > 0) {
            *s = c->suffix + from, *n = rtrim(c->suffix + from, e - from);
            return;
        }
        at = e;
    }
}

static bool same_trimmed(const char *a, size_t an, const char *b, size_t bn) {
    while (an > 0 && is_blank(*a)) a++, an--;
    an = rtrim(a, an);
    return an > 0 && an == bn && !memcmp(a, b, an);
}

/* Line structure: how many bytes of whole lines (and of the first line) to keep. */
static trim_result by_lines(const trim_context *c, const char *text, size_t len, bool single) {
    trim_result r = {len, false};
    size_t first = line_end(text, len, 0);
    if (single || first == len) {
        if (first < len) r = (trim_result){first, true};
        return r;
    }
    bool opener = opens_block(c->line_before, c->line_before_len);
    int base = indent_of(c->line_before, c->line_before_len);
    const char *next;
    size_t next_n;
    next_suffix_line(c, &next, &next_n);
    int lines = 1;
    for (size_t s = first + 1; s <= len; lines++) {
        size_t e = line_end(text, len, s);
        bool complete = e < len;
        const char *l = text + s;
        size_t ln = e - s;
        if (c->max_lines > 0 && lines >= c->max_lines) return (trim_result){s - 1, true};
        if (all_blank(l, ln)) {
            if (!complete) return (trim_result){s - 1, false};
            if (!opener) return (trim_result){s - 1, true}; /* a blank line ends the statements */
            s = e + 1;
            continue;
        }
        int ind = indent_of(l, ln);
        if (next && complete && same_trimmed(l, ln, next, next_n))
            return (trim_result){s - 1, true}; /* the suffix already has this line */
        if (opener && ind <= base) {
            size_t k = 0;
            while (k < ln && is_blank(l[k])) k++;
            if (!is_closer(l[k]) && !(ln - k >= 3 && !memcmp(l + k, "end", 3)))
                return (trim_result){s - 1, true};
            if (!complete) return (trim_result){s - 1, false};
            if (next && next_n > 0 && next[0] == l[k] && indent_of(l, ln) == base)
                return (trim_result){s - 1, true}; /* the suffix closes it already */
            return (trim_result){e, true};         /* the closing line ends the block */
        }
        if (!opener && ind < base) return (trim_result){s - 1, true};
        if (!complete) return r;
        s = e + 1;
    }
    return r;
}

/* The document does not parse without a suggestion: it ends at the first line end where it
 * does. False when none does within the line limit (indentation decides then). */
static bool until_parses(const trim_context *c, trim_oracle *o, const char *text, size_t len,
                         bool final, trim_result *out) {
    int lines = 0;
    for (size_t e = 0;; e++) {
        e = line_end(text, len, e);
        if (e == len && !final) break; /* an incomplete line */
        lines++;
        if (!all_blank(text, e) && o->parses(o, text, e)) {
            *out = (trim_result){e, true};
            return true;
        }
        if (e == len || (c->max_lines > 0 && lines >= c->max_lines)) return false;
    }
    *out = (trim_result){len, false}; /* the block may close further on */
    return true;
}

/* The document parses without a suggestion: a multi-line one that breaks it is cut back to its
 * last line end that still parses (the first line stays: the user may be typing a statement). */
static size_t keep_parsing(trim_oracle *o, const char *text, size_t keep) {
    size_t first = line_end(text, keep, 0);
    if (first == keep || o->parses(o, text, keep)) return keep;
    for (size_t e = keep; e > first;) {
        while (e > first && text[e - 1] != '\n') e--;
        if (e <= first) break;
        e--; /* the line end before */
        if (!all_blank(text, e) && o->parses(o, text, e)) return e;
    }
    return keep;
}

/* The rest of the cursor line (after its blanks) and whether a suggestion is one line only. */
typedef struct {
    size_t rest, rest_start, rn; /* line end in the suffix, first non-blank, trimmed length */
    bool rest_text, single;
} trim_shape;

static trim_shape shape_of(const trim_context *c) {
    trim_shape s = {0};
    s.rest = line_end(c->suffix, c->suffix_len, 0);
    while (s.rest_start < s.rest && is_blank(c->suffix[s.rest_start])) s.rest_start++;
    s.rest_text = s.rest_start < rtrim(c->suffix, s.rest);
    s.single = s.rest_text || (!opens_block(c->line_before, c->line_before_len) &&
                               !all_blank(c->line_before, c->line_before_len));
    s.rn = rtrim(c->suffix + s.rest_start, s.rest - s.rest_start);
    return s;
}

trim_result completion_trim(const trim_context *c, const char *text, size_t len, bool final) {
    return completion_trim_syntax(c, NULL, text, len, final);
}

trim_result completion_trim_syntax(const trim_context *c, trim_oracle *syntax, const char *text,
                                   size_t len, bool final) {
    trim_shape sh = shape_of(c);
    size_t rest = sh.rest, rest_start = sh.rest_start; /* the rest of the cursor line */
    bool rest_text = sh.rest_text, single = sh.single;
    bool oracle = syntax && !rest_text;
    bool parsed = oracle && syntax->parses(syntax, "", 0);
    trim_result r;
    if (oracle && !parsed && until_parses(c, syntax, text, len, final, &r)) {
        if (final || r.done) r.keep = rtrim(text, r.keep);
        if (all_blank(text, r.keep)) r.keep = 0;
        return r; /* brackets: the parse checked them with the whole construct */
    }
    r = by_lines(c, text, len, single);
    /* Brackets: closers may close what the line before the cursor opened, unless the rest of the
     * line closes it already (an editor's auto-inserted bracket). */
    brackets before = {0}, mine = {0};
    for (size_t i = 0; i < c->line_before_len; i++) feed(&before, c->line_before, i);
    before.quote = 0;
    for (size_t i = 0; i < r.keep; i++) {
        if (mine.quote && text[i] == '\\') {
            i++;
            continue;
        }
        char stray = feed(&mine, text, i);
        if (!stray) continue;
        bool closes_line =
            before.n > 0 && before.n <= 64 && closer_of(before.stack[before.n - 1]) == stray;
        if (closes_line && !(rest_start < rest && c->suffix[rest_start] == stray)) {
            before.n--;
            continue;
        }
        r = (trim_result){i, true};
        break;
    }
    if (single && (final || r.done) && mine.n > 0 && mine.n <= 64) {
        /* an opener the suggestion leaves open: cut before it unless the line closes it */
        size_t open_at = mine.at[0];
        bool closed_by_rest =
            rest_start < rest && c->suffix[rest_start] == closer_of(mine.stack[mine.n - 1]);
        if (!closed_by_rest && open_at < r.keep) r.keep = open_at;
    }
    /* The rest of the line repeated at the end of a one-line suggestion. */
    size_t rn = sh.rn;
    if (single && rn > 0 && r.keep >= rn && !memcmp(text + r.keep - rn, c->suffix + rest_start, rn))
        r.keep -= rn;
    if (parsed && (final || r.done)) r.keep = keep_parsing(syntax, text, r.keep);
    if (final || r.done) r.keep = rtrim(text, r.keep);
    if (all_blank(text, r.keep)) r.keep = 0;
    return r;
}

/* ---- streaming: the part of an unfinished suggestion the final trim keeps ----
 *
 * Why this is a lower bound of the final keep, whatever is generated after text (T, the final
 * text T'): by_lines decides each complete line of T the same way in T', so it keeps in T' at
 * least up to T's last line end (all of T while T is one line); the brackets, the one-line
 * bracket rule and the rest-of-line rule then see the same bytes up to there, so the final trim
 * of T cut at that point is a lower bound, less the rest of the line (which T' may still end
 * with). The oracle paths: a document that does not parse yet ends the suggestion at a line end
 * where it parses (after all of T: none of T's complete lines did, or the trim would be done) or
 * falls back to the same rules; a document that parses cuts lines after the first back to a
 * line end where it still parses, so those count only through such a line end. */

/* Lines after the first count through the last line end where the document parses. */
static size_t parse_bound(trim_oracle *o, trim_stable *st, const char *text, size_t len, size_t b) {
    size_t first = line_end(text, b, 0);
    if (first == b) return b; /* still the first line: keep_parsing never cuts it */
    if (st->parsed > b || st->checked > b + 1) *st = (trim_stable){0}; /* b shrank: ask again */
    for (size_t e = st->checked > first + 1 ? st->checked : first + 1; e <= b && e < len; e++)
        if (text[e] == '\n' && !all_blank(text, e) && o->parses(o, text, e)) st->parsed = e;
    st->checked = b + 1;
    return st->parsed > first ? st->parsed : first;
}

size_t completion_trim_stable(const trim_context *c, trim_oracle *syntax, trim_stable *st,
                              const char *text, size_t len) {
    trim_shape sh = shape_of(c);
    size_t lines = by_lines(c, text, len, sh.single).keep, nl = len;
    while (nl > 0 && text[nl - 1] != '\n') nl--;
    if (nl > 0 && nl - 1 < lines) lines = nl - 1; /* the last line is still being written */
    size_t b = completion_trim(c, text, lines, true).keep;
    if (sh.single && sh.rn > 0) b = b > sh.rn ? b - sh.rn : 0; /* T' may end with the rest */
    if (syntax && !sh.rest_text && syntax->parses(syntax, "", 0))
        b = parse_bound(syntax, st, text, len, b);
    b = rtrim(text, b);
    while (b > 0 && b < len && ((unsigned char)text[b] & 0xC0) == 0x80) b--; /* whole UTF-8 */
    return all_blank(text, b) ? 0 : b;
}

size_t completion_trim_stream(trim_stream *s, const trim_context *c, trim_oracle *syntax,
                              const char *text, size_t len) {
    size_t n = completion_trim_stable(c, syntax, &s->stable, text, len);
    if (n <= s->sent) return 0;
    s->sent = n;
    return n;
}
