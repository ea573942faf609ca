// sentencepiece_shim.cc — libsentencepiece behind the C functions of backends.h: load a
// .model, encode, and describe pieces for decoding. The only C++ in the tree; no
// exception or library message escapes: failures become a -1/NULL and a message.
#include "backends.h"
#include "normalizer_spec.h"

#include <sentencepiece_processor.h>

#include <cstdio>
#include <new>
#include <string>
#include <sys/stat.h>
#include <vector>

struct SentencePieceModel {
    sentencepiece::SentencePieceProcessor processor;
    TokenizerNormalizer normalizer;
};

static void set_error(char *err, size_t err_size, const std::string &message) {
    if (err && err_size > 0) std::snprintf(err, err_size, "%s", message.c_str());
}

static bool is_regular_file(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

extern "C" SentencePieceModel *spm_load(const char *path, char *err, size_t err_size) {
    if (!path) {
        set_error(err, err_size, "SentencePiece model path is NULL");
        return nullptr;
    }
    if (!is_regular_file(path)) {
        set_error(err, err_size, std::string("SentencePiece model '") + path +
                                     "' does not exist or is not a regular file");
        return nullptr;
    }
    try {
        SentencePieceModel *model = new SentencePieceModel();
        const auto status = model->processor.Load(path);
        if (!status.ok() || model->processor.GetPieceSize() <= 0) {
            set_error(err, err_size, std::string("'") + path + "' is not a valid SentencePiece model (" +
                                         (status.ok() ? "empty vocabulary" : status.ToString()) + ")");
            delete model;
            return nullptr;
        }
        const std::string proto = model->processor.serialized_model_proto();
        SpmNormalizerSpec spec;
        char spec_err[160];
        if (spm_read_normalizer_spec(reinterpret_cast<const unsigned char *>(proto.data()),
                                     proto.size(), &spec, spec_err, sizeof spec_err) != 0) {
            set_error(err, err_size, std::string("'") + path + "': " + spec_err);
            delete model;
            return nullptr;
        }
        model->normalizer = spec.flags;
        return model;
    } catch (const std::exception &e) {
        set_error(err, err_size, std::string("cannot load SentencePiece model '") + path + "': " + e.what());
        return nullptr;
    }
}

extern "C" void spm_free(SentencePieceModel *model) { delete model; }

extern "C" int spm_vocab_size(const SentencePieceModel *model) {
    return model->processor.GetPieceSize();
}

extern "C" TokenizerNormalizer spm_normalizer(const SentencePieceModel *model) {
    return model->normalizer;
}

extern "C" int spm_bos(const SentencePieceModel *model) { return model->processor.bos_id(); }
extern "C" int spm_eos(const SentencePieceModel *model) { return model->processor.eos_id(); }

extern "C" int spm_encode(const SentencePieceModel *model, const char *text, size_t len, int *ids,
                          int max_ids, char *err, size_t err_size) {
    try {
        std::vector<int> encoded;
        const auto status = model->processor.Encode(std::string_view(text ? text : "", len), &encoded);
        if (!status.ok()) {
            set_error(err, err_size, "SentencePiece encode failed: " + status.ToString());
            return -1;
        }
        if (encoded.size() > 0x7fffffffu) {
            set_error(err, err_size, "SentencePiece encode: too many tokens for an int count");
            return -1;
        }
        for (size_t i = 0; i < encoded.size() && i < (size_t)max_ids; i++) ids[i] = encoded[i];
        return (int)encoded.size();
    } catch (const std::exception &e) {
        set_error(err, err_size, std::string("SentencePiece encode failed: ") + e.what());
        return -1;
    }
}

extern "C" PieceView spm_piece(const SentencePieceModel *model, int id) {
    const sentencepiece::SentencePieceProcessor &sp = model->processor;
    const std::string &piece = sp.IdToPiece(id);
    PieceView view = {piece.data(), piece.size(), PIECE_NORMAL, 0};
    if (sp.IsControl(id)) view.kind = PIECE_CONTROL;
    else if (sp.IsUnknown(id)) view.kind = PIECE_UNKNOWN;
    else if (sp.IsByte(id)) {
        view.byte_value = byte_piece_value(piece.data(), piece.size());
        view.kind = view.byte_value >= 0 ? PIECE_BYTE : PIECE_UNKNOWN;
    }
    return view;
}
