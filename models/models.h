/* models: where models come from, and where inference may go instead of the local engine.
 * This header is the only door into models/.
 *
 * - Paths: models live in $XDG_DATA_HOME/hearth/models (default ~/.local/share/hearth/models);
 *   the configuration is $XDG_CONFIG_HOME/hearth/config.json (default ~/.config/hearth/...).
 * - A small built-in catalogue maps names like "qwen2.5-coder-1.5b:q5_k_m" to public URLs.
 * - models_pull downloads a model (HTTP range resume, sha256, atomic rename); models_list /
 *   models_remove manage what is installed; models_resolve turns a catalogue name, a file name in
 *   the models dir or a path into a path, wherever a model path is accepted.
 * - models_fit_check says whether weights + KV cache fit in MemAvailable.
 * - The configuration gives each role (completion / chat / embedding) a backend: the local engine
 *   or an OpenAI-compatible HTTP server (vLLM, llama.cpp's server, Ollama, `hearth serve`);
 *   models_remote_* are that client (libcurl, server-sent-event streaming, retries).
 *
 * Every function that can fail returns false/NULL and writes a one-line reason into the caller's
 * err buffer; nothing here prints. HTTP bodies, headers, config and manifest files are hostile
 * input. The module does not depend on engine/. */
#ifndef HEARTH_MODELS_H
#define HEARTH_MODELS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODELS_ERR_LEN  512
#define MODELS_PATH_LEN 4096

/* ---- paths ---- */

/* The models directory ($XDG_DATA_HOME/hearth/models); not created. */
bool models_dir(char *out, size_t cap, char *err, size_t errlen);
/* The configuration file ($XDG_CONFIG_HOME/hearth/config.json); may not exist. */
bool models_config_path(char *out, size_t cap, char *err, size_t errlen);

/* ---- the built-in catalogue ---- */

typedef struct {
    const char *name;     /* "qwen2.5-coder-1.5b:q5_k_m" */
    const char *file;     /* file name in the models dir */
    const char *url;      /* public download URL */
    const char *sha256;   /* lowercase hex, or NULL when not known (then recorded at pull time) */
    uint64_t size;        /* bytes, or 0 when not known */
    const char *use;      /* "completion", "chat" or "embedding" */
    uint64_t approx_size; /* bytes, roughly (for pull --list; never checked against) */
    uint32_t kv_bytes_per_token; /* F16 KV cache per position (0: an encoder, none) */
} models_entry;

const models_entry *models_catalogue(size_t *n);
/* The entry with this name (case-insensitive), or NULL. A name without a tag
 * ("qwen2.5-coder-1.5b") picks the catalogue's default tag for it: its first entry. */
const models_entry *models_catalogue_find(const char *name);
/* Memory a catalogue model needs at n_ctx positions: its file + F16 KV cache (approximate). */
uint64_t models_catalogue_ram(const models_entry *e, int32_t n_ctx);

/* The model a role uses by default when none is given (a catalogue name). */
#define MODELS_DEFAULT_COMPLETION "qwen2.5-coder-1.5b:q5_k_m"
/* The chat model `hearth ask` uses when none is given or configured, if it is installed. */
#define MODELS_DEFAULT_CHAT "qwen2.5-coder-1.5b-instruct:q5_k_m"

/* A model path from what a user typed: an existing file path; a catalogue name or a file name
 * (with or without .gguf) inside the models dir. Returns a malloc'd path, or NULL with a reason
 * (e.g. "not installed: run 'hearth pull NAME'"). */
char *models_resolve(const char *name_or_path, char *err, size_t errlen);

/* ---- sha256 (FIPS 180-4) ---- */

typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
} models_sha256;

void models_sha256_init(models_sha256 *s);
void models_sha256_update(models_sha256 *s, const void *data, size_t len);
/* Writes 64 lowercase hex digits + NUL into hex[65]. */
void models_sha256_final(models_sha256 *s, char hex[65]);
/* Hashes a whole file. */
bool models_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

/* ---- downloading ---- */

