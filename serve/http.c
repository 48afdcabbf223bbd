/* HTTP/1.1 connections on the loop thread: accept, parse with http_parser under limits (header
 * bytes, body bytes, one time-out for the whole request, so slow partial headers are cut off),
 * hand the request to the router, write the response. One request per connection: every
 * response ends with `Connection: close`. A connection that closes while its job runs cancels
 * the job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    serve_server *s;
    http_parser parser;
    int holders;
    char url[2048];
    size_t url_len;
    char field[32];
    size_t field_len;
    bool auth_field, expect_field, expect_continue, in_value;
    char auth[512];
    size_t auth_len, header_bytes;
    char *body;
    size_t body_len, body_cap;
    bool message_done, replied, streaming, closing;
    bool detached; /* serve_http_feed_detached: no socket, no timer; replies are dropped */
    int fail_status;
    char fail_msg[160];
    serve_job *job;
};

serve_server *serve_conn_server(conn *c) {
    return c->s;
}

bool serve_http_replied(const conn *c) {
    return c->replied;
}

void serve_conn_set_job(conn *c, serve_job *j) {
    c->job = j;
    j->c = c;
}

/* ---- lifetime ---- */

/* Drops one holder of c (each of its two handles until closed, a worker parsing its request). */
static void conn_unref(conn *c) {
    if (--c->holders > 0) return;
    c->s->n_conns--;
    free(c->body);
    free(c);
}

static void on_handle_closed(uv_handle_t *h) {
    conn_unref(h->data);
}

void serve_conn_hold(conn *c) {
    c->holders++;
}

void serve_conn_release(conn *c) {
    conn_unref(c);
}

bool serve_conn_detached(const conn *c) {
    return c->detached;
}

bool serve_conn_open(const conn *c) {
    return !c->closing;
}

static void conn_close(conn *c) {
    if (c->closing) return;
    c->closing = true;
    if (c->job) { /* the client is gone or the answer is complete: the job has no reader now */
        serve_job *j = c->job;
        c->job = NULL;
        j->c = NULL;
        serve_sched_cancel(c->s, j);
        pthread_mutex_lock(&c->s->mu);
        serve_job_unref_locked(j);
        pthread_mutex_unlock(&c->s->mu);
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_linger_end(uv_timer_t *t) {
    conn_close(t->data);
}

/* Our side is shut down: wait (briefly) for the client to close, reading and dropping anything it
 * still sends, so an early error reply is not lost to a reset of unread request bytes. */
static void on_shutdown(uv_shutdown_t *req, int status) {
    conn *c = req->data;
    free(req);
    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_linger_end, 2000, 0);
}

/* Closes once every queued write went out. */
void serve_http_end(conn *c) {
    if (c->closing) return;
    if (c->detached) {
        c->closing = true;
        return;
    }
    uv_shutdown_t *req = calloc(1, sizeof *req);
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown)) {
        free(req);
        conn_close(c);
        return;
    }
    req->data = c;
}

/* ---- writing ---- */

typedef struct {
    uv_write_t req;
    char *data;
} write_req;

static void on_written(uv_write_t *req, int status) {
    (void)status; /* a client that went away is noticed by the reader */
    write_req *w = (write_req *)req;
    free(w->data);
    free(w);
}

/* Queues data (taken over) for writing. */
static void conn_write(conn *c, char *data, size_t n) {
    write_req *w = c->detached ? NULL : calloc(1, sizeof *w);
    if (c->closing || !w) {
        free(data);
        free(w);
        return;
    }
    w->data = data;
    uv_buf_t buf = uv_buf_init(data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written)) {
        free(data);
        free(w);
    }
}

static const char *status_text(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

void serve_http_reply_json(conn *c, int status, char *body) {
    if (c->replied || c->closing) {
        free(body);
        return;
    }
    c->replied = true;
    size_t n = body ? strlen(body) : 0;
    char head[256];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status_text(status), n);
    char *all = malloc((size_t)h + n);
    if (all) {
        memcpy(all, head, (size_t)h);
        if (n) memcpy(all + h, body, n);
        conn_write(c, all, (size_t)h + n);
    }
    free(body);
    serve_http_end(c);
}

