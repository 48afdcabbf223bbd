/* Vocabulary loading from GGUF metadata: token texts, types, scores, special tokens, hash maps. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tok_internal.h"

static void tok_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- hashing ---- */

uint64_t tok_hash(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

bool tok_strmap_init(tok_strmap *m, uint32_t n_items) {
    uint32_t cap = 16;
    while (cap < n_items * 2u && cap < (1u << 30)) cap <<= 1;
    m->slots = calloc(cap, sizeof(uint64_t));
    m->mask = cap - 1;
    return m->slots != NULL;
}

void tok_strmap_free(tok_strmap *m) {
    free(m->slots);
    m->slots = NULL;
}

/* Slot: low 32 bits index + 1; high 32 bits a 24-bit hash tag and the length (capped at 255), so
 * most mismatches are rejected without touching the text. */
static uint64_t slot_high(uint64_t h, size_t n) {
    return ((h >> 40) << 8) | (n < 255 ? n : 255);
}

void tok_strmap_put_h(const tokenizer *t, tok_strmap *m, uint32_t idx, uint64_t h) {
    const char *s = tok_text(t, idx);
    uint32_t n = t->text_len[idx];
    uint64_t hi = slot_high(h, n);
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        uint64_t e = m->slots[i];
        uint32_t j = (uint32_t)e - 1;
        if (!e || ((e >> 32) == hi && t->text_len[j] == n && !memcmp(tok_text(t, j), s, n))) {
            m->slots[i] = (hi << 32) | (idx + 1);
            return;
        }
    }
}

void tok_strmap_put(const tokenizer *t, tok_strmap *m, uint32_t idx) {
    tok_strmap_put_h(t, m, idx, tok_hash(tok_text(t, idx), t->text_len[idx]));
}

int64_t tok_strmap_get_h(const tokenizer *t, const tok_strmap *m, const char *s, size_t n,
                         uint64_t h) {
    uint64_t hi = slot_high(h, n);
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        uint64_t e = m->slots[i];
        if (!e) return -1;
        uint32_t j = (uint32_t)e - 1;
        if ((e >> 32) == hi && t->text_len[j] == n && !memcmp(tok_text(t, j), s, n)) return j;
    }
}

int64_t tok_strmap_get(const tokenizer *t, const tok_strmap *m, const char *s, size_t n) {
    return tok_strmap_get_h(t, m, s, n, tok_hash(s, n));
}

void tok_out_push(tok_out *o, int32_t id) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        int32_t *v = realloc(o->v, cap * sizeof(int32_t));
        if (!v) {
            o->oom = true;
            return;
        }
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = id;
}

/* ---- loading ---- */

static const char *find_str(const gguf_file *g, const char *key, size_t *len) {
    gguf_str s;
    if (!gguf_get_str(g, key, &s)) return NULL;
    *len = (size_t)s.len;
    return s.ptr;
}

static bool str_is(const char *s, size_t n, const char *lit) {
    return s && strlen(lit) == n && !memcmp(s, lit, n);
}

/* Reads an optional token id key. Absent or -1: keeps *out. */
static bool read_id(const tokenizer *t, const gguf_file *g, const char *key, int32_t *out,
                    char *err, size_t errlen) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return true;
    int64_t v;
    if (!gguf_get_i64(g, key, &v)) {
        if (kv->val.type == GGUF_U64) { /* too large for int64: surely out of range */
            tok_err(err, errlen, "%s = %llu is out of range (n_vocab %d)", key,
                    (unsigned long long)kv->val.u64, t->n_vocab);
            return false;
        }
        tok_err(err, errlen, "%s has type %s, expected an integer", key,
                gguf_vtype_name(kv->val.type));
        return false;
    }
    if (v < 0 || v == UINT32_MAX) return true; /* -1, also when stored as u32: none */
    if (v >= t->n_vocab) {
        tok_err(err, errlen, "%s = %lld is out of range (n_vocab %d)", key, (long long)v,
                t->n_vocab);
        return false;
    }
    *out = (int32_t)v;
    return true;
}

