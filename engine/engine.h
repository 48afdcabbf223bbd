/* engine: hearth's GGUF inference engine. This header is the only door into engine/.
 *
 * The engine knows nothing of editors, LSP, files other than the model it maps, or JSON.
 * Lifetimes: an engine_model is loaded once (weights stay in the mmapped file) and shared
 * read-only; each engine_ctx owns one sequence's KV cache and scratch buffers and is used by one
 * thread at a time. Every function that can fail returns false/NULL/-1 and writes a one-line
 * reason into the caller's err buffer (never aborts on bad input). */
#ifndef HEARTH_ENGINE_H
#define HEARTH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_ERR_LEN 512

typedef struct engine_model engine_model;
typedef struct engine_ctx engine_ctx;

/* ---- models ---- */

typedef struct {
    const char *arch; /* general.architecture, e.g. "qwen2" */
    const char *name; /* general.name or "" */
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    int32_t n_ctx_train;
    int32_t n_expert, n_expert_used, n_ff_exp; /* Mixture-of-Experts; 0 for dense models */
    float rope_freq_base, rms_eps;
    uint64_t n_params;     /* elements in all tensors */
    uint64_t weight_bytes; /* bytes of all tensor data */
    uint64_t decode_bytes; /* weight bytes one decoded token streams: all but the unused
                              token_embd rows, and only the routed share of MoE experts */
    const char *file_type; /* the most common 2-D weight type, e.g. "Q8_0" */
    bool tied_output;      /* output projection shares token_embd */
    int32_t n_swa;         /* sliding window (positions) of the layers that slide, 0: none */
    int32_t n_swa_layers;  /* how many layers slide (gpt-oss: every other one) */
    float rope_yarn;       /* YaRN rope scaling factor, 0: none */
} engine_model_info;

/* Maps and validates a GGUF model (architecture llama, qwen2, qwen3, qwen3moe or gpt-oss;
 * bert and nomic-bert encoders). */
engine_model *engine_model_load(const char *path, char *err, size_t errlen);
/* Only the tokenizer of a file (vocab-only GGUFs too): for the token functions, not for contexts.
 */
engine_model *engine_model_load_vocab(const char *path, char *err, size_t errlen);
void engine_model_free(engine_model *m);
const engine_model_info *engine_model_get_info(const engine_model *m);
/* Writes one line per tensor type used ("Q8_0: 169 tensors, 502.1 MB") into buf; returns length. */
int engine_model_describe_types(const engine_model *m, char *buf, size_t buflen);

/* ---- tokens ---- */

/* See tokenizer.h for exact semantics. Returns the number of tokens (may exceed max), -1 on error.
 */
int64_t engine_tokenize(const engine_model *m, const char *text, size_t len, bool add_special,
                        bool parse_special, int32_t *ids, int64_t max, char *err, size_t errlen);
/* engine_tokenize bounded by max: stops soon after more than max tokens were made and then
 * returns a count above max that may fall short of the total (refuse the text), so an over-long
 * prompt costs about max tokens of work, not its whole length. ids holds max entries. */
int64_t engine_tokenize_upto(const engine_model *m, const char *text, size_t len, bool add_special,
                             bool parse_special, int32_t *ids, int64_t max, char *err,
                             size_t errlen);
/* Bytes of one token; render_special renders control tokens. Returns length or -1. */
int engine_token_piece(const engine_model *m, int32_t id, bool render_special, char *buf,
                       int buflen);
bool engine_token_is_eog(const engine_model *m, int32_t id);
int32_t engine_token_bos(const engine_model *m); /* -1 if none */
bool engine_adds_bos(const engine_model *m);
/* Fill-in-the-middle marker tokens: from tokenizer.ggml.fim_{pre,suf,mid,pad,rep,sep}_token_id
 * (or the older prefix/suffix/middle_token_id keys), else found by their well-known texts
 * (<|fim_prefix|>, <fim_prefix>, <PRE>, ...); -1 when the vocabulary has none. */
typedef struct {
    int32_t pre, suf, mid, pad, rep, sep;
} engine_fim_tokens;
void engine_token_fim(const engine_model *m, engine_fim_tokens *out);

/* ---- contexts (one sequence: KV cache + scratch) ---- */

