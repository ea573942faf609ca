/* fuzz_gguf.c — libFuzzer harness for the GGUF reader: the container parser on the raw
 * bytes (so AddressSanitizer sees any read past them), then the whole model reader on the
 * same bytes as a file; an opened model must point only at memory it may read, and a small
 * one must run three tokens through the engine without a sanitizer report. */
#include "fuzz_common.h"

#include "../../models/gguf.h"

static void walk_metadata(const GgufFile *file) {
    char err[ERR_LEN];
    for (uint64_t i = 0; i < file->n_kv; i++) {
        const GgufKv *kv = &file->kvs[i];
        int64_t n;
        double f;
        GgufString s;
        if (gguf_kv_int(kv, &n, err, sizeof err) != 0) fuzz_check_message(err);
        if (gguf_kv_float(kv, &f, err, sizeof err) != 0) fuzz_check_message(err);
        if (gguf_kv_string(kv, &s, err, sizeof err) != 0) fuzz_check_message(err);
        if (kv->type != GGUF_ARRAY || kv->value.array.type != GGUF_STRING) continue;
        const uint8_t *cursor = kv->value.array.data;
        for (uint64_t k = 0; k < kv->value.array.count; k++) {
            GgufString item = gguf_next_array_string(&cursor);
            volatile char last = item.length ? item.bytes[item.length - 1] : 0; /* ASan reads */
            (void)last;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[ERR_LEN] = "";
    GgufFile file;
    if (gguf_parse(&file, data, size, err, sizeof err) == 0) {
        walk_metadata(&file);
        for (uint64_t i = 0; i < file.n_tensors; i++) {
            const GgufTensorInfo *t = &file.tensors[i];
            const uint8_t *p = t->data;
            FUZZ_ASSERT(p >= data && t->n_bytes <= (size_t)(data + size - p),
                        "tensor %llu outside the bytes", (unsigned long long)i);
        }
        gguf_free(&file);
    } else {
        fuzz_check_message(err);
    }
    char path[32];
    int fd = fuzz_memory_file(data, size, path);
    if (fd < 0) return 0;
    Model model;
    if (model_open(&model, path, err, sizeof err) == 0) {
        fuzz_check_model(&model);
        fuzz_run_small_model(&model);
        model_close(&model);
    } else {
        fuzz_check_message(err);
    }
    close(fd);
    return 0;
}