static bool check_arr(const gguf_value *a, const char *key, int elem_int_ok, uint32_t want_type,
                      uint64_t n, char *err, size_t errlen) {
    if (!a) {
        tok_err(err, errlen, "%s is missing or not an array", key);
        return false;
    }
    uint32_t et = a->arr.elem_type;
    bool ok = et == want_type;
    if (!ok && elem_int_ok)
        ok = et == GGUF_I8 || et == GGUF_U8 || et == GGUF_I16 || et == GGUF_U16 || et == GGUF_I32 ||
             et == GGUF_U32 || et == GGUF_I64 || et == GGUF_U64;
    if (!ok) {
        tok_err(err, errlen, "%s has elements of type %s, expected %s", key, gguf_vtype_name(et),
                gguf_vtype_name(want_type));
        return false;
    }
    if (n && a->arr.n != n) {
        tok_err(err, errlen, "%s has %llu entries, expected %llu (one per token)", key,
                (unsigned long long)a->arr.n, (unsigned long long)n);
        return false;
    }
    return true;
}

/* Appends a text to the arena; returns its index or -1 on allocation failure. */
static int64_t add_text(tokenizer *t, const char *s, size_t n) {
    if (t->n_text == t->cap_text) {
        uint32_t cap = t->cap_text ? t->cap_text * 2 : 1024;
        uint32_t *o = realloc(t->text_off, cap * sizeof(uint32_t));
        if (!o) return -1;
        t->text_off = o;
        uint32_t *l = realloc(t->text_len, cap * sizeof(uint32_t));
        if (!l) return -1;
        t->text_len = l;
        t->cap_text = cap;
    }
    if (t->arena_len + n + 1 > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 4096;
        while (cap < t->arena_len + n + 1) cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a) return -1;
        t->arena = a;
        t->arena_cap = cap;
    }
    if (t->arena_len > UINT32_MAX - n - 1) return -1;
    memcpy(t->arena + t->arena_len, s, n);
    t->arena[t->arena_len + n] = 0;
    t->text_off[t->n_text] = (uint32_t)t->arena_len;
    t->text_len[t->n_text] = (uint32_t)n;
    t->arena_len += n + 1;
    return t->n_text++;
}

int64_t tok_add_text(tokenizer *t, const char *s, size_t n) {
    return add_text(t, s, n);
}

static int32_t find_any(const tokenizer *t, const char *const *names) {
    for (; *names; names++) {
        int32_t id = tok_lookup(t, *names, strlen(*names));
        if (id >= 0) return id;
    }
    return -1;
}

static void make_control(tokenizer *t, int32_t id) {
    if (id >= 0 && t->type[id] != TT_CONTROL) t->type[id] = TT_CONTROL;
}

static bool add_eog(tokenizer *t, int32_t id) {
    if (id < 0) return true;
    for (uint32_t i = 0; i < t->n_eog; i++)
        if (t->eog_ids[i] == id) return true;
    int32_t *e = realloc(t->eog_ids, (t->n_eog + 1) * sizeof(int32_t));
    if (!e) return false;
    t->eog_ids = e;
    t->eog_ids[t->n_eog++] = id;
    return true;
}

/* Well-known texts of end-of-turn and fill-in-the-middle tokens. "\xe2\x96\x81" is "▁",
 * "\xef\xbd\x9c" the fullwidth bar of DeepSeek's tokens. */
static const char *const k_eot[] = {"<|eot_id|>",
                                    "<|im_end|>",
                                    "<|end|>",
                                    "<end_of_turn>",
                                    "<|endoftext|>",
                                    "<EOT>",
                                    "\xe2\x96\x81<EOT>",
                                    "_<EOT>",
                                    "<\xef\xbd\x9c"
                                    "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                    "<end_of_utterance>",
                                    NULL};
static const char *const k_eom[] = {"<|eom_id|>", NULL};
static const char *const k_fim_pre[] = {"<|fim_prefix|>",
                                        "<fim-prefix>",
                                        "<fim_prefix>",
                                        "<\xef\xbd\x9c"
                                        "fim\xe2\x96\x81"
                                        "begin\xef\xbd\x9c>",
                                        "<PRE>",
                                        "\xe2\x96\x81<PRE>",
                                        NULL};
static const char *const k_fim_suf[] = {"<|fim_suffix|>",
                                        "<fim-suffix>",
                                        "<fim_suffix>",
                                        "<\xef\xbd\x9c"
                                        "fim\xe2\x96\x81hole\xef\xbd\x9c>",
                                        "<SUF>",
                                        "\xe2\x96\x81<SUF>",
                                        NULL};
