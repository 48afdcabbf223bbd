/* GGUF reader: every read goes through a bounds-checked cursor; nothing from the file is trusted.
 */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "quant.h"

#define GGUF_MAGIC           0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGN   32
#define GGUF_MAX_ARRAY_DEPTH 8
#define GGUF_MAX_STRING      (1u << 30)
#define GGUF_MAX_ALIGN       (1u << 20)

typedef struct {
    const uint8_t *base;
    uint64_t size, pos;
    char *err;
    size_t errlen;
} cursor;

static bool fail(cursor *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return false;
}

static bool need(cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos)
        return fail(
            c, "truncated file: %s at offset %" PRIu64 " needs %" PRIu64 " bytes, %" PRIu64 " left",
            what, c->pos, n, c->size - c->pos);
    return true;
}

static bool read_bytes(cursor *c, void *out, uint64_t n, const char *what) {
    if (!need(c, n, what)) return false;
    memcpy(out, c->base + c->pos, n);
    c->pos += n;
    return true;
}

static bool read_u32(cursor *c, uint32_t *v, const char *what) {
    return read_bytes(c, v, 4, what);
}
static bool read_u64(cursor *c, uint64_t *v, const char *what) {
    return read_bytes(c, v, 8, what);
}

static bool read_str(cursor *c, gguf_str *s, const char *what) {
    uint64_t len;
    if (!read_u64(c, &len, what)) return false;
    if (len > GGUF_MAX_STRING) return fail(c, "%s: absurd string length %" PRIu64, what, len);
    if (!need(c, len, what)) return false;
    s->ptr = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += len;
    return true;
}

size_t gguf_vtype_size(uint32_t t) {
    static const size_t sizes[GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GGUF_VTYPE_COUNT ? sizes[t] : 0;
}

const char *gguf_vtype_name(uint32_t t) {
    static const char *names[GGUF_VTYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "array", "u64", "i64", "f64"};
    return t < GGUF_VTYPE_COUNT ? names[t] : "unknown";
}

/* Decodes one scalar of type t at p (which has gguf_vtype_size(t) bytes) into v. */
static void decode_scalar(uint32_t t, const uint8_t *p, gguf_value *v) {
    v->type = t;
    switch (t) {
    case GGUF_U8:
        v->u64 = p[0];
        break;
    case GGUF_BOOL:
        v->u64 = p[0] != 0;
        break;
    case GGUF_I8:
        v->i64 = (int8_t)p[0];
        break;
    case GGUF_U16: {
        uint16_t x;
        memcpy(&x, p, 2);
        v->u64 = x;
        break;
    }
    case GGUF_I16: {
        int16_t x;
        memcpy(&x, p, 2);
        v->i64 = x;
        break;
    }
    case GGUF_U32: {
        uint32_t x;
        memcpy(&x, p, 4);
        v->u64 = x;
        break;
    }
    case GGUF_I32: {
        int32_t x;
        memcpy(&x, p, 4);
        v->i64 = x;
        break;
    }
    case GGUF_F32: {
        float x;
        memcpy(&x, p, 4);
        v->f64 = x;
        break;
    }
    case GGUF_U64: {
        uint64_t x;
        memcpy(&x, p, 8);
        v->u64 = x;
        break;
    }
    case GGUF_I64: {
        int64_t x;
        memcpy(&x, p, 8);
        v->i64 = x;
        break;
    }
    case GGUF_F64: {
        double x;
        memcpy(&x, p, 8);
        v->f64 = x;
        break;
    }
    default:
        break;
    }
}

static void free_value(gguf_value *v) {
    if (v->type != GGUF_ARRAY || !v->arr.items) return;
    for (uint64_t i = 0; i < v->arr.n; i++) free_value(&v->arr.items[i]);
    free(v->arr.items);
    v->arr.items = NULL;
}

static bool read_value(cursor *c, uint32_t type, gguf_value *v, int depth, const char *key);

static bool read_array(cursor *c, gguf_value *v, int depth, const char *key) {
    uint32_t et;
    uint64_t n;
    if (!read_u32(c, &et, key) || !read_u64(c, &n, key)) return false;
    if (et >= GGUF_VTYPE_COUNT) return fail(c, "key %s: unknown array element type %u", key, et);
    if (depth >= GGUF_MAX_ARRAY_DEPTH) return fail(c, "key %s: arrays nested too deeply", key);
    v->arr.elem_type = et;
    v->arr.n = n;
    size_t es = gguf_vtype_size(et);
    if (es) {
        if (n > (c->size - c->pos) / es)
            return fail(c, "key %s: array of %" PRIu64 " %s runs past the end of the file", key, n,
                        gguf_vtype_name(et));
        v->arr.raw = c->base + c->pos;
        c->pos += n * es;
        return true;
    }
    /* Each string/array element takes at least 8 bytes: bounds n before allocating. */
    if (n > (c->size - c->pos) / 8)
        return fail(c, "key %s: array count %" PRIu64 " exceeds the file size", key, n);
    v->arr.items = calloc(n ? n : 1, sizeof(gguf_value));
    if (!v->arr.items) return fail(c, "key %s: out of memory for %" PRIu64 " items", key, n);
    for (uint64_t i = 0; i < n; i++)
        if (!read_value(c, et, &v->arr.items[i], depth + 1, key)) {
            v->arr.n = i + 1; /* so free_value releases what was read */
            return false;
        }
    return true;
}

static bool read_value(cursor *c, uint32_t type, gguf_value *v, int depth, const char *key) {
    memset(v, 0, sizeof *v);
    v->type = type;
    if (type == GGUF_STRING) return read_str(c, &v->str, key);
    if (type == GGUF_ARRAY) return read_array(c, v, depth, key);
    size_t sz = gguf_vtype_size(type);
    if (!sz) return fail(c, "key %s: unknown value type %u", key, type);
    if (!need(c, sz, key)) return false;
    decode_scalar(type, c->base + c->pos, v);
    c->pos += sz;
    return true;
}

static bool read_kvs(cursor *c, gguf_file *g) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        uint32_t type;
        if (!read_str(c, &kv->key, "metadata key")) return false;
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(kv->key.len < 100 ? kv->key.len : 100),
                 kv->key.ptr);
        if (!read_u32(c, &type, key)) return false;
        if (!read_value(c, type, &kv->val, 0, key)) {
            free_value(&kv->val);
            return false;
        }
        g->n_kv_read = i + 1;
    }
    return true;
}

