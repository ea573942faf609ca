/* tokenizer.c — the public tokenizer API: dispatch over the three back ends, special
 * tokens cut out of the text before encoding (special_split.c), and decoding (piece ->
 * bytes) done once for all, in the way llama2.c's decode does it. */
#include "tokenizer.h"

#include "backends.h"
#include "special_split.h"
#include "../util/errors.h"

#include <stdlib.h>
#include <string.h>

struct Tokenizer {
    SentencePieceModel *sentencepiece; /* exactly one of the three is set */
    BuiltinVocab *builtin;
    ByteBpeVocab *byte_bpe;
    SpecialTokens specials; /* the built-in back ends' control/unknown/user-defined tokens */
};

/* What SentencePiece prints for an unknown piece (its default unk_surface). */
static const char UNKNOWN_SURFACE[] = " \xE2\x81\x87 ";
static const char SPACE_SYMBOL[] = "\xE2\x96\x81"; /* U+2581 */

static PieceView piece_of(const Tokenizer *tok, int id) {
    return tok->sentencepiece ? spm_piece(tok->sentencepiece, id)
         : tok->builtin       ? builtin_piece(tok->builtin, id)
                              : byte_bpe_piece(tok->byte_bpe, id);
}

static PieceView piece_lookup(const void *tok, int id) { return piece_of(tok, id); }

static Tokenizer *wrap(SentencePieceModel *sentencepiece, BuiltinVocab *builtin,
                       ByteBpeVocab *byte_bpe, char *err, size_t err_size) {
    if (!sentencepiece && !builtin && !byte_bpe) return NULL;
    Tokenizer *tok = calloc(1, sizeof *tok);
    if (tok) {
        tok->sentencepiece = sentencepiece, tok->builtin = builtin, tok->byte_bpe = byte_bpe;
        if (sentencepiece || special_tokens_init(&tok->specials, tokenizer_vocab_size(tok),
                                                 piece_lookup, tok) == 0)
            return tok;
    }
    spm_free(sentencepiece);
    builtin_free(builtin);
    byte_bpe_free(byte_bpe);
    free(tok);
    fail(err, err_size, "out of memory allocating the tokenizer");
    return NULL;
}

Tokenizer *tokenizer_open_sentencepiece(const char *model_path, char *err, size_t err_size) {
    return wrap(spm_load(model_path, err, err_size), NULL, NULL, err, err_size);
}

Tokenizer *tokenizer_from_vocab(const TokenizerVocab *vocab, char *err, size_t err_size) {
    if (vocab && vocab->family == TOKENIZER_BYTE_LEVEL_BPE)
        return wrap(NULL, NULL, byte_bpe_create(vocab, err, err_size), err, err_size);
    return wrap(NULL, builtin_create(vocab, err, err_size), NULL, err, err_size);
}

void tokenizer_free(Tokenizer *tok) {
    if (!tok) return;
    spm_free(tok->sentencepiece);
    builtin_free(tok->builtin);
    byte_bpe_free(tok->byte_bpe);
    special_tokens_free(&tok->specials);
    free(tok);
}

int tokenizer_vocab_size(const Tokenizer *tok) {
    if (!tok) return 0;
    return tok->sentencepiece ? spm_vocab_size(tok->sentencepiece)
         : tok->builtin       ? builtin_vocab_size(tok->builtin)
                              : byte_bpe_vocab_size(tok->byte_bpe);
}

int tokenizer_bos(const Tokenizer *tok) {
    if (!tok) return -1;
    return tok->sentencepiece ? spm_bos(tok->sentencepiece)
         : tok->builtin       ? builtin_bos(tok->builtin)
                              : byte_bpe_bos(tok->byte_bpe);
}

int tokenizer_eos(const Tokenizer *tok) {
    if (!tok) return -1;
    return tok->sentencepiece ? spm_eos(tok->sentencepiece)
         : tok->builtin       ? builtin_eos(tok->builtin)
                              : byte_bpe_eos(tok->byte_bpe);
}

const char *tokenizer_backend_name(const Tokenizer *tok) {
    if (!tok) return "none";
    return tok->sentencepiece ? "sentencepiece" : tok->builtin ? "builtin" : "byte-level-bpe";
}

