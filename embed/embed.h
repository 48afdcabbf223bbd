/* embed: hearth's embedding service. This header is the only door into embed/.
 *
 * Every front end that turns text into vectors (hearth embed, /v1/embeddings, the repository
 * index and its search, the LSP's hearth.ask) goes through one embed_service, so the same text
 * gives the same vector everywhere. The service owns the policy:
 *  - prompts: queries and documents get the prefixes the model was trained with, recognised from
 *    the GGUF metadata (Qwen3-Embedding's "Instruct: ...\nQuery:", nomic-embed's
 *    "search_query: " / "search_document: ", BGE English v1.5's query instruction; none for
 *    other models), overridable by embed_params;
 *  - truncation: a document longer than the model takes is cut by tokens, keeping the tokens the
 *    tokenizer puts at the end (BERT's [SEP], Qwen3's EOS), and the result says so; a query is
 *    never cut: an over-long query is an error naming its length and the limit;
 *  - text is tokenized as text (special-token text in it never becomes a control token), once;
 *  - batching: the texts of several callers go into one engine_embed_batch call;
 *  - a bounded in-memory LRU vector cache keyed by a content hash and the model id.
 *
 * A service is either local (over an engine_model the caller loaded and keeps alive) or remote
 * (an OpenAI-compatible server, models/'s client). It is thread-safe: embed_prepare only reads,
 * embed_run serialises on a mutex (a shared scheduler comes later).
 *
 * Every function that can fail returns false/NULL and writes a one-line reason into the
 * caller's err buffer; nothing here prints or aborts. */
#ifndef HEARTH_EMBED_H
#define HEARTH_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "models.h"

#define EMBED_ERR_LEN     512
#define EMBED_MAX_TEXT    (1u << 24) /* bytes of one text; longer inputs are refused */
#define EMBED_PROMPT_NONE "none"     /* an embed_params prompt that means "no prefix" */

typedef struct embed_service embed_service;

/* A query (a question to search with) or a document (a text to be found). */
typedef enum { EMBED_DOCUMENT = 0, EMBED_QUERY = 1 } embed_kind;

/* Start from embed_default_params() (pooling's default is not zero). */
typedef struct {
    int32_t n_threads;  /* engine threads; 0 = physical cores */
    int32_t max_tokens; /* tokens per text; 0 = min(training context, 2048) */
    /* Prefixes put before the text: NULL = the model family's, EMBED_PROMPT_NONE = none,
     * anything else is used as given. */
    const char *query_prompt, *document_prompt;
    /* What the model id calls the model (a file name, say); NULL = general.name. */
    const char *name;
    int32_t cache_entries;  /* in-memory vector cache; 0 = 1024, < 0 = no cache */
    engine_pooling pooling; /* ENGINE_POOL_DEFAULT = the model's (local only) */
} embed_params;

/* One text made ready for the model by embed_prepare (free with embed_item_clear). */
typedef struct {
    embed_kind kind;
    int32_t *ids; /* local: the tokens fed to the model (prompt + text + specials) */
    int32_t n_ids;
    int32_t n_original; /* local: tokens before truncation (== n_ids unless truncated) */
    bool truncated;     /* a document cut to the model's limit */
    char *text;         /* remote: the prompt + text sent to the server */
    uint64_t key[2];    /* cache key: content hash with the model id and the kind */
} embed_item;

embed_params embed_default_params(void);

/* A service over a loaded embedding model (borrowed: the caller frees it after embed_free). Has
 * its own context with p->n_threads threads. p may be NULL (defaults). */
embed_service *embed_new_local(engine_model *m, const embed_params *p, char *err, size_t errlen);
/* A service over an OpenAI-compatible server (b borrowed, kept alive until embed_free). Prompts
 * are none unless p gives them (the server's model is unknown); truncation is the server's. */
embed_service *embed_new_remote(const models_backend *b, const embed_params *p, char *err,
                                size_t errlen);
void embed_free(embed_service *e);

/* Vector length; for a remote service 0 until the first successful embed_run. */
int32_t embed_dim(const embed_service *e);
/* Most tokens one text may have (remote: 0, unknown). */
int32_t embed_max_tokens(const embed_service *e);
/* What identifies the service's vectors: "<name>|<arch>|<dim>|<params>|<prompt version>"
 * (remote: "remote|<url>|<model>|<dim>|<prompt version>", NULL before the first embed_run).
 * Vectors of two services are comparable only when their ids are equal. Owned by e. */
const char *embed_model_id(const embed_service *e);
/* The prompt family recognised from the model: "qwen3-embedding", "nomic", "bge-en-v1.5",
 * or "none". */
const char *embed_family(const embed_service *e);
/* The prefix the service puts before texts of a kind ("" when none). Owned by e. */
const char *embed_prompt(const embed_service *e, embed_kind kind);
/* Prompt + text as the model sees it (malloc'd; NULL when out of memory or too long). */
char *embed_format(const embed_service *e, embed_kind kind, const char *text, size_t len);
/* Tokens of text[0..len) under the model's tokenizer without any special token or prompt (for
 * sizing chunks); an estimate for a remote service. */
int32_t embed_count_tokens(const embed_service *e, const char *text, size_t len);
/* Tokens a text of a kind costs beyond its own: the prompt and the special tokens. */
int32_t embed_overhead_tokens(const embed_service *e, embed_kind kind);

/* Makes one text ready: prompt, tokens (local), truncation policy, cache key. Fails on an
 * over-long query ("query is N tokens, the model takes at most M"), an empty text or one over
 * EMBED_MAX_TEXT bytes. Thread-safe (reads the model only). */
bool embed_prepare(const embed_service *e, embed_kind kind, const char *text, size_t len,
                   embed_item *out, char *err, size_t errlen);
void embed_item_clear(embed_item *it);

/* Embeds n prepared items (of any callers and kinds; n >= 1) into *out, malloc'd n x embed_dim
 * floats in item order (the caller frees it): cached vectors are copied, the rest go to the
 * engine in one engine_embed_batch call, which packs them into shared forward passes (remote:
 * one request per models_backend batch). *n_cached (may be NULL) receives how many came from
 * the cache. Thread-safe: callers are serialised. */
bool embed_run(embed_service *e, const embed_item *items, int32_t n, float **out, int32_t *n_cached,
               char *err, size_t errlen);

/* What embed_queries / embed_documents report per text. */
typedef struct {
    int32_t n_tokens;   /* tokens fed to the model */
    int32_t n_original; /* tokens the text had */
    bool truncated;
} embed_info;

/* Prepares and runs n texts of one kind (lens may be NULL: NUL-terminated texts) into *out as
 * embed_run does; info (may be NULL) receives n entries. Fails as a whole when one text cannot
 * be prepared (an over-long query, an empty text), naming its index. */
bool embed_queries(embed_service *e, const char *const *texts, const size_t *lens, int32_t n,
                   float **out, embed_info *info, char *err, size_t errlen);
bool embed_documents(embed_service *e, const char *const *texts, const size_t *lens, int32_t n,
                     float **out, embed_info *info, char *err, size_t errlen);

/* The last remote call's statistics (for a caller deciding to fall back to a local model);
 * NULL for a local service. */
const models_remote_stats *embed_remote_stats(const embed_service *e);

/* A 64-bit content hash (FNV-1a over the bytes, with the length); change detection, not
 * security. */
uint64_t embed_hash(const void *data, size_t len, uint64_t seed);

#endif
