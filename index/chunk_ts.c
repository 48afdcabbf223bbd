/* Definition-boundary chunking with tree-sitter: each function, class, struct, enum or typedef
 * becomes one chunk named by its symbol, with the comments right above it (its doc comment).
 * What lies between definitions (includes, globals, statements) goes into line windows; a
 * definition over the token budget is split into windows that all carry its symbol, except a
 * class whose body holds definitions: that body is chunked the same way, one level down.
 *
 * Languages are data (LANGS[]): the node types that are definitions, the ones to look inside
 * (preprocessor conditionals wrapping a whole header, Python decorators); the grammar itself
 * comes from grammar/'s table by name, the one lsp/ and completion/ parse with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tree_sitter/api.h>

#include "grammar.h"
#include "internal.h"

#define MAX_NESTING  8
#define MAX_NAME     12  /* how deep the search for a definition's name may go */
#define PARSE_BUDGET 2.0 /* seconds: a pathological file falls back to line windows */

typedef struct {
    const char *name;              /* the grammar's name in grammar/'s table */
    const char *const *defs;       /* definition node types */
    const char *const *bodies;     /* definitions whose body may hold definitions (classes) */
    const char *const *containers; /* nodes whose children are chunked as if top-level */
    const char *const *comments;   /* nodes above a definition that belong to it (docs) */
    const char *scope_sep;         /* between a scope and a member: "Class.method", "ns::f" */
} lang_spec;

static const char *const NONE[] = {NULL};
static const char *const COMMENT[] = {"comment", NULL};
/* "declaration": a prototype, chunked only with a doc comment above it (see is_definition). */
static const char *const C_DEFS[] = {"function_definition",
                                     "struct_specifier",
                                     "union_specifier",
                                     "enum_specifier",
                                     "type_definition",
                                     "declaration",
                                     NULL};
/* ERROR: a header's "#ifdef __cplusplus extern "C" {" leaves its declarations in one */
static const char *const C_CONTAINERS[] = {"preproc_if",
                                           "preproc_ifdef",
                                           "preproc_else",
                                           "preproc_elif",
                                           "linkage_specification",
                                           "declaration_list",
                                           "ERROR",
                                           NULL};
static const char *const CPP_DEFS[] = {
    "function_definition", "struct_specifier",   "union_specifier",      "enum_specifier",
    "type_definition",     "class_specifier",    "namespace_definition", "template_declaration",
    "alias_declaration",   "concept_definition", "declaration",          NULL};
static const char *const CPP_BODIES[] = {"class_specifier", "struct_specifier",
                                         "namespace_definition", "template_declaration", NULL};
static const char *const CPP_CONTAINERS[] = {"preproc_if",
                                             "preproc_ifdef",
                                             "preproc_else",
                                             "preproc_elif",
                                             "linkage_specification",
                                             "declaration_list",
                                             "ERROR",
                                             NULL};
static const char *const PY_DEFS[] = {"function_definition", "class_definition",
                                      "decorated_definition", NULL};
static const char *const PY_BODIES[] = {"class_definition", "decorated_definition", NULL};
/* JavaScript and TypeScript: "const f = () => ..." counts when its value is a function (see
 * value_definition); export_statement when what it exports is a definition. */
static const char *const JS_DEFS[] = {"function_declaration",
                                      "generator_function_declaration",
                                      "class_declaration",
                                      "method_definition",
                                      "export_statement",
                                      "lexical_declaration",
                                      "variable_declaration",
                                      "expression_statement",
                                      NULL};
static const char *const JS_BODIES[] = {"class_declaration", "export_statement", NULL};
static const char *const TS_DEFS[] = {"function_declaration",
                                      "generator_function_declaration",
                                      "class_declaration",
                                      "abstract_class_declaration",
                                      "method_definition",
                                      "method_signature",
                                      "abstract_method_signature",
                                      "function_signature",
                                      "interface_declaration",
                                      "type_alias_declaration",
                                      "enum_declaration",
                                      "internal_module",
                                      "module",
                                      "ambient_declaration",
                                      "export_statement",
                                      "lexical_declaration",
                                      "variable_declaration",
                                      "expression_statement",
                                      NULL};
/* expression_statement: TypeScript parses "namespace X { ... }" as a statement around it */
static const char *const TS_BODIES[] = {
    "expression_statement",  "class_declaration", "abstract_class_declaration",
    "interface_declaration", "internal_module",   "module",
    "ambient_declaration",   "export_statement",  NULL};
