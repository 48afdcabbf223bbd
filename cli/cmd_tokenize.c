/* hearth tokenize: token ids of a text, space-separated on one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static const cli_opt OPTS[] = {
    CLI_OPT_MODEL,
    {"-f", "--file", "FILE", "tokenize a file's text"},
    {NULL, "--special", NULL, "parse special-token text (<|im_start|>) as special tokens"},
    {NULL, "--bos", NULL, "add BOS when the vocabulary has one"},
    CLI_OPT_END};

static const cli_cmd CMD = {"tokenize", "[MODEL] (TEXT | -f FILE) [options]", NULL, OPTS};

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *text = NULL, *pos[2];
    bool special = false, bos = false;
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o, *v;
        cli_kind kind = cli_next(&CMD, argc, argv, &i, &o, &v);
        if (kind == CLI_HELP) return 0;
        if (kind == CLI_BAD) return 2;
        if (kind == CLI_ARG && v && n_pos == 2)
            return cli_error(v, "only one TEXT argument (quote it)"), 2;
        if (kind == CLI_ARG && v) pos[n_pos++] = v;
        if (kind != CLI_OPT) continue;
        if (!strcmp(o, "--special"))
            special = true;
        else if (!strcmp(o, "--bos"))
            bos = true;
        else
            *(o[1] == 'm' ? &model : &file) = v;
    }
    /* TEXT alone, or MODEL TEXT when -m is not given */
    int next = 0;
    if (!model && n_pos == 2) model = pos[next++];
    if (!model && n_pos == 1 && file) model = pos[next++];
    if (next < n_pos) text = pos[next++];
    if (next < n_pos) return cli_error(pos[next], "only one TEXT argument (quote it)"), 2;
    if (!model) return cli_error("tokenize", "missing -m MODEL"), 2;
    if (!text == !file) return cli_error("tokenize", "give exactly one of TEXT or -f FILE"), 2;
    size_t len = text ? strlen(text) : 0;
    char *buf = file ? cli_read_file(file, &len) : NULL;
    if (file && !buf) return 1;
    engine_model *m = cli_load_vocab(model);
    int rc = 1;
    int64_t n = 0;
    int32_t *ids = m ? cli_tokenize(m, buf ? buf : text, len, false, special, &n) : NULL;
    if (ids) {
        int32_t b = engine_token_bos(m);
        bool add_bos = bos && b >= 0;
        if (add_bos) printf("%d", b);
        for (int64_t i = 0; i < n; i++) printf(i || add_bos ? " %d" : "%d", ids[i]);
        printf("\n");
        rc = 0;
    }
    free(ids);
    engine_model_free(m);
    free(buf);
    return rc;
}
