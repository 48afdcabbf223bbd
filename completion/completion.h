/* completion: fill-in-the-middle code completion over engine/. This header is the only door.
 *
 * A completion_engine owns one model and one context (KV cache) and is used by one thread at a
 * time (the LSP worker). It remembers the tokens of its previous prompt so the next request
 * evaluates only what changed after their longest common prefix. It knows nothing of LSP or JSON:
 * callers hand it the text before and after the cursor. */
#ifndef HEARTH_COMPLETION_H
#define HEARTH_COMPLETION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct completion_engine completion_engine;

typedef struct {
    const char *model_path; /* GGUF of a code model with FIM tokens (Qwen2.5-Coder today) */
    int n_threads;          /* 0 = physical cores */
    int n_ctx;              /* KV positions; 0 = 4096 */
    int prefix_tokens;      /* budget for the text before the cursor; 0 = 1024 */
    int suffix_tokens;      /* budget for the text after it; 0 = 256 */
    int max_tokens;         /* tokens generated at most; 0 = 64 */
    int max_lines;          /* lines offered at most; 0 = 8 */
} completion_params;

/* Called between generated pieces; true stops the request (it then reports cancelled). */
typedef bool (*completion_cancel_fn)(void *user);

typedef struct {
    const char *prefix; /* text before the cursor (UTF-8) */
    size_t prefix_len;
    const char *suffix; /* text after it */
    size_t suffix_len;
    completion_cancel_fn cancelled; /* may be NULL */
    void *user;
} completion_request;

typedef struct {
    char *text;          /* malloc'd, NUL-terminated; "" when there is nothing to offer */
    int32_t n_prompt;    /* tokens of the FIM prompt */
    int32_t n_reused;    /* of them, kept in the KV cache from the previous request */
    int32_t n_evaluated; /* of them, evaluated by this request */
    int32_t n_generated;
    double prompt_ms, gen_ms;
    bool cancelled;
} completion_result;

void completion_params_init(completion_params *p);
/* Loads the model (seconds for big ones: call it off the event loop) and checks its FIM tokens. */
completion_engine *completion_new(const completion_params *p, char *err, size_t errlen);
void completion_free(completion_engine *e);
/* Completes at the cursor between prefix and suffix. False (with a message) on engine errors. */
bool completion_run(completion_engine *e, const completion_request *r, completion_result *out,
                    char *err, size_t errlen);
void completion_result_free(completion_result *r);

#endif