static const char *const GO_DEFS[] = {"function_declaration", "method_declaration",
                                      "type_declaration", NULL};
static const char *const RUST_DEFS[] = {"function_item",
                                        "function_signature_item",
                                        "struct_item",
                                        "enum_item",
                                        "union_item",
                                        "trait_item",
                                        "impl_item",
                                        "mod_item",
                                        "type_item",
                                        "macro_definition",
                                        "const_item",
                                        "static_item",
                                        NULL};
static const char *const RUST_BODIES[] = {"trait_item", "impl_item", "mod_item", NULL};
static const char *const RUST_DOCS[] = {"line_comment", "block_comment", "attribute_item", NULL};
static const char *const JAVA_DEFS[] = {
    "class_declaration",       "interface_declaration",           "enum_declaration",
    "record_declaration",      "annotation_type_declaration",     "method_declaration",
    "constructor_declaration", "compact_constructor_declaration", NULL};
static const char *const JAVA_BODIES[] = {"class_declaration", "interface_declaration",
                                          "enum_declaration", "record_declaration", NULL};
static const char *const JAVA_CONTAINERS[] = {"enum_body_declarations", NULL};
static const char *const JAVA_DOCS[] = {"line_comment", "block_comment", NULL};
static const char *const LUA_DEFS[] = {"function_declaration", NULL};
static const char *const BASH_DEFS[] = {"function_definition", NULL};

static const lang_spec LANGS[] = {
    {"c", C_DEFS, NONE, C_CONTAINERS, COMMENT, "::"},
    {"cpp", CPP_DEFS, CPP_BODIES, CPP_CONTAINERS, COMMENT, "::"},
    {"python", PY_DEFS, PY_BODIES, NONE, COMMENT, "."},
    {"javascript", JS_DEFS, JS_BODIES, NONE, COMMENT, "."},
    {"typescript", TS_DEFS, TS_BODIES, NONE, COMMENT, "."},
    {"tsx", TS_DEFS, TS_BODIES, NONE, COMMENT, "."},
    {"go", GO_DEFS, NONE, NONE, COMMENT, "."},
    {"rust", RUST_DEFS, RUST_BODIES, NONE, RUST_DOCS, "::"},
    {"java", JAVA_DEFS, JAVA_BODIES, JAVA_CONTAINERS, JAVA_DOCS, "."},
    {"lua", LUA_DEFS, NONE, NONE, COMMENT, "."},
    {"bash", BASH_DEFS, NONE, NONE, COMMENT, "."},
};

typedef struct {
    const lang_spec *lang;
    const line_table *t;
    const index_chunk_params *p;
    chunk_list *l;
} ts_chunker;

/* Definitions that only declare: a C/C++ prototype, a TypeScript signature. */
static const char *const SIGNATURES[] = {"declaration", "method_signature",
                                         "abstract_method_signature", "function_signature", NULL};

static bool is_one_of(const char *type, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(type, *list)) return true;
    return false;
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

static TSNode field(TSNode n, const char *name) {
    return ts_node_child_by_field_name(n, name, (uint32_t)strlen(name));
}

/* The name a definition declares: its "name" field, else down the fields that lead to one (C's
 * declarators, a decorated or exported definition, Rust's impl type, Lua's M.name), else the
 * first named child that has one (a C++ template's declaration, Go's type_spec). */
static TSNode name_node(TSNode n, int depth) {
    static const char *const NAMES[] = {"identifier",
                                        "type_identifier",
                                        "field_identifier",
                                        "property_identifier",
                                        "word",
                                        "namespace_identifier",
                                        "private_property_identifier",
                                        NULL};
    static const char *const PATH[] = {"name", "declarator", "definition", "declaration",
                                       "type", "field",      "method",     NULL};
    if (ts_node_is_null(n) || depth > MAX_NAME) return (TSNode){0};
    const char *type = ts_node_type(n);
    if (is_one_of(type, NAMES)) return n;
    for (const char *const *f = PATH; *f; f++) {
        TSNode next = field(n, *f);
        if (!ts_node_is_null(next)) return name_node(next, depth + 1);
    }
    uint32_t count = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < count && i < 8; i++) {
        TSNode ch = ts_node_named_child(n, i);
        const char *t = ts_node_type(ch);
        if (ends_with(t, "parameters") || ends_with(t, "parameter_list") ||
            ends_with(t, "comment") || !strcmp(t, "modifiers") || !strcmp(t, "decorator"))
            continue;
        TSNode got = name_node(ch, depth + 1);
        if (!ts_node_is_null(got)) return got;
    }
    return (TSNode){0};
}

