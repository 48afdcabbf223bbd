/* Definition-boundary chunking with tree-sitter: each function, class, struct, enum or typedef
 * becomes one chunk named by its symbol, with the comments right above it (its doc comment).
 * What lies between definitions (includes, globals, statements) goes into line windows; a
 * definition over the token budget is split into windows that all carry its symbol, except a
 * class whose body holds definitions: that body is chunked the same way, one level down.
 *
 * Languages are data (LANGS[]): the node types that are definitions, the ones to look inside
 * (preprocessor conditionals wrapping a whole header, Python decorators), and the grammar. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tree_sitter/api.h>

#include "internal.h"

#define MAX_NESTING  8
#define PARSE_BUDGET 2.0 /* seconds: a pathological file falls back to line windows */

const TSLanguage *tree_sitter_c(void);
const TSLanguage *tree_sitter_python(void);

typedef struct {
    const char *name;
    const TSLanguage *(*grammar)(void);
    const char *const *defs;       /* definition node types */
    const char *const *bodies;     /* definitions whose body may hold definitions (classes) */
    const char *const *containers; /* nodes whose children are chunked as if top-level */
} lang_spec;

static const char *const C_DEFS[] = {"function_definition", "struct_specifier", "union_specifier",
                                     "enum_specifier",      "type_definition",  NULL};
static const char *const C_CONTAINERS[] = {"preproc_if", "preproc_ifdef", "preproc_else",
                                           "preproc_elif", NULL};
static const char *const PY_DEFS[] = {"function_definition", "class_definition",
                                      "decorated_definition", NULL};
static const char *const PY_BODIES[] = {"class_definition", "decorated_definition", NULL};
static const char *const NONE[] = {NULL};

static const lang_spec LANGS[] = {
    {"c", tree_sitter_c, C_DEFS, NONE, C_CONTAINERS},
    {"python", tree_sitter_python, PY_DEFS, PY_BODIES, NONE},
};

typedef struct {
    const lang_spec *lang;
    const line_table *t;
    const index_chunk_params *p;
    chunk_list *l;
} ts_chunker;

static bool is_one_of(const char *type, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(type, *list)) return true;
    return false;
}

/* The name a definition declares: its "name" field, else down its "declarator" fields (C's
 * function and typedef declarators), else the definition a decorator wraps. */
static TSNode name_node(TSNode n) {
    for (int depth = 0; depth < 16 && !ts_node_is_null(n); depth++) {
        const char *type = ts_node_type(n);
        if (!strcmp(type, "identifier") || !strcmp(type, "type_identifier") ||
            !strcmp(type, "field_identifier"))
            return n;
        TSNode next = ts_node_child_by_field_name(n, "name", 4);
        if (ts_node_is_null(next)) next = ts_node_child_by_field_name(n, "declarator", 10);
        if (ts_node_is_null(next)) next = ts_node_child_by_field_name(n, "definition", 10);
        n = next;
    }
    return (TSNode){0};
}

static char *symbol_of(const ts_chunker *c, TSNode def) {
    TSNode n = name_node(def);
    if (ts_node_is_null(n)) return NULL;
    uint32_t a = ts_node_start_byte(n), b = ts_node_end_byte(n);
    if (b <= a || b > c->t->len || b - a > 256) return NULL;
    return strndup(c->t->text + a, b - a);
}

static int64_t range_tokens(const line_table *t, int32_t from, int32_t to) {
    int64_t n = 0;
    for (int32_t i = from; i < to; i++) n += t->tok[i];
    return n;
}

static int32_t row_of(uint32_t row, const line_table *t) {
    return row < (uint32_t)t->n ? (int32_t)row : t->n;
}

static bool chunk_children(ts_chunker *c, TSNode parent, int32_t from, int32_t to, int depth);

/* The body of a class-like definition whose definitions are worth chunking one by one. */
static TSNode inner_body(const ts_chunker *c, TSNode def) {
    if (!is_one_of(ts_node_type(def), c->lang->bodies)) return (TSNode){0};
    TSNode d = ts_node_child_by_field_name(def, "definition", 10);
    if (!ts_node_is_null(d)) def = d;
    return ts_node_child_by_field_name(def, "body", 4);
}

static bool chunk_definition(ts_chunker *c, TSNode def, int32_t from, int32_t to, int depth) {
    char *sym = symbol_of(c, def);
    bool ok;
    TSNode body = inner_body(c, def);
    if (range_tokens(c->t, from, to) <= c->p->max_tokens && to - from <= c->p->max_lines)
        ok = chunk_list_push(c->l, c->t, from, to, sym);
    else if (!ts_node_is_null(body) && depth < MAX_NESTING)
        ok = chunk_children(c, body, from, to, depth + 1);
    else
        ok = chunk_windows(c->l, c->t, from, to, c->p, sym);
    free(sym);
    return ok;
}

