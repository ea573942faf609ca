/* gguf.h — a bounds-checked GGUF (v2/v3) container parser over a byte range: the header,
 * the key/value metadata and the tensor directory.  gguf_open_model() (model.h) builds a
 * Model on top of it; tools may use it directly to inspect a file.
 * Also declares the small amount of plumbing the model readers share (model.c). */
#ifndef ROPEWALK_GGUF_H
#define ROPEWALK_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef enum {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4,
    GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9,
    GGUF_UINT64 = 10, GGUF_INT64 = 11, GGUF_FLOAT64 = 12
} GgufValueType;

/* A string inside the file: not NUL-terminated. */
typedef struct {
    const char *bytes;
    uint64_t length;
} GgufString;

typedef struct {
    GgufString key;
    GgufValueType type;
    union {
        uint64_t u;       /* unsigned integers and bool */
        int64_t i;        /* signed integers */
        double f;         /* FLOAT32 / FLOAT64 */
        GgufString s;     /* STRING */
        struct {
            GgufValueType type;
            uint64_t count;
            const uint8_t *data; /* first element inside the file (already bounds-checked) */
        } array;
    } value;
} GgufKv;

#define GGUF_MAX_DIMS 4

typedef struct {
    GgufString name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
    uint32_t type;              /* GGML type id */
    uint64_t offset;            /* relative to the start of the data section */
    uint64_t n_bytes;
    const void *data;           /* inside the parsed byte range */
} GgufTensorInfo;

typedef struct {
    uint32_t version;
    uint64_t n_kv, n_tensors;
    GgufKv *kvs;
    GgufTensorInfo *tensors;
    uint32_t alignment;
    uint64_t data_offset;       /* start of the tensor data section */
} GgufFile;

/* Parses the first `size` bytes at `data` (which must stay valid while `file` is used).
 * Every length, count and offset is checked against `size`; on failure returns -1 with a
 * message and leaves `file` empty.  Free with gguf_free. */
int gguf_parse(GgufFile *file, const void *data, size_t size, char *err, size_t err_size);
void gguf_free(GgufFile *file);

/* NULL when absent. */
const GgufKv *gguf_find_kv(const GgufFile *file, const char *key);
const GgufTensorInfo *gguf_find_tensor(const GgufFile *file, const char *name);

/* Bytes per block and values per block of a GGML type; 0 for types this parser does not know. */
size_t gguf_type_block_bytes(uint32_t type);
size_t gguf_type_block_values(uint32_t type);

/* Typed access to a value; -1 with a message naming the key on a type mismatch. */
int gguf_kv_int(const GgufKv *kv, int64_t *out, char *err, size_t err_size);
int gguf_kv_float(const GgufKv *kv, double *out, char *err, size_t err_size);
int gguf_kv_string(const GgufKv *kv, GgufString *out, char *err, size_t err_size);

/* A value type's name ("uint32", "string", ...), for messages. */
const char *gguf_value_type_name(uint32_t type);
/* 1 when s spells exactly the NUL-terminated name. */
int gguf_string_equals(GgufString s, const char *name);
/* How many bytes of s a message quotes (at most 80). */
int gguf_print_len(GgufString s);

/* Walks a STRING array: *cursor starts at kv->value.array.data; each call yields the next
 * element (the array was bounds-checked by gguf_parse). */
GgufString gguf_next_array_string(const uint8_t **cursor);

/* ---- plumbing shared by the model readers (gguf.c, llama2c.c); implemented in model.c ---- */

/* Maps the whole file read-only into model->mapping / mapping_size / file_bytes. */
int model_map_file(Model *model, const char *path, char *err, size_t err_size);
/* An allocation owned by the model (freed by model_close); counted in owned_bytes. */
void *model_owned_alloc(Model *model, size_t bytes);
/* Checks the hyper-parameters alone (no weights): used before tensor shapes are computed. */
int model_validate_config(const Config *config, char *err, size_t err_size);
/* Common end of every reader: validate, default the name to the file's base name, count
 * weight_bytes (if the reader has not).  On failure the caller closes the model. */
int model_finish(Model *model, const char *path, char *err, size_t err_size);

#endif