/* The assignment a JavaScript statement makes when its value is a function
 * ("Tree.prototype.edit = function () {...}"), else a null node. */
static TSNode function_assignment(TSNode n) {
    static const char *const FUNCS[] = {"arrow_function", "function_expression", "function",
                                        "generator_function", NULL};
    if (strcmp(ts_node_type(n), "expression_statement") || !ts_node_named_child_count(n))
        return (TSNode){0};
    TSNode a = ts_node_named_child(n, 0), right = field(a, "right");
    if (strcmp(ts_node_type(a), "assignment_expression") || ts_node_is_null(right) ||
        !is_one_of(ts_node_type(right), FUNCS))
        return (TSNode){0};
    return a;
}

static char *node_text(const ts_chunker *c, TSNode n) {
    uint32_t a = ts_node_start_byte(n), b = ts_node_end_byte(n);
    if (b <= a || b > c->t->len || b - a > 256) return NULL;
    return strndup(c->t->text + a, b - a);
}

/* The defined name node and the node whose text is the qualified name: a C++ out-of-line
 * "Foo::bar" (qualified_identifier), a JavaScript "Tree.prototype.edit = function". */
static TSNode qualified_node(TSNode def, TSNode *name) {
    TSNode assign = function_assignment(def);
    if (!ts_node_is_null(assign)) {
        TSNode left = field(assign, "left");
        TSNode prop = field(left, "property");
        *name = ts_node_is_null(prop) ? left : prop;
        return left;
    }
    *name = name_node(def, 0);
    TSNode q = *name;
    if (ts_node_is_null(q)) return q;
    for (TSNode up = ts_node_parent(q);
         !ts_node_is_null(up) && !strcmp(ts_node_type(up), "qualified_identifier");
         up = ts_node_parent(up))
        q = up;
    return q;
}

/* Fills d's symbol (qualified by scope, when the definition does not qualify itself), name and
 * the row of its name (the end of its doc + signature). False only when out of memory. */
static bool name_definition(const ts_chunker *c, TSNode def, const index_chunk *scope,
                            index_chunk *d, uint32_t *name_row) {
    TSNode name;
    TSNode q = qualified_node(def, &name);
    *name_row =
        ts_node_is_null(name) ? ts_node_start_point(def).row : ts_node_start_point(name).row;
    if (ts_node_is_null(name)) return true;
    d->name = node_text(c, name);
    char *own = node_text(c, q);
    if (!d->name || !own) { /* a name over 256 bytes (or no memory): no symbol */
        free(own);
        free(d->name);
        d->name = NULL;
        return true;
    }
    if (scope && scope->symbol && ts_node_eq(q, name)) {
        size_t n = strlen(scope->symbol) + strlen(c->lang->scope_sep) + strlen(own) + 1;
        d->symbol = malloc(n);
        if (d->symbol) snprintf(d->symbol, n, "%s%s%s", scope->symbol, c->lang->scope_sep, own);
        free(own);
        return d->symbol != NULL;
    }
    d->symbol = own;
    return true;
}

static int64_t range_tokens(const line_table *t, int32_t from, int32_t to) {
    int64_t n = 0;
    for (int32_t i = from; i < to; i++) n += t->tok[i];
    return n;
}

static int32_t row_of(uint32_t row, const line_table *t) {
    return row < (uint32_t)t->n ? (int32_t)row : t->n;
}

static bool chunk_children(ts_chunker *c, TSNode parent, int32_t from, int32_t to, int depth,
                           const index_chunk *scope);

/* The body of a class-like definition whose definitions are worth chunking one by one (looking
 * through a decorator, an export or a template to the definition it wraps). */
static TSNode inner_body(const ts_chunker *c, TSNode def) {
    for (int depth = 0; depth < 4 && !ts_node_is_null(def); depth++) {
        if (!is_one_of(ts_node_type(def), c->lang->bodies)) break;
        TSNode body = field(def, "body");
        if (!ts_node_is_null(body)) return body;
        TSNode next = field(def, "definition");
        if (ts_node_is_null(next)) next = field(def, "declaration");
        if (ts_node_is_null(next) && ts_node_named_child_count(def)) /* template, ambient */
            next = ts_node_named_child(def, ts_node_named_child_count(def) - 1);
        def = next;
    }
    return (TSNode){0};
}

