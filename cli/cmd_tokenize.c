/* hearth tokenize: token ids of a text, space-separated on one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *text = NULL;
    bool special = false, bos = false;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fprintf(stderr, "usage: hearth tokenize -m MODEL [--special] [--bos] (TEXT | -f FILE)\n"
                            "  --special parses special-token text; --bos adds BOS when the "
                            "vocabulary has one\n");
            return 2;
        }
        if (!strcmp(o, "--special"))
            special = true;
        else if (!strcmp(o, "--bos"))
            bos = true;
        else if (!strcmp(o, "-m") || !strcmp(o, "-f")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v) return 2;
            *(o[1] == 'm' ? &model : &file) = v;
        } else if (o[0] == '-' && o[1])
            return cli_error(o, "unknown option"), 2;
        else if (text)
            return cli_error(o, "only one TEXT argument (quote it)"), 2;
        else
            text = o;
    }
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
