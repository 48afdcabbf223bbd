/* The OpenAI-compatible HTTP client: /v1/completions and /v1/chat/completions streamed as
 * server-sent events, /v1/embeddings in batches. Generation is retried only while no text has
 * been handed to the caller (a repeat would duplicate it); embeddings are idempotent and always
 * retried. Every byte from the server is hostile: bodies, lines and vectors are bounded and
 * checked. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base.h"
#include "internal.h"

#define MAX_BODY (64u << 20) /* a non-streamed response (embeddings of a batch) */
#define MAX_LINE (16u << 20) /* one server-sent-event line */

typedef enum { CALL_COMPLETE, CALL_CHAT, CALL_EMBED } call_kind;

/* Appends to a buffer holding at most max bytes: a hostile server cannot grow it without bound. */
static bool buf_add(base_buf *b, const char *s, size_t n, size_t max) {
    return b->len + n + 1 <= max && base_buf_append(b, s, n);
}

typedef struct {
    call_kind kind;
    models_text_fn emit;
    void *user;
    models_remote_stats *st;
    CURL *h;
    /* the response being received */
    long status;
    bool started, sse, done;
    base_buf body, line, data;
    char fail[256]; /* why the stream was abandoned (error event, malformed, too long) */
} call;

/* ---- server-sent events ---- */

/* The text of one streamed or whole response object: choices[0].text (completions),
 * choices[0].delta.content (chat stream) or choices[0].message.content (chat, not streamed). */
static const char *choice_text(const call *c, json_t *o, size_t *len) {
    json_t *ch = json_array_get(json_object_get(o, "choices"), 0);
    json_t *t = c->kind == CALL_COMPLETE ? json_object_get(ch, "text") : NULL;
    if (!t) t = json_object_get(json_object_get(ch, "delta"), "content");
    if (!t) t = json_object_get(json_object_get(ch, "message"), "content");
    const char *fr = json_string_value(json_object_get(ch, "finish_reason"));
    if (fr) snprintf(c->st->finish_reason, sizeof c->st->finish_reason, "%s", fr);
    json_t *u = json_object_get(o, "usage");
    if (json_is_integer(json_object_get(u, "prompt_tokens")))
        c->st->prompt_tokens = json_integer_value(json_object_get(u, "prompt_tokens"));
    if (json_is_integer(json_object_get(u, "completion_tokens")))
        c->st->completion_tokens = json_integer_value(json_object_get(u, "completion_tokens"));
    *len = json_is_string(t) ? json_string_length(t) : 0;
    return json_string_value(t);
}

static const char *error_message(json_t *o) {
    json_t *e = json_object_get(o, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (!m) m = json_string_value(e);
    if (!m) m = json_string_value(json_object_get(o, "detail"));
    return m;
}

/* Hands a response object's text to the caller; false stops the transfer. */
static bool deliver(call *c, json_t *o) {
    const char *em = error_message(o);
    if (em || !json_is_object(o)) {
        snprintf(c->fail, sizeof c->fail, "the server sent %s%s", em ? "an error: " : "",
                 em ? em : "a malformed event");
        return false;
    }
    size_t n;
    const char *t = choice_text(c, o, &n);
    if (!t || !n) return true;
    c->st->emitted += n;
    if (c->emit(t, n, c->user)) return true;
    c->st->cancelled = true;
    return false;
}

static bool dispatch_event(call *c) {
    if (!c->data.len) return true;
    bool ok = true;
    if (!strcmp(c->data.data, "[DONE]")) {
        c->done = true;
    } else {
        json_t *o = json_loadb(c->data.data, c->data.len, 0, NULL);
        ok = deliver(c, o);
        json_decref(o);
    }
    c->data.len = 0;
    return ok;
}

static bool sse_line(call *c, char *s, size_t n) {
    if (n && s[n - 1] == '\r') s[--n] = 0;
    if (n == 0) return dispatch_event(c);
    if (n < 5 || strncmp(s, "data:", 5)) return true; /* comments, event:, id:, retry: */
    size_t skip = n > 5 && s[5] == ' ' ? 6 : 5;
    bool ok = (!c->data.len || buf_add(&c->data, "\n", 1, MAX_LINE)) &&
              buf_add(&c->data, s + skip, n - skip, MAX_LINE);
    if (!ok) snprintf(c->fail, sizeof c->fail, "an event longer than %u bytes", MAX_LINE);
    return ok;
}

static bool sse_feed(call *c, const char *p, size_t n) {
    while (n && !c->done) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (!buf_add(&c->line, p, take, MAX_LINE)) {
            snprintf(c->fail, sizeof c->fail, "a line longer than %u bytes", MAX_LINE);
            return false;
        }
        p += take + (nl != NULL), n -= take + (nl != NULL);
        if (!nl) break;
        bool ok = sse_line(c, c->line.data, c->line.len);
        c->line.len = 0;
        if (!ok) return false;
    }
    return true;
}

