/* Shared by the model loaders (model.c: decoders; model_bert.c: encoders). Private to engine/. */
#ifndef HEARTH_LOADER_H
#define HEARTH_LOADER_H

#include "model.h"

typedef struct {
    engine_model *m;
    char *err;
    size_t errlen;
} loader;

/* Writes the message into the loader's error buffer; returns false. */
bool model_fail(loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The tensor `name`; NULL (and, if required, an error) when absent. */
const gguf_tensor *model_find_tensor(loader *l, const char *name, bool required);
/* A matrix of `rows` rows of `cols` elements (GGUF ne = {cols, rows}), type usable in matmul. */
bool model_get_weight(loader *l, weight *w, const char *name, int64_t cols, int64_t rows,
                      bool required);
/* A 1-D tensor of n floats, converted to f32 (owned by the model) if stored in another type. */
bool model_get_vector(loader *l, const float **out, const char *name, int64_t n, bool required);
/* The BERT-family tensors (bert, nomic-bert) of every layer (model_bert.c). */
bool model_load_bert_tensors(loader *l);

#endif