/* KV-cache element type. Q8_0: each run of 32 values of a K/V row is one block of an f16 scale
 * and 32 int8 (the GGUF Q8_0 layout, 34 bytes): about half F16's memory; needs head_dim % 32 == 0.
 */
typedef enum { ENGINE_KV_F16 = 0, ENGINE_KV_F32 = 1, ENGINE_KV_Q8_0 = 2 } engine_kv_type;

typedef struct {
    int32_t n_ctx;     /* positions the KV cache holds; 0 = min(model's training context, 4096) */
    int32_t n_batch;   /* max tokens per forward pass; longer inputs are split. 0 = 512 */
    int32_t n_threads; /* shares each pool round is split into; 0 = physical cores */
    engine_kv_type kv_type;
} engine_ctx_params;

/* Threads: the process runs one engine thread pool, shared by every context. It grows to the
 * largest n_threads any context asked for (n_threads - 1 workers plus the calling thread) and
 * never shrinks; a context asking fewer runs its rounds with fewer shares (the extra workers find
 * nothing to claim). Contexts may be used from different threads at once (the LSP's completion
 * and hearth.ask workers, hearth serve's scheduler): their pool rounds take turns under one mutex
 * taken once per round. A context with n_threads 1 never touches the pool. */

engine_ctx_params engine_ctx_default_params(void);
engine_ctx *engine_ctx_new(const engine_model *m, const engine_ctx_params *p, char *err,
                           size_t errlen);
void engine_ctx_free(engine_ctx *c);
int32_t engine_ctx_n_ctx(const engine_ctx *c);
/* Bytes of KV cache + scratch the context allocated. */
uint64_t engine_ctx_memory(const engine_ctx *c);
/* Estimated KV-cache bytes for a model at n_ctx positions (the default n_batch). Sliding-window
 * layers (gpt-oss) keep engine_kv_swa_rows rows each, not n_ctx: a ring of the window and one
 * batch in a one-sequence context; in a paged one, blocks returned once out of the window. */
uint64_t engine_kv_bytes(const engine_model *m, int32_t n_ctx, engine_kv_type kv_type);
int32_t engine_kv_swa_rows(const engine_model *m, int32_t n_ctx);

/* Positions currently in the KV cache (the next token is evaluated at this position). */
int32_t engine_n_past(const engine_ctx *c);
/* Keeps the first n positions of the KV cache and drops the rest (n <= n_past). A model with
 * sliding-window layers may keep fewer: the next token at n reads those layers' positions
 * [n - n_swa + 1, n), which their ring holds only if n is at most about one batch (n_batch, at
 * least 8) below the positions evaluated since; otherwise it keeps what engine_kv_checkpoint
 * saved, or none (0), so that what is evaluated next stays exact. Read engine_n_past afterwards. */
void engine_kv_keep(engine_ctx *c, int32_t n);
/* Remembers the sliding-window layers' rows of the n_swa - 1 positions before n_past (a model
 * with such layers; nothing otherwise). A later engine_kv_keep(k) with k at or past this point,
 * whose window the ring no longer holds, then comes back here instead of to 0, until positions
 * before it are dropped. engine_generate takes one after evaluating its prompt, so that the next
 * turn of a conversation keeps the earlier ones. */
void engine_kv_checkpoint(engine_ctx *c);
/* Reusing cached entries at other positions (kv_shift.c): moves the K/V entries of positions
 * [from, from+n) (all below n_past) to [to, to+n) (the ranges may overlap), turning each key to
 * its new position (RoPE composes). Exact for the first layer; later layers keep what the tokens
 * saw at their old place. n_past is unchanged: a caller rebuilding a prompt moves every run it
 * keeps first (runs moving left in ascending order, then runs moving right in descending order,
 * so no move overwrites another's source), trims with engine_kv_keep, then evaluates each gap
 * and engine_kv_extend-s over the run after it. False (with a message) for a paged or encoder
 * context, a model without rotary positions, a model with YaRN rope scaling or sliding-window
 * layers (gpt-oss), or ranges outside the cache. */
bool engine_kv_move(engine_ctx *c, int32_t from, int32_t to, int32_t n, char *err, size_t errlen);
/* Declares positions [n_past, n) held (n <= n_ctx): their rows must have been filled by
 * engine_kv_move; nothing checks it. Does nothing for sliding-window models (no moves). */
void engine_kv_extend(engine_ctx *c, int32_t n);

