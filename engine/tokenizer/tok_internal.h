/* Shared internals of the tokenizers (vocabulary storage, hash maps, algorithm entry points).
 * Private to engine/tokenizer. */
#ifndef HEARTH_TOK_INTERNAL_H
#define HEARTH_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../tokenizer.h"

typedef enum { TOK_SPM, TOK_BPE, TOK_WPM } tok_kind;

/* GGUF tokenizer.ggml.token_type values. */
enum {
    TT_NORMAL = 1,
    TT_UNKNOWN = 2,
    TT_CONTROL = 3,
    TT_USER = 4,
    TT_UNUSED = 5,
    TT_BYTE = 6,
};

/* Per-token attributes: whitespace removed next to a matched special token (L/RSTRIP); a control
 * token whose text a piece gives even without render_special (SHOWN: harmony's message markers,
 * which the chat filter reads to tell the hidden analysis from the final answer). */
enum { TOK_LSTRIP = 1, TOK_RSTRIP = 2, TOK_SHOWN = 4 };

/* Pre-tokenizer pipelines (named by tokenizer.ggml.pre). */
typedef enum {
    PRE_DEFAULT,
    PRE_GPT2,
    PRE_LLAMA3,
    PRE_QWEN2,
    PRE_STARCODER,
    PRE_DEEPSEEK_CODER,
    PRE_FALCON,
    PRE_O200K,
} tok_pre;

/* Open-addressing hash set of text indices, keyed by their bytes. */
typedef struct {
    uint64_t *slots; /* see vocab.c; 0 = empty */
    uint32_t mask;
} tok_strmap;

/* (left id, right id) -> merge rank and result text index. */
typedef struct {
    uint64_t key;
    uint32_t rank, result;
} tok_pair_slot;

typedef struct {
    tok_pair_slot *slots;
    uint32_t mask;
} tok_pairmap;

#define TOK_PAIR_EMPTY UINT64_MAX

struct tokenizer {
    tok_kind kind;
    tok_pre pre;
    int32_t n_vocab;
    /* Texts: the n_vocab tokens first, then strings that only exist as BPE merge results. */
    uint32_t n_text, cap_text;
    uint32_t *text_off, *text_len;
    char *arena;
    size_t arena_len, arena_cap;
    float *scores;         /* SPM merge priorities (n_vocab) */
    uint8_t *type;         /* TT_* (n_vocab) */
    uint8_t *attr;         /* TOK_LSTRIP | TOK_RSTRIP | TOK_SHOWN (n_vocab) */
    tok_strmap map;        /* text -> index; for duplicate token texts the last one wins */
    tok_pairmap merges;    /* BPE */
    int32_t byte_tok[256]; /* BPE: token of the mapped character of each byte; SPM: <0xXX> */
    bool ignore_merges;    /* BPE: whole words found in the vocabulary skip merging */
    bool add_space_prefix; /* SPM */
    bool wpm_lower, wpm_strip_accents;
    uint32_t max_token_len;
    tokenizer_specials sp;
    /* Special tokens matched in raw text, longest first (ties by id). */
    int32_t *special_ids;
    uint32_t n_special;
    bool special_first_byte[256];
    int32_t *eog_ids;
    uint32_t n_eog;
};

/* Growable output of token ids. */
typedef struct {
    int32_t *v;
    size_t n, cap;
    bool oom;
    size_t limit; /* > 0: the encoders stop soon after n exceeds it (tokenizer_encode_ex) */
    bool over;    /* the limit is known to be exceeded without tokenizing everything */
} tok_out;

void tok_out_push(tok_out *o, int32_t id);
static inline bool tok_out_done(const tok_out *o) {
    return o->limit && (o->n > o->limit || o->over);
}

static inline const char *tok_text(const tokenizer *t, uint32_t i) {
    return t->arena + t->text_off[i];
}

/* Appends a text (not a token) to the arena; its index or -1 when out of memory. */
int64_t tok_add_text(tokenizer *t, const char *s, size_t n);

uint64_t tok_hash(const char *s, size_t n);
bool tok_strmap_init(tok_strmap *m, uint32_t n_items);
void tok_strmap_free(tok_strmap *m);
/* Inserts text index idx (replacing an equal string); _h: with its precomputed tok_hash. */
void tok_strmap_put(const tokenizer *t, tok_strmap *m, uint32_t idx);
void tok_strmap_put_h(const tokenizer *t, tok_strmap *m, uint32_t idx, uint64_t h);
int64_t tok_strmap_get_h(const tokenizer *t, const tok_strmap *m, const char *s, size_t n,
                         uint64_t h);
static inline void tok_strmap_prefetch(const tok_strmap *m, uint64_t h) {
    __builtin_prefetch(&m->slots[(uint32_t)h & m->mask]);
}
/* Text index of s[0..n), or -1. */
int64_t tok_strmap_get(const tokenizer *t, const tok_strmap *m, const char *s, size_t n);
/* Token id of s[0..n) (a real token, not a merge-only string), or -1. */
static inline int32_t tok_lookup(const tokenizer *t, const char *s, size_t n) {
    int64_t i = tok_strmap_get(t, &t->map, s, n);
    return (i >= 0 && i < t->n_vocab) ? (int32_t)i : -1;
}

/* With a limit: true (and marks the output over it) when a piece of len text bytes would pass
 * the limit whatever its tokens, since no token covers more than max_token_len bytes; so one
 * huge word is refused without being merged. */
static inline bool tok_out_skip(tok_out *o, const tokenizer *t, size_t len) {
    if (!o->limit || !t->max_token_len) return false;
    if (o->n + (len + t->max_token_len - 1) / t->max_token_len <= o->limit) return false;
    o->over = true;
    return true;
}

/* ---- byte-level BPE ---- */
/* GPT-2 byte -> code point mapping and its inverse (-1 for code points that are no byte). */
uint32_t bpe_byte_to_cp(uint8_t b);
int bpe_cp_to_byte(uint32_t cp);
/* Builds merges and byte tokens. */
bool bpe_setup(tokenizer *t, const gguf_value *merges, char *err, size_t errlen);
/* Tokenizes one raw fragment (pre-tokenization included). */
bool bpe_encode_fragment(const tokenizer *t, const char *text, size_t len, tok_out *out);

/* ---- pre-tokenizer ---- */
bool pretok_parse_name(const char *name, size_t len, tok_pre *pre, bool *ignore_merges);
/* Splits text into words; *ends receives word end offsets (ascending, last == len). Returns the
 * number of words or -1 on allocation failure. *ends must be freed by the caller. */
int64_t pretok_split(tok_pre pre, const char *text, size_t len, uint32_t **ends);

/* ---- SentencePiece ---- */
bool spm_setup(tokenizer *t, char *err, size_t errlen);
/* Tokenizes one raw fragment, already prefixed/escaped ("▁" for spaces). */
bool spm_encode_fragment(const tokenizer *t, const char *text, size_t len, tok_out *out);

/* ---- WordPiece ---- */
bool wpm_encode_fragment(const tokenizer *t, const char *text, size_t len, tok_out *out);

#endif
