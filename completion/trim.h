/* Private to completion/: where a generated suggestion should end. Pure functions of text. */
#ifndef HEARTH_COMPLETION_TRIM_H
#define HEARTH_COMPLETION_TRIM_H

#include <stdbool.h>
#include <stddef.h>

/* An optional syntax oracle: does the document parse without a syntax error with text inserted at
 * the cursor? (completion/syntax.c answers with tree-sitter; tests may answer from a table.) */
typedef struct trim_oracle {
    bool (*parses)(struct trim_oracle *o, const char *text, size_t len);
} trim_oracle;

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
 * With a syntax oracle and nothing after the cursor on its line:
 * - when the document does not parse as it is (the cursor is inside an unfinished construct: an
 *   `if` without its body, an open object literal or call), the suggestion ends at the first line
 *   end where it parses — the block begun at the cursor is closed — whatever the indentation says;
 * - when it parses, a multi-line suggestion that would break it is cut back to its last line end
 *   that still parses.
 * final: text is the whole generation (else more may follow). */
trim_result completion_trim(const trim_context *c, const char *text, size_t len, bool final);
/* The same with a syntax oracle (syntax may be NULL: then it is completion_trim). */
trim_result completion_trim_syntax(const trim_context *c, trim_oracle *syntax, const char *text,
                                   size_t len, bool final);

/* ---- streaming ---- */

/* What completion_trim_stable remembers of the oracle's answers between calls on a growing text
 * (zero it before the first call). */
typedef struct {
    size_t checked; /* line ends below this were asked */
    size_t parsed;  /* the last of them where the document parses; 0 = none */
} trim_stable;

/* How many bytes of text — a suggestion still being generated, for which a non-final trim did
 * not report done — the final trim will keep whatever is generated after it: for every
 * continuation T' of text, completion_trim_syntax(c, syntax, T', final = true) keeps at least
 * this prefix. So the text can be shown while generation goes on and never needs taking back.
 * The first line grows as it is generated; later lines count once complete (and, when the
 * document parses, once it still parses after them). Ends at a UTF-8 boundary, never on a
 * blank. */
size_t completion_trim_stable(const trim_context *c, trim_oracle *syntax, trim_stable *st,
                              const char *text, size_t len);

/* A stream of partial suggestions (local and remote collectors): zero it first. */
typedef struct {
    trim_stable stable;
    size_t sent; /* bytes handed on so far */
} trim_stream;

/* After each generated piece: the length of text to hand on now (the stable part, when it grew
 * past what was sent), else 0. */
size_t completion_trim_stream(trim_stream *s, const trim_context *c, trim_oracle *syntax,
                              const char *text, size_t len);

/* ---- syntax.c: the tree-sitter oracle ---- */

typedef struct completion_syntax completion_syntax;
/* An oracle for the document around the cursor (prefix + suffix, as given to the request) in the
 * language of an LSP languageId; NULL when no grammar matches (or out of memory). Only the
 * top-level construct around the cursor is parsed, so a check costs about its size. */
completion_syntax *completion_syntax_new(const char *language_id, const char *prefix,
                                         size_t prefix_len, const char *suffix, size_t suffix_len);
trim_oracle *completion_syntax_oracle(completion_syntax *s);
void completion_syntax_free(completion_syntax *s);

#endif
