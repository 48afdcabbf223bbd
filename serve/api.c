/* Routes on the loop thread (authentication, method and path); on a libuv worker thread the
 * JSON body of each endpoint checked field by field (hostile input gets a 4xx in OpenAI's error
 * shape) and prompts tokenized up to the limit; back on the loop, the job handed to the
 * scheduler. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

char *serve_api_error_body(int status, const char *message, const char *code) {
    const char *type = status == 401   ? "authentication_error"
                       : status == 404 ? "not_found_error"
                       : status == 429 ? "rate_limit_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    json_t *e = json_pack("{s:{s:s, s:s, s:n, s:s?}}", "error", "message", message, "type", type,
                          "param", "code", code);
    if (code == NULL && e) json_object_set_new(json_object_get(e, "error"), "code", json_null());
    char *body = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    return body;
}

void serve_api_error(conn *c, int status, const char *message, const char *code) {
    if (!serve_conn_server(c)->p.quiet) fprintf(stderr, "hearth serve: %d %s\n", status, message);
    serve_http_reply_json(c, status, serve_api_error_body(status, message, code));
}

/* ---- field checks: each fills msg and returns false on a bad value ---- */

typedef struct {
    char msg[640];
} why;

static bool get_int(json_t *o, const char *key, long lo, long hi, long *out, why *w) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(w->msg, sizeof w->msg, "'%s' must be an integer in [%ld, %ld]", key, lo, hi);
        return false;
    }
    *out = (long)json_integer_value(v);
    return true;
}

static bool get_num(json_t *o, const char *key, double lo, double hi, double *out, why *w) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi)) {
        snprintf(w->msg, sizeof w->msg, "'%s' must be a number in [%g, %g]", key, lo, hi);
        return false;
    }
    *out = json_number_value(v);
    return true;
}

