/* byte_bpe.c — the byte-level BPE tokenizer of GPT-2 and Llama 3 (GGUF tokenizer.ggml.model
 * "gpt2"), as Hugging Face's tokenizers runs it: the text is cut into words by the
 * pre-tokenizer (pretokenize.c); each word's bytes are spelled in GPT-2's byte alphabet (256
 * printable code points, one per byte); a word that is itself a token is that token
 * (Llama 3's ignore_merges); any other is merged from its characters by merge rank, the
 * pair listed first in tokenizer.ggml.merges going first (bpe_merge.c). Decoding undoes the
 * byte alphabet. */
#include "backends.h"

#include "bpe_merge.h"
#include "piece_table.h"
#include "pretokenize.h"
#include "utf8.h"
#include "../util/errors.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TYPE_UNDEFINED, TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_USER_DEFINED, TYPE_UNUSED, TYPE_BYTE };
enum { ALPHABET_SIZE = 324 }; /* GPT-2's byte alphabet uses code points 0x21 .. 0x143 */

typedef struct {
    uint32_t left_plus_one, right; /* left_plus_one 0 = an empty slot */
    int rank;
} MergeSlot;

struct ByteBpeVocab {
    int n_tokens;
    PieceTable pieces;                  /* normal and user-defined tokens are indexed */
    unsigned char *kinds;               /* PieceKind */
    MergeSlot *merges;
    uint32_t merge_mask;
    char byte_spelling[256][2];         /* each byte in the alphabet, as UTF-8 (1-2 bytes) */
    unsigned char byte_spelling_length[256];
    short alphabet_byte[ALPHABET_SIZE]; /* code point -> byte, -1 outside the alphabet */
    int bos_id, eos_id;
    int max_digits;                     /* the pre-tokenizer's digit run (pretokenize.h) */
};

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68
 * bytes for U+0100 onwards in byte order. */
static void build_alphabet(ByteBpeVocab *v) {
    uint32_t next = 0x100;
    for (int i = 0; i < ALPHABET_SIZE; i++) v->alphabet_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        uint32_t cp = printable ? (uint32_t)b : next++;
        v->alphabet_byte[cp] = (short)b;
        unsigned char *out = (unsigned char *)v->byte_spelling[b];
        if (cp < 0x80) out[0] = (unsigned char)cp, v->byte_spelling_length[b] = 1;
        else out[0] = (unsigned char)(0xC0 | (cp >> 6)), out[1] = (unsigned char)(0x80 | (cp & 0x3F)),
             v->byte_spelling_length[b] = 2;
    }
}

static uint32_t hash_pair(uint32_t left, uint32_t right) {
    uint64_t h = ((uint64_t)left << 32 | right) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32);
}

/* Rank of merging tokens left and right, or -1 when the list has no such merge. */
static int find_merge(const ByteBpeVocab *v, int left, int right) {
    for (uint32_t i = hash_pair((uint32_t)left, (uint32_t)right) & v->merge_mask;; i = (i + 1) & v->merge_mask) {
        const MergeSlot *s = &v->merges[i];
        if (s->left_plus_one == 0) return -1;
        if (s->left_plus_one == (uint32_t)left + 1 && s->right == (uint32_t)right) return s->rank;
    }
}

static void insert_merge(ByteBpeVocab *v, int left, int right, int rank) {
    if (find_merge(v, left, right) >= 0) return; /* listed twice: the first rank counts */
    uint32_t i = hash_pair((uint32_t)left, (uint32_t)right) & v->merge_mask;
    while (v->merges[i].left_plus_one) i = (i + 1) & v->merge_mask;
    v->merges[i] = (MergeSlot){(uint32_t)left + 1, (uint32_t)right, rank};
}

/* Merge k, "left right": both halves and their concatenation must be tokens. */
static int add_merge(ByteBpeVocab *v, const char *text, int length, int k, char *err, size_t err_size) {
    const char *space = length > 0 ? memchr(text, ' ', (size_t)length) : NULL;
    int left_length = space ? (int)(space - text) : 0, right_length = length - left_length - 1;
    if (!space || left_length == 0 || right_length <= 0 || memchr(space + 1, ' ', (size_t)right_length))
        return fail(err, err_size, "merge %d '%.*s' is not two tokens separated by one space", k,
                    length > 60 ? 60 : length, text);
    int left = piece_table_find(&v->pieces, text, (size_t)left_length);
    int right = piece_table_find(&v->pieces, space + 1, (size_t)right_length);
    if (left < 0 || right < 0)
        return fail(err, err_size, "merge %d '%.*s' names a token that is not in the vocabulary",
                    k, length > 60 ? 60 : length, text);
    insert_merge(v, left, right, k);
    return 0;
}

