/* The service's lifetime and what it says about itself: prompts, model id, special-token
 * layout. Preparing and running texts is run.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

embed_params embed_default_params(void) {
    return (embed_params){.pooling = ENGINE_POOL_DEFAULT};
}

uint64_t embed_hash(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h ^ len;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

/* Prompts from the params, else the family's; the version string hashes both, so the id of
 * vectors made with other prompts differs. */
static bool set_prompts(embed_service *e, const embed_params *p) {
    const char *given[2] = {p->document_prompt, p->query_prompt};
    const char *own[2] = {e->family->document, e->family->query};
    for (int k = 0; k < 2; k++) {
        const char *s = !given[k] ? own[k] : !strcmp(given[k], EMBED_PROMPT_NONE) ? "" : given[k];
        if (!(e->prompt[k] = dup_str(s))) return false;
    }
    return true;
}

static char *make_id(embed_service *e, const char *base) {
    uint64_t h = embed_hash(e->prompt[EMBED_QUERY], strlen(e->prompt[EMBED_QUERY]), 0);
    h = embed_hash(e->prompt[EMBED_DOCUMENT], strlen(e->prompt[EMBED_DOCUMENT]), h);
    size_t n = strlen(base) + strlen(e->family->name) + 32;
    char *id = malloc(n);
    if (id) snprintf(id, n, "%s|%s.%08x", base, e->family->name, (unsigned)(h & 0xffffffffu));
    return id;
}

static embed_service *service_new(const embed_params *p, char *err, size_t errlen) {
    embed_service *e = calloc(1, sizeof *e);
    if (!e || pthread_mutex_init(&e->mu, NULL) != 0) {
        free(e);
        snprintf(err, errlen, "embedding: out of memory");
        return NULL;
    }
    e->cache_entries = p->cache_entries ? p->cache_entries : 1024;
    return e;
}

/* Where the tokenizer puts its special tokens around a text: found by tokenizing one word with
 * and without them. */
static bool find_specials(embed_service *e, char *err, size_t errlen) {
    int32_t n_plain = 0, n_full = 0;
    int32_t *plain = embed_tokenize_text(e, "a", 1, false, &n_plain, err, errlen);
    int32_t *full = plain ? embed_tokenize_text(e, "a", 1, true, &n_full, err, errlen) : NULL;
    bool ok = full != NULL;
    e->lead = 0;
    for (int32_t at = 0; ok && at + n_plain <= n_full; at++)
        if (!memcmp(full + at, plain, (size_t)n_plain * sizeof *plain)) {
            e->lead = at;
            break;
        }
    e->trail = ok ? n_full - n_plain - e->lead : 0;
    if (e->trail < 0) e->trail = 0;
    free(plain);
    free(full);
    return ok;
}

static bool setup_local(embed_service *e, const embed_params *p, char *err, size_t errlen) {
    const engine_model_info *info = engine_model_get_info(e->model);
    int32_t train = info->n_ctx_train > 0 ? info->n_ctx_train : 2048;
    e->max_tokens = p->max_tokens > 0 ? p->max_tokens : 2048;
    if (e->max_tokens > train) e->max_tokens = train;
    e->dim = info->n_embd;
    engine_ctx_params cp = engine_ctx_default_params();
    cp.n_threads = p->n_threads;
    cp.n_ctx = cp.n_batch = e->max_tokens;
    char why[ENGINE_ERR_LEN];
    if (!(e->ctx = engine_ctx_new(e->model, &cp, why, sizeof why)))
        return !snprintf(err, errlen, "embedding context: %s", why);
    char base[1024], pool[32] = "";
    e->pooling = p->pooling;
    if (p->pooling != ENGINE_POOL_DEFAULT) snprintf(pool, sizeof pool, "|pool=%d", p->pooling);
    snprintf(base, sizeof base, "%s|%s|%d|%llu%s",
             p->name                     ? p->name
             : info->name && *info->name ? info->name
                                         : "model",
             info->arch, e->dim, (unsigned long long)info->n_params, pool);
    e->id = make_id(e, base);
    if (!e->id) return !snprintf(err, errlen, "embedding: out of memory");
    e->id_hash = embed_hash(e->id, strlen(e->id), 0);
    e->cache = embed_cache_new(e->cache_entries, e->dim);
    return find_specials(e, err, errlen);
}

embed_service *embed_new_local(engine_model *m, const embed_params *p, char *err, size_t errlen) {
    embed_params dflt = embed_default_params();
    if (!p) p = &dflt;
    embed_service *e = service_new(p, err, errlen);
    if (!e) return NULL;
    e->model = m;
    e->family = embed_family_of(m);
    bool ok = set_prompts(e, p) || !snprintf(err, errlen, "embedding: out of memory");
    if (ok && !setup_local(e, p, err, errlen)) ok = false;
    if (!ok) {
        embed_free(e);
        return NULL;
    }
    return e;
}

embed_service *embed_new_remote(const models_backend *b, const embed_params *p, char *err,
                                size_t errlen) {
    embed_params dflt = embed_default_params();
    if (!p) p = &dflt;
    embed_service *e = service_new(p, err, errlen);
    if (!e) return NULL;
    e->remote = b;
    e->family = embed_family_none();
    if (!set_prompts(e, p)) {
        snprintf(err, errlen, "embedding: out of memory");
        embed_free(e);
        return NULL;
    }
    char base[1024];
    snprintf(base, sizeof base, "remote|%s|%s", b->base_url ? b->base_url : "",
             b->model ? b->model : "");
    e->id_hash = embed_hash(base, strlen(base), 0);
    return e;
}

void embed_free(embed_service *e) {
    if (!e) return;
    engine_ctx_free(e->ctx);
    embed_cache_free(e->cache);
    free(e->prompt[0]);
    free(e->prompt[1]);
    free(e->id);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

int32_t embed_dim(const embed_service *e) {
    return e->dim;
}

int32_t embed_max_tokens(const embed_service *e) {
    return e->max_tokens;
}

const char *embed_model_id(const embed_service *e) {
    return e->id;
}

const char *embed_family(const embed_service *e) {
    return e->family->name;
}

const char *embed_prompt(const embed_service *e, embed_kind kind) {
    return e->prompt[kind == EMBED_QUERY];
}

const models_remote_stats *embed_remote_stats(const embed_service *e) {
    return e->remote ? &e->remote_stats : NULL;
}

char *embed_format(const embed_service *e, embed_kind kind, const char *text, size_t len) {
    const char *pre = embed_prompt(e, kind);
    size_t n = strlen(pre);
    if (len > EMBED_MAX_TEXT) return NULL;
    char *s = malloc(n + len + 1);
    if (!s) return NULL;
    memcpy(s, pre, n);
    memcpy(s + n, text, len);
    s[n + len] = 0;
    return s;
}

/* The remote id needs the dimension, known from the first answer; later answers must agree. */
bool embed_remote_learn_dim(embed_service *e, int32_t dim, char *err, size_t errlen) {
    if (e->dim) {
        if (dim == e->dim) return true;
        return !snprintf(err, errlen, "embedding server changed dimension (%d, then %d)", e->dim,
                         dim);
    }
    char *base = models_remote_embed_id(e->remote, dim);
    e->id = base ? make_id(e, base) : NULL;
    free(base);
    if (!e->id) return !snprintf(err, errlen, "embedding: out of memory");
    e->dim = dim;
    e->cache = embed_cache_new(e->cache_entries, dim);
    return true;
}