/* ---- libcurl callbacks ---- */

static size_t on_header(char *p, size_t size, size_t n, void *user) {
    call *c = user;
    size_t len = size * n;
    if (len >= 5 && !strncmp(p, "HTTP/", 5)) c->sse = false, c->started = false;
    if (len > 13 && !strncasecmp(p, "content-type:", 13)) {
        size_t i = 13;
        while (i < len && p[i] == ' ') i++;
        c->sse = len - i >= 17 && !strncasecmp(p + i, "text/event-stream", 17);
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *user) {
    call *c = user;
    size_t len = size * n;
    if (!c->started) {
        c->started = true;
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
    }
    if (c->sse && c->status >= 200 && c->status < 300) return sse_feed(c, p, len) ? len : 0;
    if (buf_add(&c->body, p, len, MAX_BODY)) return len;
    snprintf(c->fail, sizeof c->fail, "a response larger than %u bytes", MAX_BODY);
    return 0;
}

/* ---- one request, retried ---- */

typedef enum { RESULT_OK, RESULT_RETRY, RESULT_FAIL } call_result;

static CURLcode perform(const models_backend *b, const char *url, const char *body, bool stream,
                        call *c, char *cerr) {
    CURL *h = curl_easy_init();
    if (!h) return CURLE_FAILED_INIT;
    c->h = h;
    c->status = 0;
    c->started = c->sse = c->done = false;
    c->body.len = c->line.len = c->data.len = 0;
    c->fail[0] = 0;
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    hd = curl_slist_append(hd, stream ? "Accept: text/event-stream" : "Accept: application/json");
    char auth[1024];
    if (b->api_key &&
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", b->api_key) < (int)sizeof auth)
        hd = curl_slist_append(hd, auth);
    models_curl_common(h, url, (long)(b->connect_timeout_s * 1000), cerr);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a POST with a key goes where configured */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    if (stream) { /* a long generation is fine; a silent server is not */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, b->timeout_s < 1 ? 1L : (long)b->timeout_s);
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(b->timeout_s * 1000));
    }
    c->st->attempts++;
    CURLcode rc = curl_easy_perform(h);
    if (!c->started) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status); /* no body */
    if (rc == CURLE_OK && c->sse && c->line.len) { /* a last line without its newline */
        if (!sse_line(c, c->line.data, c->line.len)) rc = CURLE_WRITE_ERROR;
        c->line.len = 0;
    }
    if (rc == CURLE_OK && c->sse && !dispatch_event(c)) rc = CURLE_WRITE_ERROR;
    c->st->http_status = (int)c->status;
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return rc;
}

static call_result judge_http(const models_backend *b, const char *url, call *c, char *err,
                              size_t errlen) {
    json_t *o = c->body.len ? json_loadb(c->body.data, c->body.len, 0, NULL) : NULL;
    const char *m = error_message(o);
    char hint[160] = "";
    if ((c->status == 401 || c->status == 403) && !b->api_key && b->api_key_env)
        snprintf(hint, sizeof hint, " (no API key: $%.100s is not set)", b->api_key_env);
    else if ((c->status == 401 || c->status == 403) && !b->api_key)
        snprintf(hint, sizeof hint, " (no API key is configured)");
    snprintf(err, errlen, "%s answered HTTP %ld%s%.200s%s", url, c->status, m ? ": " : "",
             m ? m : "", hint);
    json_decref(o);
    bool transient = c->status == 408 || c->status == 429 || c->status >= 500;
    c->st->backend_down = c->status >= 500;
    return transient ? RESULT_RETRY : RESULT_FAIL;
}

static call_result judge(const models_backend *b, const char *url, CURLcode rc, call *c,
                         const char *cerr, char *err, size_t errlen) {
    c->st->backend_down = false;
    if (rc == CURLE_WRITE_ERROR && c->st->cancelled) {
        snprintf(err, errlen, "cancelled");
        return RESULT_FAIL;
    }
    if (rc == CURLE_WRITE_ERROR && c->fail[0]) {
        snprintf(err, errlen, "%s: %s", url, c->fail);
        return RESULT_FAIL;
    }
    if (rc != CURLE_OK) {
        c->st->backend_down = c->status == 0;
        snprintf(err, errlen, "%s: %s%s", url,
                 c->status ? "" : "the backend is down: ", *cerr ? cerr : curl_easy_strerror(rc));
        return RESULT_RETRY;
    }
    if (c->status < 200 || c->status >= 300) return judge_http(b, url, c, err, errlen);
    if (c->sse && !c->done && !c->st->finish_reason[0]) {
        snprintf(err, errlen,
                 "%s: the stream ended before the server finished (%llu bytes of text)", url,
                 (unsigned long long)c->st->emitted);
        return RESULT_RETRY; /* retried only when no text had arrived */
    }
    if (c->kind != CALL_EMBED && !c->sse) { /* the server answered without streaming */
        json_t *o = json_loadb(c->body.data ? c->body.data : "", c->body.len, 0, NULL);
        bool ok = deliver(c, o);
        json_decref(o);
        if (!ok && !c->st->cancelled) {
            snprintf(err, errlen, "%s: %s", url, c->fail);
            return RESULT_FAIL;
        }
    }
    return RESULT_OK;
}

