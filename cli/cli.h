/* Shared helpers of the hearth subcommands. */
#ifndef HEARTH_CLI_H
#define HEARTH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* Prints "hearth: <what>: <why>" on stderr; returns 1 (the exit status). */
int cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Value of option argv[*i] (advancing *i), or NULL after printing an error. */
const char *cli_value(int argc, char **argv, int *i);
/* Parses an integer/float option value; false (after printing an error) if malformed/out of range.
 */
bool cli_int(const char *opt, const char *s, long lo, long hi, long *out);
bool cli_float(const char *opt, const char *s, double lo, double hi, double *out);
/* Reads a whole file (NUL-terminated; *len excludes the NUL). NULL + error printed on failure. */
char *cli_read_file(const char *path, size_t *len);
/* Monotonic wall time in seconds. */
double cli_now_s(void);
/* Loads a model, printing the error on failure. */
engine_model *cli_load_model(const char *path);
/* Loads only a file's tokenizer (works on vocab-only GGUFs). */
engine_model *cli_load_vocab(const char *path);
/* Tokenizes text; returns a malloc'd array and sets *n, or NULL after printing an error. */
int32_t *cli_tokenize(const engine_model *m, const char *text, size_t len, bool add_special,
                      bool parse_special, int64_t *n);

int cmd_run(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_lsp(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_ask(int argc, char **argv);

#endif