/* Evaluates n tokens at positions n_past .. n_past+n-1 (batched), appending them to the cache.
 * all_logits: keep logits of every position (else only the last). */
bool engine_eval(engine_ctx *c, const int32_t *ids, int32_t n, bool all_logits, char *err,
                 size_t errlen);
/* Asked between the layers of every forward pass engine_eval runs on c (a one-sequence
 * context): true stops the evaluation there, so a caller waiting for the thread waits one layer,
 * not a whole batch. engine_eval then returns false with engine_eval_stopped(c) true; the
 * sequence keeps the n_batch chunks finished before (n_past counts them, not the stopped one) and
 * no logits. The stopped pass is not lost: the next engine_eval at the same place whose tokens
 * start the same way resumes it at the layer it stopped before (for those tokens), so work cut
 * short again and again still progresses — every pass runs at least one layer. Any other change
 * of the sequence (engine_kv_keep below n_past, moves, another eval) forgets it. NULL (the
 * default) = never. Called on the evaluating thread. */
typedef bool (*engine_stop_fn)(void *user);
void engine_ctx_set_stop(engine_ctx *c, engine_stop_fn fn, void *user);
/* Whether the last engine_eval on c returned false because its stop function said so. */
bool engine_eval_stopped(const engine_ctx *c);
/* Tokens of the last engine_eval on c that resumed a stopped pass (their first layers had run
 * before): a caller timing evaluation leaves such passes out. */
int32_t engine_eval_resumed(const engine_ctx *c);
/* Logits (n_vocab floats) of the i-th token of the last engine_eval (i = -1: the last one).
 * NULL if that position's logits were not kept. Valid until the next engine_eval. */
const float *engine_logits(const engine_ctx *c, int32_t i);

/* ---- many sequences over one paged KV cache (continuous batching) ----
 * A paged context's KV cache is a pool of fixed-size blocks shared by up to n_seq_max sequences;
 * each sequence takes blocks from a free list as it grows and returns them all when freed, so
 * memory follows actual lengths. One engine_eval_seqs call evaluates tokens of many sequences in
 * one forward pass (each weight read once for all of them), each token attending only to its own
 * sequence. Decoding a sequence this way gives the same tokens as decoding it alone. A paged
 * context serves only the engine_seq_* / engine_eval_seqs calls (not engine_eval or embeddings).
 * Sliding-window layers draw on a second, smaller pool of blocks (enough by construction, never
 * counted in the figures below): a sequence's blocks there go back once out of its window. */

typedef struct {
    int32_t n_seq_max;   /* sequences alive at once (1..4096) */
    int32_t n_blocks;    /* KV blocks shared by all sequences */
    int32_t block_size;  /* positions per block; 0 = 16 */
    int32_t max_seq_len; /* positions one sequence may hold; 0 = min(training context,
                            n_blocks * block_size) */
} engine_paged_params;

typedef struct {
    int32_t seq; /* sequence id from engine_seq_new */
    int32_t id;  /* token id; evaluated at the sequence's next position */
    bool logits; /* keep this token's logits (engine_seq_logits) */
} engine_seq_token;

/* p may be NULL (defaults; its n_ctx is ignored). */
engine_ctx *engine_ctx_new_paged(const engine_model *m, const engine_ctx_params *p,
                                 const engine_paged_params *pp, char *err, size_t errlen);
/* A new empty sequence: its id (>= 0), or -1 when n_seq_max sequences are alive. */
int32_t engine_seq_new(engine_ctx *c, char *err, size_t errlen);
/* Ends a sequence; its blocks are free at once. Unknown ids are ignored. */
void engine_seq_free(engine_ctx *c, int32_t seq);
/* Positions a live sequence holds (-1 for an unknown id). */
int32_t engine_seq_n_past(const engine_ctx *c, int32_t seq);
/* Blocks on the free list; engine_seq_blocks_needed: blocks n more positions of seq would take. */
int32_t engine_kv_blocks_free(const engine_ctx *c);
int32_t engine_seq_blocks_needed(const engine_ctx *c, int32_t seq, int32_t n);
/* Evaluates n tokens of any live sequences (a sequence's tokens in order), appending each to its
 * sequence. All or nothing: on an unknown sequence, a bad token, a sequence past max_seq_len or
 * too few free blocks it fails with a message and changes nothing. */
