/* fuzz_llama2c.c — libFuzzer harness for the llama2.c reader (legacy 7-int header and the
 * 'ak42' version 1 export): arbitrary bytes as a checkpoint file. An opened model must point
 * only inside its mapping, and a small one must run three tokens without a sanitizer report. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[ERR_LEN] = "", path[32];
    int fd = fuzz_memory_file(data, size, path);
    if (fd < 0) return 0;
    Model model;
    if (llama2c_open_model(&model, path, err, sizeof err) == 0) {
        FUZZ_ASSERT(model.format == MODEL_FORMAT_LLAMA2C, "format %d", model.format);
        fuzz_check_model(&model);
        fuzz_run_small_model(&model);
        model_close(&model);
    } else {
        fuzz_check_message(err);
    }
    close(fd);
    return 0;
}
