/* vocab.c — the built-in tokenizer: SentencePiece-BPE encoding with byte fallback over a
 * vocabulary of pieces + scores (GGUF tokenizer.ggml.*, llama2.c tokenizer.bin). It follows
 * libsentencepiece 0.1.x: the identity normalizer under the vocabulary's whitespace rules
 * (normalize.c), bpe_model.cc's priority-queue merge, and byte fallback for pieces absent
 * from the vocabulary (the merge loop itself is bpe_merge.c's). */
#include "backends.h"
#include "bpe_merge.h"
#include "piece_table.h"

#include "../util/errors.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TYPE_UNDEFINED, TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_USER_DEFINED, TYPE_UNUSED, TYPE_BYTE };

struct BuiltinVocab {
    int n_tokens;
    PieceTable pieces;    /* only mergeable (normal) pieces are indexed */
    float *scores;
    unsigned char *kinds; /* PieceKind */
    unsigned char *byte_values;
    int byte_ids[256];    /* id of "<0xXX>", or -1 */
    int bos_id, eos_id, unk_id;
    TokenizerNormalizer normalizer;
};

/* Id of the mergeable piece spelled s[0..n), or -1. */
static int find_piece(const BuiltinVocab *v, const char *s, size_t n) {
    return piece_table_find(&v->pieces, s, n);
}

void builtin_free(BuiltinVocab *v) {
    if (!v) return;
    piece_table_free(&v->pieces);
    free(v->scores);
    free(v->kinds);
    free(v->byte_values);
    free(v);
}

static int check_vocab(const TokenizerVocab *vocab, size_t *total_bytes, char *err, size_t err_size) {
    if (!vocab) return fail(err, err_size, "tokenizer vocabulary is NULL");
    int n = vocab->n_tokens;
    if (n <= 0 || n > (1 << 28)) return fail(err, err_size, "tokenizer vocabulary has %d tokens", n);
    if (!vocab->pieces || !vocab->piece_lengths || !vocab->scores)
        return fail(err, err_size, "tokenizer vocabulary lacks its pieces, lengths or scores");
    const int special[3] = {vocab->bos_id, vocab->eos_id, vocab->unk_id};
    const char *names[3] = {"BOS", "EOS", "unknown"};
    for (int k = 0; k < 3; k++)
        if (special[k] < -1 || special[k] >= n)
            return fail(err, err_size, "%s token id %d is outside the vocabulary of %d", names[k], special[k], n);
    *total_bytes = 0;
    for (int i = 0; i < n; i++) {
        int len = vocab->piece_lengths[i];
        if (len < 0 || (len > 0 && !vocab->pieces[i]))
            return fail(err, err_size, "token %d has a bad piece (length %d)", i, len);
        if (!isfinite(vocab->scores[i])) return fail(err, err_size, "token %d has a non-finite score", i);
        if (vocab->types && (vocab->types[i] < TYPE_UNDEFINED || vocab->types[i] > TYPE_BYTE))
            return fail(err, err_size, "token %d has unknown token type %d", i, vocab->types[i]);
        *total_bytes += (size_t)len;
    }
    return 0;
}

/* The kind of token i: from its GGUF type, or (types == NULL) from the special ids and
 * the "<0xXX>" spelling. */
static int classify(BuiltinVocab *v, const TokenizerVocab *vocab, int i, char *err, size_t err_size) {
    const char *text = piece_table_text(&v->pieces, i);
    int byte = byte_piece_value(text, (size_t)v->pieces.lengths[i]);
    int type = vocab->types ? vocab->types[i]
               : i == vocab->unk_id                         ? TYPE_UNKNOWN
               : i == vocab->bos_id || i == vocab->eos_id   ? TYPE_CONTROL
               : byte >= 0                                  ? TYPE_BYTE
                                                            : TYPE_NORMAL;
    v->kinds[i] = type == TYPE_UNKNOWN ? PIECE_UNKNOWN : type == TYPE_CONTROL ? PIECE_CONTROL
                : type == TYPE_BYTE    ? PIECE_BYTE
                : type == TYPE_USER_DEFINED ? PIECE_USER_DEFINED : PIECE_NORMAL;
    if (type == TYPE_BYTE) {
        if (byte < 0) return fail(err, err_size, "byte token %d is not spelled <0xXX>", i);
        v->byte_values[i] = (unsigned char)byte;
        if (v->byte_ids[byte] < 0) v->byte_ids[byte] = i;
    }
    if (v->kinds[i] == PIECE_NORMAL || v->kinds[i] == PIECE_USER_DEFINED) piece_table_index(&v->pieces, i);
    return 0;
}

static int allocate(BuiltinVocab *v, const TokenizerVocab *vocab, size_t total_bytes) {
    int n = vocab->n_tokens;
    int pieces_ok = piece_table_init(&v->pieces, n, vocab->pieces, vocab->piece_lengths, total_bytes) == 0;
    v->scores = malloc((size_t)n * sizeof *v->scores);
    v->kinds = calloc((size_t)n, 1);
    v->byte_values = calloc((size_t)n, 1);
    return pieces_ok && v->scores && v->kinds && v->byte_values ? 0 : -1;
}

