/* Private to completion/: where a generated suggestion should end. Pure functions of text. */
#ifndef HEARTH_COMPLETION_TRIM_H
#define HEARTH_COMPLETION_TRIM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *line_before; /* the cursor line before the cursor */
    size_t line_before_len;
    const char *suffix; /* the text after the cursor (its first line is the rest of the line) */
    size_t suffix_len;
    int max_lines; /* lines offered at most (0 = no limit) */
} trim_context;

typedef struct {
    size_t keep; /* bytes of the generated text to offer */
    bool done;   /* a stopping point was found: generating more cannot change keep */
} trim_result;

/* Decides how much of text (generated so far, possibly incomplete) to offer:
 * - inside an expression (text before the cursor on its line that opens no block, or text after
 *   the cursor on the line): one line;
 * - after a block opener ({ : ( [ =>, do, then) or on a blank line: lines until the block begun
 *   there ends (indentation back to the cursor line's, a closing bracket line included when the
 *   suffix does not already close it), or a blank line when the cursor line was blank;
 * - text repeating the suffix is dropped (the rest of the line, the next line);
 * - a closing bracket that closes nothing opened on the line or in the suggestion ends it, and
 *   a single-line suggestion does not leave brackets open that the line does not close;
 * - trailing blanks are dropped; whitespace alone is nothing.
 * final: text is the whole generation (else more may follow). */
trim_result completion_trim(const trim_context *c, const char *text, size_t len, bool final);

#endif
