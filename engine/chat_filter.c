/* The answer a person sees, without the model's reasoning: Qwen3's <think>...</think> blocks, or
 * harmony's messages on channels other than final (the analysis, commentary). A stream that
 * begins with "<|channel|>" is read as harmony messages (a harmony model's answer starts so: its
 * prompt ends with "<|start|>assistant" and the vocabulary shows the message markers in pieces);
 * any other stream as text that may hold <think> blocks. */
#include <string.h>

#include "engine.h"

enum { MODE_START, MODE_THINK, MODE_HARMONY };

/* ---- <think>...</think> ---- */

static void emit_char(engine_think_filter *f, char c, char *out, size_t *o) {
    if (f->inside) return;
    if (f->skip_newlines && c == '\n') return;
    f->skip_newlines = false;
    out[(*o)++] = c;
}

/* Byte-wise matcher of the next tag; both tags start with '<' and repeat it nowhere else, so a
 * mismatch can only restart at position 0. */
static void think_push(engine_think_filter *f, const char *in, size_t n, char *out, size_t *o) {
    for (size_t i = 0; i < n; i++) {
        const char *tag = f->inside ? "</think>" : "<think>";
        size_t len = strlen(tag);
        if (in[i] == tag[f->matched]) {
            if (++f->matched == (int)len) {
                f->inside = !f->inside;
                f->skip_newlines = !f->inside;
                f->matched = 0;
            }
            continue;
        }
        for (int k = 0; k < f->matched; k++) emit_char(f, tag[k], out, o);
        f->matched = in[i] == tag[0];
        if (!f->matched) emit_char(f, in[i], out, o);
    }
}

/* ---- harmony messages ---- */

static const char *const MARKERS[] = {"<|start|>",  "<|channel|>", "<|message|>",  "<|end|>",
                                      "<|return|>", "<|call|>",    "<|constrain|>"};
#define N_MARKERS (sizeof MARKERS / sizeof MARKERS[0])

/* -1: held is no marker's beginning; 0: a proper beginning of one; 1 + index: a whole marker. */
static int marker_state(const char *held, int n) {
    bool prefix = false;
    for (size_t i = 0; i < N_MARKERS; i++) {
        size_t len = strlen(MARKERS[i]);
        if ((size_t)n <= len && !memcmp(MARKERS[i], held, (size_t)n)) {
            if ((size_t)n == len) return 1 + (int)i;
            prefix = true;
        }
    }
    return prefix ? 0 : -1;
}

/* A byte of text outside the markers: a header's channel name, or a message's text. */
static void harmony_text(engine_think_filter *f, char c, char *out, size_t *o) {
    if (f->in_body) {
        if (f->shown) out[(*o)++] = c;
        return;
    }
    if (!f->naming) return;
    if (c == ' ' || f->n_channel + 1 >= (int)sizeof f->channel) {
        f->naming = false;
        return;
    }
    f->channel[f->n_channel++] = c;
    f->channel[f->n_channel] = 0;
}

static void harmony_marker(engine_think_filter *f, const char *marker) {
    if (!strcmp(marker, "<|message|>")) {
        if (!f->in_body) f->shown = !strcmp(f->channel, "final");
        f->in_body = true;
        f->naming = false;
        return;
    }
    if (!strcmp(marker, "<|constrain|>")) {
        f->naming = false;
        return;
    }
    /* <|start|>, <|channel|>, <|end|>, <|return|>, <|call|>: a header follows */
    f->in_body = f->shown = false;
    f->naming = !strcmp(marker, "<|channel|>");
    f->n_channel = 0;
    f->channel[0] = 0;
}

/* Bytes that may begin a marker are held until they complete it or cannot. */
static void harmony_push(engine_think_filter *f, const char *in, size_t n, char *out, size_t *o) {
    for (size_t i = 0; i < n; i++) {
        f->held[f->n_held++] = in[i];
        for (;;) {
            int st = marker_state(f->held, f->n_held);
            if (st == 0) break;
            if (st > 0) {
                harmony_marker(f, MARKERS[st - 1]);
                f->n_held = 0;
                break;
            }
            harmony_text(f, f->held[0], out, o);
            memmove(f->held, f->held + 1, (size_t)--f->n_held);
            if (!f->n_held) break;
        }
    }
}

static void feed(engine_think_filter *f, const char *in, size_t n, char *out, size_t *o) {
    if (f->mode == MODE_HARMONY)
        harmony_push(f, in, n, out, o);
    else if (f->mode == MODE_THINK)
        think_push(f, in, n, out, o);
}

/* Decides the mode from the stream's first bytes, then feeds every byte to it. */
size_t engine_think_filter_push(engine_think_filter *f, const char *in, size_t n, char *out) {
    static const char open[] = "<|channel|>";
    const int open_len = (int)sizeof open - 1;
    size_t o = 0, i = 0;
    while (f->mode == MODE_START && i < n) {
        f->held[f->n_held++] = in[i++];
        bool prefix = !memcmp(f->held, open, (size_t)f->n_held);
        if (prefix && f->n_held < open_len) continue;
        f->mode = prefix ? MODE_HARMONY : MODE_THINK;
        char held[sizeof f->held];
        int k = f->n_held;
        memcpy(held, f->held, (size_t)k);
        f->n_held = 0;
        feed(f, held, (size_t)k, out, &o);
    }
    feed(f, in + i, n - i, out, &o);
    return o;
}

size_t engine_think_filter_flush(engine_think_filter *f, char *out) {
    size_t o = 0;
    if (f->mode == MODE_START) {
        f->mode = MODE_THINK;
        char held[sizeof f->held];
        int k = f->n_held;
        memcpy(held, f->held, (size_t)k);
        f->n_held = 0;
        think_push(f, held, (size_t)k, out, &o);
    }
    if (f->mode == MODE_HARMONY) {
        for (int k = 0; k < f->n_held; k++) harmony_text(f, f->held[k], out, &o);
        f->n_held = 0;
        return o;
    }
    const char *tag = f->inside ? "</think>" : "<think>";
    for (int k = 0; k < f->matched; k++) emit_char(f, tag[k], out, &o);
    f->matched = 0;
    return o;
}
