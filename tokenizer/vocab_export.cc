// vocab_export.cc — exported_vocab_load(): reads a SentencePiece .model with
// libsentencepiece and copies out each piece, score and type (as GGUF numbers them), and
// its normalizer_spec.
// No exception or library message escapes: failures become -1 and a message.
#include "vocab_export.h"

#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>

static int set_error(char *err, size_t err_size, const std::string &message) {
    if (err && err_size > 0) std::snprintf(err, err_size, "%s", message.c_str());
    return -1;
}

// GGUF token types (tokenizer.ggml.token_type), as llama.cpp's converters assign them.
static int gguf_token_type(const sentencepiece::SentencePieceProcessor &sp, int id) {
    if (sp.IsUnknown(id)) return 2;
    if (sp.IsControl(id)) return 3;
    if (sp.IsUnused(id)) return 5;
    if (sp.IsByte(id)) return 6;
    return 1;
}

static bool allocate(ExportedVocab *v, int n) {
    v->pieces = static_cast<char **>(std::calloc((size_t)n, sizeof *v->pieces));
    v->piece_lengths = static_cast<int *>(std::calloc((size_t)n, sizeof *v->piece_lengths));
    v->scores = static_cast<float *>(std::calloc((size_t)n, sizeof *v->scores));
    v->types = static_cast<int *>(std::calloc((size_t)n, sizeof *v->types));
    v->n_tokens = n;
    return v->pieces && v->piece_lengths && v->scores && v->types;
}

static bool copy_pieces(const sentencepiece::SentencePieceProcessor &sp, ExportedVocab *v) {
    for (int id = 0; id < v->n_tokens; id++) {
        const std::string &piece = sp.IdToPiece(id);
        v->pieces[id] = static_cast<char *>(std::malloc(piece.size() + 1));
        if (!v->pieces[id]) return false;
        std::memcpy(v->pieces[id], piece.data(), piece.size());
        v->pieces[id][piece.size()] = '\0';
        v->piece_lengths[id] = (int)piece.size();
        v->scores[id] = sp.GetScore(id);
        v->types[id] = gguf_token_type(sp, id);
    }
    return true;
}

extern "C" int exported_vocab_load(const char *path, ExportedVocab *v, char *err,
                                   size_t err_size) {
    if (!v) return set_error(err, err_size, "vocabulary export: output is NULL");
    std::memset(v, 0, sizeof *v);
    struct stat info;
    if (!path || stat(path, &info) != 0 || !S_ISREG(info.st_mode))
        return set_error(err, err_size, std::string("SentencePiece model '") +
                                            (path ? path : "(null)") +
                                            "' does not exist or is not a regular file");
    try {
        sentencepiece::SentencePieceProcessor sp;
        const auto status = sp.Load(path);
        if (!status.ok() || sp.GetPieceSize() <= 0)
            return set_error(err, err_size, std::string("'") + path +
                             "' is not a valid SentencePiece model (" +
                             (status.ok() ? "empty vocabulary" : status.ToString()) + ")");
        if (!allocate(v, sp.GetPieceSize()) || !copy_pieces(sp, v)) {
            exported_vocab_free(v);
            return set_error(err, err_size, "out of memory copying the vocabulary");
        }
        const std::string proto = sp.serialized_model_proto();
        char spec_err[160];
        if (spm_read_normalizer_spec(reinterpret_cast<const unsigned char *>(proto.data()),
                                     proto.size(), &v->normalizer, spec_err,
                                     sizeof spec_err) != 0) {
            exported_vocab_free(v);
            return set_error(err, err_size, std::string("'") + path + "': " + spec_err);
        }
        v->bos_id = sp.bos_id();
        v->eos_id = sp.eos_id();
        v->unk_id = sp.unk_id();
        return 0;
    } catch (const std::exception &e) {
        exported_vocab_free(v);
        return set_error(err, err_size, std::string("cannot read SentencePiece model '") +
                                            path + "': " + e.what());
    }
}

extern "C" void exported_vocab_free(ExportedVocab *v) {
    if (!v) return;
    for (int i = 0; v->pieces && i < v->n_tokens; i++) std::free(v->pieces[i]);
    std::free(v->pieces);
    std::free(v->piece_lengths);
    std::free(v->scores);
    std::free(v->types);
    std::memset(v, 0, sizeof *v);
}
