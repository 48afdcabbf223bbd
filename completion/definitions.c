/* Definitions of an identifier found in a buffer's tree-sitter tree: the node types that define
 * names across the grammars we ship (functions, methods, classes, structs, types, traits), the
 * name found through the grammar's fields, the doc comments just above kept with it. */
#include <string.h>
#include <tree_sitter/api.h>

#include "completion.h"

#define MAX_DEPTH 64 /* nesting searched (classes in modules in namespaces ...) */

/* Definitions of callables: only their signature is shown. */
static const char *const FUNCTIONS[] = {"function_definition",
                                        "function_declaration",
                                        "function_item",
                                        "method_definition",
                                        "method_declaration",
                                        "function_signature",
                                        "method_signature",
                                        "function_signature_item",
                                        "generator_function_declaration",
                                        "constructor_declaration",
                                        NULL};
/* Definitions of types: shown whole when they fit, else their first line(s). */
static const char *const TYPES[] = {"class_definition",
                                    "class_declaration",
                                    "class_specifier",
                                    "struct_specifier",
                                    "union_specifier",
                                    "enum_specifier",
                                    "type_definition",
                                    "struct_item",
                                    "enum_item",
                                    "union_item",
                                    "trait_item",
                                    "type_item",
                                    "type_spec",
                                    "interface_declaration",
                                    "type_alias_declaration",
                                    "enum_declaration",
                                    "abstract_class_declaration",
                                    NULL};

static bool is_one_of(const char *type, const char *const *set) {
    for (; *set; set++)
        if (!strcmp(type, *set)) return true;
    return false;
}

/* The identifier a definition names: its "name" field, or for C-like functions the innermost
 * "declarator" (through pointer and function declarators). */
static TSNode name_of(TSNode n) {
    TSNode name = ts_node_child_by_field_name(n, "name", 4);
    if (!ts_node_is_null(name)) return name;
    TSNode d = ts_node_child_by_field_name(n, "declarator", 10);
    for (int i = 0; i < 8 && !ts_node_is_null(d); i++) {
        TSNode inner = ts_node_child_by_field_name(d, "declarator", 10);
        if (ts_node_is_null(inner)) return d;
        d = inner;
    }
    return d;
}

static bool names(TSNode n, const char *text, size_t len, const char *ident) {
    TSNode name = name_of(n);
    if (ts_node_is_null(name)) return false;
    size_t a = ts_node_start_byte(name), b = ts_node_end_byte(name), k = strlen(ident);
    return b <= len && b - a == k && !memcmp(text + a, ident, k);
}

static size_t line_start(const char *t, size_t at) {
    while (at > 0 && t[at - 1] != '\n') at--;
    return at;
}

static size_t line_end(const char *t, size_t len, size_t at) {
    const char *nl = memchr(t + at, '\n', len - at);
    return nl ? (size_t)(nl - t) + 1 : len;
}

/* Comments directly above n (no blank line between) belong to it. */
static size_t with_docs(TSNode n, const char *text) {
    size_t start = line_start(text, ts_node_start_byte(n));
    /* a wrapper on the same line (export, decorator, Go's type declaration) holds the comments */
    for (TSNode p = ts_node_parent(n); !ts_node_is_null(p) && !ts_node_is_null(ts_node_parent(p)) &&
                                       line_start(text, ts_node_start_byte(p)) == start;
         p = ts_node_parent(p))
        n = p;
    for (TSNode p = ts_node_prev_named_sibling(n); !ts_node_is_null(p);
         p = ts_node_prev_named_sibling(p)) {
        if (!strstr(ts_node_type(p), "comment")) break;
        size_t e = ts_node_end_byte(p);
        if (e + 1 < start && (start - e > 2 || text[e] != '\n')) break; /* a gap */
        start = line_start(text, ts_node_start_byte(p));
    }
    return start;
}

/* The signature: from the definition's start through the line where its body begins. */
static size_t signature_end(TSNode n, const char *text, size_t len) {
    TSNode value = ts_node_child_by_field_name(n, "value", 5); /* const f = (x) => {...} */
    TSNode body = ts_node_child_by_field_name(ts_node_is_null(value) ? n : value, "body", 4);
    size_t end = ts_node_end_byte(n);
    if (ts_node_is_null(body)) return line_end(text, len, end > 0 ? end - 1 : 0);
    size_t b = ts_node_start_byte(body);
    while (b > ts_node_start_byte(n) && (text[b - 1] == ' ' || text[b - 1] == '\t' ||
                                         text[b - 1] == '\n' || text[b - 1] == '\r'))
        b--;
    return line_end(text, len, b > 0 ? b - 1 : 0);
}

