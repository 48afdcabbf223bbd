/* Table-driven option parsing and help for the subcommands (see options.h). */
#include "options.h"

#include <string.h>

#include "cli.h"

int cli_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 9;
    int d[64][64];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m] < 9 ? d[n][m] : 9;
}

bool cli_near(const char *typed, const char *known) {
    size_t len = strlen(known);
    int limit = len >= 7 ? 2 : 1; /* short words: one slip only, or everything is "near" */
    return cli_distance(typed, known) <= limit;
}

/* Matches "--long" or "--long=value" (then *eq points at the value). */
static bool matches(const char *typed, const char *spelling, const char **eq) {
    size_t n = strlen(spelling);
    if (strncmp(typed, spelling, n)) return false;
    if (typed[n] == 0) return true;
    if (typed[n] == '=' && spelling[1] == '-') return *eq = typed + n + 1, true;
    return false;
}

static const cli_opt *find(const cli_cmd *c, const char *typed, const char **eq) {
    for (const cli_opt *o = c->opts; o->shrt || o->lng; o++)
        if ((o->shrt && matches(typed, o->shrt, eq)) || (o->lng && matches(typed, o->lng, eq)))
            return o;
    return NULL;
}

static void unknown(const cli_cmd *c, const char *typed) {
    char head[64];
    size_t n = strcspn(typed, "=");
    snprintf(head, sizeof head, "%.*s", (int)(n < 63 ? n : 63), typed);
    const char *best = NULL;
    int best_d = 99;
    for (const cli_opt *o = c->opts; o->shrt || o->lng; o++) {
        const char *s = o->lng ? o->lng : o->shrt;
        int d = cli_distance(head, s);
        if (cli_near(head, s) && d < best_d) best = s, best_d = d;
    }
    if (best)
        cli_error(typed, "unknown option; did you mean %s? (see 'hearth %s --help')", best,
                  c->name);
    else
        cli_error(typed, "unknown option (see 'hearth %s --help')", c->name);
}

cli_kind cli_next(const cli_cmd *c, int argc, char **argv, int *i, const char **name,
                  const char **value) {
    const char *a = argv[*i];
    *name = NULL;
    *value = NULL;
    for (int k = 1; k < *i; k++)
        if (!strcmp(argv[k], "--")) return *value = a, CLI_ARG;
    if (!strcmp(a, "--")) {
        if (++*i >= argc) return CLI_ARG; /* nothing after it: a NULL value the caller skips */
        return *value = argv[*i], CLI_ARG;
    }
    if (a[0] != '-' || a[1] == 0) return *value = a, CLI_ARG;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return cli_help(c, stdout), CLI_HELP;
    const char *eq = NULL;
    const cli_opt *o = find(c, a, &eq);
    if (!o) return unknown(c, a), CLI_BAD;
    *name = o->shrt ? o->shrt : o->lng;
    if (!o->arg) {
        if (eq) return cli_error(a, "takes no value"), CLI_BAD;
        return CLI_OPT;
    }
    if (eq) return *value = eq, CLI_OPT;
    if (*i + 1 >= argc) return cli_error(a, "needs a value (%s)", o->arg), CLI_BAD;
    *value = argv[++*i];
    return CLI_OPT;
}

void cli_help(const cli_cmd *c, FILE *f) {
    const char *s = c->synopsis;
    fprintf(f, "usage: ");
    while (s && *s) { /* each line of the synopsis is one form of the command */
        size_t n = strcspn(s, "\n");
        fprintf(f, "%shearth %s %.*s\n", s == c->synopsis ? "" : "       ", c->name, (int)n, s);
        s += n + (s[n] == '\n');
    }
    fprintf(f, "\noptions:\n");
    for (const cli_opt *o = c->opts; o->shrt || o->lng; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s%s", o->shrt ? o->shrt : "  ",
                 o->shrt && o->lng ? ", " : (o->lng ? "  " : ""), o->lng ? o->lng : "",
                 o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-30s %s\n", left, o->help);
    }
    fprintf(f, "  %-30s %s\n", "-h, --help", "this help");
    if (c->about) fprintf(f, "\n%s", c->about);
}