/* POSTs body to base_url + path, retrying with back-off what may be retried. */
static bool run_call(const models_backend *b, const char *path, json_t *req, call *c, char *err,
                     size_t errlen) {
    if (b->kind != MODELS_BACKEND_OPENAI || !b->base_url) {
        snprintf(err, errlen, "no openai backend configured (base_url missing)");
        return false;
    }
    char url[MODELS_PATH_LEN], cerr[CURL_ERROR_SIZE];
    snprintf(url, sizeof url, "%s%s", b->base_url, path);
    if (b->model) json_object_set_new(req, "model", json_string(b->model));
    char *body = json_dumps(req, JSON_COMPACT);
    if (!body) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    models_curl_init();
    call_result r = RESULT_FAIL;
    for (int i = 0;; i++) {
        cerr[0] = 0;
        CURLcode rc = perform(b, url, body, c->kind != CALL_EMBED, c, cerr);
        r = judge(b, url, rc, c, cerr, err, errlen);
        /* a retried generation would repeat text the caller already has */
        if (r != RESULT_RETRY || i >= b->retries || c->st->emitted > 0) break;
        models_sleep_s(models_backoff_s(i, 0.25, 4));
    }
    if (r == RESULT_OK) err[0] = 0;
    if (r == RESULT_RETRY && c->st->attempts > 1) {
        size_t l = strlen(err);
        snprintf(err + l, errlen - l, " (%d attempts)", c->st->attempts);
    }
    free(body);
    return r == RESULT_OK;
}

static void call_free(call *c) {
    base_buf_free(&c->body), base_buf_free(&c->line), base_buf_free(&c->data);
}

/* ---- generation ---- */

models_gen_params models_gen_default_params(void) {
    return (models_gen_params){.max_tokens = 0, .temperature = -1, .top_p = 0, .seed = -1};
}

static json_t *gen_request(const models_gen_params *g) {
    json_t *r = json_object();
    json_object_set_new(r, "stream", json_true());
    if (g->max_tokens > 0) json_object_set_new(r, "max_tokens", json_integer(g->max_tokens));
    if (g->temperature >= 0) json_object_set_new(r, "temperature", json_real(g->temperature));
    if (g->top_p > 0) json_object_set_new(r, "top_p", json_real(g->top_p));
    if (g->seed >= 0) json_object_set_new(r, "seed", json_integer(g->seed));
    if (g->n_stop > 0) {
        json_t *a = json_array();
        for (int32_t i = 0; i < g->n_stop; i++) json_array_append_new(a, json_string(g->stop[i]));
        json_object_set_new(r, "stop", a);
    }
    return r;
}

static void stats_init(models_remote_stats *st) {
    memset(st, 0, sizeof *st);
    st->prompt_tokens = st->completion_tokens = -1;
}

static bool generate(const models_backend *b, const char *path, json_t *req, call_kind kind,
                     models_text_fn emit, void *user, models_remote_stats *st, char *err,
                     size_t errlen) {
    call c = {.kind = kind, .emit = emit, .user = user, .st = st};
    bool ok = req && run_call(b, path, req, &c, err, errlen);
    if (!req) snprintf(err, errlen, "out of memory or a prompt that is not UTF-8");
    call_free(&c);
    json_decref(req);
    return ok;
}

bool models_remote_complete(const models_backend *b, const char *prompt, const models_gen_params *g,
                            models_text_fn emit, void *user, models_remote_stats *st, char *err,
                            size_t errlen) {
    stats_init(st);
    json_t *req = gen_request(g), *p = json_string(prompt);
    if (!p) json_decref(req), req = NULL;
    if (req) json_object_set_new(req, "prompt", p);
    return generate(b, "/completions", req, CALL_COMPLETE, emit, user, st, err, errlen);
}

