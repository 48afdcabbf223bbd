/* A file's symbols for the symbol graph, from its tree-sitter tree: the names it defines (with
 * the line naming each and that line as its signature) and the names it uses (identifier leaves
 * anywhere outside comments and strings, with counts). Grammar-generic: a definition is a node
 * of a definition-like type with a name (its "name" field, or C's declarator chain); the walk
 * for definitions enters classes, namespaces, impls and the like but never a function's body,
 * so locals are not definitions. A name the file defines is not counted as its reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tree_sitter/api.h>

#include "grammar.h"
#include "internal.h"

#define REF_MIN_LEN    2    /* shorter identifiers (i, x) connect nothing */
#define REF_MAX_LEN    128  /* longer ones are not names a person reuses */
#define REF_MAX_UNIQUE 4096 /* distinct names stored per file */
#define REF_MAX_LEAVES (1 << 20)
#define DEF_MAX        2048 /* definitions stored per file */
#define DEF_MAX_DEPTH  10   /* nesting of scopes searched for definitions */
#define NAME_MAX_DEPTH 8    /* levels searched for a definition's name */
#define SIG_MAX_BYTES  100

typedef struct {
    const char *s;
    uint32_t n;
} span;

typedef struct {
    span *v;
    int32_t n, cap;
} span_list;

typedef struct {
    index_def *v;
    int32_t n, cap;
} def_list;

static bool is_identifier_leaf(TSNode node) {
    return ts_node_child_count(node) == 0 && ts_node_is_named(node) &&
           strstr(ts_node_type(node), "identifier") != NULL;
}

