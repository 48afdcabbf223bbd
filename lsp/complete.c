/* Completion requests (stub until completion/ lands). */
#include <stdlib.h>

#include "internal.h"

struct lsp_worker {
    int unused;
};

lsp_worker *lsp_worker_new(void) { return calloc(1, sizeof(lsp_worker)); }
void lsp_worker_free(lsp_worker *w) { free(w); }
void lsp_complete_configure(lsp_server *s, json_t *init_options) {
    (void)s, (void)init_options;
}

const lsp_method lsp_complete_methods[] = {
    {NULL, NULL, false},
};