static bool read_tensor_info(cursor *c, gguf_tensor *t, uint64_t index) {
    char what[64];
    snprintf(what, sizeof what, "tensor info %" PRIu64, index);
    if (!read_str(c, &t->name, what) || !read_u32(c, &t->n_dims, what)) return false;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return fail(c, "tensor '%.*s': %u dimensions (1..%d allowed)", (int)t->name.len,
                    t->name.ptr, t->n_dims, GGUF_MAX_DIMS);
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (!read_u64(c, &t->ne[d], what)) return false;
    if (!read_u32(c, &t->type, what) || !read_u64(c, &t->offset, what)) return false;
    return true;
}

/* Element count and byte size of a tensor, with overflow and block checks. */
static bool tensor_size(cursor *c, gguf_tensor *t) {
    const char *nm = t->name.ptr;
    int nl = (int)t->name.len;
    const type_traits *tr = quant_traits((int)t->type);
    if (!tr || !tr->to_float)
        return fail(c, "tensor '%.*s': unknown or unsupported tensor type %u", nl, nm, t->type);
    uint64_t n = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        if (t->ne[d] == 0 || t->ne[d] > (UINT64_C(1) << 40))
            return fail(c, "tensor '%.*s': absurd dimension %d = %" PRIu64, nl, nm, d, t->ne[d]);
        if (n > UINT64_MAX / t->ne[d])
            return fail(c, "tensor '%.*s': element count overflows", nl, nm);
        n *= t->ne[d];
    }
    if (t->ne[0] % (uint64_t)tr->block_size != 0)
        return fail(
            c, "tensor '%.*s': row length %" PRIu64 " is not a multiple of %s's block of %" PRId64,
            nl, nm, t->ne[0], tr->name, tr->block_size);
    uint64_t blocks = n / (uint64_t)tr->block_size;
    if (blocks > UINT64_MAX / tr->type_size)
        return fail(c, "tensor '%.*s': byte size overflows", nl, nm);
    t->nbytes = blocks * tr->type_size;
    return true;
}