static const char *const k_fim_mid[] = {"<|fim_middle|>",
                                        "<fim-middle>",
                                        "<fim_middle>",
                                        "<\xef\xbd\x9c"
                                        "fim\xe2\x96\x81"
                                        "end\xef\xbd\x9c>",
                                        "<MID>",
                                        "\xe2\x96\x81<MID>",
                                        NULL};
static const char *const k_fim_pad[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", NULL};
static const char *const k_fim_rep[] = {
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<repo_name>", "<REPO>", "<reponame>", NULL};
static const char *const k_fim_sep[] = {"<|file_sep|>", "<file_sep>", "<fim-sep>", "<|fim_sep|>",
                                        NULL};
/* Tokens that end generation whatever their role. */
static const char *const k_eog[] = {"<|eot_id|>",
                                    "<|im_end|>",
                                    "<|end|>",
                                    "<end_of_turn>",
                                    "<|endoftext|>",
                                    "<|eom_id|>",
                                    "<EOT>",
                                    "\xe2\x96\x81<EOT>",
                                    "_<EOT>",
                                    "<|end_of_text|>",
                                    "<end_of_utterance>",
                                    "</s>",
                                    NULL};

static void drop_eog(tokenizer *t, int32_t id) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->n_eog; i++)
        if (t->eog_ids[i] != id) t->eog_ids[k++] = t->eog_ids[i];
    t->n_eog = k;
}

/* harmony (gpt-oss): <|end|> closes a message and the final channel's message may follow it;
 * <|return|> ends the answer and <|call|> a tool call. The message markers are shown in pieces
 * (they stay control tokens, so text never forges them). False when out of memory. */
static bool harmony_specials(tokenizer *t) {
    int32_t end = tok_lookup(t, "<|end|>", 7), ret = tok_lookup(t, "<|return|>", 10);
    if (tok_lookup(t, "<|channel|>", 11) < 0 || tok_lookup(t, "<|message|>", 11) < 0 || ret < 0)
        return true;
    drop_eog(t, end);
    if (t->sp.eot == end) t->sp.eot = ret;
    static const char *const shown[] = {"<|start|>", "<|channel|>", "<|message|>", "<|end|>",
                                        "<|constrain|>"};
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++) {
        int32_t id = tok_lookup(t, shown[i], strlen(shown[i]));
        if (id >= 0) t->attr[id] |= TOK_SHOWN;
    }
    return add_eog(t, ret) && add_eog(t, tok_lookup(t, "<|call|>", 8));
}

