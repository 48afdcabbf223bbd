/* completion: fill-in-the-middle code completion over engine/. This header is the only door.
 *
 * A completion_engine borrows one loaded model (runtime/'s registry shares it with other users)
 * and owns one context (KV cache; a second, smaller one when a prompt budget is set); it is used
 * by one thread at a time (the LSP worker, hearth serve's scheduler). It remembers the tokens of
 * its previous prompt so the next request evaluates only what changed after their longest common
 * prefix. It knows nothing of LSP or JSON:
 * callers hand it the text before and after the cursor. */
#ifndef HEARTH_COMPLETION_H
#define HEARTH_COMPLETION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "models.h"

typedef struct completion_engine completion_engine;

/* The defaults completion_params_init gives every front end (the LSP, /v1/fim), so the same
 * document and cursor get the same suggestion whichever asks.
 * The prompt budget (max_prompt_ms) trades context for time where the KV cache lacks much of the
 * prompt (a jump, a file just opened): the request uses smaller windows in the quick cache, and
 * the whole prompt is built beside it (completion_prefill: the LSP runs one right after such a
 * reply and at pauses); while the small prompt is ready a request takes the whole one only when
 * it is ready within 100 ms. Measured in Neovim (bench/RESULTS.md, "Resumed passes"), 500 ms
 * brings the default 1.5B model's first grey text after a jump or an open from 3-8 s to
 * 0.2-0.4 s on both kernel paths, with as many keys answered as without it; replies' prompts are
 * ~50 tokens until the whole prompt is built.
 * The generation cap (max_gen_ms): a suggestion still growing after this long is what was
 * certain by then (what streaming has shown), so a slow model or machine frees the worker for
 * the prefills of the next pause instead of finishing a long block nobody waits for. */
#define COMPLETION_MAX_PROMPT_MS 500
#define COMPLETION_MAX_GEN_MS    2000
#define COMPLETION_LOOKUP_DRAFT  6

typedef struct {
    int n_threads;     /* pool shares per round (engine.h "Threads"); 0 = physical cores */
    int n_ctx;         /* KV positions; 0 = 4096 */
    int prefix_tokens; /* budget for the text before the cursor; 0 = 1024 */
    int suffix_tokens; /* budget for the text after it; 0 = 256 */
    int max_tokens;    /* tokens generated at most; 0 = 64 */
    int max_lines;     /* lines offered at most; 0 = 8 */
    /* Prompt-lookup speculation: per step, up to this many tokens that followed an earlier
     * occurrence (in the prompt or the suggestion so far) of the last few tokens are verified in
     * one batch — the same suggestion, sooner when code repeats itself. 0 = off (the engine's
     * meaning too); completion_params_init sets COMPLETION_LOOKUP_DRAFT. */
    int lookup_draft;
    /* The settings below can change between requests (completion_set_params). */
    bool kv_reuse; /* keep the cache's common prefix (default); false = evaluate every prompt whole
                    */
    /* With kv_reuse: runs of 32+ prompt tokens the cache holds at other positions (the suffix
     * after a new line, the file after a cursor jump) move into place, keys turned to their new
     * positions (engine_kv_move), instead of being evaluated again (default). The moved entries
     * keep what their tokens saw at their old place: an approximation, measured in
     * bench/RESULTS.md. false = only the common prefix is kept. */
    bool kv_shift;
    /* The text of the cursor's line before the cursor goes after the middle marker (the model
     * continues it), so a keystroke inside a line re-evaluates only that line (default). false =
     * the classic layout with the whole prefix before the suffix. */
    bool line_in_middle;
    /* Prompt evaluation budget: when the measured prefill speed says the tokens the cache lacks
     * (neither kept nor moved) would take longer, the windows halve (up to 4 times) and the
     * prompt goes to a second, quick KV cache (made on first use, half the context), so the whole
     * prompt's cache is not evicted and completion_prefill can finish it at a pause; requests
     * take the whole prompt again once its cache lacks little enough (100 ms of evaluation while
     * the quick cache's prompt is ready, else the budget). A suggestion from the quick cache is
     * one line, generated for at most this long, and is not kept in the suggestion cache (asked
     * again, the whole prompt may answer). 0 = none; completion_params_init sets
     * COMPLETION_MAX_PROMPT_MS. */
    int max_prompt_ms;
    /* Tests: the prefill speed the budget assumes (tokens per ms), never measured, so its
     * decisions do not depend on the machine's load; 0 = measured. */
    double assumed_tokens_per_ms;
    /* Generation time cap: after this many ms of generating, the suggestion is the part of it
     * that was certain by then (what streaming has shown: the first line as far as it got, whole
     * lines after it). 0 = none; completion_params_init sets COMPLETION_MAX_GEN_MS. */
    int max_gen_ms;
    int context_tokens; /* budget for cross-file context; 0 = 512, < 0 = none */
    /* An OpenAI-compatible server for completion_run_remote (the caller owns it); NULL = local. */
    const models_backend *remote;
} completion_params;