static bool read_alignment(cursor *c, gguf_file *g) {
    g->alignment = GGUF_DEFAULT_ALIGN;
    const gguf_kv *kv = gguf_find(g, "general.alignment");
    if (!kv) return true;
    if (kv->val.type != GGUF_U32)
        return fail(c, "general.alignment has type %s, expected u32",
                    gguf_vtype_name(kv->val.type));
    uint64_t a = kv->val.u64;
    if (a == 0 || (a & (a - 1)) != 0 || a > GGUF_MAX_ALIGN)
        return fail(c, "general.alignment %" PRIu64 " is not a power of two up to %u", a,
                    GGUF_MAX_ALIGN);
    g->alignment = a;
    return true;
}

static bool place_tensors(cursor *c, gguf_file *g) {
    uint64_t off = c->pos;
    uint64_t pad = (g->alignment - off % g->alignment) % g->alignment;
    if (off + pad > c->size && g->n_tensors > 0)
        return fail(c, "truncated file: data section starts past the end");
    g->data_offset = off + pad;
    uint64_t data_size = c->size > g->data_offset ? c->size - g->data_offset : 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (!tensor_size(c, t)) return false;
        if (t->offset % g->alignment != 0)
            return fail(c, "tensor '%.*s': data offset %" PRIu64 " is not aligned to %" PRIu64,
                        (int)t->name.len, t->name.ptr, t->offset, g->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return fail(c,
                        "tensor '%.*s': data [%" PRIu64 ", +%" PRIu64
                        ") lies outside the file's %" PRIu64 " data bytes",
                        (int)t->name.len, t->name.ptr, t->offset, t->nbytes, data_size);
        t->data = g->map + g->data_offset + t->offset;
        for (uint64_t j = 0; j < i; j++)
            if (g->tensors[j].name.len == t->name.len &&
                memcmp(g->tensors[j].name.ptr, t->name.ptr, t->name.len) == 0)
                return fail(c, "duplicate tensor name '%.*s'", (int)t->name.len, t->name.ptr);
    }
    return true;
}

static bool parse(cursor *c, gguf_file *g) {
    uint32_t magic;
    if (!read_u32(c, &magic, "magic")) return false;
    if (magic != GGUF_MAGIC) return fail(c, "not a GGUF file (bad magic)");
    if (!read_u32(c, &g->version, "version")) return false;
    if (g->version != 2 && g->version != 3)
        return fail(c, "unsupported GGUF version %u (2 and 3 are supported)", g->version);
    if (!read_u64(c, &g->n_tensors, "tensor count") || !read_u64(c, &g->n_kv, "metadata count"))
        return false;
    /* Each key-value takes >= 13 bytes and each tensor info >= 28: bound the counts first. */
    if (g->n_kv > c->size / 13) return fail(c, "absurd metadata count %" PRIu64, g->n_kv);
    if (g->n_tensors > c->size / 28) return fail(c, "absurd tensor count %" PRIu64, g->n_tensors);
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof(gguf_kv));
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(gguf_tensor));
    if (!g->kv || !g->tensors) return fail(c, "out of memory");
    if (!read_kvs(c, g)) return false;
    if (!read_alignment(c, g)) return false;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!read_tensor_info(c, &g->tensors[i], i)) return false;
    return place_tensors(c, g);
}

static gguf_file *open_image(const uint8_t *data, uint64_t size, bool mapped, char *err,
                             size_t errlen) {
    gguf_file *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->map = data;
    g->size = size;
    g->mapped = mapped;
    cursor c = {data, size, 0, err, errlen};
    if (!parse(&c, g)) {
        gguf_close(g);
        return NULL;
    }
    return g;
}

gguf_file *gguf_open_memory(const void *data, uint64_t size, char *err, size_t errlen) {
    quant_init();
    return open_image(data, size, false, err, errlen);
}

