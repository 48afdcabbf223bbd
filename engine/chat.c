/* Chat prompts for the template families we target, recognised from tokenizer.chat_template
 * (a Jinja program we do not execute: we recognise its family by its markers and format the
 * conversation the way that family's template does), and a filter that hides reasoning: Qwen3's
 * <think> blocks, harmony's analysis channel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

typedef enum { TPL_UNKNOWN, TPL_CHATML, TPL_QWEN3, TPL_LLAMA3, TPL_HARMONY } template_kind;

static const struct {
    const char *name;
    template_kind kind;
} TEMPLATE_NAMES[] = {
    {"chatml", TPL_CHATML}, {"qwen3", TPL_QWEN3}, {"llama3", TPL_LLAMA3}, {"harmony", TPL_HARMONY}};

#define QWEN25_DEFAULT_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

static bool contains(gguf_str s, const char *needle) {
    size_t n = strlen(needle);
    for (uint64_t i = 0; n <= s.len && i + n <= s.len; i++)
        if (memcmp(s.ptr + i, needle, n) == 0) return true;
    return false;
}

static template_kind detect(const engine_model *m, bool *default_system) {
    gguf_str t;
    *default_system = false;
    if (!gguf_get_str(m->file, "tokenizer.chat_template", &t)) return TPL_UNKNOWN;
    if (contains(t, "<|start|>") && contains(t, "<|channel|>") && contains(t, "<|message|>"))
        return TPL_HARMONY;
    if (contains(t, "<|start_header_id|>") && contains(t, "<|eot_id|>")) return TPL_LLAMA3;
    if (!contains(t, "<|im_start|>")) return TPL_UNKNOWN;
    if (contains(t, "<think>")) return TPL_QWEN3;
    *default_system = contains(t, "You are Qwen, created by Alibaba Cloud");
    return TPL_CHATML;
}

const char *engine_chat_template(const engine_model *m) {
    bool def;
    template_kind k = detect(m, &def);
    for (size_t i = 0; i < sizeof TEMPLATE_NAMES / sizeof TEMPLATE_NAMES[0]; i++)
        if (TEMPLATE_NAMES[i].kind == k) return TEMPLATE_NAMES[i].name;
    return NULL;
}

/* The prompt being built, with the byte ranges the template wrote itself (where its markers may
 * be read as special tokens; the messages' text lies outside them). */
typedef struct {
    char *buf;
    size_t len, cap;
    tokenizer_span *spans;
    size_t n_spans, cap_spans;
    bool oom;
} sbuf;

static void append(sbuf *b, const char *s) {
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->buf, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n + 1);
    b->len += n;
}

/* The template's own text (markers). */
static void put(sbuf *b, const char *s) {
    size_t at = b->len;
    append(b, s);
    if (b->oom || b->len == at) return;
    tokenizer_span *last = b->n_spans ? &b->spans[b->n_spans - 1] : NULL;
    if (last && last->start + last->len == at) {
        last->len = b->len - last->start;
        return;
    }
    if (b->n_spans == b->cap_spans) {
        size_t cap = b->cap_spans ? b->cap_spans * 2 : 16;
        tokenizer_span *sp = realloc(b->spans, cap * sizeof *sp);
        if (!sp) {
            b->oom = true;
            return;
        }
        b->spans = sp;
        b->cap_spans = cap;
    }
    b->spans[b->n_spans++] = (tokenizer_span){at, b->len - at};
}

/* A message's text (and role): never read as special tokens. */
static void put_text(sbuf *b, const char *s) {
    append(b, s);
}

static void format_chatml(sbuf *b, const engine_chat_message *msg, int n, bool default_system) {
    if (default_system && (n == 0 || strcmp(msg[0].role, "system") != 0))
        put(b, "<|im_start|>system\n" QWEN25_DEFAULT_SYSTEM "<|im_end|>\n");
    for (int i = 0; i < n; i++) {
        put(b, "<|im_start|>");
        put_text(b, msg[i].role);
        put(b, "\n");
        put_text(b, msg[i].content);
        put(b, "<|im_end|>\n");
    }
    put(b, "<|im_start|>assistant\n");
}

static void format_llama3(sbuf *b, const engine_chat_message *msg, int n) {
    for (int i = 0; i < n; i++) {
        put(b, "<|start_header_id|>");
        put_text(b, msg[i].role);
        put(b, "<|end_header_id|>\n\n");
        put_text(b, msg[i].content);
        put(b, "<|eot_id|>");
    }
    put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* harmony's system message: identity, knowledge cutoff, date (local, as the template's
 * strftime_now), reasoning effort, channels. */
static void put_harmony_system(sbuf *b, const engine_chat_options *o) {
    char today[16];
    const char *date = o->date;
    if (!date) {
        time_t now = time(NULL);
        struct tm tm;
        if (!localtime_r(&now, &tm) || !strftime(today, sizeof today, "%Y-%m-%d", &tm))
            snprintf(today, sizeof today, "1970-01-01");
        date = today;
    }
    put(b, "<|start|>system<|message|>You are ChatGPT, a large language model trained by "
           "OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: ");
    put(b, date);
    put(b, "\n\nReasoning: ");
    put(b, o->reasoning ? o->reasoning : "medium");
    put(b, "\n\n# Valid channels: analysis, commentary, final. Channel must be included for every "
           "message.<|end|>");
}