/* Lines [from, to) hold one definition (with its doc comment): one chunk when it fits, else
 * a class-like body chunked one level down (its own lines carrying its name), else windows that
 * all carry the definition's symbol and range. */
static bool chunk_definition(ts_chunker *c, TSNode def, int32_t from, int32_t to, int depth,
                             const index_chunk *scope) {
    index_chunk d = {.start_line = from + 1, .def_start = from + 1, .def_end = to};
    uint32_t name_row = 0;
    bool ok = name_definition(c, def, scope, &d, &name_row);
    d.head_lines = (int32_t)name_row >= from ? (int32_t)name_row - from + 1 : 0;
    d.declaration = is_one_of(ts_node_type(def), SIGNATURES);
    TSNode body = inner_body(c, def);
    if (!ok)
        ;
    else if (range_tokens(c->t, from, to) <= c->p->max_tokens && to - from <= c->p->max_lines)
        ok = index_chunk_list_push_def(c->l, c->t, from, to, &d);
    else if (!ts_node_is_null(body) && depth < MAX_NESTING)
        ok = chunk_children(c, body, from, to, depth + 1, &d);
    else
        ok = index_chunk_windows_def(c->l, c->t, from, to, c->p, &d);
    free(d.symbol);
    free(d.name);
    return ok;
}

/* Where a definition's chunk starts: at the comments (and Rust attributes) directly above it. */
static int32_t doc_start(const ts_chunker *c, TSNode parent, uint32_t i, int32_t start,
                         int32_t floor) {
    while (i > 0) {
        TSNode prev = ts_node_child(parent, --i);
        if (!is_one_of(ts_node_type(prev), c->lang->comments)) break;
        int32_t end = (int32_t)ts_node_end_point(prev).row;
        if (end + 1 < start || (int32_t)ts_node_start_point(prev).row < floor) break;
        start = (int32_t)ts_node_start_point(prev).row;
    }
    return start;
}

/* "struct foo;" declares, it does not define: no chunk of its own. */
static bool forward_declaration(TSNode n, const char *type) {
    return ends_with(type, "_specifier") && ts_node_is_null(field(n, "body"));
}

/* "const f = () => ..." defines f; "const x = 1" is just a statement. */
static bool value_definition(TSNode n) {
    static const char *const FUNCS[] = {
        "arrow_function", "function_expression", "function", "generator_function", "class", NULL};
    uint32_t count = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < count; i++) {
        TSNode value = field(ts_node_named_child(n, i), "value");
        if (!ts_node_is_null(value) && is_one_of(ts_node_type(value), FUNCS)) return true;
    }
    return false;
}

/* TypeScript's "namespace X { ... }", a statement holding an internal_module. */
static bool ts_namespace(TSNode n) {
    return ts_node_named_child_count(n) == 1 &&
           !strcmp(ts_node_type(ts_node_named_child(n, 0)), "internal_module");
}

/* "int f(int);" (also through pointer declarators), not "int x;". */
static bool prototype(TSNode n) {
    TSNode d = field(n, "declarator");
    for (int i = 0; i < 4 && !ts_node_is_null(d); i++) {
        if (!strcmp(ts_node_type(d), "function_declarator")) return true;
        d = field(d, "declarator");
    }
    return false;
}

static bool is_definition(const ts_chunker *c, TSNode n, int depth) {
    if (ts_node_is_null(n)) return false;
    const char *type = ts_node_type(n);
    if (!is_one_of(type, c->lang->defs) || forward_declaration(n, type)) return false;
    if (!strcmp(type, "lexical_declaration") || !strcmp(type, "variable_declaration"))
        return value_definition(n);
    if (!strcmp(type, "expression_statement"))
        return !ts_node_is_null(function_assignment(n)) || ts_namespace(n);
    if (!strcmp(type, "declaration")) return prototype(n);
    if (!strcmp(type, "export_statement")) /* "export { a, b }" is not one */
        return depth < 2 && is_definition(c, field(n, "declaration"), depth + 1);
    return true;
}