void serve_http_sse_event(conn *c, const char *data, size_t n) {
    if (c->closing) return;
    if (!c->replied) {
        c->replied = c->streaming = true;
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
        char *h = strdup(head);
        if (h) conn_write(c, h, strlen(head));
    }
    char *ev = malloc(n + 8);
    if (!ev) return;
    memcpy(ev, "data: ", 6);
    memcpy(ev + 6, data, n);
    memcpy(ev + 6 + n, "\n\n", 2);
    conn_write(c, ev, n + 8);
}

/* ---- parsing ---- */

static int fail(conn *c, int status, const char *msg) {
    c->fail_status = status;
    snprintf(c->fail_msg, sizeof c->fail_msg, "%s", msg);
    return -1;
}

static int count_header(conn *c, size_t n) {
    c->header_bytes += n;
    if (c->header_bytes > c->s->p.max_header) return fail(c, 431, "request headers are too large");
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
    conn *c = p->data;
    if (count_header(c, n)) return -1;
    if (c->url_len + n >= sizeof c->url)
        return fail(c, 414, "the request URL is longer than 2047 bytes");
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
    c->url[c->url_len] = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
    conn *c = p->data;
    if (count_header(c, n)) return -1;
    if (c->in_value) { /* a new field starts */
        c->in_value = false;
        c->field_len = 0;
    }
    size_t room = sizeof c->field - 1 - c->field_len, take = n < room ? n : room;
    memcpy(c->field + c->field_len, at, take);
    c->field_len += take;
    c->field[c->field_len] = 0;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
    conn *c = p->data;
    if (count_header(c, n)) return -1;
    if (!c->in_value) {
        c->in_value = true;
        c->auth_field = !strcasecmp(c->field, "authorization");
        c->expect_field = !strcasecmp(c->field, "expect");
        if (c->auth_field) c->auth_len = 0;
    }
    if (c->expect_field && n >= 12 && !strncasecmp(at, "100-continue", 12))
        c->expect_continue = true;
    if (!c->auth_field) return 0;
    if (c->auth_len + n >= sizeof c->auth) return fail(c, 431, "Authorization header is too long");
    memcpy(c->auth + c->auth_len, at, n);
    c->auth_len += n;
    c->auth[c->auth_len] = 0;
    return 0;
}

static int on_headers_complete(http_parser *p) {
    conn *c = p->data;
    if (p->http_major != 1) { /* HTTP/1.0 and 1.1 only */
        char msg[64];
        snprintf(msg, sizeof msg, "HTTP/%u.%u is not supported (use HTTP/1.1)", p->http_major,
                 p->http_minor);
        fail(c, 505, msg);
        return 3;
    }
    if (p->content_length != ULLONG_MAX && p->content_length > c->s->p.max_body) {
        fail(c, 413, "request body is too large");
        return 3; /* any value but 0, 1, 2 is an error */
    }
    if (c->expect_continue) { /* the client waits for this before it sends the body */
        char *cont = strdup("HTTP/1.1 100 Continue\r\n\r\n");
        if (cont) conn_write(c, cont, strlen(cont));
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
    conn *c = p->data;
    if (c->body_len + n > c->s->p.max_body) return fail(c, 413, "request body is too large");
    if (c->body_len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + n + 1) cap *= 2;
        char *b = realloc(c->body, cap);
        if (!b) return fail(c, 500, "out of memory");
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, n);
    c->body_len += n;
    c->body[c->body_len] = 0;
    return 0;
}

static int on_message_complete(http_parser *p) {
    conn *c = p->data;
    c->message_done = true;
    http_parser_pause(p, 1); /* one request per connection: later bytes are not parsed */
    return 0;
}

static const http_parser_settings SETTINGS = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void stop_timer(conn *c) {
    if (!c->detached) uv_timer_stop(&c->timer);
}

