/* end_of_generation.c — the end-of-generation set (end_of_generation.h). */
#include "end_of_generation.h"

#include <string.h>

/* The spellings llama.cpp's llama_vocab::load marks as end of generation (80fb11a). */
static const char *const END_MARKERS[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]",
    "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[",
};

static int is_end_marker(const char *piece, int length) {
    if (length < 3 || !strchr("<_[", piece[0])) return 0; /* every marker starts so */
    for (size_t i = 0; i < sizeof END_MARKERS / sizeof END_MARKERS[0]; i++)
        if ((size_t)length == strlen(END_MARKERS[i]) && memcmp(piece, END_MARKERS[i], (size_t)length) == 0)
            return 1;
    return 0;
}

static void add(EndTokens *e, int id) {
    if (id < 0 || end_tokens_contains(e, id) || e->n == MAX_END_TOKENS) return;
    e->ids[e->n++] = id;
}

void end_tokens_init(EndTokens *e, int n_tokens, const char *const *pieces,
                     const int *piece_lengths, int eos_id, int eot_id, int eom_id) {
    e->n = 0;
    add(e, eos_id);
    add(e, eot_id);
    add(e, eom_id);
    for (int id = 0; pieces && id < n_tokens; id++)
        if (is_end_marker(pieces[id], piece_lengths[id])) add(e, id);
}

int end_tokens_contains(const EndTokens *e, int id) {
    for (int i = 0; i < e->n; i++)
        if (e->ids[i] == id) return 1;
    return 0;
}

void end_tokens_describe(const EndTokens *e, const char *const *pieces, FILE *out) {
    for (int i = 0; i < e->n; i++) {
        if (pieces) fprintf(out, "%s%s (%d)", i ? ", " : "", pieces[e->ids[i]], e->ids[i]);
        else fprintf(out, "%s%d", i ? ", " : "", e->ids[i]);
    }
}