gguf_file *gguf_open(const char *path, char *err, size_t errlen) {
    quant_init();
    /* O_NONBLOCK: opening a fifo (given as a model, or recorded in an index a repository ships)
     * would wait for a writer forever; it is refused below like every other non-file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s, not a model file",
                 fstat(fd, &st) == 0 ? base_file_kind(st.st_mode) : "unreadable");
        close(fd);
        return NULL;
    }
    if (st.st_size < 24) {
        close(fd);
        snprintf(err, errlen, "truncated file: %lld bytes is too small for a GGUF header",
                 (long long)st.st_size);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "mmap failed: %s", strerror(errno));
        return NULL;
    }
    return open_image(map, (uint64_t)st.st_size, true, err, errlen);
}

void gguf_close(gguf_file *g) {
    if (!g) return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv_read; i++) free_value(&g->kv[i].val);
    free(g->kv);
    free(g->tensors);
    if (g->mapped) munmap((void *)g->map, g->size);
    free(g);
}

bool gguf_str_eq(gguf_str s, const char *cstr) {
    size_t n = strlen(cstr);
    return s.len == n && memcmp(s.ptr, cstr, n) == 0;
}

const gguf_kv *gguf_find(const gguf_file *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv_read; i++)
        if (gguf_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (gguf_str_eq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static bool is_unsigned(uint32_t t) {
    return t == GGUF_U8 || t == GGUF_U16 || t == GGUF_U32 || t == GGUF_U64 || t == GGUF_BOOL;
}
static bool is_signed(uint32_t t) {
    return t == GGUF_I8 || t == GGUF_I16 || t == GGUF_I32 || t == GGUF_I64;
}

bool gguf_get_u64(const gguf_file *g, const char *key, uint64_t *out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return false;
    if (is_unsigned(kv->val.type))
        *out = kv->val.u64;
    else if (is_signed(kv->val.type) && kv->val.i64 >= 0)
        *out = (uint64_t)kv->val.i64;
    else
        return false;
    return true;
}

bool gguf_get_i64(const gguf_file *g, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return false;
    if (is_signed(kv->val.type))
        *out = kv->val.i64;
    else if (is_unsigned(kv->val.type) && kv->val.u64 <= INT64_MAX)
        *out = (int64_t)kv->val.u64;
    else
        return false;
    return true;
}

bool gguf_get_f64(const gguf_file *g, const char *key, double *out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv || (kv->val.type != GGUF_F32 && kv->val.type != GGUF_F64)) return false;
    *out = kv->val.f64;
    return true;
}

bool gguf_get_bool(const gguf_file *g, const char *key, bool *out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv || kv->val.type != GGUF_BOOL) return false;
    *out = kv->val.u64 != 0;
    return true;
}

bool gguf_get_str(const gguf_file *g, const char *key, gguf_str *out) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv || kv->val.type != GGUF_STRING) return false;
    *out = kv->val.str;
    return true;
}

const gguf_value *gguf_get_arr(const gguf_file *g, const char *key) {
    const gguf_kv *kv = gguf_find(g, key);
    return (kv && kv->val.type == GGUF_ARRAY) ? &kv->val : NULL;
}

static gguf_value arr_elem(const gguf_value *arr, uint64_t i) {
    gguf_value v = {0};
    size_t es = gguf_vtype_size(arr->arr.elem_type);
    if (es && i < arr->arr.n) decode_scalar(arr->arr.elem_type, arr->arr.raw + i * es, &v);
    return v;
}

double gguf_arr_f64(const gguf_value *arr, uint64_t i) {
    gguf_value v = arr_elem(arr, i);
    if (v.type == GGUF_F32 || v.type == GGUF_F64) return v.f64;
    if (is_signed(v.type)) return (double)v.i64;
    return (double)v.u64;
}

int64_t gguf_arr_i64(const gguf_value *arr, uint64_t i) {
    gguf_value v = arr_elem(arr, i);
    if (v.type == GGUF_F32 || v.type == GGUF_F64) return (int64_t)v.f64;
    if (is_signed(v.type)) return v.i64;
    return (int64_t)v.u64;
}