/* A JS/TS variable whose value is a function: a definition of it. */
static bool function_variable(TSNode n) {
    if (strcmp(ts_node_type(n), "variable_declarator")) return false;
    TSNode v = ts_node_child_by_field_name(n, "value", 5);
    if (ts_node_is_null(v)) return false;
    const char *t = ts_node_type(v);
    return !strcmp(t, "arrow_function") || !strcmp(t, "function_expression") ||
           !strcmp(t, "function");
}

/* Whether n defines ident: then [*start, *end) is what to show of it. */
static bool defines(TSNode n, bool fn, const char *text, size_t len, const char *ident,
                    size_t max_bytes, size_t *start, size_t *end) {
    if (!names(n, text, len, ident)) return false;
    size_t s = with_docs(n, text), whole = line_end(text, len, ts_node_end_byte(n) - 1);
    size_t e = !fn && whole - s <= max_bytes ? whole : signature_end(n, text, len);
    if (e - s > max_bytes) s = line_start(text, ts_node_start_byte(n)); /* without docs */
    if (e - s > max_bytes) return false;
    *start = s, *end = e;
    return true;
}

/* Depth first in document order; the insides of functions are not searched (their local
 * definitions are not what other files use). */
static bool find(TSTreeCursor *c, const char *text, size_t len, const char *ident, size_t max_bytes,
                 size_t *start, size_t *end) {
    int depth = 0;
    for (;;) {
        TSNode n = ts_tree_cursor_current_node(c);
        const char *type = ts_node_type(n);
        bool fn = is_one_of(type, FUNCTIONS) || function_variable(n),
             ty = !fn && is_one_of(type, TYPES);
        if ((fn || ty) && defines(n, fn, text, len, ident, max_bytes, start, end)) return true;
        if (!fn && depth < MAX_DEPTH && ts_tree_cursor_goto_first_child(c)) {
            depth++;
            continue;
        }
        while (!ts_tree_cursor_goto_next_sibling(c)) {
            if (depth == 0 || !ts_tree_cursor_goto_parent(c)) return false;
            depth--;
        }
    }
}

bool completion_find_definition_tree(const TSTree *tree, const char *text, size_t len,
                                     const char *ident, size_t max_bytes, size_t *start,
                                     size_t *end) {
    if (!tree || !ident[0]) return false;
    TSNode root = ts_tree_root_node(tree);
    if (ts_node_end_byte(root) > len) return false; /* a tree of another text */
    TSTreeCursor c = ts_tree_cursor_new(root);
    bool found = find(&c, text, len, ident, max_bytes, start, end);
    ts_tree_cursor_delete(&c);
    return found;
}

int completion_enclosing_signatures(const TSTree *tree, const char *text, size_t len, size_t at,
                                    size_t max_bytes, size_t starts[], size_t ends[], int max) {
    if (!tree || max <= 0) return 0;
    TSNode root = ts_tree_root_node(tree);
    if (ts_node_end_byte(root) > len || at > len) return 0;
    TSNode n = ts_node_descendant_for_byte_range(root, (uint32_t)at, (uint32_t)at);
    int k = 0;
    /* innermost first while climbing; reversed below so the outermost comes first */
    for (; !ts_node_is_null(n) && k < max; n = ts_node_parent(n)) {
        const char *type = ts_node_type(n);
        if (!is_one_of(type, FUNCTIONS) && !is_one_of(type, TYPES) && !function_variable(n))
            continue;
        size_t s = line_start(text, ts_node_start_byte(n)), e = signature_end(n, text, len);
        if (e > at || e - s > max_bytes) continue; /* the cursor is in the signature itself */
        starts[k] = s, ends[k] = e, k++;
    }
    for (int i = 0; i < k / 2; i++) {
        size_t ts = starts[i], te = ends[i];
        starts[i] = starts[k - 1 - i], ends[i] = ends[k - 1 - i];
        starts[k - 1 - i] = ts, ends[k - 1 - i] = te;
    }
    return k;
}
