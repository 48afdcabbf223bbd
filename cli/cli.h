/* Shared helpers of the hearth subcommands. */
#ifndef HEARTH_CLI_H
#define HEARTH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* Prints "hearth: <what>: <why>" on stderr; returns 1 (the exit status). */
int cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses an integer/float option value; false (after printing an error) if malformed/out of range.
 */
bool cli_int(const char *opt, const char *s, long lo, long hi, long *out);
/* --kv-type f16|f32|q8_0: the KV-cache element type; false (with a message) on anything else. */
bool cli_kv_type(const char *opt, const char *s, engine_kv_type *out);
bool cli_float(const char *opt, const char *s, double lo, double hi, double *out);
/* A line typed by the user (malloc'd, without its newline), NULL at the end of input. On a
 * terminal: the prompt, and line editing with history when built with libedit. */
char *cli_read_line(const char *prompt, bool terminal);
/* Reads a whole file (NUL-terminated; *len excludes the NUL). NULL + error printed on failure. */
char *cli_read_file(const char *path, size_t *len);
/* Monotonic wall time in seconds. */
double cli_now_s(void);

/* A one-line progress display on stderr for waits longer than a moment: shown only when stderr
 * is a terminal (redrawn in place, at most every 0.1 s), nothing at all otherwise. */
typedef struct {
    bool tty, drawn;
    double last;
} cli_progress;
void cli_progress_init(cli_progress *p);
/* Redraws the line (printf-style), unless the last redraw was under 0.1 s ago. */
void cli_progress_show(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the line (before other output, and at the end). */
void cli_progress_clear(cli_progress *p);
/* Loads a model (a path, a catalogue name or a file in the models dir: models_resolve) after
 * checking that weights + KV cache at the default context fit in MemAvailable; prints the error
 * on failure. */
engine_model *cli_load_model(const char *path);
/* The same, checking the fit at n_ctx positions (the -c option; 0 = the engine's default). */
engine_model *cli_load_model_ctx(const char *path, long n_ctx);
/* The same without the memory check (for describing a model, not running it). */
engine_model *cli_open_model(const char *path);
/* True when the model's file + KV cache at n_ctx positions (0 = the engine's default) fit in
 * MemAvailable; otherwise prints by how much it does not (an error, or a warning when
 * HEARTH_IGNORE_MEMORY is set) and returns false for the error. */
bool cli_check_fit(const engine_model *m, const char *path, int32_t n_ctx);
/* Loads only a file's tokenizer (works on vocab-only GGUFs). */
engine_model *cli_load_vocab(const char *path);
/* Tokenizes text; returns a malloc'd array and sets *n, or NULL after printing an error. */
int32_t *cli_tokenize(const engine_model *m, const char *text, size_t len, bool add_special,
                      bool parse_special, int64_t *n);

/* A draft model for speculative decoding (cli/draft.c): `spec` is what engine_generate_draft
 * takes. cli_draft_open loads it, checks its vocabulary against the target's and gives it a
 * context as large as the target context; false after printing the error. */
typedef struct {
    engine_model *model;
    engine_ctx *ctx;
    engine_draft spec;
} cli_draft;
bool cli_draft_open(cli_draft *d, const char *path, int32_t n_draft, const engine_model *target,
                    const engine_ctx *target_ctx, int32_t threads);
void cli_draft_close(cli_draft *d);

int cmd_run(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_lsp(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_rm(int argc, char **argv);

#endif