/* Called between prompt chunks and generated pieces; true stops the request (it then reports
 * cancelled). */
typedef bool (*completion_cancel_fn)(void *user);

/* Streaming: the suggestion so far, text[0..len) (not NUL-terminated), each time the part of it
 * that is certain grows. It is what trimming keeps whatever is generated next, so every text is
 * a prefix of the next one and of the final result's text; whole UTF-8 characters. */
typedef void (*completion_partial_fn)(const char *text, size_t len, void *user);

/* Cross-file context: a piece of another buffer (recent edits, definitions near the cursor). */
typedef struct {
    const char *path; /* shown to the model with the text; may be NULL */
    const char *text;
    size_t len;
} completion_chunk;

typedef struct {
    const char *prefix; /* text before the cursor (UTF-8) */
    size_t prefix_len;
    const char *suffix; /* text after it */
    size_t suffix_len;
    completion_cancel_fn cancelled; /* may be NULL */
    void *user;                     /* for cancelled and partial */
    const char *path;               /* the document's path (for the prompt); may be NULL */
    const completion_chunk *chunks; /* cross-file context, least-changing first; may be NULL */
    int n_chunks;
    const char
        *language_id; /* LSP languageId: tree-sitter finds where suggestions end; may be NULL */
    /* May be NULL. Called on the calling thread while the model (or the remote server)
     * generates; not for answers from the cache, which are whole at once. */
    completion_partial_fn partial;
} completion_request;

typedef struct {
    char *text;          /* malloc'd, NUL-terminated; "" when there is nothing to offer */
    int32_t n_prompt;    /* tokens of the FIM prompt */
    int32_t n_reused;    /* of them, kept in the KV cache from the previous request */
    int32_t n_shifted;   /* of n_reused, moved to other positions (kv_shift) */
    int32_t n_refreshed; /* completion_prefill: moved entries evaluated again, exactly */
    bool stale; /* the cache used holds moved entries: a completion_prefill at a pause refreshes
                 * them */
    int32_t n_evaluated; /* of them, evaluated by this request */
    int32_t n_generated;
    int32_t n_drafted, n_draft_accepted; /* prompt-lookup tokens verified / kept */
    double prompt_ms, gen_ms;
    double first_token_ms; /* from the call to the first generated token (or the end) */
    double total_ms;       /* the whole call */
    int32_t n_chunks;      /* cross-file chunks that made it into the prompt */
    int32_t shrink; /* windows halved this many times to meet max_prompt_ms (the quick cache) */
    bool cached;    /* served from the completion cache (no model call) */
    bool capped;    /* generation stopped at max_gen_ms */
    bool cancelled;
    bool remote;       /* answered by completion_run_remote (no KV cache figures) */
    bool backend_down; /* remote: failed because the server gave no answer (or 5xx each time) */
} completion_result;

/* Defaults: every number 0 (= its default), kv_reuse, kv_shift and line_in_middle on. */
void completion_params_init(completion_params *p);
/* An engine over model (a code model with FIM tokens; borrowed: it must outlive the engine):
 * checks its FIM tokens and allocates the KV cache. */