static PieceKind kind_of_type(int type) {
    return type == TYPE_CONTROL ? PIECE_CONTROL : type == TYPE_UNKNOWN ? PIECE_UNKNOWN
         : type == TYPE_USER_DEFINED ? PIECE_USER_DEFINED : PIECE_NORMAL;
}

static int check_vocab(const TokenizerVocab *vocab, size_t *total_bytes, char *err, size_t err_size) {
    int n = vocab->n_tokens;
    if (n <= 0 || n > (1 << 28)) return fail(err, err_size, "tokenizer vocabulary has %d tokens", n);
    if (!vocab->pieces || !vocab->piece_lengths)
        return fail(err, err_size, "tokenizer vocabulary lacks its pieces or lengths");
    if (pretokenizer_digit_run(vocab->pre_tokenizer) == 0)
        return fail(err, err_size, "byte-level BPE pre-tokenizer '%s' is not supported (only "
                    "'llama-bpe', Llama 3's, and 'qwen2')",
                    vocab->pre_tokenizer ? vocab->pre_tokenizer : "(none)");
    if (vocab->n_merges <= 0 || !vocab->merges || !vocab->merge_lengths)
        return fail(err, err_size, "byte-level BPE vocabulary has no merges (tokenizer.ggml.merges)");
    if (vocab->bos_id < -1 || vocab->bos_id >= n || vocab->eos_id < -1 || vocab->eos_id >= n)
        return fail(err, err_size, "BOS %d or EOS %d is outside the vocabulary of %d",
                    vocab->bos_id, vocab->eos_id, n);
    *total_bytes = 0;
    for (int i = 0; i < n; i++) {
        int len = vocab->piece_lengths[i];
        if (len < 0 || (len > 0 && !vocab->pieces[i]))
            return fail(err, err_size, "token %d has a bad piece (length %d)", i, len);
        if (vocab->types && (vocab->types[i] < TYPE_UNDEFINED || vocab->types[i] > TYPE_BYTE))
            return fail(err, err_size, "token %d has unknown token type %d", i, vocab->types[i]);
        *total_bytes += (size_t)len;
    }
    return 0;
}

void byte_bpe_free(ByteBpeVocab *v) {
    if (!v) return;
    piece_table_free(&v->pieces);
    free(v->kinds);
    free(v->merges);
    free(v);
}

static int index_tokens(ByteBpeVocab *v, const TokenizerVocab *vocab, char *err, size_t err_size) {
    for (int i = 0; i < v->n_tokens; i++) {
        int type = vocab->types ? vocab->types[i]
                 : i == vocab->bos_id || i == vocab->eos_id ? TYPE_CONTROL : TYPE_NORMAL;
        v->kinds[i] = (unsigned char)kind_of_type(type);
        if (v->kinds[i] == PIECE_NORMAL || v->kinds[i] == PIECE_USER_DEFINED) piece_table_index(&v->pieces, i);
    }
    for (int b = 0; b < 256; b++)
        if (piece_table_find(&v->pieces, v->byte_spelling[b], v->byte_spelling_length[b]) < 0)
            return fail(err, err_size, "byte-level vocabulary has no token for byte 0x%02X", b);
    for (int k = 0; k < vocab->n_merges; k++)
        if (add_merge(v, vocab->merges[k], vocab->merge_lengths[k], k, err, err_size)) return -1;
    return 0;
}

ByteBpeVocab *byte_bpe_create(const TokenizerVocab *vocab, char *err, size_t err_size) {
    size_t total_bytes = 0;
    if (!vocab) return fail(err, err_size, "tokenizer vocabulary is NULL"), NULL;
    if (check_vocab(vocab, &total_bytes, err, err_size)) return NULL;
    ByteBpeVocab *v = calloc(1, sizeof *v);
    int n = vocab->n_tokens;
    uint32_t slots = 16;
    while (slots < 2u * (uint32_t)vocab->n_merges) slots *= 2;
    if (!v || piece_table_init(&v->pieces, n, vocab->pieces, vocab->piece_lengths, total_bytes) ||
        !(v->kinds = calloc((size_t)n, 1)) || !(v->merges = calloc(slots, sizeof *v->merges))) {
        byte_bpe_free(v);
        return fail(err, err_size, "out of memory building a vocabulary of %d tokens", n), NULL;
    }
    v->n_tokens = n, v->merge_mask = slots - 1;
    v->bos_id = vocab->bos_id, v->eos_id = vocab->eos_id;
    v->max_digits = pretokenizer_digit_run(vocab->pre_tokenizer);
    build_alphabet(v);
    if (index_tokens(v, vocab, err, err_size)) {
        byte_bpe_free(v);
        return NULL;
    }
    return v;
}