BuiltinVocab *builtin_create(const TokenizerVocab *vocab, char *err, size_t err_size) {
    size_t total_bytes = 0;
    if (check_vocab(vocab, &total_bytes, err, err_size) < 0) return NULL;
    BuiltinVocab *v = calloc(1, sizeof *v);
    int n = vocab->n_tokens;
    if (!v || allocate(v, vocab, total_bytes) < 0) {
        builtin_free(v);
        fail(err, err_size, "out of memory building a vocabulary of %d tokens", n);
        return NULL;
    }
    v->n_tokens = n;
    v->bos_id = vocab->bos_id, v->eos_id = vocab->eos_id, v->unk_id = vocab->unk_id;
    v->normalizer = vocab->normalizer;
    memset(v->byte_ids, -1, sizeof v->byte_ids);
    memcpy(v->scores, vocab->scores, (size_t)n * sizeof *v->scores);
    for (int i = 0; i < n; i++)
        if (classify(v, vocab, i, err, err_size) < 0) {
            builtin_free(v);
            return NULL;
        }
    return v;
}

int builtin_vocab_size(const BuiltinVocab *v) { return v->n_tokens; }
int builtin_bos(const BuiltinVocab *v) { return v->bos_id; }
int builtin_eos(const BuiltinVocab *v) { return v->eos_id; }
TokenizerNormalizer builtin_normalizer(const BuiltinVocab *v) { return v->normalizer; }

PieceView builtin_piece(const BuiltinVocab *v, int id) {
    PieceView view = {piece_table_text(&v->pieces, id), (size_t)v->pieces.lengths[id],
                      (PieceKind)v->kinds[id], v->byte_values[id]};
    return view;
}

/* ---- encoding: bpe_model.cc's merge loop over the normalized text ---- */

/* SentencePiece's rule: a pair may merge when its concatenation is a piece; the piece's
 * score is the priority. */
static int piece_score(const void *context, const char *text, int start, int left_length,
                       int right_length, float *priority) {
    const BuiltinVocab *v = context;
    int id = find_piece(v, text + start, (size_t)(left_length + right_length));
    if (id < 0) return 0;
    *priority = v->scores[id];
    return 1;
}

/* Appends one id (counting past max_ids). */
static void put_id(int *ids, int max_ids, int *count, int id) {
    if (*count < max_ids) ids[*count] = id;
    (*count)++;
}

/* True when every byte of the symbol has a byte piece. */
static int has_byte_pieces(const BuiltinVocab *v, const char *text, int length) {
    for (int k = 0; k < length; k++)
        if (v->byte_ids[(unsigned char)text[k]] < 0) return 0;
    return 1;
}

/* Writes the ids of the surviving symbols. Pieces not in the vocabulary become byte pieces
 * (byte fallback); without those, a run of them becomes one unknown token, as in
 * SentencePiece. */
static int emit_ids(const BuiltinVocab *v, const char *text, const BpeSymbol *symbols, int *ids,
                    int max_ids, char *err, size_t err_size) {
    int count = 0, prev_unknown = 0;
    for (int i = 0; i >= 0; i = symbols[i].next) {
        const char *piece = text + symbols[i].start;
        int length = symbols[i].length, id = find_piece(v, piece, (size_t)length);
        if (id >= 0) put_id(ids, max_ids, &count, id);
        else if (has_byte_pieces(v, piece, length))
            for (int k = 0; k < length; k++) put_id(ids, max_ids, &count, v->byte_ids[(unsigned char)piece[k]]);
        else if (v->unk_id < 0)
            return fail(err, err_size, "encode: text has a piece the vocabulary cannot spell and no unknown token");
        else if (!prev_unknown)
            put_id(ids, max_ids, &count, v->unk_id);
        prev_unknown = id < 0 && !has_byte_pieces(v, piece, length);
    }
    return count;
}

int builtin_encode(const BuiltinVocab *v, const char *text, size_t len, int prefix_allowed,
                   int *ids, int max_ids, char *err, size_t err_size) {
    if (len > (size_t)(INT_MAX / 4 - 3)) return fail(err, err_size, "encode: text of %zu bytes is too long", len);
    char *normalized = malloc(3 * len + 3);
    if (!normalized) return fail(err, err_size, "encode: out of memory for %zu bytes of text", len);
    TokenizerNormalizer rules = v->normalizer;
    rules.add_space_prefix = rules.add_space_prefix && prefix_allowed;
    int n_bytes = (int)spm_normalize(text, len, rules, normalized);
    if (n_bytes == 0) {
        free(normalized);
        return 0;
    }
    BpeSymbol *symbols = malloc((size_t)n_bytes * sizeof *symbols);
    int count = -1;
    if (!symbols || bpe_merge(normalized, n_bytes, piece_score, v, symbols) < 0)
        fail(err, err_size, "encode: out of memory for %d symbols", n_bytes);
    else
        count = emit_ids(v, normalized, symbols, ids, max_ids, err, err_size);
    free(symbols);
    free(normalized);
    return count;
}
