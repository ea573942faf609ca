/* gguf_reader.h — private to models/: the state gguf_open_model() threads through the
 * readers of a GGUF's parts (gguf_model.c: hyper-parameters and weights; gguf_vocab.c: the
 * vocabulary), and the helpers they share. */
#ifndef ROPEWALK_GGUF_READER_H
#define ROPEWALK_GGUF_READER_H

#include "gguf.h"

typedef struct {
    Model *model;
    const GgufFile *file;
    const char *arch;    /* general.architecture, once checked: the prefix of its keys */
    unsigned char *used; /* per tensor: taken by the model */
    char *err;
    size_t err_size;
} GgufReader;

/* Maps path into model (closed first) and parses its GGUF header into file; on failure
 * -1 with the model closed again. The caller frees file with gguf_free. */
int gguf_map_and_parse(Model *model, const char *path, GgufFile *file, char *err,
                       size_t err_size);

/* Copies a string value into a fixed buffer; too long or containing NUL is an error. */
int gguf_reader_copy_string(GgufReader *r, const GgufKv *kv, char *out, size_t out_size);

/* The tokenizer.ggml.* keys into r->model->vocab (gguf_vocab.c); none at all is not an error. */
int gguf_read_vocab(GgufReader *r);

#endif