static bool load_specials(tokenizer *t, const gguf_file *g, char *err, size_t errlen) {
    tokenizer_specials *sp = &t->sp;
    int32_t *all[] = {&sp->bos,     &sp->eos,     &sp->eot,     &sp->eom,     &sp->unk,
                      &sp->pad,     &sp->sep,     &sp->nl,      &sp->fim_pre, &sp->fim_suf,
                      &sp->fim_mid, &sp->fim_pad, &sp->fim_rep, &sp->fim_sep};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) *all[i] = -1;
    /* Model defaults (used only when the metadata gives nothing). */
    if (t->kind == TOK_SPM) {
        sp->unk = 0, sp->bos = 1, sp->eos = 2;
    } else if (t->kind == TOK_WPM) {
        sp->pad = 0, sp->unk = 100, sp->bos = 101, sp->sep = 102;
    }
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (*all[i] >= t->n_vocab) *all[i] = -1;
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"tokenizer.ggml.bos_token_id", offsetof(tokenizer_specials, bos)},
        {"tokenizer.ggml.cls_token_id", offsetof(tokenizer_specials, bos)},
        {"tokenizer.ggml.eos_token_id", offsetof(tokenizer_specials, eos)},
        {"tokenizer.ggml.eot_token_id", offsetof(tokenizer_specials, eot)},
        {"tokenizer.ggml.eom_token_id", offsetof(tokenizer_specials, eom)},
        {"tokenizer.ggml.unknown_token_id", offsetof(tokenizer_specials, unk)},
        {"tokenizer.ggml.seperator_token_id", offsetof(tokenizer_specials, sep)},
        {"tokenizer.ggml.separator_token_id", offsetof(tokenizer_specials, sep)},
        {"tokenizer.ggml.padding_token_id", offsetof(tokenizer_specials, pad)},
        {"tokenizer.ggml.prefix_token_id", offsetof(tokenizer_specials, fim_pre)},
        {"tokenizer.ggml.suffix_token_id", offsetof(tokenizer_specials, fim_suf)},
        {"tokenizer.ggml.middle_token_id", offsetof(tokenizer_specials, fim_mid)},
        {"tokenizer.ggml.fim_pre_token_id", offsetof(tokenizer_specials, fim_pre)},
        {"tokenizer.ggml.fim_suf_token_id", offsetof(tokenizer_specials, fim_suf)},
        {"tokenizer.ggml.fim_mid_token_id", offsetof(tokenizer_specials, fim_mid)},
        {"tokenizer.ggml.fim_pad_token_id", offsetof(tokenizer_specials, fim_pad)},
        {"tokenizer.ggml.fim_rep_token_id", offsetof(tokenizer_specials, fim_rep)},
        {"tokenizer.ggml.fim_sep_token_id", offsetof(tokenizer_specials, fim_sep)},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if ((i != 1 || t->kind == TOK_WPM) && /* [CLS] plays BOS only for BERT */
            !read_id(t, g, keys[i].key, (int32_t *)((char *)sp + keys[i].off), err, errlen))
            return false;
    if (t->kind == TOK_WPM && sp->eos < 0) sp->eos = sp->sep;

    /* Roles not given by metadata are found by well-known text; those tokens are control tokens
     * (not matched in raw text unless parse_special). */
    struct {
        int32_t *slot;
        const char *const *names;
    } by_text[] = {{&sp->eot, k_eot},         {&sp->eom, k_eom},         {&sp->fim_pre, k_fim_pre},
                   {&sp->fim_suf, k_fim_suf}, {&sp->fim_mid, k_fim_mid}, {&sp->fim_pad, k_fim_pad},
                   {&sp->fim_rep, k_fim_rep}, {&sp->fim_sep, k_fim_sep}};
    for (size_t i = 0; i < sizeof(by_text) / sizeof(by_text[0]); i++) {
        if (*by_text[i].slot < 0) *by_text[i].slot = find_any(t, by_text[i].names);
        make_control(t, *by_text[i].slot);
    }
    bool ok = add_eog(t, sp->eos) && add_eog(t, sp->eot) && add_eog(t, sp->eom) &&
              add_eog(t, sp->fim_pad) && add_eog(t, sp->fim_rep) && add_eog(t, sp->fim_sep);
    for (const char *const *n = k_eog; *n && ok; n++) {
        int32_t id = tok_lookup(t, *n, strlen(*n));
        make_control(t, id);
        ok = add_eog(t, id);
    }
    if (ok) ok = harmony_specials(t);
    if (!ok) {
        tok_err(err, errlen, "out of memory");
        return false;
    }

    bool b;
    sp->add_bos = t->kind != TOK_BPE || t->pre == PRE_LLAMA3;
    sp->add_eos = t->kind == TOK_WPM;
    if (gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b)) sp->add_bos = b;
    if (gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b)) sp->add_eos = b;
    if (t->kind == TOK_WPM && gguf_get_bool(g, "tokenizer.ggml.add_sep_token", &b)) sp->add_eos = b;
    if (sp->add_bos && sp->bos < 0) sp->add_bos = false;
    if (sp->add_eos && sp->eos < 0) sp->add_eos = false;

    if (t->kind == TOK_SPM)
        sp->nl = t->byte_tok['\n'];
    else if (t->kind == TOK_BPE)
        sp->nl = tok_lookup(t, "\xc4\x8a", 2); /* mapped "\n" */
    if (sp->nl < 0) sp->nl = tok_lookup(t, "\n", 1);
    return true;
}

static int cmp_special(const void *a, const void *b, void *ctx) {
    const tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->text_len[x] != t->text_len[y]) return t->text_len[x] > t->text_len[y] ? -1 : 1;
    return (x > y) - (x < y);
}

