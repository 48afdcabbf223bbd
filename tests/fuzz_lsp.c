/* libFuzzer target: bytes from a client -> framing -> JSON-RPC -> dispatch (lifecycle, documents,
 * positions, tree-sitter edits), on a server without streams. */
#include <stddef.h>
#include <stdint.h>

#include "lsp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[LSP_ERR_LEN];
    lsp_server *s = lsp_server_new_detached(err, sizeof err);
    if (!s) return 0;
    /* Two pushes, so frames split across reads are exercised too. */
    size_t half = size / 2;
    lsp_server_feed(s, (const char *)data, half);
    lsp_server_feed(s, (const char *)data + half, size - half);
    lsp_server_free_detached(s);
    return 0;
}
