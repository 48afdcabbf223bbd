/* index_hit_json: one hit as the JSON object `hearth search --json` prints and `hearth serve`'s
 * /v1/search returns, written once so both say the same thing. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "index.h"

/* A file name in JSON: a string when it is UTF-8, else {"bytes": base64 of the name} (as
 * ripgrep's JSON output does), so no hit is dropped for its name. */
static json_t *json_path(const char *path) {
    json_t *s = json_string(path);
    if (s) return s;
    size_t n = strlen(path);
    char *b64 = malloc(base_base64_len(n) + 1);
    if (!b64) return NULL;
    base_base64_encode(path, n, b64);
    s = json_pack("{s:s}", "bytes", b64);
    free(b64);
    return s;
}

struct json_t *index_hit_json(const index_hit *h, int rank) {
    /* a symbol is repository text too: one that is not UTF-8 is null rather than failing */
    json_t *sym = h->symbol ? json_string(h->symbol) : NULL;
    return json_pack("{s:i, s:o, s:i, s:i, s:o?, s:f}", "rank", rank, "path", json_path(h->path),
                     "start_line", h->start_line, "end_line", h->end_line, "symbol", sym, "score",
                     h->score);
}
