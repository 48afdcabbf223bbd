/* Responses on the loop thread, in the OpenAI shapes: text_completion / chat.completion objects,
 * their streamed chunks as server-sent events ending with `data: [DONE]`, and embedding lists
 * (float arrays or base64 of little-endian float32). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* What the loop takes from a job under the lock. */
typedef struct {
    char *text;
    size_t len;
    bool done;
    const char *finish;
    int err_status;
    char err_msg[640];
    int32_t n_generated;
} update;

static void take(serve_server *s, serve_job *j, update *u) {
    pthread_mutex_lock(&s->mu);
    u->done = j->done;
    if (j->stream || j->done) { /* non-streamed text is taken once, at the end */
        u->text = j->out;
        u->len = j->out_len;
        j->out = NULL;
        j->out_len = j->out_cap = 0;
    }
    u->finish = j->finish;
    u->err_status = j->err_status;
    snprintf(u->err_msg, sizeof u->err_msg, "%s", j->err_msg);
    u->n_generated = j->n_generated;
    pthread_mutex_unlock(&s->mu);
}

static json_t *usage(int32_t prompt, int32_t completion) {
    return json_pack("{s:i, s:i, s:i}", "prompt_tokens", prompt, "completion_tokens", completion,
                     "total_tokens", prompt + completion);
}

/* The common envelope of completion objects and chunks. */
static json_t *envelope(serve_server *s, const serve_job *j, bool chunk) {
    char id[48];
    bool chat = j->kind == JOB_CHAT;
    snprintf(id, sizeof id, "%s-%lld", chat ? "chatcmpl" : "cmpl", (long long)j->id);
    const char *object =
        chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", id, "object", object, "created",
                     (json_int_t)time(NULL), "model", s->model_name, "system_fingerprint",
                     "hearth");
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    size_t len = p[0] < 0x80             ? 1
                 : (p[0] & 0xE0) == 0xC0 ? 2
                 : (p[0] & 0xF0) == 0xE0 ? 3
                 : (p[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (len == 0 || len > n || (len == 2 && p[0] < 0xC2)) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))) return 0;
    if (len == 4 &&
        ((p[0] == 0xF0 && p[1] < 0x90) || p[0] > 0xF4 || (p[0] == 0xF4 && p[1] >= 0x90)))
        return 0;
    return len;
}

/* A JSON string of text with every invalid UTF-8 byte replaced by U+FFFD (a model may emit raw
 * bytes that never form a character). */
static json_t *json_text(const char *text, size_t n) {
    char *out = malloc(n * 3 + 1);
    size_t k = 0;
    if (!out) return json_string("");
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq((const unsigned char *)text + i, n - i);
        if (len) {
            memcpy(out + k, text + i, len);
            k += len;
            i += len;
        } else {
            memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    json_t *j = json_stringn(out, k);
    free(out);
    return j ? j : json_string("");
}

/* One choice: text (completions) or a message / delta (chat). finish may be NULL. */
static json_t *choice(const serve_job *j, const char *text, size_t len, const char *finish,
                      bool chunk, bool first) {
    json_t *c = json_pack("{s:i, s:o}", "index", 0, "finish_reason",
                          finish ? json_string(finish) : json_null());
    json_t *t = json_text(text ? text : "", text ? len : 0);
    if (j->kind != JOB_CHAT) {
        json_object_set_new(c, "text", t);
        json_object_set_new(c, "logprobs", json_null());
        return c;
    }
    json_t *m = json_object();
    if (!chunk || first) json_object_set_new(m, "role", json_string("assistant"));
    if (!chunk || len || first)
        json_object_set_new(m, "content", t);
    else
        json_decref(t);
    json_object_set_new(c, chunk ? "delta" : "message", m);
    return c;
}

static void send_event(conn *c, json_t *o) {
    char *d = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (d) serve_http_sse_event(c, d, strlen(d));
    free(d);
    json_decref(o);
}

static void send_chunk(serve_server *s, conn *c, const serve_job *j, const update *u, bool first) {
    json_t *o = envelope(s, j, true);
    const char *fin = u->done ? u->finish : NULL;
    if (fin && !strcmp(fin, "cancelled")) fin = "stop";
    json_t *choices = json_array();
    json_array_append_new(choices, choice(j, u->text, u->len, fin, true, first));
    json_object_set_new(o, "choices", choices);
    if (j->include_usage) json_object_set_new(o, "usage", json_null());
    send_event(c, o);
}

static void stream_update(serve_server *s, conn *c, serve_job *j, update *u) {
    if (u->err_status) {
        if (!serve_http_replied(c)) {
            serve_api_error(c, u->err_status, u->err_msg, NULL);
            return;
        }
        char *body = serve_api_error_body(u->err_status, u->err_msg, NULL);
        if (body) serve_http_sse_event(c, body, strlen(body));
        free(body);
        serve_http_end(c);
        return;
    }
    bool first = !serve_http_replied(c);
    if (u->len || first || u->done) {
        update text_only = *u;
        text_only.done = false;
        if (u->len || first) send_chunk(s, c, j, &text_only, first);
        if (u->done) {
            update last = {.done = true, .finish = u->finish};
            send_chunk(s, c, j, &last, false);
        }
    }
    if (!u->done) return;
    if (j->include_usage) {
        json_t *o = envelope(s, j, true);
        json_object_set_new(o, "choices", json_array());
        json_object_set_new(o, "usage", usage(j->n_prompt, u->n_generated));
        send_event(c, o);
    }
    serve_http_sse_event(c, "[DONE]", 6);
    serve_http_end(c);
}

static void whole_reply(serve_server *s, conn *c, serve_job *j, update *u) {
    if (u->err_status) {
        serve_api_error(c, u->err_status, u->err_msg, NULL);
        return;
    }
    json_t *o = envelope(s, j, false);
    json_t *choices = json_array();
    json_array_append_new(choices, choice(j, u->text, u->len, u->finish, false, true));
    json_object_set_new(o, "choices", choices);
    json_t *use = usage(j->n_prompt, u->n_generated);
    if (j->kind == JOB_FIM) /* prompt tokens kept in the KV cache from the previous request */
        json_object_set_new(use, "prompt_tokens_details",
                            json_pack("{s:i}", "cached_tokens", j->n_cached));
    json_object_set_new(o, "usage", use);
    serve_http_reply_json(c, 200, json_dumps(o, JSON_COMPACT));
    json_decref(o);
}

/* ---- embeddings ---- */

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(strbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}

static void sb_base64(strbuf *b, const unsigned char *d, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) |
                     (i + 2 < n ? d[i + 2] : 0);
        char q[4] = {A[v >> 18 & 63], A[v >> 12 & 63], i + 1 < n ? A[v >> 6 & 63] : '=',
                     i + 2 < n ? A[v & 63] : '='};
        sb_add(b, q, 4);
    }
}