static void dispatch(conn *c) {
    stop_timer(c);
    char *q = strchr(c->url, '?');
    if (q) *q = 0;
    http_request r = {http_method_str((enum http_method)c->parser.method), c->url,
                      c->body ? c->body : "", c->body_len, c->auth};
    serve_api_handle(c->s, c, &r);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    (void)suggested;
    static __thread char slab[65536]; /* the loop thread reads one buffer at a time */
    *buf = uv_buf_init(slab, sizeof slab);
}

/* Parses bytes of the request; answers a malformed one, dispatches a complete one. */
static void feed(conn *c, const char *data, size_t n) {
    if (n == 0 || c->message_done || c->replied) return;
    http_parser_execute(&c->parser, &SETTINGS, data, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (c->fail_status) {
        stop_timer(c);
        serve_api_error(c, c->fail_status, c->fail_msg, NULL);
    } else if (e != HPE_OK && e != HPE_PAUSED) {
        char msg[160];
        snprintf(msg, sizeof msg, "malformed HTTP request: %s", http_errno_description(e));
        stop_timer(c);
        serve_api_error(c, 400, msg, NULL);
    } else if (c->message_done) {
        dispatch(c);
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    conn *c = st->data;
    if (nread < 0) { /* EOF or error: the client is gone; its job is cancelled */
        conn_close(c);
        return;
    }
    feed(c, buf->base, (size_t)nread);
}

static void on_timeout(uv_timer_t *t) {
    conn *c = t->data;
    if (!c->message_done && !c->replied)
        serve_api_error(c, 408, "the request was not received in time", "request_timeout");
}

static void on_connection(uv_stream_t *server, int status) {
    serve_server *s = server->data;
    if (status < 0) return;
    conn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->s = s;
    uv_tcp_init(&s->loop, &c->tcp);
    uv_timer_init(&s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->holders = 2;
    s->n_conns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
        conn_close(c);
        return;
    }
    if (s->n_conns > SERVE_MAX_CONNS) {
        serve_api_error(c, 503, "too many connections", NULL);
        return;
    }
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_timer_start(&c->timer, on_timeout, (uint64_t)s->p.request_timeout_ms, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

bool serve_http_listen(serve_server *s, char *err, size_t errlen) {
    struct sockaddr_storage addr;
    int r = strchr(s->p.host, ':') ? uv_ip6_addr(s->p.host, s->p.port, (struct sockaddr_in6 *)&addr)
                                   : uv_ip4_addr(s->p.host, s->p.port, (struct sockaddr_in *)&addr);
    if (r) {
        snprintf(err, errlen, "%s: not an IP address", s->p.host);
        return false;
    }
    uv_tcp_init(&s->loop, &s->listener);
    s->listener.data = s;
    if ((r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0)) ||
        (r = uv_listen((uv_stream_t *)&s->listener, 128, on_connection))) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", s->p.host, s->p.port, uv_strerror(r));
        return false;
    }
    int len = sizeof addr; /* port 0: the one the system chose */
    if (!uv_tcp_getsockname(&s->listener, (struct sockaddr *)&addr, &len))
        s->p.port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                     : ((struct sockaddr_in *)&addr)->sin_port);
    return true;
}

void serve_http_feed_detached(serve_server *s, const char *data, size_t n, size_t split) {
    conn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->s = s;
    c->detached = true;
    c->holders = 1; /* this function's */
    s->n_conns++;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (split > n) split = n;
    feed(c, data, split);
    feed(c, data + split, n - split);
    conn_unref(c); /* no job was taken: a detached server has no scheduler */
}

static void close_one(uv_handle_t *h, void *arg) {
    serve_server *s = arg;
    if (uv_is_closing(h)) return;
    if (h->type == UV_TCP && h != (uv_handle_t *)&s->listener)
        conn_close(h->data); /* closes its timer too, then frees it */
    else if (h->type != UV_TIMER)
        uv_close(h, NULL);
}

void serve_http_close_all(serve_server *s) {
    uv_walk(&s->loop, close_one, s);
}
