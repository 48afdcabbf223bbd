/* Ignore rules in the common subset of gitignore syntax: '#' comments, '!' negation, a trailing
 * '/' for directories only, a leading or inner '/' anchoring the pattern to the file's directory,
 * '*', '?', '[...]' within one path segment, and '**' segments spanning directories.
 *
 * Matching is the two-pointer wildcard algorithm at two levels (characters within a segment,
 * segments within a path): O(pattern * text) in the worst case, so a hostile ignore file cannot
 * make the walk exponential. */
#include <stdlib.h>
#include <string.h>

#include "index.h"

#define MAX_LINE     4096 /* longer lines are skipped */
#define MAX_RULES    20000
#define MAX_SEGMENTS 256
#define GLOBSTAR     "\x01" /* a segment that is exactly "**" */

typedef struct {
    char **seg;
    int n_seg;
    bool negate, dir_only;
} rule;

struct index_ignore {
    rule *rules;
    int n, cap;
};

/* Length of the element of a segment pattern starting at p ('?', a class, an escape or a
 * literal) and whether it matches c. */
static size_t class_len(const char *p, const char *end) {
    const char *q = p + 1;
    if (q < end && (*q == '!' || *q == '^')) q++;
    if (q < end && *q == ']') q++;
    while (q < end && *q != ']') q++;
    return q < end ? (size_t)(q - p + 1) : 0;
}

static bool class_match(const char *p, size_t len, unsigned char c) {
    const char *q = p + 1, *end = p + len - 1; /* between '[' and ']' */
    bool neg = *q == '!' || *q == '^', hit = false;
    if (neg) q++;
    for (bool first = true; q < end; first = false) {
        unsigned char lo = (unsigned char)*q, hi = lo;
        if (lo == ']' && !first) break;
        if (q + 2 < end && q[1] == '-') {
            hi = (unsigned char)q[2];
            q += 3;
        } else {
            q++;
        }
        if (c >= lo && c <= hi) hit = true;
    }
    return hit != neg;
}

static bool elem_match(const char *p, const char *pend, unsigned char c, size_t *plen) {
    if (*p == '?') {
        *plen = 1;
        return true;
    }
    if (*p == '[') {
        size_t n = class_len(p, pend);
        if (n) {
            *plen = n;
            return class_match(p, n, c);
        }
    }
    if (*p == '\\' && p + 1 < pend) {
        *plen = 2;
        return (unsigned char)p[1] == c;
    }
    *plen = 1;
    return (unsigned char)*p == c;
}

static bool segment_match(const char *p, const char *s, size_t slen) {
    const char *pend = p + strlen(p), *send = s + slen;
    const char *star_p = NULL, *star_s = NULL;
    while (s < send) {
        size_t plen;
        if (p < pend && *p == '*') {
            while (p < pend && *p == '*') p++;
            star_p = p;
            star_s = s;
        } else if (p < pend && elem_match(p, pend, (unsigned char)*s, &plen)) {
            p += plen;
            s++;
        } else if (star_p) {
            p = star_p;
            s = ++star_s;
        } else {
            return false;
        }
    }
    while (p < pend && *p == '*') p++;
    return p == pend;
}

typedef struct {
    const char *ptr;
    size_t len;
} span;

static bool rule_match(const rule *r, const span *segs, int n) {
    int pi = 0, si = 0, star_pi = -1, star_si = 0;
    while (si < n) {
        if (pi < r->n_seg && !strcmp(r->seg[pi], GLOBSTAR)) {
            star_pi = ++pi;
            star_si = si;
        } else if (pi < r->n_seg && segment_match(r->seg[pi], segs[si].ptr, segs[si].len)) {
            pi++;
            si++;
        } else if (star_pi >= 0) {
            pi = star_pi;
            si = ++star_si;
        } else {
            return false;
        }
    }
    while (pi < r->n_seg && !strcmp(r->seg[pi], GLOBSTAR)) pi++;
    return pi == r->n_seg;
}