/* Not OpenAI's: a document embed/ cut to the model's limit says so, with both token counts. */
static void sb_truncation(strbuf *b, const embed_item *it) {
    if (!it->truncated) return;
    char t[128];
    snprintf(t, sizeof t, ",\"truncated\":true,\"tokens\":%d,\"original_tokens\":%d", it->n_ids,
             it->n_original);
    sb_str(b, t);
}

static void embed_reply(serve_server *s, conn *c, serve_job *j, update *u) {
    if (u->err_status) {
        serve_api_error(c, u->err_status, u->err_msg, NULL);
        return;
    }
    strbuf b = {0};
    char num[64];
    sb_str(&b, "{\"object\":\"list\",\"data\":[");
    for (int32_t i = 0; i < j->n_in; i++) {
        snprintf(num, sizeof num,
                 "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "", i);
        sb_str(&b, num);
        const float *e = j->embeddings + (size_t)i * j->n_embd;
        if (j->base64) { /* float32 little-endian bytes (x86 is little-endian) */
            sb_str(&b, "\"");
            sb_base64(&b, (const unsigned char *)e, (size_t)j->n_embd * sizeof(float));
            sb_str(&b, "\"");
        } else {
            for (int32_t k = 0; k < j->n_embd; k++) {
                int n = snprintf(num, sizeof num, "%s%.9g", k ? "," : "[", (double)e[k]);
                sb_add(&b, num, (size_t)n);
            }
            sb_str(&b, "]");
        }
        sb_truncation(&b, &j->inputs[i]);
        sb_str(&b, "}");
    }
    json_t *name = json_string(s->embed_name);
    char *qname = json_dumps(name, JSON_ENCODE_ANY);
    json_decref(name);
    snprintf(num, sizeof num, "%d", j->n_prompt_total);
    sb_str(&b, "],\"model\":");
    sb_str(&b, qname ? qname : "\"\"");
    free(qname);
    sb_str(&b, ",\"usage\":{\"prompt_tokens\":");
    sb_str(&b, num);
    sb_str(&b, ",\"total_tokens\":");
    sb_str(&b, num);
    sb_str(&b, "}}");
    if (b.oom) {
        free(b.p);
        serve_api_error(c, 500, "out of memory", NULL);
        return;
    }
    serve_http_reply_json(c, 200, b.p);
}

void serve_reply_job_update(serve_server *s, serve_job *j) {
    update u = {0};
    take(s, j, &u);
    conn *c = j->c;
    if (c && j->kind == JOB_EMBED && u.done)
        embed_reply(s, c, j, &u);
    else if (c && j->stream)
        stream_update(s, c, j, &u);
    else if (c && u.done)
        whole_reply(s, c, j, &u);
    free(u.text);
}
