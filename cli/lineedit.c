/* Reading a line of user input: libedit's line editing and history on a terminal (when built
 * with it), plain reads otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef HEARTH_LIBEDIT
#include <editline/readline.h>
#endif

/* A whole line of f without its newline (malloc'd), or NULL at the end of input. */
static char *read_plain(FILE *f) {
    size_t cap = 256, n = 0;
    char *buf = malloc(cap);
    int ch = EOF;
    while (buf && (ch = fgetc(f)) != EOF && ch != '\n') {
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) return free(buf), NULL;
            buf = b;
        }
        buf[n++] = (char)ch;
    }
    if (!buf || (ch == EOF && n == 0)) return free(buf), NULL;
    buf[n] = 0;
    return buf;
}

char *cli_read_line(const char *prompt, bool terminal) {
#ifdef HEARTH_LIBEDIT
    if (terminal) {
        rl_catch_signals = 0; /* Ctrl-C is the caller's (libedit would re-send it to the group) */
        char *line = readline(prompt);
        if (line && *line) add_history(line);
        return line;
    }
#endif
    if (terminal) fputs(prompt, stderr), fflush(stderr);
    return read_plain(stdin);
}
