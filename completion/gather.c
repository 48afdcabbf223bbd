/* The cross-file context policy, one for every front end (the LSP's open buffers, an HTTP
 * request's extra files): regions around the latest edits of the most recently touched other
 * documents, the signatures of the functions/classes around the cursor when they lie too far
 * above for the prefix window, then definitions (in the other documents, found in their
 * tree-sitter trees, else by text) of identifiers on the lines above the cursor's. Ordered
 * least-changing first; the cursor's own line is left out so typing does not change them. */
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "completion.h"

#define RING_DOCS        3
#define RING_BYTES       1024
#define DEF_CHUNKS       3
#define DEF_BYTES        480
#define DEF_LINES_ABOVE  8
#define MAX_IDENTS       12
#define ENCLOSING_CHUNKS 2
#define ENCLOSING_FAR    4096 /* bytes above the cursor: beyond what the prefix window shows */

_Static_assert(RING_DOCS + ENCLOSING_CHUNKS + DEF_CHUNKS == COMPLETION_CONTEXT_CHUNKS,
               "the chunk count the header promises");

typedef struct {
    completion_chunk *out;
    int n, max;
} chunks;

static bool add(chunks *c, const completion_doc *d, size_t start, size_t end) {
    if (c->n == c->max || end <= start) return false;
    c->out[c->n++] = (completion_chunk){d->path, d->text + start, end - start};
    return true;
}

/* The other documents touched most recently, oldest of them first (at most RING_DOCS). */
static int recent_docs(const completion_doc *docs, int n_docs, const completion_doc **out) {
    int n = 0;
    for (int i = 0; i < n_docs; i++) {
        const completion_doc *d = &docs[i];
        int at = n < RING_DOCS ? n++ : RING_DOCS;
        if (at == RING_DOCS) { /* full: replace the oldest if this one is newer */
            int old = 0;
            for (int k = 1; k < n; k++)
                if (out[k]->touched < out[old]->touched) old = k;
            if (d->touched <= out[old]->touched) continue;
            at = old;
        }
        out[at] = d;
    }
    for (int i = 1; i < n; i++) /* insertion sort by touched, ascending */
        for (int k = i; k > 0 && out[k]->touched < out[k - 1]->touched; k--) {
            const completion_doc *t = out[k];
            out[k] = out[k - 1], out[k - 1] = t;
        }
    return n;
}

static bool same_path(const char *a, const char *b) {
    return a == b || (a && b && !strcmp(a, b));
}

/* Definitions of identifiers on the lines above the cursor's, first found in docs' order. */
static void add_definitions(chunks *c, const completion_doc *self, size_t cursor,
                            const completion_doc *docs, int n_docs) {
    size_t line = cursor; /* the lines above the cursor's line */
    while (line > 0 && self->text[line - 1] != '\n') line--;
    size_t from = line;
    for (int k = 0; k <= DEF_LINES_ABOVE && from > 0; k++) {
        from--;
        while (from > 0 && self->text[from - 1] != '\n') from--;
    }
    char idents[MAX_IDENTS][64];
    int ni = completion_identifiers(self->text + from, line - from, idents, MAX_IDENTS);
    int defs = 0;
    for (int i = 0; i < ni && defs < DEF_CHUNKS; i++)
        for (int k = 0; k < n_docs; k++) {
            const completion_doc *o = &docs[k];
            size_t a, b;
            if (!(o->tree
                      ? completion_find_definition_tree(o->tree, o->text, o->len, idents[i],
                                                        DEF_BYTES, &a, &b)
                      : completion_find_definition(o->text, o->len, idents[i], DEF_BYTES, &a, &b)))
                continue;
            bool dup = false; /* already shown by a ring chunk */
            for (int q = 0; q < c->n && !dup; q++)
                dup = same_path(c->out[q].path, o->path) &&
                      memmem(c->out[q].text, c->out[q].len, o->text + a, b - a);
            if (!dup && add(c, o, a, b)) defs++;
            break;
        }
}

int completion_gather(const completion_doc *self, size_t cursor, const completion_doc *docs,
                      int n_docs, completion_chunk *out, int max) {
    chunks c = {out, 0, max};
    if (cursor > self->len) cursor = self->len;
    const completion_doc *recent[RING_DOCS];
    int n = recent_docs(docs, n_docs, recent);
    for (int i = 0; i < n; i++) {
        size_t a, b;
        completion_region(recent[i]->text, recent[i]->len, recent[i]->last_edit, RING_BYTES, &a,
                          &b);
        add(&c, recent[i], a, b);
    }
    size_t es[ENCLOSING_CHUNKS], ee[ENCLOSING_CHUNKS];
    int ne = completion_enclosing_signatures(self->tree, self->text, self->len, cursor, DEF_BYTES,
                                             es, ee, ENCLOSING_CHUNKS);
    for (int i = 0; i < ne; i++)
        if (es[i] + ENCLOSING_FAR < cursor) add(&c, self, es[i], ee[i]);
    add_definitions(&c, self, cursor, docs, n_docs);
    return c.n;
}

int completion_gather_parsed(const completion_doc *self, size_t cursor, const completion_doc *docs,
                             int n_docs, completion_chunk *out, int max) {
    completion_doc me = *self;
    completion_doc *others = n_docs > 0 ? malloc((size_t)n_docs * sizeof *others) : NULL;
    if (n_docs > 0 && !others) n_docs = 0; /* out of memory: no other documents */
    if (!me.tree)
        me.tree = completion_parse(me.language_id ? me.language_id
                                                  : completion_language_for_path(me.path),
                                   me.text, me.len);
    for (int i = 0; i < n_docs; i++) {
        others[i] = docs[i];
        if (!others[i].tree)
            others[i].tree =
                completion_parse(docs[i].language_id ? docs[i].language_id
                                                     : completion_language_for_path(docs[i].path),
                                 docs[i].text, docs[i].len);
    }
    int n = completion_gather(&me, cursor, others, n_docs, out, max);
    for (int i = 0; i < n_docs; i++)
        if (others[i].tree != docs[i].tree) ts_tree_delete((TSTree *)others[i].tree);
    if (me.tree != self->tree) ts_tree_delete((TSTree *)me.tree);
    free(others);
    return n;
}
