/* GGUF v3 writer: metadata is serialised as it is added; tensors are copied and laid out at save.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "gguf.h"
#include "quant.h"

typedef struct {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    uint64_t nbytes;
} pending_tensor;

struct gguf_writer {
    base_buf kv; /* the metadata key/values, serialised */
    uint64_t n_kv;
    pending_tensor *tensors;
    uint64_t n_tensors, cap_tensors;
    uint32_t alignment;
    bool oom;
    FILE *data;         /* tensor data spooled to an anonymous temp file: big models never sit in
                           memory whole */
    uint64_t data_size; /* bytes spooled, each tensor padded to the alignment */
    bool io_error;
};

static void put(gguf_writer *w, const void *p, size_t n) {
    if (!base_buf_append(&w->kv, p, n)) w->oom = true;
}

static void put_u32(gguf_writer *w, uint32_t v) {
    put(w, &v, 4);
}
static void put_u64(gguf_writer *w, uint64_t v) {
    put(w, &v, 8);
}
static void put_str(gguf_writer *w, const char *s, uint64_t len) {
    put_u64(w, len);
    put(w, s, len);
}

static void begin_kv(gguf_writer *w, const char *key, uint32_t type) {
    put_str(w, key, strlen(key));
    put_u32(w, type);
    w->n_kv++;
}

gguf_writer *gguf_writer_new(void) {
    gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->alignment = 32;
    return w;
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    if (w->data) fclose(w->data);
    free(w->tensors);
    base_buf_free(&w->kv);
    free(w);
}

static uint64_t align_up(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

static bool write_all(FILE *f, const void *p, size_t n) {
    return fwrite(p, 1, n, f) == n;
}

static bool write_padding(FILE *f, uint64_t n) {
    static const uint8_t zeros[64];
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (!write_all(f, zeros, k)) return false;
        n -= k;
    }
    return true;
}

/* Must be called before the first tensor is added (offsets depend on it). */
void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment) {
    w->alignment = alignment;
    gguf_write_u32(w, "general.alignment", alignment);
}

void gguf_write_u32(gguf_writer *w, const char *key, uint32_t v) {
    begin_kv(w, key, GGUF_U32);
    put_u32(w, v);
}
void gguf_write_i32(gguf_writer *w, const char *key, int32_t v) {
    begin_kv(w, key, GGUF_I32);
    put(w, &v, 4);
}
void gguf_write_u64(gguf_writer *w, const char *key, uint64_t v) {
    begin_kv(w, key, GGUF_U64);
    put_u64(w, v);
}
void gguf_write_f32(gguf_writer *w, const char *key, float v) {
    begin_kv(w, key, GGUF_F32);
    put(w, &v, 4);
}
void gguf_write_bool(gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    begin_kv(w, key, GGUF_BOOL);
    put(w, &b, 1);
}
void gguf_write_str(gguf_writer *w, const char *key, const char *v) {
    begin_kv(w, key, GGUF_STRING);
    put_str(w, v, strlen(v));
}

static void put_scalar(gguf_writer *w, const gguf_value *v) {
    uint8_t buf[8];
    switch (v->type) {
    case GGUF_U8:
    case GGUF_BOOL:
        buf[0] = (uint8_t)v->u64;
        break;
    case GGUF_I8:
        buf[0] = (uint8_t)(int8_t)v->i64;
        break;
    case GGUF_U16: {
        uint16_t x = (uint16_t)v->u64;
        memcpy(buf, &x, 2);
        break;
    }
    case GGUF_I16: {
        int16_t x = (int16_t)v->i64;
        memcpy(buf, &x, 2);
        break;
    }
    case GGUF_U32: {
        uint32_t x = (uint32_t)v->u64;
        memcpy(buf, &x, 4);
        break;
    }
    case GGUF_I32: {
        int32_t x = (int32_t)v->i64;
        memcpy(buf, &x, 4);
        break;
    }
    case GGUF_F32: {
        float x = (float)v->f64;
        memcpy(buf, &x, 4);
        break;
    }
    case GGUF_U64:
        memcpy(buf, &v->u64, 8);
        break;
    case GGUF_I64:
        memcpy(buf, &v->i64, 8);
        break;
    case GGUF_F64:
        memcpy(buf, &v->f64, 8);
        break;
    default:
        return;
    }
    put(w, buf, gguf_vtype_size(v->type));
}

static void put_value(gguf_writer *w, const gguf_value *v) {
    if (v->type == GGUF_STRING) {
        put_str(w, v->str.ptr, v->str.len);
    } else if (v->type == GGUF_ARRAY) {
        put_u32(w, v->arr.elem_type);
        put_u64(w, v->arr.n);
        size_t es = gguf_vtype_size(v->arr.elem_type);
        if (es)
            put(w, v->arr.raw, es * v->arr.n);
        else
            for (uint64_t i = 0; i < v->arr.n; i++) put_value(w, &v->arr.items[i]);
    } else {
        put_scalar(w, v);
    }
}