TokenizerNormalizer tokenizer_normalizer(const Tokenizer *tok) {
    if (!tok) return (TokenizerNormalizer){0, 0};
    return tok->sentencepiece ? spm_normalizer(tok->sentencepiece)
         : tok->builtin       ? builtin_normalizer(tok->builtin)
                              : (TokenizerNormalizer){0, 0};
}

/* Encodes plain text (no special tokens in it) with the back end; prefix_allowed as in
 * builtin_encode. */
static int encode_plain(const Tokenizer *tok, const char *text, size_t len, int prefix_allowed,
                        int *ids, int max_ids, char *err, size_t err_size) {
    if (tok->sentencepiece) return spm_encode(tok->sentencepiece, text, len, ids, max_ids, err, err_size);
    if (tok->builtin)
        return builtin_encode(tok->builtin, text, len, prefix_allowed, ids, max_ids, err, err_size);
    return byte_bpe_encode(tok->byte_bpe, text, len, ids, max_ids, err, err_size);
}

/* The segments' ids after the first `count`; returns the new count or -1. */
static int encode_segments(const Tokenizer *tok, const char *text, const TextSegment *segs,
                           int n_segs, int count, int *ids, int max_ids, char *err, size_t err_size) {
    int after_special = 1; /* the start counts as following a special token (llama.cpp) */
    for (int k = 0; k < n_segs; k++) {
        int n = 1;
        if (segs[k].id >= 0) {
            if (count < max_ids) ids[count] = segs[k].id;
        } else {
            int room = max_ids > count ? max_ids - count : 0;
            n = encode_plain(tok, text + segs[k].offset, segs[k].length, after_special,
                             room ? ids + count : NULL, room, err, err_size);
            if (n < 0) return -1;
        }
        if (n > 0x7fffffff - count) return fail(err, err_size, "encode: too many tokens for an int count");
        count += n;
        after_special = segs[k].id >= 0;
    }
    return count;
}

int tokenizer_encode_text(const Tokenizer *tok, const char *text, size_t len, int flags,
                          int *ids, int max_ids, char *err, size_t err_size) {
    if (!tok) return fail(err, err_size, "encode: tokenizer is NULL");
    if (!text && len > 0) return fail(err, err_size, "encode: text is NULL but length is %zu", len);
    if (max_ids < 0) return fail(err, err_size, "encode: negative id buffer size %d", max_ids);
    if (!ids && max_ids > 0) return fail(err, err_size, "encode: id buffer is NULL");
    int bos = tokenizer_bos(tok), head = (flags & TOKENIZE_ADD_BOS) ? 1 : 0;
    if (head && bos < 0) return fail(err, err_size, "encode: BOS asked for but the vocabulary has none");
    if (head && max_ids > 0) ids[0] = bos;
    if (tok->sentencepiece) { /* the library's own rules: nothing is parsed */
        TextSegment whole = {0, len, -1};
        return encode_segments(tok, text, &whole, 1, head, ids, max_ids, err, err_size);
    }
    TextSegment *segs = NULL;
    int n_segs = special_split(&tok->specials, text ? text : "", len,
                               (flags & TOKENIZE_PARSE_SPECIAL) != 0, &segs);
    if (n_segs < 0) return fail(err, err_size, "encode: out of memory for %zu bytes of text", len);
    int count = encode_segments(tok, text, segs, n_segs, head, ids, max_ids, err, err_size);
    free(segs);
    return count;
}

int tokenizer_encode(const Tokenizer *tok, const char *text, size_t len, int add_bos,
                     int *ids, int max_ids, char *err, size_t err_size) {
    return tokenizer_encode_text(tok, text, len, add_bos ? TOKENIZE_ADD_BOS : 0, ids, max_ids,
                                 err, err_size);
}

int byte_piece_value(const char *text, size_t length) {
    static const char HEX[] = "0123456789ABCDEF";
    if (length != 6 || memcmp(text, "<0x", 3) != 0 || text[5] != '>') return -1;
    const char *high = memchr(HEX, text[3], 16), *low = memchr(HEX, text[4], 16);
    if (!high || !low || !text[3] || !text[4]) return -1;
    return (int)((high - HEX) * 16 + (low - HEX));
}

