/* libFuzzer target: the GGUF reader must reject or accept any byte string without crashing,
 * reading out of bounds or leaking; accepted files must have every tensor inside the image. */
#include <stdint.h>
#include <stdlib.h>

#include "gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    gguf_file *g = gguf_open_memory(data, size, err, sizeof err);
    if (!g) return 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        const uint8_t *p = t->data;
        if (p < data || p + t->nbytes > data + size) abort();
        volatile uint8_t sink = t->nbytes ? p[t->nbytes - 1] : 0;
        (void)sink;
    }
    for (uint64_t i = 0; i < g->n_kv; i++) (void)gguf_find(g, "general.architecture");
    gguf_close(g);
    return 0;
}
