/* The built-in catalogue: short names for the models hearth is meant to run, and where their
 * publishers host the GGUF files. Checksums and sizes are recorded only when known from the
 * publisher; until then they are NULL/0 and `hearth pull` computes, prints and records the sha256
 * in the model's manifest (so later corruption is still detected by `hearth list --verify`).
 * URLs follow Hugging Face's https://huggingface.co/<org>/<repo>/resolve/main/<file>; a mirror
 * (the HF_ENDPOINT environment variable, as Hugging Face's own tools read it) replaces the host. */
#include <string.h>
#include <strings.h>

#include "models.h"

#define HF "https://huggingface.co/"

/* Sizes are rounded from the publishers' listings; the KV cache per position is
 * n_layer x n_head_kv x head_dim x 2 (K and V) x 2 bytes, from each model's configuration. A
 * base name's first entry is its default tag. */
#define GB 1000000000ull
#define MB 1000000ull
static const models_entry CATALOGUE[] = {
    {"qwen2.5-coder-1.5b:q5_k_m", "qwen2.5-coder-1.5b-q5_k_m.gguf",
     HF "Qwen/Qwen2.5-Coder-1.5B-GGUF/resolve/main/qwen2.5-coder-1.5b-q5_k_m.gguf", NULL, 0,
     "completion", 1130 * MB, 28 * 2 * 128 * 4},
    {"qwen2.5-coder-1.5b:q8_0", "qwen2.5-coder-1.5b-q8_0.gguf",
     HF "Qwen/Qwen2.5-Coder-1.5B-GGUF/resolve/main/qwen2.5-coder-1.5b-q8_0.gguf", NULL, 0,
     "completion", 1650 * MB, 28 * 2 * 128 * 4},
    {"qwen2.5-coder-0.5b:q8_0", "qwen2.5-coder-0.5b-q8_0.gguf",
     HF "Qwen/Qwen2.5-Coder-0.5B-GGUF/resolve/main/qwen2.5-coder-0.5b-q8_0.gguf", NULL, 0,
     "completion", 530 * MB, 24 * 2 * 64 * 4},
    {"qwen2.5-coder-7b:q4_k_m", "qwen2.5-coder-7b-q4_k_m.gguf",
     HF "Qwen/Qwen2.5-Coder-7B-GGUF/resolve/main/qwen2.5-coder-7b-q4_k_m.gguf", NULL, 0,
     "completion", 4680 * MB, 28 * 4 * 128 * 4},
    {"qwen2.5-coder-1.5b-instruct:q5_k_m", "qwen2.5-coder-1.5b-instruct-q5_k_m.gguf",
     HF "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/resolve/main/"
        "qwen2.5-coder-1.5b-instruct-q5_k_m.gguf",
     NULL, 0, "chat", 1130 * MB, 28 * 2 * 128 * 4},
    {"qwen3-coder-30b-a3b:q4_k_m", "qwen3-coder-30b-a3b-q4_k_m.gguf",
     HF "unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF/resolve/main/"
        "Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf",
     NULL, 0, "chat", 18600 * MB, 48 * 4 * 128 * 4},
    /* gpt-oss: 12 of its 24 layers attend to a 128-position window, and their KV cache holds
     * the window and one batch (about 16 MB, whatever the context): only the other 12 grow */
    {"gpt-oss-20b:mxfp4", "gpt-oss-20b-mxfp4.gguf",
     HF "ggml-org/gpt-oss-20b-GGUF/resolve/main/gpt-oss-20b-mxfp4.gguf", NULL, 0, "chat",
     12100 * MB, 12 * 8 * 64 * 4},
    {"qwen3-embedding-0.6b:q8_0", "qwen3-embedding-0.6b-q8_0.gguf",
     HF "Qwen/Qwen3-Embedding-0.6B-GGUF/resolve/main/Qwen3-Embedding-0.6B-Q8_0.gguf", NULL, 0,
     "embedding", 640 * MB, 28 * 8 * 128 * 4},
    {"bge-small-en-v1.5:q8_0", "bge-small-en-v1.5-q8_0.gguf",
     HF "CompendiumLabs/bge-small-en-v1.5-gguf/resolve/main/bge-small-en-v1.5-q8_0.gguf", NULL, 0,
     "embedding", 37 * MB, 0},
};

const models_entry *models_catalogue(size_t *n) {
    *n = sizeof CATALOGUE / sizeof CATALOGUE[0];
    return CATALOGUE;
}

const models_entry *models_catalogue_find(const char *name) {
    size_t n = sizeof CATALOGUE / sizeof CATALOGUE[0];
    for (size_t i = 0; name && i < n; i++)
        if (!strcasecmp(CATALOGUE[i].name, name)) return &CATALOGUE[i];
    if (!name || strchr(name, ':')) return NULL;
    size_t len = strlen(name); /* no tag: the first entry of that base name */
    for (size_t i = 0; len && i < n; i++)
        if (!strncasecmp(CATALOGUE[i].name, name, len) && CATALOGUE[i].name[len] == ':')
            return &CATALOGUE[i];
    return NULL;
}

uint64_t models_catalogue_ram(const models_entry *e, int32_t n_ctx) {
    return e->approx_size + (uint64_t)e->kv_bytes_per_token * (uint64_t)(n_ctx > 0 ? n_ctx : 0);
}