int byte_bpe_vocab_size(const ByteBpeVocab *v) { return v->n_tokens; }
int byte_bpe_bos(const ByteBpeVocab *v) { return v->bos_id; }
int byte_bpe_eos(const ByteBpeVocab *v) { return v->eos_id; }

PieceView byte_bpe_piece(const ByteBpeVocab *v, int id) {
    PieceView view = {piece_table_text(&v->pieces, id), (size_t)v->pieces.lengths[id],
                      (PieceKind)v->kinds[id], 0};
    return view;
}

size_t byte_bpe_piece_bytes(const ByteBpeVocab *v, int id, char *out, size_t avail) {
    const unsigned char *s = (const unsigned char *)piece_table_text(&v->pieces, id);
    size_t n = (size_t)v->pieces.lengths[id], used = 0;
    for (size_t at = 0; at < n;) {
        uint32_t cp = 0;
        size_t width = utf8_char_length(s + at, n - at, &cp);
        int byte = width && cp < ALPHABET_SIZE ? v->alphabet_byte[cp] : -1;
        size_t take = byte >= 0 ? 1 : width ? width : 1; /* outside the alphabet: as spelled */
        for (size_t k = 0; k < take; k++, used++)
            if (used < avail) out[used] = byte >= 0 ? (char)byte : (char)s[at + k];
        at += width ? width : 1;
    }
    return used;
}

/* ---- encoding ---- */

typedef struct {
    const ByteBpeVocab *vocab;
    int *ids, max_ids, count;
} Output;

static void put_id(Output *o, int id) {
    if (o->count < o->max_ids) o->ids[o->count] = id;
    o->count++;
}

/* GPT-2's rule: two adjacent pieces may merge when the merge list has them; the earlier
 * the merge, the sooner. */
static int merge_rank(const void *context, const char *text, int start, int left_length,
                      int right_length, float *priority) {
    const ByteBpeVocab *v = context;
    int left = piece_table_find(&v->pieces, text + start, (size_t)left_length);
    int right = piece_table_find(&v->pieces, text + start + left_length, (size_t)right_length);
    int rank = left >= 0 && right >= 0 ? find_merge(v, left, right) : -1;
    if (rank < 0) return 0;
    *priority = -(float)rank; /* exact: ranks stay below 2^24 */
    return 1;
}

/* Encodes one pre-tokenized word, spelled (n bytes) in the byte alphabet. */
static int encode_word(Output *o, const char *spelled, int n, BpeSymbol *symbols) {
    const ByteBpeVocab *v = o->vocab;
    int whole = piece_table_find(&v->pieces, spelled, (size_t)n);
    if (whole >= 0) {
        put_id(o, whole);
        return 0;
    }
    if (bpe_merge(spelled, n, merge_rank, v, symbols)) return -1;
    for (int i = 0; i >= 0; i = symbols[i].next)
        put_id(o, piece_table_find(&v->pieces, spelled + symbols[i].start, (size_t)symbols[i].length));
    return 0;
}

static int spell(const ByteBpeVocab *v, const char *word, size_t n, char *out) {
    int used = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)word[i];
        memcpy(out + used, v->byte_spelling[b], v->byte_spelling_length[b]);
        used += v->byte_spelling_length[b];
    }
    return used;
}

int byte_bpe_encode(const ByteBpeVocab *v, const char *text, size_t len, int *ids, int max_ids,
                    char *err, size_t err_size) {
    if (len == 0) return 0;
    if (len > (size_t)(INT_MAX / 4)) return fail(err, err_size, "encode: text of %zu bytes is too long", len);
    size_t *ends = malloc(len * sizeof *ends);
    char *spelled = malloc(2 * len);
    BpeSymbol *symbols = malloc(2 * len * sizeof *symbols);
    Output o = {v, ids, max_ids, 0};
    int rc = ends && spelled && symbols ? 0 : -1;
    size_t n_words = rc ? 0 : pretokenize(text, len, v->max_digits, ends);
    for (size_t w = 0, start = 0; w < n_words && rc == 0; start = ends[w++])
        rc = encode_word(&o, spelled, spell(v, text + start, ends[w] - start, spelled), symbols);
    free(ends);
    free(spelled);
    free(symbols);
    if (rc) return fail(err, err_size, "encode: out of memory for %zu bytes of text", len);
    return o.count;
}