void gguf_write_value(gguf_writer *w, const char *key, const gguf_value *v) {
    begin_kv(w, key, v->type);
    put_value(w, v);
}

void gguf_write_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
    begin_kv(w, key, GGUF_ARRAY);
    put_u32(w, GGUF_I32);
    put_u64(w, n);
    put(w, v, n * 4);
}

void gguf_write_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n) {
    begin_kv(w, key, GGUF_ARRAY);
    put_u32(w, GGUF_F32);
    put_u64(w, n);
    put(w, v, n * 4);
}

void gguf_write_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n) {
    begin_kv(w, key, GGUF_ARRAY);
    put_u32(w, GGUF_STRING);
    put_u64(w, n);
    for (uint64_t i = 0; i < n; i++) put_str(w, v[i], strlen(v[i]));
}

bool gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                            const uint64_t *ne, const void *data, char *err, size_t errlen) {
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS) {
        snprintf(err, errlen, "tensor %s: %u dimensions", name, n_dims);
        return false;
    }
    uint64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; d++) rows *= ne[d];
    size_t row = quant_row_size((tensor_type)type, (int64_t)ne[0]);
    if (!row) {
        snprintf(err, errlen, "tensor %s: row of %llu does not fit type %u", name,
                 (unsigned long long)ne[0], type);
        return false;
    }
    if (w->n_tensors == w->cap_tensors) {
        uint64_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        pending_tensor *t = realloc(w->tensors, cap * sizeof *t);
        if (!t) goto oom;
        w->tensors = t;
        w->cap_tensors = cap;
    }
    pending_tensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->nbytes = row * rows;
    if (!w->data && !(w->data = tmpfile())) {
        snprintf(err, errlen, "cannot create a temporary file for tensor data: %s",
                 strerror(errno));
        return false;
    }
    if (!write_all(w->data, data, t->nbytes) ||
        !write_padding(w->data, align_up(t->nbytes, w->alignment) - t->nbytes)) {
        snprintf(err, errlen, "tensor %s: writing temporary data failed: %s", name,
                 strerror(errno));
        return false;
    }
    w->data_size += align_up(t->nbytes, w->alignment);
    t->name = strdup(name);
    if (!t->name) goto oom;
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = d < (int)n_dims ? ne[d] : 1;
    w->n_tensors++;
    return true;
oom:
    snprintf(err, errlen, "tensor %s: out of memory", name);
    return false;
}

static bool write_file(gguf_writer *w, FILE *f) {
    uint32_t head[2] = {0x46554747u, 3};
    bool ok = write_all(f, head, 8) && write_all(f, &w->n_tensors, 8) &&
              write_all(f, &w->n_kv, 8) && write_all(f, w->kv.data, w->kv.len);
    uint64_t pos = 24 + w->kv.len, offset = 0;
    for (uint64_t i = 0; ok && i < w->n_tensors; i++) {
        pending_tensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        ok = write_all(f, &len, 8) && write_all(f, t->name, len) && write_all(f, &t->n_dims, 4) &&
             write_all(f, t->ne, 8 * t->n_dims) && write_all(f, &t->type, 4) &&
             write_all(f, &offset, 8);
        pos += 8 + len + 4 + 8 * t->n_dims + 4 + 8;
        offset = align_up(offset + t->nbytes, w->alignment);
    }
    ok = ok && write_padding(f, align_up(pos, w->alignment) - pos);
    if (!ok || !w->data) return ok;
    /* copy the spooled tensor data after the header */
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    ok = buf && fflush(w->data) == 0 && fseek(w->data, 0, SEEK_SET) == 0;
    for (uint64_t left = w->data_size; ok && left > 0;) {
        size_t k = left < cap ? (size_t)left : cap;
        ok = fread(buf, 1, k, w->data) == k && write_all(f, buf, k);
        left -= k;
    }
    free(buf);
    return ok;
}

bool gguf_writer_save(gguf_writer *w, const char *path, char *err, size_t errlen) {
    if (w->oom) {
        snprintf(err, errlen, "out of memory while building metadata");
        return false;
    }
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    snprintf(tmp, n, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL;
    if (!f) snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    if (ok && !write_file(w, f)) {
        snprintf(err, errlen, "write to %s failed: %s", tmp, strerror(errno));
        ok = false;
    }
    if (f && (fflush(f) != 0 || fsync(fileno(f)) != 0) && ok) {
        snprintf(err, errlen, "flush of %s failed: %s", tmp, strerror(errno));
        ok = false;
    }
    if (f && fclose(f) != 0 && ok) {
        snprintf(err, errlen, "close of %s failed: %s", tmp, strerror(errno));
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        snprintf(err, errlen, "rename to %s failed: %s", path, strerror(errno));
        ok = false;
    }
    if (!ok) unlink(tmp);
    free(tmp);
    return ok;
}