static bool get_bool(json_t *o, const char *key, bool *out, why *w) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_boolean(v)) {
        snprintf(w->msg, sizeof w->msg, "'%s' must be a boolean", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static bool get_stops(json_t *o, serve_job *j, why *w) {
    json_t *v = json_object_get(o, "stop");
    if (!v || json_is_null(v)) return true;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if ((!json_is_string(v) && !json_is_array(v)) || n > SERVE_MAX_STOPS) {
        snprintf(w->msg, sizeof w->msg, "'stop' must be a string or at most %d strings",
                 SERVE_MAX_STOPS);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
        size_t len = json_is_string(s) ? json_string_length(s) : 0;
        if (!json_is_string(s) || len == 0 || len > SERVE_MAX_STOP_LEN ||
            strlen(json_string_value(s)) != len) {
            snprintf(w->msg, sizeof w->msg, "'stop' strings must be 1..%d bytes",
                     SERVE_MAX_STOP_LEN);
            return false;
        }
        j->stops[j->n_stops++] = strdup(json_string_value(s));
    }
    return true;
}

/* Sampling, limits and streaming fields shared by completions and chat. */
static bool get_gen_params(serve_server *s, json_t *o, serve_job *j, long def_max, why *w) {
    long max_tokens = def_max, seed = -1, n = 1, top_k = 40;
    double temp = 1.0, top_p = 1.0;
    bool stream = false;
    if (!get_int(o, "max_tokens", 1, 1 << 30, &max_tokens, w) ||
        !get_int(o, "max_completion_tokens", 1, 1 << 30, &max_tokens, w) ||
        !get_num(o, "temperature", 0.0, 2.0, &temp, w) ||
        !get_num(o, "top_p", 0.0, 1.0, &top_p, w) ||
        !get_int(o, "seed", -(1L << 62), 1L << 62, &seed, w) || !get_int(o, "n", 1, 1, &n, w) ||
        !get_int(o, "top_k", 0, 1 << 20, &top_k, w) || !get_bool(o, "stream", &stream, w) ||
        !get_stops(o, j, w))
        return false;
    json_t *so = json_object_get(o, "stream_options");
    if (so && !json_is_null(so) &&
        (!json_is_object(so) || !get_bool(so, "include_usage", &j->include_usage, w))) {
        if (!w->msg[0]) snprintf(w->msg, sizeof w->msg, "'stream_options' must be an object");
        return false;
    }
    j->stream = stream;
    j->max_tokens = (int32_t)max_tokens;
    j->sampling.temperature = (float)temp;
    j->sampling.top_p = top_p > 0.0 ? (float)top_p : 1e-6f; /* 0: only the most likely token */
    /* top_k (an extension, as in llama.cpp's server; 0 = off) bounds the work of sampling a
     * large vocabulary; 40 by default like the common local servers */
    j->sampling.top_k = (int32_t)top_k;
    j->sampling.seed = seed >= 0 ? (uint64_t)seed : (uint64_t)time(NULL) ^ (uint64_t)j->id << 20;
    (void)s;
    return true;
}

/* Counts the tokens the tokenizer made for a prompt (worker threads; /health shows them). */
static void count_tokenized(serve_server *s, int64_t n) {
    if (n <= 0) return;
    pthread_mutex_lock(&s->mu);
    s->n_prompt_tokens_tokenized += n;
    pthread_mutex_unlock(&s->mu);
}

/* Tokenizes text into a fresh array, stopping past max tokens; -1 on error, -2 when longer
 * than max. */
static int32_t tokenize(serve_server *s, const char *text, size_t len, bool add_special,
                        bool parse_special, int32_t max, int32_t **out, why *w) {
    int32_t *ids = malloc(((size_t)max + 1) * sizeof(int32_t));
    char err[ENGINE_ERR_LEN];
    int64_t n = ids ? engine_tokenize_upto(s->model, text, len, add_special, parse_special, ids,
                                           max, err, sizeof err)
                    : -1;
    count_tokenized(s, n);
    if (n < 0 || n > max) {
        if (n < 0) snprintf(w->msg, sizeof w->msg, "cannot tokenize: %s", ids ? err : "no memory");
        free(ids);
        return n < 0 ? -1 : -2;
    }
    *out = ids;
    return (int32_t)n;
}

static bool set_prompt(serve_server *s, serve_job *j, int32_t *ids, int32_t n, why *w) {
    if (n <= 0) {
        if (n == 0) free(ids);
        if (n == -2)
            snprintf(w->msg, sizeof w->msg, "the prompt is longer than %d tokens", s->p.max_prompt);
        if (n == 0) snprintf(w->msg, sizeof w->msg, "the prompt is empty");
        return false;
    }
    j->prompt = ids;
    j->n_prompt = n;
    int32_t room = s->n_ctx - n; /* a sequence never outgrows its context */
    if (j->max_tokens > room) j->max_tokens = room;
    return true;
}

/* The text of a prompt field: a string or an array holding one string. */
static const char *one_string(json_t *v, size_t *len) {
    if (json_is_array(v) && json_array_size(v) == 1) v = json_array_get(v, 0);
    if (!json_is_string(v)) return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

/* prompt + suffix as a FIM prompt in the model's family (completion/'s builder: markers, order,
 * BOS), the classic layout with windows as large as the prompt limit so nothing is cut that fits;
 * the texts are tokenized without special tokens, so they cannot forge the markers. */
static int32_t fim_prompt(serve_server *s, const char *pre, size_t npre, const char *suf,
                          size_t nsuf, int32_t **out, why *w) {
    completion_params p;
    completion_params_init(&p);
    p.prefix_tokens = p.suffix_tokens = s->p.max_prompt;
    p.context_tokens = -1;
    p.line_in_middle = false;
    completion_request r = {.prefix = pre, .prefix_len = npre, .suffix = suf, .suffix_len = nsuf};
    int64_t n = 0;
    if (!completion_prompt_tokens(s->model, &p, &r, out, &n, w->msg, sizeof w->msg)) return -1;
    count_tokenized(s, n);
    if (n > s->p.max_prompt) {
        free(*out);
        *out = NULL;
        return -2;
    }
    return (int32_t)n;
}

/* Request ids count up across the worker threads that parse requests. */
static int64_t take_id(serve_server *s) {
    pthread_mutex_lock(&s->mu);
    int64_t id = s->next_id++;
    pthread_mutex_unlock(&s->mu);
    return id;
}

static serve_job *parse_completion(serve_server *s, json_t *o, why *w) {
    serve_job *j = serve_job_new(JOB_COMPLETION);
    if (!j) return NULL;
    j->id = take_id(s);
    size_t np = 0, ns = 0;
    const char *prompt = one_string(json_object_get(o, "prompt"), &np);
    json_t *sv = json_object_get(o, "suffix");
    const char *suffix = json_is_string(sv) ? json_string_value(sv) : NULL;
    if (suffix) ns = json_string_length(sv);
    int32_t *ids = NULL, n = -1;
    if (!prompt)
        snprintf(w->msg, sizeof w->msg, "'prompt' must be a string (or an array of one string)");
    else if (sv && !json_is_null(sv) && !suffix)
        snprintf(w->msg, sizeof w->msg, "'suffix' must be a string");
    else if (!get_gen_params(s, o, j, 16, w))
        ;
    else if (suffix)
        n = fim_prompt(s, prompt, np, suffix, ns, &ids, w);
    else
        n = tokenize(s, prompt, np, true, true, s->p.max_prompt, &ids, w);
    if (!w->msg[0] && set_prompt(s, j, ids, n, w)) return j;
    if (!w->msg[0]) snprintf(w->msg, sizeof w->msg, "invalid request");
    pthread_mutex_lock(&s->mu);
    serve_job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* An optional string field of at most max bytes (no NUL inside), copied into *out. */
static bool get_str(json_t *o, const char *key, size_t max, char **out, why *w) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(w->msg, sizeof w->msg, "'%s' must be a string of at most %zu bytes", key, max);
        return false;
    }
    free(*out);
    *out = strdup(json_string_value(v));
    if (!*out) snprintf(w->msg, sizeof w->msg, "out of memory");
    return *out != NULL;
}

/* input_extra (llama.cpp's /infill shape): [{"filename": ..., "text": ...}], at most
 * SERVE_MAX_EXTRA files and SERVE_MAX_EXTRA_BYTES of text. */
static bool get_extras(json_t *o, serve_job *j, why *w) {
    json_t *v = json_object_get(o, "input_extra");
    if (!v || json_is_null(v)) return true;
    size_t n = json_is_array(v) ? json_array_size(v) : 0, total = 0;
    if (!json_is_array(v) || n > SERVE_MAX_EXTRA) {
        snprintf(w->msg, sizeof w->msg, "'input_extra' must be an array of at most %d objects",
                 SERVE_MAX_EXTRA);
        return false;
    }
    if (n && !(j->extras = calloc(n, sizeof *j->extras))) {
        snprintf(w->msg, sizeof w->msg, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++, j->n_extras++) {
        json_t *e = json_array_get(v, i), *t = json_object_get(e, "text");
        serve_extra *x = &j->extras[i];
        if (!json_is_object(e) || !json_is_string(t) ||
            (total += json_string_length(t)) > SERVE_MAX_EXTRA_BYTES) {
            snprintf(w->msg, sizeof w->msg,
                     "input_extra[%zu] must be an object with a string 'text' (%d bytes in all "
                     "at most)",
                     i, SERVE_MAX_EXTRA_BYTES);
            return false;
        }
        if (!get_str(e, "filename", SERVE_MAX_NAME, &x->path, w) ||
            !get_str(e, "language", SERVE_MAX_NAME, &x->language, w))
            return false;
        x->len = json_string_length(t);
        if (!(x->text = malloc(x->len + 1))) {
            snprintf(w->msg, sizeof w->msg, "out of memory");
            return false;
        }
        memcpy(x->text, json_string_value(t), x->len + 1);
    }
    return true;
}

/* /v1/fim: the document around the cursor (prompt | suffix), its path and language, other files
 * as context, for completion/ (the LSP's FIM path and context policy). */
static serve_job *parse_fim(serve_server *s, json_t *o, why *w) {
    serve_job *j = serve_job_new(JOB_FIM);
    if (!j) return NULL;
    j->id = take_id(s);
    size_t np = 0;
    const char *prompt = one_string(json_object_get(o, "prompt"), &np);
    json_t *sv = json_object_get(o, "suffix");
    long max_tokens = 64, max_lines = 0;
    bool stream = false;
    if (!prompt)
        snprintf(w->msg, sizeof w->msg, "'prompt' must be a string (or an array of one string)");
    else if (sv && !json_is_null(sv) && !json_is_string(sv))
        snprintf(w->msg, sizeof w->msg, "'suffix' must be a string");
    else if (json_object_get(o, "path") && json_object_get(o, "filename"))
        snprintf(w->msg, sizeof w->msg, "give 'path' or 'filename', not both");
    else if (get_int(o, "max_tokens", 1, 4096, &max_tokens, w) &&
             get_int(o, "max_lines", 1, 1 << 20, &max_lines, w) &&
             get_bool(o, "stream", &stream, w) && get_str(o, "path", SERVE_MAX_NAME, &j->path, w) &&
             get_str(o, "filename", SERVE_MAX_NAME, &j->path, w) &&
             get_str(o, "language", SERVE_MAX_NAME, &j->language, w) && get_extras(o, j, w)) {
        j->max_tokens = (int32_t)max_tokens;
        j->max_lines = (int32_t)max_lines;
        j->stream = stream;
        j->prefix_len = np;
        j->suffix_len = json_is_string(sv) ? json_string_length(sv) : 0;
        j->prefix = malloc(np + j->suffix_len + 1);
        if (j->prefix) {
            memcpy(j->prefix, prompt, np);
            memcpy(j->prefix + np, j->suffix_len ? json_string_value(sv) : "", j->suffix_len + 1);
            return j;
        }
        snprintf(w->msg, sizeof w->msg, "out of memory");
    }
    pthread_mutex_lock(&s->mu);
    serve_job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* A message's content: a string, or an array of {"type": "text", "text": ...} parts (joined). */
static char *message_text(json_t *content) {
    if (json_is_string(content)) return strdup(json_string_value(content));
    if (!json_is_array(content)) return NULL;
    size_t len = 0, i;
    json_t *part;
    json_array_foreach(content, i, part) {
        json_t *t = json_object_get(part, "text");
        if (!json_is_string(t)) return NULL;
        len += json_string_length(t);
    }
    char *out = malloc(len + 1), *p = out;
    if (!out) return NULL;
    json_array_foreach(content, i, part) {
        json_t *t = json_object_get(part, "text");
        memcpy(p, json_string_value(t), json_string_length(t));
        p += json_string_length(t);
    }
    *p = 0;
    return out;
}

static bool chat_prompt(serve_server *s, json_t *msgs, const char *reasoning, serve_job *j,
                        why *w) {
    size_t n = json_is_array(msgs) ? json_array_size(msgs) : 0;
    if (n == 0 || n > 4096) {
        snprintf(w->msg, sizeof w->msg, "'messages' must be a non-empty array");
        return false;
    }
    engine_chat_message *m = calloc(n, sizeof *m);
    char **texts = calloc(n, sizeof *texts);
    bool ok = m && texts;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *msg = json_array_get(msgs, i), *role = json_object_get(msg, "role");
        const char *r = json_is_string(role) ? json_string_value(role) : "";
        if (!strcmp(r, "developer")) r = "system";
        texts[i] = message_text(json_object_get(msg, "content"));
        ok = texts[i] && (!strcmp(r, "system") || !strcmp(r, "user") || !strcmp(r, "assistant"));
        if (!ok)
            snprintf(w->msg, sizeof w->msg,
                     "messages[%zu] needs a role (system, user, assistant) and text content", i);
        m[i] = (engine_chat_message){r, texts[i]};
    }
    /* the template's markers are special tokens, the messages' text is plain text (it cannot
     * forge a marker); tokenizing stops past the prompt limit */
    int32_t max = s->p.max_prompt, *ids = ok ? malloc(((size_t)max + 1) * sizeof *ids) : NULL;
    char err[ENGINE_ERR_LEN];
    engine_chat_options opt = {.reasoning = reasoning};
    int64_t k = ids ? engine_chat_tokens_ex(s->model, s->p.chat_template, m, (int)n, &opt, ids, max,
                                            err, sizeof err)
                    : -1;
    if (ok && k < 0) snprintf(w->msg, sizeof w->msg, "%s", ids ? err : "out of memory");
    count_tokenized(s, k);
    for (size_t i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    free(m);
    if (k < 0 || k > max) {
        free(ids);
        if (k > max) snprintf(w->msg, sizeof w->msg, "the prompt is longer than %d tokens", max);
        return false;
    }
    return set_prompt(s, j, ids, (int32_t)k, w);
}

static serve_job *parse_chat(serve_server *s, json_t *o, why *w) {
    serve_job *j = serve_job_new(JOB_CHAT);
    if (!j) return NULL;
    j->id = take_id(s);
    const char *tmpl = s->p.chat_template ? s->p.chat_template : engine_chat_template(s->model);
    /* reasoning is not the answer: Qwen3's <think> blocks, harmony's analysis channel */
    j->hide_think = tmpl && (!strcmp(tmpl, "qwen3") || !strcmp(tmpl, "harmony"));
    json_t *effort = json_object_get(o, "reasoning_effort"); /* harmony's reasoning effort */
    const char *reasoning = json_is_string(effort) ? json_string_value(effort) : NULL;
    if (effort && !json_is_null(effort) && (!reasoning || !engine_chat_reasoning_known(reasoning)))
        snprintf(w->msg, sizeof w->msg,
                 "'reasoning_effort' must be \"low\", \"medium\" or \"high\"");
    else if (get_gen_params(s, o, j, 1 << 30, w) &&
             chat_prompt(s, json_object_get(o, "messages"), reasoning, j, w))
        return j;
    if (!w->msg[0]) snprintf(w->msg, sizeof w->msg, "invalid request");
    pthread_mutex_lock(&s->mu);
    serve_job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* input_type (not OpenAI's): "document" (the default) or "query", as embed/ prompts them. */
static bool input_type(json_t *o, embed_kind *kind, why *w) {
    json_t *t = json_object_get(o, "input_type");
    const char *v = json_is_string(t) ? json_string_value(t) : t ? "" : "document";
    *kind = !strcmp(v, "query") ? EMBED_QUERY : EMBED_DOCUMENT;
    if (!strcmp(v, "query") || !strcmp(v, "document")) return true;
    snprintf(w->msg, sizeof w->msg, "'input_type' must be \"query\" or \"document\"");
    return false;
}

/* True when text is empty or only whitespace (nothing to embed). */
static bool blank(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n\v\f", text[i]) || !text[i]) return false;
    return true;
}

/* Each input through embed_prepare: prompt, tokens, truncation of documents; an over-long
 * query or an empty input fails the request naming the input. */
static bool prepare_inputs(serve_server *s, serve_job *j, json_t *in, size_t n, embed_kind kind,
                           why *w) {
    j->inputs = calloc(n, sizeof *j->inputs);
    if (!j->inputs) return false;
    char err[EMBED_ERR_LEN];
    for (size_t i = 0; i < n; i++, j->n_in++) {
        json_t *t = json_is_array(in) ? json_array_get(in, i) : in;
        if (!json_is_string(t)) {
            snprintf(w->msg, sizeof w->msg, "input[%zu] is not a string", i);
            return false;
        }
        if (blank(json_string_value(t), json_string_length(t))) {
            snprintf(w->msg, sizeof w->msg, "input[%zu] is empty: there is no text to embed", i);
            return false;
        }
        if (!embed_prepare(s->embed, kind, json_string_value(t), json_string_length(t),
                           &j->inputs[i], err, sizeof err)) {
            snprintf(w->msg, sizeof w->msg, "input[%zu]: %s", i, err);
            return false;
        }
        j->n_prompt_total += j->inputs[i].n_ids;
    }
    return true;
}

static serve_job *parse_embeddings(serve_server *s, json_t *o, why *w) {
    json_t *in = json_object_get(o, "input"), *fmt = json_object_get(o, "encoding_format");
    size_t n = json_is_array(in) ? json_array_size(in) : 1;
    if ((!json_is_string(in) && !json_is_array(in)) || n == 0 || n > SERVE_MAX_INPUTS) {
        snprintf(w->msg, sizeof w->msg, "'input' must be a string or 1..%d strings",
                 SERVE_MAX_INPUTS);
        return NULL;
    }
    const char *f = json_is_string(fmt) ? json_string_value(fmt) : fmt ? "" : "float";
    if (strcmp(f, "float") && strcmp(f, "base64")) {
        snprintf(w->msg, sizeof w->msg, "'encoding_format' must be \"float\" or \"base64\"");
        return NULL;
    }
    embed_kind kind;
    if (!input_type(o, &kind, w)) return NULL;
    serve_job *j = serve_job_new(JOB_EMBED);
    if (!j) return NULL;
    j->id = take_id(s);
    j->base64 = !strcmp(f, "base64");
    if (prepare_inputs(s, j, in, n, kind, w)) return j;
    pthread_mutex_lock(&s->mu);
    serve_job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- routing ---- */

/* Compares the Bearer token in constant time (for its length). */
static bool authorized(const serve_server *s, const char *header) {
    if (!s->p.api_key) return true;
    if (strncmp(header, "Bearer ", 7)) return false;
    const char *got = header + 7, *want = s->p.api_key;
    size_t ng = strlen(got), nw = strlen(want);
    unsigned diff = (unsigned)(ng != nw);
    for (size_t i = 0; i < ng; i++) diff |= (unsigned)(got[i] ^ want[i % (nw ? nw : 1)]);
    return diff == 0;
}

static void reply_health(serve_server *s, conn *c) {
    pthread_mutex_lock(&s->mu);
    json_t *o =
        json_pack("{s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:I}", "status", "ok", "requests_active",
                  s->n_active, "requests_queued", s->n_queued, "requests_parsing", s->n_parsing,
                  "requests_served", (json_int_t)s->n_served, "requests_cancelled",
                  (json_int_t)s->n_cancelled, "embedding_slices", (json_int_t)s->n_embed_slices,
                  "prompt_tokens_tokenized", (json_int_t)s->n_prompt_tokens_tokenized);
    pthread_mutex_unlock(&s->mu);
    json_object_set_new(o, "models", serve_models_health(s)); /* runtime/ registry: loads */
    json_object_set_new(o, "engine_threads", json_integer(engine_pool_workers() + 1));
    json_object_set_new(o, "indexes", serve_search_health(s)); /* /v1/search: kept open */
    serve_http_reply_json(c, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
}

static void reply_models(serve_server *s, conn *c) {
    json_t *data = json_array();
    const char *names[2] = {s->model ? s->model_name : NULL, s->embed_model ? s->embed_name : NULL};
    for (int i = 0; i < 2; i++)
        if (names[i])
            json_array_append_new(data, json_pack("{s:s, s:s, s:I, s:s}", "id", names[i], "object",
                                                  "model", "created", (json_int_t)s->created,
                                                  "owned_by", "hearth"));
    json_t *o = json_pack("{s:s, s:o}", "object", "list", "data", data);
    serve_http_reply_json(c, 200, o ? json_dumps(o, JSON_COMPACT) : NULL);
    json_decref(o);
}

typedef enum {
    R_NONE,
    R_HEALTH,
    R_MODELS,
    R_COMPLETIONS,
    R_FIM,
    R_CHAT,
    R_EMBEDDINGS,
    R_SEARCH
} route;

static route find_route(const char *path, bool *post) {
    static const struct {
        const char *path;
        route r;
        bool post;
    } ROUTES[] = {{"/health", R_HEALTH, false},
                  {"/v1/models", R_MODELS, false},
                  {"/v1/completions", R_COMPLETIONS, true},
                  {"/v1/fim", R_FIM, true},
                  {"/v1/chat/completions", R_CHAT, true},
                  {"/v1/embeddings", R_EMBEDDINGS, true},
                  {"/v1/search", R_SEARCH, true}};
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++)
        if (!strcmp(path, ROUTES[i].path)) {
            *post = ROUTES[i].post;
            return ROUTES[i].r;
        }
    return R_NONE;
}

static void submit(serve_server *s, conn *c, serve_job *j, const char *path) {
    if (!serve_sched_submit(s, j)) {
        pthread_mutex_lock(&s->mu);
        serve_job_unref_locked(j);
        pthread_mutex_unlock(&s->mu);
        serve_api_error(c, 429, "too many requests are queued; retry later", "queue_full");
        return;
    }
    serve_conn_set_job(c, j);
    if (!s->p.quiet)
        fprintf(stderr, "hearth serve: %s #%lld: %d prompt tokens%s\n", path, (long long)j->id,
                j->kind == JOB_EMBED ? j->n_prompt_total : j->n_prompt,
                j->stream ? ", streamed" : "");
}

/* A POST body parsed, checked and tokenized on one of libuv's worker threads, so the loop
 * never spends the time a big body takes (a 4 MB prompt): its job or why it is refused comes
 * back to the loop, which replies or submits it. The connection is held meanwhile. */
typedef struct {
    uv_work_t req;
    serve_server *s;
    conn *c;
    route rt;
    const char *body, *path; /* the connection's (held) */
    size_t body_len;
    serve_job *job;
    char *reply; /* /v1/search: the answer, no job */
    int status;  /* of the error in w (0: 400) */
    why w;
    const char *code; /* the error's code, if any */
} parse_work;

static void parse_body(uv_work_t *req) {
    parse_work *pw = req->data;
    serve_server *s = pw->s;
    why *w = &pw->w;
    if (pw->body_len >= s->test_parse_gate_bytes) serve_test_gate_wait(s, s->test_parse_gate);
    json_error_t jerr;
    json_t *o = json_loadb(pw->body, pw->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        if (o)
            snprintf(w->msg, sizeof w->msg, "the request body must be a JSON object");
        else
            snprintf(w->msg, sizeof w->msg, "invalid JSON at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        pw->code = "invalid_json";
        json_decref(o);
        return;
    }
    route rt = pw->rt;
    if (rt == R_SEARCH) {
        pw->reply = serve_search_run(s, o, &pw->status, w->msg, sizeof w->msg);
        json_decref(o);
        return;
    }
    bool embed = rt == R_EMBEDDINGS;
    if (embed ? !s->embed_model : !s->model)
        snprintf(w->msg, sizeof w->msg, "no %s model is loaded (see hearth serve --help)",
                 embed ? "embedding" : "completion");
    else if (rt == R_CHAT)
        pw->job = parse_chat(s, o, w);
    else if (embed)
        pw->job = parse_embeddings(s, o, w);
    else if (rt == R_FIM && !s->fim)
        snprintf(w->msg, sizeof w->msg, "no /v1/fim: %s", s->fim_why);
    else if (rt == R_FIM)
        pw->job = parse_fim(s, o, w);
    else
        pw->job = parse_completion(s, o, w);
    json_decref(o);
}

static void parsed(uv_work_t *req, int status) {
    parse_work *pw = req->data;
    serve_server *s = pw->s;
    serve_job *j = status ? NULL : pw->job;
    s->n_parsing--;
    if (!serve_conn_open(pw->c)) { /* the client left meanwhile */
        if (j) {
            pthread_mutex_lock(&s->mu);
            serve_job_unref_locked(j);
            pthread_mutex_unlock(&s->mu);
        }
    } else if (j) {
        submit(s, pw->c, j, pw->path);
    } else if (pw->reply) {
        serve_http_reply_json(pw->c, 200, pw->reply);
        pw->reply = NULL;
    } else {
        const char *msg = pw->w.msg[0] ? pw->w.msg : "out of memory";
        if (!pw->code && strstr(msg, "longer than")) pw->code = "context_length_exceeded";
        serve_api_error(pw->c, pw->status ? pw->status : 400, msg, pw->code);
    }
    serve_conn_release(pw->c);
    free(pw->reply);
    free(pw);
}

static void handle_post(serve_server *s, conn *c, route rt, const http_request *r) {
    parse_work *pw = calloc(1, sizeof *pw);
    if (!pw) {
        serve_api_error(c, 500, "out of memory", NULL);
        return;
    }
    *pw = (parse_work){
        .s = s, .c = c, .rt = rt, .body = r->body, .path = r->path, .body_len = r->body_len};
    pw->req.data = pw;
    serve_conn_hold(c);
    s->n_parsing++;
    if (serve_conn_detached(c)) { /* the fuzz target: no loop, no worker */
        parse_body(&pw->req);
        parsed(&pw->req, 0);
        return;
    }
    if (uv_queue_work(&s->loop, &pw->req, parse_body, parsed)) {
        s->n_parsing--;
        serve_conn_release(c);
        free(pw);
        serve_api_error(c, 500, "cannot queue the request", NULL);
    }
}

void serve_api_handle(serve_server *s, conn *c, const http_request *r) {
    if (!authorized(s, r->authorization)) {
        serve_api_error(c, 401, "invalid or missing API key (Authorization: Bearer <key>)",
                        "invalid_api_key");
        return;
    }
    bool post = false;
    route rt = find_route(r->path, &post);
    if (rt == R_NONE) {
        serve_api_error(c, 404, "no such endpoint", NULL);
        return;
    }
    if (strcmp(r->method, post ? "POST" : "GET")) {
        serve_api_error(c, 405, post ? "use POST" : "use GET", NULL);
        return;
    }
    if (rt == R_HEALTH)
        reply_health(s, c);
    else if (rt == R_MODELS)
        reply_models(s, c);
    else
        handle_post(s, c, rt, r);
}
