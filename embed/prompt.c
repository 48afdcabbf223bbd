/* Prompt families: the prefixes each embedding model was trained with, from its model card.
 *  - Qwen3-Embedding: queries "Instruct: {task}\nQuery:{query}" (no space after "Query:"),
 *    documents as they are; the card's default task.
 *  - nomic-embed-text: "search_query: " / "search_document: ".
 *  - BGE English v1.5: queries "Represent this sentence for searching relevant passages: ",
 *    documents as they are.
 *  - everything else (all-MiniLM, jina, generic BERT): no prompt.
 * Recognised from general.architecture, general.name and the pooling type. */
#include <ctype.h>
#include <string.h>

#include "internal.h"

#define QWEN3_TASK "Given a web search query, retrieve relevant passages that answer the query"

static const embed_family_def FAMILIES[] = {
    {"none", "", ""},
    {"qwen3-embedding", "Instruct: " QWEN3_TASK "\nQuery:", ""},
    {"nomic", "search_query: ", "search_document: "},
    {"bge-en-v1.5", "Represent this sentence for searching relevant passages: ", ""},
};

const embed_family_def *embed_family_none(void) {
    return &FAMILIES[0];
}

/* general.name lower-cased with spaces and underscores as '-' ("Bge Small En v1.5" ->
 * "bge-small-en-v1.5"), bounded. */
static void normalise(const char *name, char *out, size_t cap) {
    size_t n = 0;
    for (; name && *name && n + 1 < cap; name++, n++) {
        char c = (char)tolower((unsigned char)*name);
        out[n] = c == ' ' || c == '_' ? '-' : c;
    }
    out[n] = 0;
}

const embed_family_def *embed_family_of(const engine_model *m) {
    const engine_model_info *info = engine_model_get_info(m);
    char name[256];
    normalise(info->name, name, sizeof name);
    const char *arch = info->arch ? info->arch : "";
    bool qwen = !strcmp(arch, "qwen3") || !strcmp(arch, "qwen2");
    /* A Qwen decoder pooling its last token is an embedding model, whatever its name says. */
    if (qwen && (strstr(name, "embedding") || engine_model_pooling(m) == ENGINE_POOL_LAST))
        return &FAMILIES[1];
    if (!strcmp(arch, "nomic-bert") || strstr(name, "nomic-embed")) return &FAMILIES[2];
    if (!strcmp(arch, "bert") && strstr(name, "bge-") && strstr(name, "-en") &&
        strstr(name, "v1.5"))
        return &FAMILIES[3];
    return &FAMILIES[0];
}