bool engine_eval_seqs(engine_ctx *c, const engine_seq_token *toks, int32_t n, char *err,
                      size_t errlen);
/* Logits of the i-th token of the last engine_eval_seqs; NULL if it did not ask for them. */
const float *engine_seq_logits(const engine_ctx *c, int32_t i);

/* ---- embeddings ---- */

typedef enum {
    ENGINE_POOL_DEFAULT = -1, /* what the model's metadata says */
    ENGINE_POOL_NONE = 0,
    ENGINE_POOL_MEAN = 1,
    ENGINE_POOL_CLS = 2,
    ENGINE_POOL_LAST = 3
} engine_pooling;

/* The pooling a model asks for in its metadata (<arch>.pooling_type). */
engine_pooling engine_model_pooling(const engine_model *m);
/* Embeds one token sequence (clearing the context's cache first): the final hidden states,
 * pooled, L2-normalised into out[n_embd]. BERT runs its bidirectional encoder; decoder models
 * (e.g. qwen3 as Qwen3-Embedding) run causally. */
bool engine_embed(engine_ctx *c, const int32_t *ids, int32_t n, engine_pooling pooling, float *out,
                  char *err, size_t errlen);
/* Embeds n_seq sequences (each <= the context's n_batch tokens) into out[n_seq * n_embd]. As many
 * sequences as fit are packed into one forward pass, each attending only to itself: no padding. */
bool engine_embed_batch(engine_ctx *c, const int32_t *const *ids, const int32_t *n_ids,
                        int32_t n_seq, engine_pooling pooling, float *out, char *err,
                        size_t errlen);

/* ---- sampling ---- */

typedef struct {
    float temperature;     /* <= 0: greedy */
    int32_t top_k;         /* 0 = off */
    float top_p;           /* 1 = off */
    float min_p;           /* 0 = off */
    float repeat_penalty;  /* 1 = off */
    int32_t repeat_last_n; /* window of recent tokens the penalty looks at */
    uint64_t seed;
} engine_sampler_params;

typedef struct engine_sampler engine_sampler;
engine_sampler_params engine_sampler_default_params(void);
engine_sampler *engine_sampler_new(const engine_sampler_params *p, int32_t n_vocab);
void engine_sampler_free(engine_sampler *s);
/* Records a token as part of the history (prompt or generated) for the repetition penalty. */
void engine_sampler_accept(engine_sampler *s, int32_t id);
/* Picks the next token from logits (not modified). Greedy ties go to the lowest id. */
int32_t engine_sample(engine_sampler *s, const float *logits);

/* ---- generation ---- */

/* Receives generated text as it becomes final (whole UTF-8 sequences, stop strings held back).
 * Return false to stop generating. */
typedef bool (*engine_emit_fn)(const char *text, size_t len, void *user);

typedef struct {
    const int32_t *prompt; /* evaluated after whatever the context already holds */
    int64_t n_prompt;
    int32_t n_predict; /* max tokens to generate */
    engine_sampler_params sampling;
    const char *const *stops; /* stop strings (not emitted) */
    int n_stops;
    engine_emit_fn emit;
    void *user;
    int32_t *out_ids; /* optional: the sampled tokens are recorded here (up to out_cap) */
    int32_t out_cap;
    /* Prompt-lookup speculation (greedy, no repetition penalty): up to this many tokens that
     * followed an earlier occurrence of the last few tokens are verified in one batch. The output
     * is the same as without it. 0 = off. */
    int32_t lookup_draft;
    /* Optional tokens prompt lookup may also copy from: what the context already holds before
     * `prompt` (a FIM prompt evaluated in chunks beforehand, say). Not evaluated. */
    const int32_t *lookup_source;
    int64_t n_lookup_source;
} engine_gen_request;

typedef enum {
    ENGINE_STOP_LENGTH,
    ENGINE_STOP_EOG,
    ENGINE_STOP_STRING,
    ENGINE_STOP_CALLER,
    ENGINE_STOP_CONTEXT
} engine_stop_reason;

typedef struct {
    int32_t n_generated;
    int32_t n_drafted, n_draft_accepted; /* speculation: tokens proposed and kept */
    double prompt_s, gen_s;              /* wall time of prompt evaluation and of generation */
    engine_stop_reason stop;
} engine_gen_stats;

