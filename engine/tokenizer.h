/* Tokenizers read from GGUF metadata (tokenizer.ggml.*): SentencePiece-style ("llama"),
 * byte-level BPE ("gpt2") with the pre-tokenizers named by tokenizer.ggml.pre, WordPiece ("bert").
 * Private to engine/; engine.h re-exports what callers need. */
#ifndef HEARTH_TOKENIZER_H
#define HEARTH_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

typedef struct tokenizer tokenizer;

/* Special token ids; -1 when the vocabulary has none. */
typedef struct {
    int32_t bos, eos, eot, eom, unk, pad, sep, nl;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos; /* tokenizer.ggml.add_bos_token / add_eos_token (or the model default) */
} tokenizer_specials;

/* Builds a tokenizer from the file's metadata. NULL + message in err on failure
 * (unknown model or pre-tokenizer, missing arrays, inconsistent sizes, ids out of range). */
tokenizer *tokenizer_load(const gguf_file *g, char *err, size_t errlen);
void tokenizer_free(tokenizer *t);

int32_t tokenizer_n_vocab(const tokenizer *t);
const tokenizer_specials *tokenizer_specials_get(const tokenizer *t);
/* True for end-of-generation tokens (eos, eot, eom, and control tokens such as <|endoftext|>,
 * <|im_end|>, <|fim_pad|>, <|repo_name|>, <|file_sep|> when present). */
bool tokenizer_is_eog(const tokenizer *t, int32_t id);

/* Tokenizes text[0..len). add_special: add BOS/EOS as the vocabulary asks (add_bos/add_eos).
 * parse_special: text of control/user-defined tokens (e.g. "<|fim_prefix|>") becomes that token.
 * Writes up to max ids; returns the total number of tokens (may exceed max: call again with a
 * bigger buffer), or -1 on error (err filled). */
int64_t tokenizer_encode(const tokenizer *t, const char *text, size_t len, bool add_special,
                         bool parse_special, int32_t *ids, int64_t max, char *err, size_t errlen);

/* A byte range of a text. */
typedef struct {
    size_t start, len;
} tokenizer_span;
/* tokenizer_encode with two bounds. spans (sorted, non-overlapping; NULL = none): control and
 * unknown tokens are recognised only inside them, whatever parse_special says, so text outside
 * (a chat message) cannot forge a marker. limit > 0: stops soon after more than limit tokens
 * were made (at a word or fragment boundary), returning a count above limit that may fall short
 * of the total: an over-long prompt is refused without tokenizing all of it. */
int64_t tokenizer_encode_ex(const tokenizer *t, const char *text, size_t len, bool add_special,
                            bool parse_special, const tokenizer_span *spans, size_t n_spans,
                            int64_t limit, int32_t *ids, int64_t max, char *err, size_t errlen);

/* The bytes a token stands for (byte tokens <0xAB> decoded, SentencePiece "▁" -> " ", byte-level
 * BPE mapped back to raw bytes). Control tokens give their text only if render_special, else "".
 * Returns the piece length (which may exceed buflen: then nothing useful was written), -1 if the id
 * is out of range. */
int tokenizer_piece(const tokenizer *t, int32_t id, bool render_special, char *buf, int buflen);

/* Streaming detokenizer: feeds pieces, emits only complete UTF-8 sequences. */
typedef struct {
    char pending[8];
    int n_pending;
} utf8_stream;
/* Appends piece to the stream; copies the bytes that are ready to out (at most outlen, which must
 * be >= len + 8) and returns how many. Incomplete trailing sequences stay pending. */
int utf8_stream_push(utf8_stream *s, const char *piece, int len, char *out, int outlen);
/* Flushes whatever is pending (invalid leftovers are emitted as-is). */
int utf8_stream_flush(utf8_stream *s, char *out, int outlen);

#endif
