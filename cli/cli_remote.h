/* Remote backends in the CLI (cli/remote.c): a role's backend from the configuration file, and
 * the remote versions of `hearth embed` and `hearth ask`. */
#ifndef HEARTH_CLI_REMOTE_H
#define HEARTH_CLI_REMOTE_H

#include "embed.h"
#include "index.h"
#include "models.h"

/* Returned when a remote call failed before any output and the role's configuration says
 * "fallback": "local" with a local_model: the caller then runs that model locally. */
#define CLI_FALLBACK (-2)

/* Loads the configuration: 1 when role uses an openai backend (cfg filled; the caller frees it
 * with models_config_free), 0 when it is local (nothing to free), -1 after printing an error. */
int cli_role_backend(models_role role, models_config *cfg);
/* Prints embeddings of texts (queries or documents) like `hearth embed`, through embed/'s remote
 * door (0, 1 after printing an error, CLI_FALLBACK). */
int cli_embed_remote(const models_backend *b, char *const *texts, const size_t *lens, int32_t n,
                     bool query, bool json);
/* Streams the answer to a question from the hits (and the repository map, may be NULL) like
 * `hearth ask`, then the sources. */
int cli_ask_remote(const models_backend *b, const char *question, const char *map,
                   const index_hit *hits, int32_t n_hits, int32_t n_predict, double temperature,
                   int64_t seed);

/* The model path a server should load for role: given (a path, catalogue name or file in the
 * models dir) resolved; or, when given is NULL, what runtime_backend_choose picks: the role's
 * local "model" in the configuration (a server's local fallback model), else for completion
 * MODELS_DEFAULT_COMPLETION, if installed. NULL when there is none (or given
 * does not resolve: the caller keeps given and reports the load failure as before). malloc'd. */
char *cli_model_for_role(const char *given, models_role role);

#endif
