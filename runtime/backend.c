/* Names to model files, and which backend a role uses: the one place these rules are written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

char *runtime_resolve(const char *name, models_role role, char *err, size_t errlen) {
    char why[MODELS_ERR_LEN + MODELS_PATH_LEN];
    const char *r = models_role_name(role);
    if (!name || !*name) {
        snprintf(err, errlen, "no %s model given", r);
        return NULL;
    }
    char *path = models_resolve(name, why, sizeof why);
    if (path) return path;
    if (models_catalogue_find(name)) /* why says where it is missing and to run hearth pull */
        snprintf(err, errlen, "%s model %s: %s", r, name, why);
    else
        snprintf(err, errlen,
                 "%s model %s: %s; 'hearth pull NAME' installs a catalogue model ('hearth pull "
                 "--list' shows them) or a GGUF URL",
                 r, name, why);
    return NULL;
}

void runtime_backend_choose(const models_config *cfg, models_role role, const char *given,
                            bool given_pins_local, runtime_backend *out) {
    const models_backend *b = cfg ? &cfg->role[role] : NULL;
    memset(out, 0, sizeof *out);
    if (b && b->kind == MODELS_BACKEND_OPENAI && !(given && given_pins_local)) {
        out->remote = b;
        if (b->fallback_local) out->local = b->local_model ? b->local_model : given;
        return;
    }
    out->local = given ? given : b && b->model ? b->model : NULL;
    if (!out->local && role == MODELS_ROLE_COMPLETION) {
        out->local = MODELS_DEFAULT_COMPLETION;
        out->local_is_default = true;
    }
}

bool runtime_backend_load(models_config *cfg, models_role role, const char *given,
                          bool given_pins_local, runtime_backend *out, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    if (!models_config_load(NULL, cfg, err, errlen)) {
        runtime_backend_choose(NULL, role, given, given_pins_local, out);
        return false;
    }
    runtime_backend_choose(cfg, role, given, given_pins_local, out);
    return true;
}

bool runtime_backend_falls_back(const runtime_backend *b, bool backend_down, bool any_output) {
    return b->remote && b->remote->fallback_local && b->local && backend_down && !any_output;
}