/* Evaluates the prompt, then samples and streams up to n_predict tokens. */
bool engine_generate(const engine_model *m, engine_ctx *c, const engine_gen_request *req,
                     engine_gen_stats *stats, char *err, size_t errlen);

/* ---- chat ---- */

typedef struct {
    const char *role; /* "system", "user", "assistant" ("developer" for harmony) */
    const char *content;
} engine_chat_message;

/* The chat template family recognised from tokenizer.chat_template: "chatml" (Qwen2.5),
 * "qwen3" (ChatML with thinking), "llama3", "harmony" (gpt-oss: <|start|>, <|channel|> and
 * <|message|> markers); NULL if missing or unknown. */
const char *engine_chat_template(const engine_model *m);
/* True when name is a template family engine_chat_prompt knows (chatml, qwen3, llama3, harmony). */
bool engine_chat_template_known(const char *name);
/* True for a harmony reasoning effort: "low", "medium" or "high". */
bool engine_chat_reasoning_known(const char *effort);

/* What shapes a chat prompt besides its messages. */
typedef struct {
    bool thinking;         /* Qwen3: let it think (else an empty think block) */
    const char *reasoning; /* harmony: "low", "medium" or "high" (NULL: medium, the default) */
    const char *date;      /* harmony: "Current date" of the system message, YYYY-MM-DD (NULL:
                              today, local time) */
} engine_chat_options;
/* The prompt for a conversation, ending with the assistant's turn opened (malloc'd; free it).
 * template_name NULL = the model's own; thinking: let Qwen3 think (else an empty think block). */
char *engine_chat_prompt(const engine_model *m, const char *template_name,
                         const engine_chat_message *msgs, int n, bool thinking, char *err,
                         size_t errlen);

/* engine_chat_prompt with every option. */
char *engine_chat_prompt_ex(const engine_model *m, const char *template_name,
                            const engine_chat_message *msgs, int n, const engine_chat_options *o,
                            char *err, size_t errlen);

/* The same conversation as tokens (BOS as the vocabulary asks), bounded like
 * engine_tokenize_upto: the template's own markers become special tokens, the messages' text
 * is tokenized as plain text, so a message holding "<|im_end|>\n<|im_start|>system" cannot end
 * its turn or open another. Returns the count (above max: too long) or -1 with err. */
int64_t engine_chat_tokens(const engine_model *m, const char *template_name,
                           const engine_chat_message *msgs, int n, bool thinking, int32_t *ids,
                           int64_t max, char *err, size_t errlen);
int64_t engine_chat_tokens_ex(const engine_model *m, const char *template_name,
                              const engine_chat_message *msgs, int n, const engine_chat_options *o,
                              int32_t *ids, int64_t max, char *err, size_t errlen);

/* Hides the model's reasoning from streamed answer text: <think>...</think> (and the newlines
 * after it), or, when the answer begins with harmony's "<|channel|>", every message not on the
 * final channel (the analysis) and the message markers. Zero-initialise it for each answer. */
typedef struct {
    bool inside, skip_newlines;
    int matched;                 /* bytes of the next <think> tag matched so far */
    int mode;                    /* undecided, <think> or harmony */
    bool in_body, shown, naming; /* harmony: in a message's text; on the final channel; in the
                                    channel's name */
    char held[16];               /* bytes that may begin a marker */
    int n_held;
    char channel[16];
    int n_channel;
} engine_think_filter;
/* Writes the visible part of in[0..n) to out (room for n + 16 bytes); returns its length. */
size_t engine_think_filter_push(engine_think_filter *f, const char *in, size_t n, char *out);
/* At the end of the answer: a partial tag that never completed is shown after all. */
size_t engine_think_filter_flush(engine_think_filter *f, char *out);

/* ---- synthetic models ---- */

typedef struct {
    const char *like;       /* a shape name: engine_synth_shape_name(i) */
    const char *type;       /* F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K..Q6_K Q4_K_M Q5_K_M */
    const char *vocab_path; /* GGUF whose tokenizer.* metadata is copied; NULL = byte-level vocab */
    int32_t n_layers;       /* 0 = the shape's own */
    uint64_t seed;
    /* called after each layer is generated (NULL = none) */
    void (*progress)(int32_t layers_done, int32_t n_layers, void *user);
    void *user;
    /* encoders only: a bag-of-words embedder instead of random weights: random token vectors,
     * every layer an identity (zero matrices and biases, unit norms), mean pooling, so the
     * cosine of two texts measures the tokens they share (a meaningful, untrained embedder) */
    bool bag_of_words;
} engine_synth_params;