/* Appends src to out (capacity avail) at *used, counting bytes even when they do not fit. */
static void emit(char *out, size_t avail, size_t *used, const char *src, size_t n) {
    if (*used < avail) memcpy(out + *used, src, n < avail - *used ? n : avail - *used);
    *used += n;
}

/* The bytes of `id` after `prev_id`: writes up to avail bytes (no NUL), returns the full count. */
static size_t piece_bytes(const Tokenizer *tok, int prev_id, int id, char *out, size_t avail) {
    if (!tok || id < 0 || id >= tokenizer_vocab_size(tok)) return 0;
    PieceView piece = piece_of(tok, id);
    char byte = (char)piece.byte_value;
    size_t used = 0;
    if (tok->byte_bpe && piece.kind == PIECE_NORMAL) return byte_bpe_piece_bytes(tok->byte_bpe, id, out, avail);
    if (tok->byte_bpe && piece.kind == PIECE_USER_DEFINED) {
        emit(out, avail, &used, piece.text, piece.length); /* spelled as itself */
        return used;
    }
    switch (piece.kind) {
    case PIECE_CONTROL: return 0;
    case PIECE_BYTE: emit(out, avail, &used, &byte, 1); return used;
    case PIECE_UNKNOWN: piece.text = UNKNOWN_SURFACE; piece.length = strlen(UNKNOWN_SURFACE); break;
    case PIECE_NORMAL: case PIECE_USER_DEFINED: break;
    }
    TokenizerNormalizer rules = tokenizer_normalizer(tok);
    int strips_prefix = rules.add_space_prefix || rules.remove_extra_whitespaces;
    int at_start = strips_prefix && (prev_id < 0 || prev_id == tokenizer_bos(tok));
    for (size_t i = 0; i < piece.length;) {
        int is_space = piece.length - i >= 3 && memcmp(piece.text + i, SPACE_SYMBOL, 3) == 0;
        if (is_space || piece.text[i] == ' ') {
            if (!(at_start && i == 0)) emit(out, avail, &used, " ", 1);
            i += is_space ? 3 : 1;
        } else {
            emit(out, avail, &used, piece.text + i, 1);
            i++;
        }
    }
    return used;
}

int tokenizer_decode_piece(const Tokenizer *tok, int prev_id, int id, char *out, size_t out_size) {
    if (!out || out_size == 0) return 0;
    size_t full = piece_bytes(tok, prev_id, id, out, out_size - 1);
    size_t written = full < out_size - 1 ? full : out_size - 1;
    out[written] = '\0';
    return (int)written;
}

int tokenizer_piece_display(const Tokenizer *tok, int id, char *out, size_t out_size) {
    if (!tok || id < 0 || id >= tokenizer_vocab_size(tok) || !out || out_size == 0) return -1;
    PieceView piece = piece_of(tok, id);
    if (piece.kind == PIECE_CONTROL || piece.kind == PIECE_UNKNOWN) {
        size_t n = piece.length < out_size - 1 ? piece.length : out_size - 1;
        memcpy(out, piece.text, n);
        out[n] = '\0';
        return (int)n;
    }
    /* a previous id that is neither BOS nor the start keeps the leading space */
    int not_start = tokenizer_bos(tok) == 0 ? 1 : 0;
    return tokenizer_decode_piece(tok, not_start, id, out, out_size);
}

size_t tokenizer_decode(const Tokenizer *tok, const int *ids, int n_ids, char *out, size_t out_size) {
    size_t avail = out && out_size > 0 ? out_size - 1 : 0, total = 0;
    for (int i = 0; ids && i < n_ids; i++) {
        size_t room = total < avail ? avail - total : 0;
        total += piece_bytes(tok, i > 0 ? ids[i - 1] : -1, ids[i], room ? out + total : NULL, room);
    }
    if (out && out_size > 0) out[total < avail ? total : avail] = '\0';
    return total;
}