completion_engine *completion_new(engine_model *model, const completion_params *p, char *err,
                                  size_t errlen);
/* Frees the context and caches; the model stays the caller's. */
void completion_free(completion_engine *e);
/* Applies the per-request settings of p (windows, limits, kv_reuse, layout, budget); model,
 * threads and context size stay as loaded. */
void completion_set_params(completion_engine *e, const completion_params *p);
/* Completes at the cursor between prefix and suffix. False (with a message) on engine errors. */
bool completion_run(completion_engine *e, const completion_request *r, completion_result *out,
                    char *err, size_t errlen);
void completion_result_free(completion_result *r);
/* Works ahead of a request: evaluates into the KV cache the prompt completion_run would build
 * for r (the same windows, cross-file context and layout), without generating, so a request at
 * the same cursor then evaluates only its last token and one nearby only what differs (with
 * line_in_middle: the cursor line's tokens). With max_prompt_ms, when a request now would get
 * shrunk windows, that small prompt goes into the quick cache first, then the whole prompt into
 * the whole one. After each, the entries kv_shift moved (approximations) are evaluated again in
 * place, exactly, 16 tokens at a time, so a prefill at a pause after a request that moved runs
 * (out->stale) makes the cache exact again. Stops when r->cancelled says so (asked between
 * chunks and between layers); what it evaluated stays reusable by the next request. out gets
 * n_prompt, n_reused, n_shifted, n_refreshed, n_chunks and stale of the last cache it filled,
 * n_evaluated of both, shrink of the quick prompt, prompt_ms = total_ms and cancelled (text stays
 * NULL). Does nothing with kv_reuse off. False (with a message) on engine errors. */
bool completion_prefill(completion_engine *e, const completion_request *r, completion_result *out,
                        char *err, size_t errlen);

/* Completes through p->remote with the same prompt layout as the local path, sent as text to
 * {base_url}/completions (greedy, max_tokens, stop at the FIM markers), the streamed text trimmed
 * like local suggestions. No model is needed. On failure the message names the URL and
 * out->backend_down says whether the server was unreachable (the caller may then fall back to a
 * local engine). */
bool completion_run_remote(const completion_params *p, const completion_request *r,
                           completion_result *out, char *err, size_t errlen);

/* ---- cross-file context by text and tree-sitter trees (pure functions; callers own the
 * buffers) ---- */

/* Whole lines around byte `at` of text (about a third of the room before it), at most max_bytes:
 * [*start, *end). */
void completion_region(const char *text, size_t len, size_t at, size_t max_bytes, size_t *start,
                       size_t *end);
/* Distinct identifiers of 3+ characters in text (keywords left out), in order of appearance, into
 * out (NUL-terminated); returns how many (at most max). */
int completion_identifiers(const char *text, size_t len, char out[][64], int max);
/* The first definition of ident in text — a line with def/class/function/fn/func/struct/type/
 * enum/const/let/var/#define before the name, or a C-style "type name(" — and the lines after it
 * up to a blank line, at most max_bytes: [*start, *end). False when there is none. */
bool completion_find_definition(const char *text, size_t len, const char *ident, size_t max_bytes,
                                size_t *start, size_t *end);
/* The same found in text's tree-sitter tree (any of the grammars of lsp/syntax.c): a function,
 * method, class, struct, enum, trait or type named ident, outside function bodies — its
 * signature (through the line where its body begins) for callables, the whole definition for
 * types when it fits, with the comments just above it — at most max_bytes. False when there is
 * none (or the tree is NULL or not of text). */
typedef struct TSTree TSTree;
bool completion_find_definition_tree(const TSTree *tree, const char *text, size_t len,
                                     const char *ident, size_t max_bytes, size_t *start,
                                     size_t *end);
/* The signatures (as above, without comments) of the functions and classes around byte at of
 * text, outermost first, at most max, each at most max_bytes: [starts[i], ends[i]). Returns how
 * many; 0 without a tree. */
