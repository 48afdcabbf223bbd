/* The subcommands' options as data: one table per command gives each option its short and long
 * spelling, its value and one line of help, so that --help, parsing, "did you mean" and the
 * shared spellings (-m/--model, -t/--threads, -c/--ctx) come from one place. */
#ifndef HEARTH_CLI_OPTIONS_H
#define HEARTH_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    const char *shrt; /* "-t", or NULL */
    const char *lng;  /* "--threads", or NULL */
    const char *arg;  /* "N" when the option takes a value; NULL for a flag */
    const char *help; /* one line */
} cli_opt;

typedef struct {
    const char *name;     /* "run" */
    const char *synopsis; /* what follows "usage: hearth run " (may hold '\n' for more forms) */
    const char *about;    /* notes printed after the options, or NULL */
    const cli_opt *opts;  /* ends with an all-NULL row */
} cli_cmd;

/* The rows every command that has the option spells the same way. */
#define CLI_OPT_MODEL                                                                              \
    { "-m", "--model", "MODEL", "a GGUF path, catalogue name (name[:tag]) or installed model" }
#define CLI_OPT_THREADS                                                                            \
    { "-t", "--threads", "N", "threads (default: the physical cores)" }
#define CLI_OPT_CTX                                                                                \
    { "-c", "--ctx", "N", "context size in tokens" }
#define CLI_OPT_END                                                                                \
    { NULL, NULL, NULL, NULL }

typedef enum {
    CLI_OPT,  /* an option of the table: *name is its canonical spelling, *value its value */
    CLI_ARG,  /* a positional argument: *value */
    CLI_HELP, /* --help / -h: the help is printed on stdout (exit 0) */
    CLI_BAD   /* an unknown option or a missing value: the error is printed (exit 2) */
} cli_kind;

/* Reads argv[*i], advancing *i past an option's value. The canonical spelling of an option is
 * its short one when it has one ("--threads" gives "-t"); "--long=value" is accepted. After "--"
 * everything is positional. An unknown option's error names the nearest known one. */
cli_kind cli_next(const cli_cmd *c, int argc, char **argv, int *i, const char **name,
                  const char **value);
/* Prints "usage: ...", one line per option and the notes. */
void cli_help(const cli_cmd *c, FILE *f);
/* Edit distance with adjacent transpositions (for "did you mean"), capped at 9. */
int cli_distance(const char *a, const char *b);
/* Whether a typed word is close enough to a known one to suggest it. */
bool cli_near(const char *typed, const char *known);

#endif