static bool build_special_list(tokenizer *t, const gguf_file *g) {
    uint32_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->type[i];
        if ((ty == TT_CONTROL || ty == TT_USER || ty == TT_UNKNOWN) && t->text_len[i]) n++;
    }
    t->special_ids = malloc((n ? n : 1) * sizeof(int32_t));
    if (!t->special_ids) return false;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->type[i];
        if ((ty == TT_CONTROL || ty == TT_USER || ty == TT_UNKNOWN) && t->text_len[i]) {
            t->special_ids[t->n_special++] = i;
            t->special_first_byte[(uint8_t)tok_text(t, i)[0]] = true;
        }
    }
    qsort_r(t->special_ids, t->n_special, sizeof(int32_t), cmp_special, t);

    /* Phi-3 checkpoints expect whitespace after their special tokens to be swallowed. */
    size_t nl = 0;
    const char *name = find_str(g, "general.name", &nl);
    char low[64];
    size_t m = nl < sizeof(low) - 1 ? nl : sizeof(low) - 1;
    for (size_t i = 0; i < m; i++) low[i] = (char)tolower((unsigned char)name[i]);
    low[m] = 0;
    if (strstr(low, "phi-3") || strstr(low, "phi3")) {
        for (uint32_t i = 0; i < t->n_special; i++) t->attr[t->special_ids[i]] |= TOK_RSTRIP;
        int32_t id = tok_lookup(t, "</s>", 4);
        if (id >= 0) t->attr[id] |= TOK_RSTRIP;
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (size_t i = 0; i < 3; i++) {
            id = tok_lookup(t, keep[i], strlen(keep[i]));
            if (id >= 0) t->attr[id] &= (uint8_t)~TOK_RSTRIP;
        }
    }
    return true;
}

