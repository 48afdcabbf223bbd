/* lsp: hearth's Language Server Protocol server. This header is the only door into lsp/.
 *
 * One libuv loop owns all I/O and LSP state (documents, tree-sitter trees, in-flight requests);
 * it never blocks on inference: model loading and completion run on one worker thread and come
 * back through uv_async. JSON is jansson's. Nothing a client sends can crash the server: framing
 * and JSON-RPC errors are answered as JSON-RPC errors and the server keeps serving. */
#ifndef HEARTH_LSP_H
#define HEARTH_LSP_H

#include <stdbool.h>
#include <stddef.h>

#define LSP_ERR_LEN 512

/* Settings that can also arrive in initializationOptions (which then win). */
typedef struct {
    /* Models: a path, a file in the models dir or a catalogue name (runtime_resolve). */
    const char *completion_model; /* NULL = no completion until a client gives one */
    int n_threads;                /* engine threads; 0 = physical cores */
    int n_ctx;                    /* completion context positions; 0 = 4096 */
    bool no_kv_reuse;             /* evaluate every completion prompt whole (benchmarks) */
    bool no_kv_shift;             /* keep only the cache's common prefix (kvShift false) */
    bool classic_layout;          /* FIM prompt with the cursor line before the suffix */
    bool no_prefill_ahead;        /* no prompt evaluation ahead of requests (open, newline, idle) */
    int max_prompt_ms;            /* prompt evaluation budget; 0 = none (default: completion/'s) */
    int max_tokens;               /* tokens generated at most; 0 = 64 */
    int max_gen_ms;               /* generation time cap; 0 = none (default: completion/'s) */
    int lookup_draft;             /* prompt-lookup tokens verified per step; 0 = off (init: 6) */
    int context_tokens;           /* cross-file context budget; 0 = 512, -1 = none */
    const char *chat_model;       /* hearth.ask's chat model; loaded on the first question */
    const char *embedding_model;  /* for hearth.index/ask; NULL = the index's own (or lexical) */
    int chat_idle_s;              /* unload the chat model after this idle time; 0 = 300 s */
} lsp_options;

void lsp_options_init(lsp_options *o);

/* Checks that every compiled-in tree-sitter grammar has an ABI this runtime reads. */
bool lsp_syntax_check(char *err, size_t errlen);

/* Serves LSP on in_fd/out_fd (pipes or terminals) until the client sends `exit` or closes its end.
 * Returns the process exit status the spec asks for (0 after shutdown + exit, else 1), or -1 with
 * a message when the server could not start. */
int lsp_server_run(const lsp_options *opt, int in_fd, int out_fd, char *err, size_t errlen);

#endif