int index_ignore_match(const index_ignore *ig, const char *rel, bool is_dir) {
    span segs[MAX_SEGMENTS];
    int n = 0;
    for (const char *p = rel; *p;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) {
            if (n == MAX_SEGMENTS) return 0; /* deeper than any rule we keep can describe */
            segs[n++] = (span){p, len};
        }
        p += len + (e != NULL);
    }
    for (int i = ig->n - 1; i >= 0; i--) {
        const rule *r = &ig->rules[i];
        if (r->dir_only && !is_dir) continue;
        if (rule_match(r, segs, n)) return r->negate ? -1 : 1;
    }
    return 0;
}

static void rule_free(rule *r) {
    for (int i = 0; i < r->n_seg; i++) free(r->seg[i]);
    free(r->seg);
}

static bool rule_push_segment(rule *r, const char *s, size_t len) {
    if (r->n_seg >= MAX_SEGMENTS) return true; /* truncated patterns simply never match deeper */
    char **seg = realloc(r->seg, (size_t)(r->n_seg + 1) * sizeof *seg);
    if (!seg) return false;
    r->seg = seg;
    bool globstar = len == 2 && s[0] == '*' && s[1] == '*';
    char *copy = globstar ? strdup(GLOBSTAR) : strndup(s, len);
    if (!copy) return false;
    r->seg[r->n_seg++] = copy;
    return true;
}

/* Strips the line to the pattern proper; false if the line holds no rule. */
static bool line_pattern(char *line, rule *r, char **pat) {
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r') line[--n] = 0;
    while (n && line[n - 1] == ' ' && !(n >= 2 && line[n - 2] == '\\')) line[--n] = 0;
    if (!n || line[0] == '#') return false;
    char *p = line;
    if (*p == '!') {
        r->negate = true;
        p++;
    } else if (*p == '\\' && (p[1] == '#' || p[1] == '!')) {
        p++;
    }
    n = strlen(p);
    while (n && p[n - 1] == '/') {
        r->dir_only = true;
        p[--n] = 0;
    }
    *pat = p;
    return n > 0;
}

/* Compiles one line; *ok false only when out of memory. */
static bool rule_parse(char *line, rule *r, bool *ok) {
    char *p;
    *ok = true;
    memset(r, 0, sizeof *r);
    if (!line_pattern(line, r, &p)) return false;
    bool anchored = strchr(p, '/') != NULL;
    while (*p == '/') p++;
    if (!*p) return false;
    if (!anchored) *ok = rule_push_segment(r, "**", 2); /* a bare name matches at any depth */
    for (char *s = p; *ok && *s;) {
        char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len) *ok = rule_push_segment(r, s, len);
        s += len + (e != NULL);
    }
    /* "dir/<globstar>" matches what is inside dir, not dir itself: one segment, then any. */
    if (*ok && anchored && r->n_seg >= 2 && !strcmp(r->seg[r->n_seg - 1], GLOBSTAR)) {
        free(r->seg[r->n_seg - 1]);
        r->n_seg--;
        *ok = rule_push_segment(r, "*", 1) && rule_push_segment(r, "**", 2);
    }
    if (!*ok) rule_free(r);
    return *ok;
}

static bool ignore_push(index_ignore *ig, const rule *r) {
    if (ig->n == ig->cap) {
        int cap = ig->cap ? ig->cap * 2 : 16;
        rule *rules = realloc(ig->rules, (size_t)cap * sizeof *rules);
        if (!rules) return false;
        ig->rules = rules;
        ig->cap = cap;
    }
    ig->rules[ig->n++] = *r;
    return true;
}

index_ignore *index_ignore_parse(const char *text, size_t len) {
    index_ignore *ig = calloc(1, sizeof *ig);
    char *line = malloc(MAX_LINE + 1);
    bool ok = ig && line;
    for (size_t i = 0; ok && i < len && ig->n < MAX_RULES;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        if (n <= MAX_LINE && !memchr(text + i, 0, n)) {
            memcpy(line, text + i, n);
            line[n] = 0;
            rule r;
            if (rule_parse(line, &r, &ok) && !ignore_push(ig, &r)) {
                rule_free(&r);
                ok = false;
            }
        }
        i += n + 1;
    }
    free(line);
    if (!ok) {
        index_ignore_free(ig);
        return NULL;
    }
    return ig;
}

void index_ignore_free(index_ignore *ig) {
    if (!ig) return;
    for (int i = 0; i < ig->n; i++) rule_free(&ig->rules[i]);
    free(ig->rules);
    free(ig);
}
