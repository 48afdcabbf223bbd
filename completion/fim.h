/* Private to completion/: FIM templates by model family and prompt building. */
#ifndef HEARTH_COMPLETION_FIM_H
#define HEARTH_COMPLETION_FIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef enum {
    FIM_QWEN,
    FIM_STARCODER,
    FIM_DEEPSEEK,
    FIM_CODELLAMA,
    FIM_CODESTRAL,
    FIM_GENERIC
} fim_family;

typedef struct {
    fim_family family;
    const char *name;               /* "Qwen2.5-Coder", ... for messages and tests */
    int32_t prefix, suffix, middle; /* marker ids; middle is -1 for Codestral */
    int32_t repo, file_sep;         /* repo-level markers, -1 when the family has none */
    bool spm;                       /* suffix first, then prefix (Codestral) */
    bool bos;                       /* the prompt starts with BOS */
} fim_template;

/* Cross-file context: text from another buffer, shown with its path. */
typedef struct {
    const char *path; /* may be NULL */
    const char *text;
    size_t len;
} fim_chunk;

typedef struct {
    const char *prefix; /* the text before the cursor */
    size_t prefix_len;
    const char *suffix; /* the text after it */
    size_t suffix_len;
    const char *path;        /* the cursor's file (repo-level form, context headers); may be NULL */
    const fim_chunk *chunks; /* cross-file context, least-changing first */
    int n_chunks;
} fim_input;

typedef struct {
    int32_t prefix_tokens, suffix_tokens, context_tokens;
    bool line_in_middle; /* the cursor line's text before the cursor goes after the middle marker */
} fim_budget;

typedef struct {
    int32_t *ids;
    int64_t n, cap;
    int32_t n_chunks; /* cross-file chunks that fitted the budget */
} fim_prompt;

/* Picks the model's FIM family from its marker tokens (GGUF ids, else token texts); fails with a
 * message naming the model when none matches. */
bool completion_fim_template_find(const engine_model *m, fim_template *t, char *err, size_t errlen);
/* Builds the token prompt into out (reusing its buffer). Layout (PSM families):
 *   [BOS] [context] PRE head SUF suffix MID line
 * where head is the prefix window up to the start of the cursor's line and line the text of that
 * line before the cursor (with line_in_middle; else line is empty and head runs to the cursor).
 * Codestral (SPM): [BOS] SUF suffix PRE [context] head line. The head window starts at a line
 * whose index (from the start of prefix) is a multiple of FIM_ANCHOR_LINES, so it stays put while
 * the user types. */
#define FIM_ANCHOR_LINES 16
bool completion_fim_prompt_build(const engine_model *m, const fim_template *t, const fim_budget *b,
                                 const fim_input *in, fim_prompt *out, char *err, size_t errlen);

/* The text windows, shared with the remote (text) prompt: where the head window of the last
 * max_bytes of p starts (an anchor line if one fits, else a line start, else a character
 * boundary), and where the suffix window of its first max_bytes ends (a line end if any). */
size_t completion_fim_head_start(const char *p, size_t n, size_t max_bytes);
size_t completion_fim_suffix_end(const char *p, size_t n, size_t max_bytes);
bool completion_fim_is_cont(unsigned char c); /* a UTF-8 continuation byte */

#endif