/* Lines [from, to) hold parent's children: definitions become chunks, the rest windows (which
 * carry the enclosing definition, scope, when parent is its body). A prototype becomes a chunk
 * only with a doc comment: that comment is what a question about its definition may match. */
/* What a window between the definitions of a class body carries: the class's symbol (so
 * "Class method" finds its lines), its name only on the header window (the class line); no
 * definition range: such windows are not the class and must not collapse into one hit. */
static index_chunk gap_of(const index_chunk *scope, int32_t gap) {
    index_chunk g = {0};
    if (!scope) return g;
    g.symbol = scope->symbol;
    if (gap + 1 == scope->def_start) g.name = scope->name;
    return g;
}

static bool chunk_children(ts_chunker *c, TSNode parent, int32_t from, int32_t to, int depth,
                           const index_chunk *scope) {
    int32_t gap = from, group = -1; /* group: the doc above a run of adjacent prototypes */
    index_chunk g;
    uint32_t n = ts_node_child_count(parent);
    bool ok = true;
    for (uint32_t i = 0; ok && i < n; i++) {
        TSNode ch = ts_node_child(parent, i);
        const char *type = ts_node_type(ch);
        bool def = is_definition(c, ch, 0), proto = def && !strcmp(type, "declaration");
        if (!def && !(is_one_of(type, c->lang->containers) && depth < MAX_NESTING)) continue;
        int32_t start = row_of(ts_node_start_point(ch).row, c->t);
        int32_t end = row_of(ts_node_end_point(ch).row + 1, c->t);
        int32_t doc = def ? doc_start(c, parent, i, start, gap) : start;
        /* A comment above prototypes on consecutive lines ("Gets or sets the limit." over
         * "int get(void);" and "void set(int);") documents each of them: each chunk repeats it */
        bool grouped = proto && doc == start && group >= 0 && start == gap;
        if (proto && doc == start && !grouped) {
            group = -1;
            continue;
        }
        group = proto ? (grouped ? group : doc) : -1;
        start = grouped ? group : doc;
        if (start < gap && !grouped) start = gap; /* two definitions on one line: the first */
        if (end > to) end = to;
        if (end <= start) continue;
        g = gap_of(scope, gap);
        ok = index_chunk_windows_def(c->l, c->t, gap, start, c->p, scope ? &g : NULL);
        if (ok)
            ok = def ? chunk_definition(c, ch, start, end, depth, scope)
                     : chunk_children(c, ch, start, end, depth + 1, scope);
        gap = end;
    }
    g = gap_of(scope, gap);
    return ok && index_chunk_windows_def(c->l, c->t, gap, to, c->p, scope ? &g : NULL);
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

TSTree *index_ts_parse(const TSLanguage *grammar, const char *text, size_t len) {
    TSParser *parser = grammar && len < UINT32_MAX ? ts_parser_new() : NULL;
    if (!parser) return NULL;
    TSTree *tree = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)PARSE_BUDGET;
    ts_source src = {text, (uint32_t)len};
    TSInput in = {&src, read_source, TSInputEncodingUTF8, NULL};
    if (ts_parser_set_language(parser, grammar))
        tree = ts_parser_parse_with_options(parser, NULL, in,
                                            (TSParseOptions){&deadline, over_budget});
    ts_parser_delete(parser);
    return tree;
}

bool index_chunk_definitions(chunk_list *l, const line_table *t, const char *language,
                             const index_chunk_params *p, bool *handled) {
    *handled = false;
    const lang_spec *lang = NULL;
    for (size_t i = 0; i < sizeof LANGS / sizeof *LANGS; i++)
        if (!strcmp(language, LANGS[i].name)) lang = &LANGS[i];
    if (!lang || t->len >= UINT32_MAX) return true;
    TSTree *tree = index_ts_parse(grammar_by_name(lang->name), t->text, t->len);
    if (!tree) return true; /* over the time budget: line windows will do */
    ts_chunker c = {lang, t, p, l};
    int32_t n0 = l->n;
    bool ok = chunk_children(&c, ts_tree_root_node(tree), 0, t->n, 0, NULL);
    ts_tree_delete(tree);
    if (!ok) { /* leave the list as we found it */
        for (int32_t i = n0; i < l->n; i++) {
            free(l->v[i].symbol);
            free(l->v[i].name);
            free(l->v[i].text);
        }
        l->n = n0;
    }
    *handled = ok;
    return ok;
}
