/* The built-in catalogue: short names for the models hearth is meant to run, and where their
 * publishers host the GGUF files. Checksums and sizes are recorded only when known from the
 * publisher; until then they are NULL/0 and `hearth pull` computes, prints and records the sha256
 * in the model's manifest (so later corruption is still detected by `hearth list --verify`).
 * URLs follow Hugging Face's https://huggingface.co/<org>/<repo>/resolve/main/<file>; a mirror
 * (the HF_ENDPOINT environment variable, as Hugging Face's own tools read it) replaces the host. */
#include <strings.h>

#include "models.h"

#define HF "https://huggingface.co/"

static const models_entry CATALOGUE[] = {
    {"qwen2.5-coder-0.5b:q8_0", "qwen2.5-coder-0.5b-q8_0.gguf",
     HF "Qwen/Qwen2.5-Coder-0.5B-GGUF/resolve/main/qwen2.5-coder-0.5b-q8_0.gguf", NULL, 0,
     "completion"},
    {"qwen2.5-coder-1.5b:q5_k_m", "qwen2.5-coder-1.5b-q5_k_m.gguf",
     HF "Qwen/Qwen2.5-Coder-1.5B-GGUF/resolve/main/qwen2.5-coder-1.5b-q5_k_m.gguf", NULL, 0,
     "completion"},
    {"qwen2.5-coder-1.5b:q8_0", "qwen2.5-coder-1.5b-q8_0.gguf",
     HF "Qwen/Qwen2.5-Coder-1.5B-GGUF/resolve/main/qwen2.5-coder-1.5b-q8_0.gguf", NULL, 0,
     "completion"},
    {"qwen2.5-coder-7b:q4_k_m", "qwen2.5-coder-7b-q4_k_m.gguf",
     HF "Qwen/Qwen2.5-Coder-7B-GGUF/resolve/main/qwen2.5-coder-7b-q4_k_m.gguf", NULL, 0,
     "completion"},
    {"qwen3-coder-30b-a3b:q4_k_m", "qwen3-coder-30b-a3b-q4_k_m.gguf",
     HF "unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF/resolve/main/"
        "Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf",
     NULL, 0, "chat"},
    {"qwen3-embedding-0.6b:q8_0", "qwen3-embedding-0.6b-q8_0.gguf",
     HF "Qwen/Qwen3-Embedding-0.6B-GGUF/resolve/main/Qwen3-Embedding-0.6B-Q8_0.gguf", NULL, 0,
     "embedding"},
    {"bge-small-en-v1.5:q8_0", "bge-small-en-v1.5-q8_0.gguf",
     HF "CompendiumLabs/bge-small-en-v1.5-gguf/resolve/main/bge-small-en-v1.5-q8_0.gguf", NULL, 0,
     "embedding"},
};

const models_entry *models_catalogue(size_t *n) {
    *n = sizeof CATALOGUE / sizeof CATALOGUE[0];
    return CATALOGUE;
}

const models_entry *models_catalogue_find(const char *name) {
    for (size_t i = 0; name && i < sizeof CATALOGUE / sizeof CATALOGUE[0]; i++)
        if (!strcasecmp(CATALOGUE[i].name, name)) return &CATALOGUE[i];
    return NULL;
}