/* Where a definition's chunk starts: at the comments directly above it. */
static int32_t doc_start(TSNode parent, uint32_t i, int32_t start, int32_t floor) {
    while (i > 0) {
        TSNode prev = ts_node_child(parent, --i);
        if (strcmp(ts_node_type(prev), "comment")) break;
        int32_t end = (int32_t)ts_node_end_point(prev).row;
        if (end + 1 < start || (int32_t)ts_node_start_point(prev).row < floor) break;
        start = (int32_t)ts_node_start_point(prev).row;
    }
    return start;
}

/* "struct foo;" declares, it does not define: no chunk of its own. */
static bool forward_declaration(TSNode n, const char *type) {
    size_t len = strlen(type);
    return len > 10 && !strcmp(type + len - 10, "_specifier") &&
           ts_node_is_null(ts_node_child_by_field_name(n, "body", 4));
}

/* Lines [from, to) hold parent's children: definitions become chunks, the rest windows. */
static bool chunk_children(ts_chunker *c, TSNode parent, int32_t from, int32_t to, int depth) {
    int32_t gap = from;
    uint32_t n = ts_node_child_count(parent);
    bool ok = true;
    for (uint32_t i = 0; ok && i < n; i++) {
        TSNode ch = ts_node_child(parent, i);
        const char *type = ts_node_type(ch);
        bool def = is_one_of(type, c->lang->defs) && !forward_declaration(ch, type);
        if (!def && !(is_one_of(type, c->lang->containers) && depth < MAX_NESTING)) continue;
        int32_t start = row_of(ts_node_start_point(ch).row, c->t);
        int32_t end = row_of(ts_node_end_point(ch).row + 1, c->t);
        if (def) start = doc_start(parent, i, start, gap);
        if (start < gap) start = gap; /* two definitions on one line: the first takes it */
        if (end > to) end = to;
        if (end <= start) continue;
        ok = chunk_windows(c->l, c->t, gap, start, c->p, NULL);
        if (ok)
            ok = def ? chunk_definition(c, ch, start, end, depth)
                     : chunk_children(c, ch, start, end, depth + 1);
        gap = end;
    }
    return ok && chunk_windows(c->l, c->t, gap, to, c->p, NULL);
}

static bool over_budget(TSParseState *state) {
    const struct timespec *deadline = state->payload;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec > deadline->tv_nsec);
}

typedef struct {
    const char *text;
    uint32_t len;
} ts_source;

static const char *read_source(void *payload, uint32_t byte, TSPoint pos, uint32_t *n) {
    const ts_source *s = payload;
    (void)pos;
    *n = byte < s->len ? s->len - byte : 0;
    return s->text + (byte < s->len ? byte : s->len);
}

static TSTree *parse(const lang_spec *lang, const line_table *t) {
    TSParser *parser = ts_parser_new();
    if (!parser) return NULL;
    TSTree *tree = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)PARSE_BUDGET;
    ts_source src = {t->text, (uint32_t)t->len};
    TSInput in = {&src, read_source, TSInputEncodingUTF8, NULL};
    if (ts_parser_set_language(parser, lang->grammar()))
        tree = ts_parser_parse_with_options(parser, NULL, in,
                                            (TSParseOptions){&deadline, over_budget});
    ts_parser_delete(parser);
    return tree;
}

bool chunk_definitions(chunk_list *l, const line_table *t, const char *language,
                       const index_chunk_params *p, bool *handled) {
    *handled = false;
    const lang_spec *lang = NULL;
    for (size_t i = 0; i < sizeof LANGS / sizeof *LANGS; i++)
        if (!strcmp(language, LANGS[i].name)) lang = &LANGS[i];
    if (!lang || t->len >= UINT32_MAX) return true;
    TSTree *tree = parse(lang, t);
    if (!tree) return true; /* over the time budget: line windows will do */
    ts_chunker c = {lang, t, p, l};
    int32_t n0 = l->n;
    bool ok = chunk_children(&c, ts_tree_root_node(tree), 0, t->n, 0);
    ts_tree_delete(tree);
    if (!ok) { /* leave the list as we found it */
        for (int32_t i = n0; i < l->n; i++) {
            free(l->v[i].symbol);
            free(l->v[i].text);
        }
        l->n = n0;
    }
    *handled = ok;
    return ok;
}
