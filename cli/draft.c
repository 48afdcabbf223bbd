/* Draft models for speculative decoding, shared by hearth run and hearth chat. */
#include <string.h>

#include "cli.h"

bool cli_draft_open(cli_draft *d, const char *path, int32_t n_draft, const engine_model *target,
                    const engine_ctx *target_ctx, int32_t threads) {
    char err[ENGINE_ERR_LEN];
    memset(d, 0, sizeof *d);
    d->model = cli_load_model(path);
    if (!d->model) return false;
    if (!engine_draft_compatible(target, d->model, err, sizeof err)) {
        cli_error("--draft-model", "%s: %s", path, err);
        return cli_draft_close(d), false;
    }
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = threads;
    cp.n_ctx = engine_ctx_n_ctx(target_ctx);
    d->ctx = engine_ctx_new(d->model, &cp, err, sizeof err);
    if (!d->ctx) {
        cli_error("--draft-model", "context: %s", err);
        return cli_draft_close(d), false;
    }
    d->spec = (engine_draft){d->model, d->ctx, n_draft};
    return true;
}

void cli_draft_close(cli_draft *d) {
    engine_ctx_free(d->ctx);
    engine_model_free(d->model);
    memset(d, 0, sizeof *d);
}
