/* Showing retrieved chunks of code on a terminal (hearth search, hearth ask without a chat
 * model). */
#ifndef HEARTH_CLI_HITS_H
#define HEARTH_CLI_HITS_H

#include <stdio.h>

#include "index.h"

/* Prints up to max_lines lines of a hit's code, each as "  <line number> | <text>", then "  ..."
 * when there is more. Repository text is hostile: control characters (terminal escapes) are
 * shown as '?', and lines are cut at 200 bytes. */
void cli_print_hit_code(FILE *f, const index_hit *h, int max_lines);

#endif
