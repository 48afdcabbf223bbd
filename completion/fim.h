/* Private to completion/: FIM templates and prompt building. */
#ifndef HEARTH_COMPLETION_FIM_H
#define HEARTH_COMPLETION_FIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct {
    int32_t prefix, suffix, middle; /* token ids of the FIM markers */
} fim_template;

typedef struct {
    int32_t prefix_tokens, suffix_tokens;
} fim_budget;

typedef struct {
    int32_t *ids;
    int64_t n, cap;
} fim_prompt;

/* Finds the model's FIM marker tokens (parsed as special tokens). */
bool fim_template_find(const engine_model *m, fim_template *t, char *err, size_t errlen);
/* Builds the token prompt into out (reusing its buffer). */
bool fim_prompt_build(const engine_model *m, const fim_template *t, const fim_budget *b,
                      const char *prefix, size_t prefix_len, const char *suffix, size_t suffix_len,
                      fim_prompt *out, char *err, size_t errlen);

#endif