typedef struct {
    uint64_t done;  /* bytes in the file so far (resumed bytes included) */
    uint64_t total; /* 0 when the server did not say */
    uint64_t resumed_from;
    double elapsed_s; /* since this attempt started */
    double rate;      /* bytes/s in this run (resumed bytes excluded) */
    bool final;
} models_progress;

typedef void (*models_progress_fn)(const models_progress *p, void *user);
typedef void (*models_log_fn)(const char *line, void *user);

typedef struct {
    const char *what;          /* catalogue name or http(s) URL */
    const char *dir;           /* NULL = models_dir() (created if missing) */
    const char *expect_sha256; /* overrides the catalogue's; NULL = catalogue's (if known) */
    int retries;               /* re-tries after a dropped connection (resuming); < 0 = 3 */
    long connect_timeout_s;    /* 0 = 15 */
    long stall_timeout_s;      /* abort an attempt after this long without a byte; 0 = 15 */
    const volatile sig_atomic_t *stop; /* set (e.g. by a SIGINT handler): stop as a failure */
    models_progress_fn progress;       /* called at most every 0.1 s and once with final = true */
    models_log_fn log; /* one line per notable event (connecting, resume, retry, unknown sha) */
    void *user;
} models_pull_params;

typedef struct {
    char path[MODELS_PATH_LEN]; /* the installed file */
    char sha256[65];
    bool sha256_verified; /* true when it matched a known checksum, false when only recorded */
    uint64_t bytes;
    uint64_t resumed_from;  /* bytes already on disk when the download started (0 = fresh) */
    bool already_installed; /* nothing was downloaded: path and bytes describe the installed file */
} models_pull_result;

/* Downloads into <dir>/<file>.part (resuming it if present, with an HTTP Range request), checks
 * the sha256 (a mismatch removes the .part: its bytes are wrong, resuming cannot help), renames
 * atomically into <dir>/<file> and writes the manifest <dir>/<file>.json {name, url, size,
 * sha256, verified}. A dropped connection, a stall or a 5xx is retried (resuming) up to
 * p->retries times; a failure that leaves valid bytes keeps the .part for the next run, one that
 * got no byte leaves no .part. A model already installed is a success with already_installed. */
bool models_pull(const models_pull_params *p, models_pull_result *r, char *err, size_t errlen);

/* ---- installed models ---- */

typedef struct {
    char *file;    /* file name in the models dir */
    char *name;    /* catalogue name, or NULL */
    uint64_t size; /* on disk */
    char sha256[65];
    bool sha256_known;    /* the manifest records a checksum */
    bool sha256_verified; /* ... which matched the catalogue or --sha256 at pull time */
    bool partial;         /* a .part download waiting to be resumed */
} models_installed;

/* The .gguf files (and .part downloads) in dir (NULL = models_dir()), sorted by file name. A
 * missing dir is an empty list. */
bool models_list(const char *dir, models_installed **out, int32_t *n, char *err, size_t errlen);
void models_installed_free(models_installed *m, int32_t n);
/* Removes an installed model (catalogue name or file name) with its manifest and any .part. */
bool models_remove(const char *dir, const char *name, char *removed, size_t removed_cap, char *err,
                   size_t errlen);

/* ---- does it fit in memory ---- */

/* MemAvailable from /proc/meminfo, in bytes. */
bool models_mem_available(uint64_t *bytes, char *err, size_t errlen);
/* True when weight_bytes + kv_bytes fit in avail_bytes; otherwise a plain sentence in msg
 * ("needs 9.1 GB (weights 8.0 GB + KV cache 1.1 GB) but only 6.0 GB is available: 3.1 GB
 * short"). */
bool models_fit_check(uint64_t weight_bytes, uint64_t kv_bytes, uint64_t avail_bytes, char *msg,
                      size_t msglen);

/* ---- configuration: a backend per role ---- */

typedef enum {
    MODELS_ROLE_COMPLETION,
    MODELS_ROLE_CHAT,
    MODELS_ROLE_EMBEDDING,
    MODELS_ROLES
} models_role;
typedef enum { MODELS_BACKEND_LOCAL, MODELS_BACKEND_OPENAI } models_backend_kind;