/* Writes a random-weight model with the exact shapes of a public model (atomically). */
bool engine_synth(const engine_synth_params *p, const char *out_path, char *err, size_t errlen);
/* The i-th known shape name, NULL past the end. */
const char *engine_synth_shape_name(int i);

/* Quantizes a float model (F32/F16/BF16 weights) to TYPE: a tensor type, the Q4_K_M / Q5_K_M
 * mixes or MXFP4_MOE (MoE expert stacks MXFP4, other matrices Q8_0). 1-D tensors, the MoE
 * router and position/token-type tables stay as they are; rows a K-quant block does not divide
 * fall back to a legacy type. Written atomically. */
bool engine_quantize(const char *in_path, const char *out_path, const char *type, char *err,
                     size_t errlen);

/* What engine_quantize_with reports after each tensor (index is 0-based, of n). */
typedef void (*engine_quantize_progress_fn)(int64_t index, int64_t n, const char *tensor,
                                            const char *type, void *user);

typedef struct {
    bool allow_requantize; /* quantized input tensors are dequantized and quantized again
                              (quality is lost twice); without it they are an error */
    engine_quantize_progress_fn progress; /* NULL = none */
    void *user;
} engine_quantize_params;

typedef struct {
    uint64_t bytes_in, bytes_out; /* tensor data of the input and of the output */
    uint64_t n_weights;           /* elements of all tensors */
    int64_t n_tensors;
    int64_t n_converted;   /* tensors whose type changed */
    int64_t n_requantized; /* ... of which were quantized already */
    int64_t n_fallback;    /* got a legacy type: the plan's blocks do not divide their rows */
    double seconds;
} engine_quantize_stats;

/* engine_quantize with options and a report (stats may be NULL). */
bool engine_quantize_with(const char *in_path, const char *out_path, const char *type,
                          const engine_quantize_params *p, engine_quantize_stats *stats, char *err,
                          size_t errlen);

/* ---- misc ---- */

/* Physical cores of this machine (>= 1). */
int engine_physical_cores(void);
/* Worker threads of the process's engine thread pool (0 before a multi-threaded context). */
int engine_pool_workers(void);
/* The SIMD level in use: "avx512", "avx2" or "scalar". */
const char *engine_simd_name(void);
/* Caps the SIMD level of the whole process at "avx512", "avx2" or "scalar" (never above what
 * the CPU has), e.g. to measure the AVX2 kernels on an AVX-512 machine. Call before any model
 * work starts; false for an unknown name. */
bool engine_set_simd_limit(const char *name);

/* ---- draft-model speculative decoding ---- */

typedef struct {
    const engine_model *model; /* the draft: a smaller model of the target's vocabulary */
    engine_ctx *ctx;           /* its own context: n_ctx >= the target context's, holding the
                                  same tokens as the target context on entry (both fresh, or
                                  both trimmed alike with engine_kv_keep); so again on return */
    int32_t n_draft;           /* most tokens proposed per step (1..64; at most 6 are used, see
                                  generate.c); after a miss the draft proposes one more than it
                                  got right, doubling back */
} engine_draft;

/* True if `draft` can propose tokens for `target`: every token id both vocabularies have reads
 * the same, and their sizes differ by at most 128 (padding); else false with the first
 * difference in err. (Generation stays correct with any draft; a foreign one only wastes work.) */
bool engine_draft_compatible(const engine_model *target, const engine_model *draft, char *err,
                             size_t errlen);

/* engine_generate with a draft model. With greedy sampling and no repetition penalty the draft
 * proposes up to n_draft tokens greedily, the target evaluates them in one batch and keeps the
 * longest prefix it agrees with plus its own next token: the output is the same as
 * engine_generate's (stats count n_drafted / n_draft_accepted). Other sampling generates as
 * engine_generate and only keeps the draft context in step. req->lookup_draft is ignored. */
bool engine_generate_draft(const engine_model *m, engine_ctx *c, const engine_draft *d,
                           const engine_gen_request *req, engine_gen_stats *stats, char *err,
                           size_t errlen);

#endif