int completion_enclosing_signatures(const TSTree *tree, const char *text, size_t len, size_t at,
                                    size_t max_bytes, size_t starts[], size_t ends[], int max);

/* ---- the cross-file context policy (one for the LSP's buffers and the HTTP API's files) ---- */

/* A document the caller has besides the one being completed (or that one itself). */
typedef struct {
    const char
        *path; /* a file path, shown to the model with the chunks taken from it; may be NULL */
    const char *text;
    size_t len;
    const TSTree *tree;      /* its tree-sitter tree, or NULL (definitions then found by text) */
    const char *language_id; /* LSP languageId (completion_gather_parsed); NULL = by path */
    uint64_t touched;        /* when it was last opened or edited, on any increasing clock */
    size_t last_edit;        /* byte offset of its latest edit (0 when never edited) */
} completion_doc;

/* Chunks completion_gather returns at most. */
#define COMPLETION_CONTEXT_CHUNKS 8

/* The cross-file context for a cursor at byte `cursor` of self, from the other documents
 * docs[0..n_docs) (self not among them), least-changing first, into out[0..max):
 * 1. the region (1 KiB of whole lines) around the latest edit of each of the 3 most recently
 *    touched documents, oldest first;
 * 2. the signatures of up to 2 functions/classes enclosing the cursor (self's tree) that start
 *    more than 4 KiB above it, outermost first;
 * 3. up to 3 definitions (480 bytes at most each; by tree, else by text) of the identifiers on
 *    the 8 lines above the cursor's line, each taken from the first document in docs' order that
 *    defines it, unless a ring region already shows it.
 * Chunks point into the documents' paths and texts (valid while those are). Returns how many. */
int completion_gather(const completion_doc *self, size_t cursor, const completion_doc *docs,
                      int n_docs, completion_chunk *out, int max);
/* The same for callers without syntax trees: self and each document whose tree is NULL are
 * parsed first with the grammar of their language_id (else of their path's extension), so the
 * chunks are those of an editor that has the same files open. */
int completion_gather_parsed(const completion_doc *self, size_t cursor, const completion_doc *docs,
                             int n_docs, completion_chunk *out, int max);

/* ---- tree-sitter grammars (one table for lsp/ and completion/) ---- */

typedef struct TSLanguage TSLanguage;
/* The grammar of an LSP languageId (c, cpp, python, javascript[react], typescript[react], go,
 * rust, java, lua, shellscript/sh/bash, json/jsonc) and its name in *grammar (may be NULL);
 * NULL when none. */
const TSLanguage *completion_language(const char *language_id, const char **grammar);
/* The languageId editors give a file, by its path's extension; NULL when unknown. */
const char *completion_language_for_path(const char *path);
/* False (with a message) when a grammar's ABI is not one the tree-sitter runtime reads. */
bool completion_languages_check(char *err, size_t errlen);
/* A new tree of text in language_id's grammar (ts_tree_delete it); NULL when there is no grammar
 * or text is over COMPLETION_PARSE_MAX_BYTES. */
#define COMPLETION_PARSE_MAX_BYTES ((size_t)4 << 20)
TSTree *completion_parse(const char *language_id, const char *text, size_t len);

/* ---- the FIM prompt for callers that evaluate it themselves ---- */

/* Whether m has the FIM tokens of a family completion/ knows (else false with a message). */
bool completion_fim_supported(const engine_model *m, char *err, size_t errlen);

/* The token prompt completion_run would build for r with m's FIM family (markers, order, BOS,
 * repo-level form with r->chunks), with p's windows (prefix_tokens, suffix_tokens,
 * context_tokens: 0 = their defaults) and layout (line_in_middle), not fitted to a context size.
 * *ids is malloc'd (the caller frees it). False with a message when m has no FIM tokens. */
bool completion_prompt_tokens(const engine_model *m, const completion_params *p,
                              const completion_request *r, int32_t **ids, int64_t *n_ids, char *err,
                              size_t errlen);

#endif
