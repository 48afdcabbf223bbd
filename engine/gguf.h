/* GGUF v2/v3 reader over mmap and writer. Private to engine/.
 * Every size, count and offset read from the file is checked before use; a file that fails any
 * check is rejected with a message naming what was wrong. Strings point into the mapping and are
 * NOT NUL-terminated: use their len. */
#ifndef HEARTH_GGUF_H
#define HEARTH_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gguf_vtype {
    GGUF_U8 = 0,
    GGUF_I8 = 1,
    GGUF_U16 = 2,
    GGUF_I16 = 3,
    GGUF_U32 = 4,
    GGUF_I32 = 5,
    GGUF_F32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_U64 = 10,
    GGUF_I64 = 11,
    GGUF_F64 = 12,
    GGUF_VTYPE_COUNT = 13
};

typedef struct {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct gguf_value gguf_value;
struct gguf_value {
    uint32_t type; /* enum gguf_vtype */
    union {
        uint64_t u64; /* U8 U16 U32 U64 BOOL */
        int64_t i64;  /* I8 I16 I32 I64 */
        double f64;   /* F32 F64 */
        gguf_str str; /* STRING */
        struct {
            uint32_t elem_type;
            uint64_t n;
            const uint8_t *raw; /* numeric/bool elements: packed little-endian in the file */
            gguf_value *items;  /* STRING and ARRAY elements: parsed, n of them */
        } arr;
    };
};

typedef struct {
    gguf_str key;
    gguf_value val;
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] = elements per row (contiguous); unused dims are 1 */
    uint32_t type;              /* tensor_type */
    uint64_t offset;            /* relative to the data section */
    uint64_t nbytes;
    const void *data; /* inside the mapping */
} gguf_tensor;

typedef struct {
    uint32_t version;
    uint64_t n_kv, n_tensors;
    uint64_t n_kv_read; /* kv entries fully parsed (== n_kv once open succeeded) */
    gguf_kv *kv;
    gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset; /* file offset of the data section */
    const uint8_t *map;
    uint64_t size;
    bool mapped; /* true: map is an mmap of a file; false: caller's buffer */
} gguf_file;

/* Opens and validates a file. On failure returns NULL and writes "<why>" into err. */
gguf_file *gguf_open(const char *path, char *err, size_t errlen);
/* Validates an in-memory image (not copied; must outlive the result). For tests and fuzzing. */
gguf_file *gguf_open_memory(const void *data, uint64_t size, char *err, size_t errlen);
void gguf_close(gguf_file *g);

const gguf_kv *gguf_find(const gguf_file *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name);
bool gguf_str_eq(gguf_str s, const char *cstr);

/* Typed getters: true and *out set if key exists with a compatible type (any integer type for
 * integer getters when the value fits; F32/F64 for float). */
bool gguf_get_u64(const gguf_file *g, const char *key, uint64_t *out);
bool gguf_get_i64(const gguf_file *g, const char *key, int64_t *out);
bool gguf_get_f64(const gguf_file *g, const char *key, double *out);
bool gguf_get_bool(const gguf_file *g, const char *key, bool *out);
bool gguf_get_str(const gguf_file *g, const char *key, gguf_str *out);
/* The array value of key (elem type checked by caller), or NULL. */
const gguf_value *gguf_get_arr(const gguf_file *g, const char *key);
/* Element i of a numeric array as double / int64 (caller checks i < n). */
double gguf_arr_f64(const gguf_value *arr, uint64_t i);
int64_t gguf_arr_i64(const gguf_value *arr, uint64_t i);
size_t gguf_vtype_size(uint32_t t); /* bytes of a scalar type, 0 for STRING/ARRAY/unknown */
const char *gguf_vtype_name(uint32_t t);

/* ---- writer ---- */
typedef struct gguf_writer gguf_writer;
gguf_writer *gguf_writer_new(void);
void gguf_writer_free(gguf_writer *w);
void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment);
void gguf_write_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_write_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_write_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_write_f32(gguf_writer *w, const char *key, float v);
void gguf_write_bool(gguf_writer *w, const char *key, bool v);
void gguf_write_str(gguf_writer *w, const char *key, const char *v);
/* Copies a value read from another file (any type, arrays included). */
void gguf_write_value(gguf_writer *w, const char *key, const gguf_value *v);
void gguf_write_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
void gguf_write_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n);
void gguf_write_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* Adds a tensor; data (nbytes = row size * rows) is copied into the writer. ne as in gguf_tensor.
 */
bool gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                            const uint64_t *ne, const void *data, char *err, size_t errlen);
/* Writes atomically (temp file + rename). */
bool gguf_writer_save(gguf_writer *w, const char *path, char *err, size_t errlen);

#endif
