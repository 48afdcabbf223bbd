/* The generation loop: prompt, then sample -> emit -> evaluate, with stop strings held back until
 * they can no longer match, and output cut only at UTF-8 character boundaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    char *buf; /* generated text not yet emitted */
    size_t len, cap;
    size_t max_stop; /* longest stop string */
    const engine_gen_request *req;
    bool stopped_by_caller;
} text_out;

static bool append(text_out *o, const char *s, size_t n) {
    if (o->len + n > o->cap) {
        size_t cap = (o->len + n) * 2 + 64;
        char *b = realloc(o->buf, cap);
        if (!b) return false;
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return true;
}

/* Bytes at the end of buf[0..n) that form an incomplete UTF-8 sequence. */
static size_t incomplete_tail(const char *buf, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)buf[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: look further back */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

static void emit(text_out *o, size_t n) {
    if (n == 0) return;
    if (!o->req->emit(o->buf, n, o->req->user)) o->stopped_by_caller = true;
    memmove(o->buf, o->buf + n, o->len - n);
    o->len -= n;
}

/* Emits what can no longer be part of a stop string; true if a stop string was found. */
static bool flush_ready(text_out *o, bool final) {
    const engine_gen_request *r = o->req;
    for (int i = 0; i < r->n_stops; i++) {
        size_t sl = strlen(r->stops[i]);
        for (size_t at = 0; sl && at + sl <= o->len; at++)
            if (memcmp(o->buf + at, r->stops[i], sl) == 0) {
                emit(o, at);
                o->len = 0;
                return true;
            }
    }
    size_t keep = final ? 0 : (o->max_stop > 0 ? o->max_stop - 1 : 0);
    size_t ready = o->len > keep ? o->len - keep : 0;
    if (!final) ready -= incomplete_tail(o->buf, ready);
    emit(o, ready);
    return false;
}

bool engine_generate(const engine_model *m, engine_ctx *c, const engine_gen_request *req,
                     engine_gen_stats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    text_out o = {0};
    o.req = req;
    for (int i = 0; i < req->n_stops; i++)
        if (strlen(req->stops[i]) > o.max_stop) o.max_stop = strlen(req->stops[i]);
    int32_t n_vocab = engine_model_get_info(m)->n_vocab;
    engine_sampler *s = engine_sampler_new(&req->sampling, n_vocab);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (int64_t i = 0; i < req->n_prompt; i++) engine_sampler_accept(s, req->prompt[i]);
    double t0 = now_s();
    bool ok = req->n_prompt <= 0 ||
              engine_eval(c, req->prompt, (int32_t)req->n_prompt, false, err, errlen);
    double t1 = now_s();
    st->prompt_s = t1 - t0;
    st->stop = ENGINE_STOP_LENGTH;
    char piece[256];
    while (ok && st->n_generated < req->n_predict) {
        const float *logits = engine_logits(c, -1);
        if (!logits) {
            snprintf(err, errlen, "no logits to sample from (empty prompt?)");
            ok = false;
            break;
        }
        int32_t id = engine_sample(s, logits);
        engine_sampler_accept(s, id);
        if (req->out_ids && st->n_generated < req->out_cap) req->out_ids[st->n_generated] = id;
        st->n_generated++;
        if (engine_token_is_eog(m, id)) {
            st->stop = ENGINE_STOP_EOG;
            break;
        }
        int n = engine_token_piece(m, id, false, piece, sizeof piece);
        if (n > (int)sizeof piece) n = 0; /* no real token is that long */
        if (n > 0 && !append(&o, piece, (size_t)n)) {
            snprintf(err, errlen, "out of memory");
            ok = false;
            break;
        }
        if (flush_ready(&o, false)) {
            st->stop = ENGINE_STOP_STRING;
            break;
        }
        if (o.stopped_by_caller) {
            st->stop = ENGINE_STOP_CALLER;
            break;
        }
        if (st->n_generated == req->n_predict) break;
        if (engine_n_past(c) >= engine_ctx_n_ctx(c)) {
            st->stop = ENGINE_STOP_CONTEXT;
            break;
        }
        ok = engine_eval(c, &id, 1, false, err, errlen);
    }
    if (ok && st->stop != ENGINE_STOP_STRING && st->stop != ENGINE_STOP_CALLER)
        flush_ready(&o, true);
    st->gen_s = now_s() - t1;
    free(o.buf);
    engine_sampler_free(s);
    return ok;
}