tokenizer *tokenizer_load(const gguf_file *g, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    size_t ml = 0, pl = 0;
    const char *model = find_str(g, "tokenizer.ggml.model", &ml);
    if (!model) {
        tok_err(err, errlen, "tokenizer.ggml.model is missing or not a string");
        return NULL;
    }
    tokenizer *t = calloc(1, sizeof(*t));
    if (!t) {
        tok_err(err, errlen, "out of memory");
        return NULL;
    }
    if (str_is(model, ml, "llama"))
        t->kind = TOK_SPM;
    else if (str_is(model, ml, "gpt2"))
        t->kind = TOK_BPE;
    else if (str_is(model, ml, "bert"))
        t->kind = TOK_WPM;
    else {
        tok_err(err, errlen, "unsupported tokenizer model '%.*s'", (int)(ml > 64 ? 64 : ml), model);
        goto fail;
    }
    if (t->kind == TOK_BPE) {
        const char *pre = find_str(g, "tokenizer.ggml.pre", &pl);
        if (!pre) pre = "default", pl = 7;
        if (!pretok_parse_name(pre, pl, &t->pre, &t->ignore_merges)) {
            tok_err(err, errlen, "unknown pre-tokenizer '%.*s'", (int)(pl > 64 ? 64 : pl), pre);
            goto fail;
        }
    }

    const gguf_value *toks = gguf_get_arr(g, "tokenizer.ggml.tokens");
    if (!check_arr(toks, "tokenizer.ggml.tokens", 0, GGUF_STRING, 0, err, errlen)) goto fail;
    if (toks->arr.n == 0 || toks->arr.n > (1u << 30)) {
        tok_err(err, errlen, "tokenizer.ggml.tokens has %llu entries",
                (unsigned long long)toks->arr.n);
        goto fail;
    }
    t->n_vocab = (int32_t)toks->arr.n;
    uint64_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) total += toks->arr.items[i].str.len + 1;
    if (total > UINT32_MAX / 2) {
        tok_err(err, errlen, "tokenizer.ggml.tokens too large");
        goto fail;
    }
    t->arena_cap = (size_t)total + 4096;
    t->cap_text = (uint32_t)t->n_vocab + 1024;
    t->arena = malloc(t->arena_cap);
    t->text_off = malloc(t->cap_text * sizeof(uint32_t));
    t->text_len = malloc(t->cap_text * sizeof(uint32_t));
    t->type = malloc((size_t)t->n_vocab);
    t->attr = calloc((size_t)t->n_vocab, 1);
    t->scores = calloc((size_t)t->n_vocab, sizeof(float));
    if (!t->arena || !t->text_off || !t->text_len || !t->type || !t->attr || !t->scores ||
        !tok_strmap_init(&t->map, (uint32_t)t->n_vocab + (t->kind == TOK_BPE ? 4096 : 0))) {
        tok_err(err, errlen, "out of memory");
        goto fail;
    }
    uint64_t *hashes = malloc((size_t)t->n_vocab * sizeof(uint64_t));
    if (!hashes) {
        tok_err(err, errlen, "out of memory");
        goto fail;
    }
    for (int32_t i = 0; i < t->n_vocab; i++) {
        gguf_str s = toks->arr.items[i].str;
        add_text(t, s.ptr, (size_t)s.len);
        if (s.len > t->max_token_len) t->max_token_len = (uint32_t)s.len;
        hashes[i] = tok_hash(s.ptr, (size_t)s.len);
    }
    /* Slots are random accesses: prefetch a few insertions ahead. */
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (i + 16 < t->n_vocab) tok_strmap_prefetch(&t->map, hashes[i + 16]);
        tok_strmap_put_h(t, &t->map, (uint32_t)i, hashes[i]);
    }
    free(hashes);

    const gguf_value *types = gguf_get_arr(g, "tokenizer.ggml.token_type");
    memset(t->type, TT_NORMAL, (size_t)t->n_vocab);
    if (gguf_find(g, "tokenizer.ggml.token_type")) {
        if (!check_arr(types, "tokenizer.ggml.token_type", 1, GGUF_I32, (uint64_t)t->n_vocab, err,
                       errlen))
            goto fail;
        for (int32_t i = 0; i < t->n_vocab; i++) {
            int64_t v = gguf_arr_i64(types, (uint64_t)i);
            if (v < 0 || v > TT_BYTE) {
                tok_err(err, errlen, "tokenizer.ggml.token_type[%d] = %lld is not a token type", i,
                        (long long)v);
                goto fail;
            }
            t->type[i] = v == 0 ? TT_NORMAL : (uint8_t)v;
        }
    }
    if (gguf_find(g, "tokenizer.ggml.scores")) {
        const gguf_value *sc = gguf_get_arr(g, "tokenizer.ggml.scores");
        if (!check_arr(sc, "tokenizer.ggml.scores", 0, GGUF_F32, (uint64_t)t->n_vocab, err, errlen))
            goto fail;
        memcpy(t->scores, sc->arr.raw, (size_t)t->n_vocab * sizeof(float)); /* file is LE */
    }

    bool b;
    t->add_space_prefix = t->kind == TOK_SPM;
    if (gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b)) t->add_space_prefix = b;
    t->wpm_lower = t->wpm_strip_accents = true;
    if (gguf_get_bool(g, "tokenizer.ggml.normalizer.lowercase", &b)) t->wpm_lower = b;
    if (gguf_get_bool(g, "tokenizer.ggml.normalizer.strip_accents", &b)) t->wpm_strip_accents = b;

    for (int i = 0; i < 256; i++) t->byte_tok[i] = -1;
    if (t->kind == TOK_SPM && !spm_setup(t, err, errlen)) goto fail;
    if (t->kind == TOK_BPE) {
        const gguf_value *merges = gguf_get_arr(g, "tokenizer.ggml.merges");
        if (!check_arr(merges, "tokenizer.ggml.merges", 0, GGUF_STRING, 0, err, errlen)) goto fail;
        if (!bpe_setup(t, merges, err, errlen)) goto fail;
    }
    if (!load_specials(t, g, err, errlen)) goto fail;
    if (!build_special_list(t, g)) {
        tok_err(err, errlen, "out of memory");
        goto fail;
    }
    return t;
fail:
    if (err && errlen && !err[0]) tok_err(err, errlen, "tokenizer load failed");
    tokenizer_free(t);
    return NULL;
}

void tokenizer_free(tokenizer *t) {
    if (!t) return;
    free(t->text_off);
    free(t->text_len);
    free(t->arena);
    free(t->scores);
    free(t->type);
    free(t->attr);
    tok_strmap_free(&t->map);
    free(t->merges.slots);
    free(t->special_ids);
    free(t->eog_ids);
    free(t);
}

int32_t tokenizer_n_vocab(const tokenizer *t) {
    return t->n_vocab;
}

const tokenizer_specials *tokenizer_specials_get(const tokenizer *t) {
    return &t->sp;
}

bool tokenizer_is_eog(const tokenizer *t, int32_t id) {
    if (id < 0) return false;
    for (uint32_t i = 0; i < t->n_eog; i++)
        if (t->eog_ids[i] == id) return true;
    return false;
}