const char *models_role_name(models_role r);

typedef struct {
    models_backend_kind kind;
    char *model;       /* local: model name/path (NULL = none configured); openai: server's name */
    char *base_url;    /* openai: e.g. "http://gpu-box:8000/v1" (the /v1 included) */
    char *api_key;     /* from "api_key", else from the env var named by "api_key_env"; or NULL */
    char *api_key_env; /* that variable's name (for error messages), or NULL */
    double timeout_s;  /* whole request (non-streaming) or longest silence (streaming); 60 */
    double connect_timeout_s; /* 5 */
    int retries;              /* extra attempts for calls that may be repeated; 2 */
    bool fallback_local;      /* "fallback": "local": use local_model when the server is down */
    char *local_model;        /* the local model for fallback (name or path), or NULL */
    int32_t context_size;     /* openai: the server's context, for prompt budgets; 0 = unknown */
    int32_t batch;            /* embedding: texts per request; 64 */
} models_backend;

typedef struct {
    models_backend role[MODELS_ROLES];
    char path[MODELS_PATH_LEN]; /* the file read, or "" when none existed (all local) */
} models_config;

/* Reads the configuration file (path NULL = models_config_path()). A missing file means every
 * role is local; a malformed one is an error naming the file, the key and what is wrong. */
bool models_config_load(const char *path, models_config *c, char *err, size_t errlen);
/* The same from a JSON text (origin names it in errors). */
bool models_config_parse(const char *json, size_t len, const char *origin, models_config *c,
                         char *err, size_t errlen);
void models_config_free(models_config *c);

/* ---- the OpenAI-compatible HTTP client ---- */

/* Receives streamed text; return false to cancel the request. */
typedef bool (*models_text_fn)(const char *text, size_t len, void *user);

typedef struct {
    int32_t max_tokens; /* 0 = server default */
    float temperature;  /* < 0 = server default */
    float top_p;        /* <= 0 = server default */
    int64_t seed;       /* < 0 = none */
    const char *const *stop;
    int32_t n_stop;
} models_gen_params;

/* Defaults: everything left to the server. */
models_gen_params models_gen_default_params(void);

typedef struct {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} models_chat_message;

typedef struct {
    int attempts;          /* HTTP requests made */
    int http_status;       /* of the last response, 0 when none arrived */
    bool backend_down;     /* no HTTP answer at all (refused, DNS, time-out) or 5xx each time */
    bool cancelled;        /* the callback returned false */
    uint64_t emitted;      /* bytes of text given to the callback */
    int64_t prompt_tokens; /* from the server's usage, -1 when not given */
    int64_t completion_tokens;
    char finish_reason[32];
} models_remote_stats;

/* POST {base_url}/completions with stream=true: sends a prepared prompt (for FIM, the same prompt
 * layout the local path builds, e.g. <|fim_prefix|>...<|fim_suffix|>...<|fim_middle|>) and streams
 * the text back. Retried with back-off only while no text has arrived. */
bool models_remote_complete(const models_backend *b, const char *prompt, const models_gen_params *g,
                            models_text_fn emit, void *user, models_remote_stats *st, char *err,
                            size_t errlen);
/* POST {base_url}/chat/completions with stream=true; the same retry rule. */
bool models_remote_chat(const models_backend *b, const models_chat_message *msgs, int32_t n_msgs,
                        const models_gen_params *g, models_text_fn emit, void *user,
                        models_remote_stats *st, char *err, size_t errlen);
/* POST {base_url}/embeddings in batches of b->batch texts (idempotent: each batch retried with
 * back-off). *out is malloc'd n x *dim floats in input order, L2-normalised like the local
 * engine's. */
bool models_remote_embed(const models_backend *b, const char *const *texts, int32_t n, float **out,
                         int32_t *dim, models_remote_stats *st, char *err, size_t errlen);
/* A stable id of a remote embedding model ("remote|<base_url>|<model>|<dim>"), for telling
 * vectors of different models apart (like the index's embed_id). malloc'd. */
char *models_remote_embed_id(const models_backend *b, int32_t dim);

#endif