bool models_remote_chat(const models_backend *b, const models_chat_message *msgs, int32_t n_msgs,
                        const models_gen_params *g, models_text_fn emit, void *user,
                        models_remote_stats *st, char *err, size_t errlen) {
    stats_init(st);
    json_t *req = gen_request(g), *a = json_array();
    for (int32_t i = 0; req && i < n_msgs; i++) {
        json_t *m = json_pack("{s:s, s:s}", "role", msgs[i].role, "content", msgs[i].content);
        if (!m) json_decref(req), req = NULL;
        json_array_append_new(a, m);
    }
    if (req)
        json_object_set_new(req, "messages", a);
    else
        json_decref(a);
    return generate(b, "/chat/completions", req, CALL_CHAT, emit, user, st, err, errlen);
}

/* ---- embeddings ---- */

/* Reads {"data": [{"index": i, "embedding": [...]}, ...]} for n texts into out + i * dim (dim is
 * set by the first vector when still 0; *out is allocated then for total texts). */
static bool parse_embeddings(json_t *o, int32_t first, int32_t n, int32_t total, float **out,
                             int32_t *dim, char *why, size_t whylen) {
    json_t *data = json_object_get(o, "data");
    if (!json_is_array(data) || json_array_size(data) != (size_t)n) {
        snprintf(why, whylen, "expected \"data\" with %d embeddings", n);
        return false;
    }
    bool *seen = calloc((size_t)n, 1);
    size_t i;
    json_t *item;
    bool ok = seen != NULL;
    json_array_foreach(data, i, item) {
        json_t *idx = json_object_get(item, "index"), *e = json_object_get(item, "embedding");
        int64_t k = json_is_integer(idx) ? json_integer_value(idx) : (int64_t)i;
        size_t d = json_array_size(e);
        if (!ok || k < 0 || k >= n || seen[k] || !json_is_array(e) || d == 0 || d > 65536 ||
            (*dim && d != (size_t)*dim)) {
            snprintf(why, whylen, "embedding %zu: bad index or length", i);
            ok = false;
            break;
        }
        if (!*dim) {
            *dim = (int32_t)d;
            *out = malloc((size_t)total * d * sizeof(float));
            if (!*out) {
                snprintf(why, whylen, "out of memory");
                ok = false;
                break;
            }
        }
        seen[k] = true;
        float *v = *out + (size_t)(first + k) * d;
        double norm = 0;
        for (size_t j = 0; ok && j < d; j++) {
            json_t *x = json_array_get(e, j);
            ok = json_is_number(x) && isfinite(json_number_value(x));
            v[j] = ok ? (float)json_number_value(x) : 0;
            norm += (double)v[j] * v[j];
        }
        if (!ok) snprintf(why, whylen, "embedding %zu: not a list of finite numbers", i);
        for (size_t j = 0; ok && norm > 0 && j < d; j++) v[j] = (float)(v[j] / sqrt(norm));
        if (!ok) break;
    }
    free(seen);
    return ok;
}

bool models_remote_embed(const models_backend *b, const char *const *texts, int32_t n, float **out,
                         int32_t *dim, models_remote_stats *st, char *err, size_t errlen) {
    stats_init(st);
    *out = NULL, *dim = 0;
    bool ok = true;
    int32_t batch = b->batch > 0 ? b->batch : 64;
    for (int32_t first = 0; ok && first < n; first += batch) {
        int32_t m = n - first < batch ? n - first : batch;
        json_t *req = json_object(), *in = json_array();
        for (int32_t i = 0; i < m; i++) json_array_append_new(in, json_string(texts[first + i]));
        json_object_set_new(req, "input", in);
        json_object_set_new(req, "encoding_format", json_string("float"));
        call c = {.kind = CALL_EMBED, .st = st};
        ok = json_array_size(in) == (size_t)m && run_call(b, "/embeddings", req, &c, err, errlen);
        if (!ok && json_array_size(in) != (size_t)m) snprintf(err, errlen, "a text is not UTF-8");
        json_t *o = ok ? json_loadb(c.body.data ? c.body.data : "", c.body.len, 0, NULL) : NULL;
        char why[200];
        if (ok && !parse_embeddings(o, first, m, n, out, dim, why, sizeof why)) {
            snprintf(err, errlen, "%s/embeddings: %s", b->base_url, why);
            ok = false;
        }
        json_decref(o);
        json_decref(req);
        call_free(&c);
    }
    if (!ok) free(*out), *out = NULL, *dim = 0;
    return ok;
}

char *models_remote_embed_id(const models_backend *b, int32_t dim) {
    size_t n = strlen(b->base_url ? b->base_url : "") + strlen(b->model ? b->model : "") + 48;
    char *id = malloc(n);
    if (id)
        snprintf(id, n, "remote|%s|%s|%d", b->base_url ? b->base_url : "", b->model ? b->model : "",
                 dim);
    return id;
}
