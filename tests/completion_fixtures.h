/* Fixtures shared by the completion tests that run a synthesized model over a generated file
 * (test_completion_shift, test_completion_slots): the model, the file, the settings, a request at
 * a cursor. */
#ifndef HEARTH_TESTS_COMPLETION_FIXTURES_H
#define HEARTH_TESTS_COMPLETION_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "completion.h"
#include "engine.h"
#include "test.h"

/* A tiny-qwen2 Q8_0 model with `layers` layers (0: the shape's own), the vocabulary
 * vocab_dir/vocab (NULL: a byte-level one), written to tmp_dir/name, loaded and unlinked. */
static inline engine_model *fixture_model(const char *tmp_dir, const char *vocab_dir,
                                          const char *name, const char *vocab, int layers,
                                          uint64_t seed) {
    char path[1024], vpath[1024], err[ENGINE_ERR_LEN];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    if (vocab) snprintf(vpath, sizeof vpath, "%s/%s", vocab_dir, vocab);
    engine_synth_params p = {.like = "tiny-qwen2",
                             .type = "Q8_0",
                             .vocab_path = vocab ? vpath : NULL,
                             .n_layers = layers,
                             .seed = seed};
    CHECKF(engine_synth(&p, path, err, sizeof err), "%s", err);
    engine_model *m = engine_model_load(path, err, sizeof err);
    CHECKF(m != NULL, "%s", err);
    unlink(path);
    return m;
}

/* A Python file of `lines` two-line functions (malloc'd). */
static inline char *fixture_numbered_file(int lines) {
    size_t cap = (size_t)lines * 64 + 1, len = 0;
    char *t = malloc(cap);
    for (int i = 0; i < lines; i++)
        len += (size_t)snprintf(t + len, cap - len, "def step_%d(x):\n    return x * %d + %d\n", i,
                                i % 7, i);
    return t;
}

/* The byte offset where line `line` (0-based) of t starts. */
static inline size_t fixture_line_start(const char *t, int line) {
    size_t at = 0;
    for (int i = 0; i < line; i++) at = (size_t)(strchr(t + at, '\n') - t) + 1;
    return at;
}

/* The tests' settings: 2048 positions, 2 threads, max_tokens, no prompt lookup, and neither a
 * prompt budget nor a generation cap, so every request takes the whole prompt and finishes
 * whatever the machine's speed (tests that want them set them). */
static inline void fixture_params(completion_params *p, int max_tokens) {
    completion_params_init(p);
    p->n_ctx = 2048;
    p->n_threads = 2;
    p->max_tokens = max_tokens;
    p->lookup_draft = 0;
    p->max_prompt_ms = 0;
    p->max_gen_ms = 0;
}

static inline completion_engine *fixture_engine(engine_model *m, const completion_params *p) {
    char err[256];
    completion_engine *e = completion_new(m, p, err, sizeof err);
    CHECKF(e != NULL, "%s", err);
    return e;
}

/* A request at byte `at` of text, a Python file named steps.py. */
static inline completion_request fixture_request(const char *text, size_t at) {
    completion_request r = {0};
    r.prefix = text, r.prefix_len = at;
    r.suffix = text + at, r.suffix_len = strlen(text) - at;
    r.path = "steps.py";
    r.language_id = "python";
    return r;
}

static inline bool fixture_run(completion_engine *e, const char *text, size_t at,
                               completion_result *out) {
    char err[256];
    completion_request r = fixture_request(text, at);
    bool ok = completion_run(e, &r, out, err, sizeof err);
    CHECKF(ok, "%s", err);
    return ok;
}

#endif