static bool push_span(span_list *l, const char *s, uint32_t n) {
    if (l->n == l->cap) {
        int32_t cap = l->cap ? 2 * l->cap : 256;
        span *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (span){s, n};
    return true;
}

/* Every identifier leaf of the tree, in document order (a cursor walk: no recursion). */
static bool collect_leaves(TSTree *tree, const char *text, span_list *out) {
    TSTreeCursor cur = ts_tree_cursor_new(ts_tree_root_node(tree));
    bool ok = true;
    for (bool more = true; more && ok && out->n < REF_MAX_LEAVES;) {
        TSNode node = ts_tree_cursor_current_node(&cur);
        if (is_identifier_leaf(node)) {
            uint32_t a = ts_node_start_byte(node), b = ts_node_end_byte(node);
            if (b - a >= REF_MIN_LEN && b - a <= REF_MAX_LEN) ok = push_span(out, text + a, b - a);
        }
        if (ts_tree_cursor_goto_first_child(&cur)) continue;
        while (!ts_tree_cursor_goto_next_sibling(&cur))
            if (!ts_tree_cursor_goto_parent(&cur)) {
                more = false;
                break;
            }
    }
    ts_tree_cursor_delete(&cur);
    return ok;
}

/* ---- definitions ---- */

static bool type_has(const char *type, const char *const *words) {
    for (; *words; words++)
        if (strstr(type, *words)) return true;
    return false;
}

static bool is_function(const char *type) {
    static const char *const W[] = {"function", "method", "constructor", "lambda", "arrow", NULL};
    return type_has(type, W);
}

static bool is_definition(const char *type) {
    static const char *const W[] = {"definition", "declaration", "_item",     "declarator",
                                    "type_spec",  "signature",   "specifier", "class",
                                    "module",     "interface",   "enum",      NULL};
    return type_has(type, W);
}

/* The last identifier leaf under node (a qualified name's own part: ns::f -> f), looking at
 * most depth levels down (a hostile file nests parentheses without end). */
static TSNode last_identifier(TSNode node, int depth) {
    if (is_identifier_leaf(node)) return node;
    for (uint32_t i = ts_node_named_child_count(node); depth > 0 && i-- > 0;) {
        TSNode id = last_identifier(ts_node_named_child(node, i), depth - 1);
        if (!ts_node_is_null(id)) return id;
    }
    return (TSNode){0};
}

/* The identifier a definition node names: its "name" field, else the end of its declarator
 * chain (C and C++: int *f(void) -> pointer_declarator -> function_declarator -> f). */
static TSNode definition_name(TSNode node) {
    TSNode name = ts_node_child_by_field_name(node, "name", 4);
    if (!ts_node_is_null(name)) return last_identifier(name, NAME_MAX_DEPTH);
    TSNode d = ts_node_child_by_field_name(node, "declarator", 10);
    if (ts_node_is_null(d)) return d;
    for (int hops = 0; hops < 16; hops++) {
        TSNode next = ts_node_child_by_field_name(d, "declarator", 10);
        if (ts_node_is_null(next)) break;
        d = next;
    }
    return last_identifier(d, NAME_MAX_DEPTH);
}

/* The line holding byte at (its signature), printable and at most SIG_MAX_BYTES. */
static char *line_at(const char *text, size_t len, uint32_t at) {
    size_t a = at, b = at;
    while (a > 0 && text[a - 1] != '\n') a--;
    while (b < len && text[b] != '\n' && text[b] != '\r') b++;
    char *sig = strndup(text + a, b - a > SIG_MAX_BYTES ? SIG_MAX_BYTES : b - a);
    for (char *p = sig; p && *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t') *p = '?';
    return sig;
}

static bool push_def(def_list *l, const char *text, size_t len, TSNode id) {
    uint32_t a = ts_node_start_byte(id), b = ts_node_end_byte(id);
    if (b - a < 1 || b - a > REF_MAX_LEN || l->n >= DEF_MAX) return true;
    if (l->n == l->cap) {
        int32_t cap = l->cap ? 2 * l->cap : 32;
        index_def *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    index_def d = {strndup(text + a, b - a), (int32_t)ts_node_start_point(id).row + 1,
                   line_at(text, len, a)};
    if (!d.name || !d.sig) {
        free(d.name);
        free(d.sig);
        return false;
    }
    l->v[l->n++] = d;
    return true;
}

/* Definitions among node's descendants: scopes are entered, function bodies never. */
static bool collect_defs(TSNode node, const char *text, size_t len, int depth, def_list *out) {
    uint32_t n = ts_node_named_child_count(node);
    bool ok = true;
    for (uint32_t i = 0; ok && i < n; i++) {
        TSNode child = ts_node_named_child(node, i);
        const char *type = ts_node_type(child);
        TSNode id = is_definition(type) ? definition_name(child) : (TSNode){0};
        if (!ts_node_is_null(id)) ok = push_def(out, text, len, id);
        if (ok && !is_function(type) && depth < DEF_MAX_DEPTH)
            ok = collect_defs(child, text, len, depth + 1, out);
    }
    return ok;
}

static int def_cmp(const void *a, const void *b) {
    const index_def *x = a, *y = b;
    return x->line != y->line ? (x->line > y->line) - (x->line < y->line)
                              : strcmp(x->name, y->name);
}

/* Sorted by line, one entry per (line, name): a prototype's declaration and its declarator
 * name the same thing. */
static void dedupe_defs(def_list *l) {
    if (l->n > 1) qsort(l->v, (size_t)l->n, sizeof *l->v, def_cmp); /* v may be NULL at 0 */
    int32_t k = 0;
    for (int32_t i = 0; i < l->n; i++) {
        if (k && !def_cmp(&l->v[k - 1], &l->v[i])) {
            free(l->v[i].name);
            free(l->v[i].sig);
        } else {
            l->v[k++] = l->v[i];
        }
    }
    l->n = k;
}

/* ---- references ---- */

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static bool defined_here(const def_list *defs, const span *s) {
    for (int32_t i = 0; i < defs->n; i++)
        if (strlen(defs->v[i].name) == s->n && !memcmp(defs->v[i].name, s->s, s->n)) return true;
    return false;
}

/* Sorted leaves -> distinct names with counts, without the file's own definitions. */
static bool distinct_refs(span_list *l, const def_list *defs, index_symbols *out) {
    if (l->n > 1) qsort(l->v, (size_t)l->n, sizeof *l->v, span_cmp); /* v may be NULL at 0 */
    index_ref *r = calloc((size_t)l->n + 1, sizeof *r);
    if (!r) return false;
    out->refs = r;
    for (int32_t i = 0, j; i < l->n; i = j) {
        for (j = i + 1; j < l->n && !span_cmp(&l->v[i], &l->v[j]);) j++;
        if (defined_here(defs, &l->v[i])) continue;
        r[out->n_refs] = (index_ref){strndup(l->v[i].s, l->v[i].n), j - i};
        if (!r[out->n_refs++].name) return false;
    }
    return true;
}

static int ref_by_uses(const void *a, const void *b) {
    const index_ref *x = a, *y = b;
    return (y->n > x->n) - (y->n < x->n);
}

/* ---- parsing ---- */

bool index_file_symbols(const char *language, const char *text, size_t len, index_symbols *out) {
    *out = (index_symbols){0};
    const TSLanguage *grammar = grammar_by_name(language);
    if (!grammar || len >= UINT32_MAX || !strcmp(language, "json")) return true;
    TSTree *tree = index_ts_parse(grammar, text, len);
    if (!tree) return true; /* no tree: the file simply has no symbols */
    span_list leaves = {0};
    def_list defs = {0};
    bool ok = collect_defs(ts_tree_root_node(tree), text, len, 0, &defs);
    if (ok) dedupe_defs(&defs);
    ok = ok && collect_leaves(tree, text, &leaves) && distinct_refs(&leaves, &defs, out);
    ts_tree_delete(tree);
    free(leaves.v);
    out->defs = defs.v;
    out->n_defs = defs.n;
    if (ok && out->n_refs > REF_MAX_UNIQUE) { /* keep the most used */
        qsort(out->refs, (size_t)out->n_refs, sizeof *out->refs, ref_by_uses);
        for (int32_t i = REF_MAX_UNIQUE; i < out->n_refs; i++) free(out->refs[i].name);
        out->n_refs = REF_MAX_UNIQUE;
    }
    if (!ok) index_symbols_free(out);
    return ok;
}

void index_symbols_free(index_symbols *s) {
    for (int32_t i = 0; s->refs && i < s->n_refs; i++) free(s->refs[i].name);
    for (int32_t i = 0; s->defs && i < s->n_defs; i++) {
        free(s->defs[i].name);
        free(s->defs[i].sig);
    }
    free(s->refs);
    free(s->defs);
    *s = (index_symbols){0};
}