/* harmony (gpt-oss), as its published template renders a conversation for inference: the
 * system message, the first message as the developer's instructions when it is a system or
 * developer message, user turns, earlier answers on the final channel (their analysis is
 * dropped), then the assistant's turn opened without a channel: the model writes the channel
 * itself. Like the template, it renders no other system or developer message and no tool
 * message (no tool call precedes them). */
static void format_harmony(sbuf *b, const engine_chat_message *msg, int n,
                           const engine_chat_options *o) {
    put_harmony_system(b, o);
    int first = 0;
    if (n > 0 && (!strcmp(msg[0].role, "system") || !strcmp(msg[0].role, "developer"))) {
        if (msg[0].content[0]) {
            put(b, "<|start|>developer<|message|># Instructions\n\n");
            put_text(b, msg[0].content);
            put(b, "\n\n<|end|>");
        }
        first = 1;
    }
    for (int i = first; i < n; i++) {
        bool user = !strcmp(msg[i].role, "user");
        if (!user && strcmp(msg[i].role, "assistant") != 0) continue;
        put(b, user ? "<|start|>user<|message|>" : "<|start|>assistant<|channel|>final<|message|>");
        put_text(b, msg[i].content);
        put(b, "<|end|>");
    }
    put(b, "<|start|>assistant");
}

static template_kind kind_named(const char *name) {
    for (size_t i = 0; i < sizeof TEMPLATE_NAMES / sizeof TEMPLATE_NAMES[0]; i++)
        if (!strcmp(name, TEMPLATE_NAMES[i].name)) return TEMPLATE_NAMES[i].kind;
    return TPL_UNKNOWN;
}

bool engine_chat_reasoning_known(const char *effort) {
    return !strcmp(effort, "low") || !strcmp(effort, "medium") || !strcmp(effort, "high");
}

static bool check_input(const engine_chat_message *msg, int n, const engine_chat_options *o,
                        char *err, size_t errlen) {
    if (o->reasoning && !engine_chat_reasoning_known(o->reasoning)) {
        snprintf(err, errlen, "unknown reasoning effort '%s' (low, medium or high)", o->reasoning);
        return false;
    }
    if (o->date && (strlen(o->date) != 10 || strspn(o->date, "0123456789-") != 10)) {
        snprintf(err, errlen, "the chat date must read YYYY-MM-DD");
        return false;
    }
    for (int i = 0; i < n; i++)
        if (!msg[i].role || !msg[i].content) {
            snprintf(err, errlen, "message %d has no role or no content", i);
            return false;
        }
    return true;
}

/* Formats the conversation into b (false with err). */
static bool format(const engine_model *m, const char *template_name, const engine_chat_message *msg,
                   int n, const engine_chat_options *o, sbuf *b, char *err, size_t errlen) {
    bool default_system = false;
    template_kind k = TPL_UNKNOWN;
    if (template_name) {
        if ((k = kind_named(template_name)) == TPL_UNKNOWN) {
            snprintf(err, errlen,
                     "unknown chat template '%s' (known: chatml, qwen3, llama3, harmony)",
                     template_name);
            return false;
        }
    } else if ((k = detect(m, &default_system)) == TPL_UNKNOWN) {
        snprintf(err, errlen,
                 "the model's chat template is missing or not one we know; name one "
                 "with --template chatml|qwen3|llama3|harmony");
        return false;
    }
    if (!check_input(msg, n, o, err, errlen)) return false;
    if (k == TPL_HARMONY)
        format_harmony(b, msg, n, o);
    else if (k == TPL_LLAMA3)
        format_llama3(b, msg, n);
    else
        format_chatml(b, msg, n, default_system);
    /* Qwen3 turns thinking off with an empty think block at the start of the answer */
    if (k == TPL_QWEN3 && !o->thinking) put(b, "<think>\n\n</think>\n\n");
    if (b->oom) snprintf(err, errlen, "out of memory");
    return !b->oom;
}

bool engine_chat_template_known(const char *name) {
    return kind_named(name) != TPL_UNKNOWN;
}

char *engine_chat_prompt_ex(const engine_model *m, const char *template_name,
                            const engine_chat_message *msg, int n, const engine_chat_options *o,
                            char *err, size_t errlen) {
    sbuf b = {0};
    bool ok = format(m, template_name, msg, n, o, &b, err, errlen);
    free(b.spans);
    if (!ok) free(b.buf);
    return ok ? b.buf : NULL;
}

char *engine_chat_prompt(const engine_model *m, const char *template_name,
                         const engine_chat_message *msg, int n, bool thinking, char *err,
                         size_t errlen) {
    engine_chat_options o = {.thinking = thinking};
    return engine_chat_prompt_ex(m, template_name, msg, n, &o, err, errlen);
}

int64_t engine_chat_tokens(const engine_model *m, const char *template_name,
                           const engine_chat_message *msgs, int n, bool thinking, int32_t *ids,
                           int64_t max, char *err, size_t errlen) {
    engine_chat_options o = {.thinking = thinking};
    return engine_chat_tokens_ex(m, template_name, msgs, n, &o, ids, max, err, errlen);
}

int64_t engine_chat_tokens_ex(const engine_model *m, const char *template_name,
                              const engine_chat_message *msgs, int n, const engine_chat_options *o,
                              int32_t *ids, int64_t max, char *err, size_t errlen) {
    sbuf b = {0};
    int64_t k = -1;
    if (format(m, template_name, msgs, n, o, &b, err, errlen))
        k = tokenizer_encode_ex(m->tok, b.buf, b.len, true, false, b.spans, b.n_spans,
                                max > 0 ? max : 1, ids, max, err, errlen);
    free(b.buf);
    free(b.spans);
    return k;
}
