/* vocab.c — the built-in tokenizer: SentencePiece-BPE encoding with byte fallback over a
 * vocabulary of pieces + scores (GGUF tokenizer.ggml.*, llama2.c tokenizer.bin). It follows
 * libsentencepiece 0.1.x: the identity normalizer under the vocabulary's whitespace rules
 * (normalize.c), bpe_model.cc's priority-queue merge, and byte fallback for pieces absent
 * from the vocabulary. */
#include "backends.h"

#include "../util/errors.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TYPE_UNDEFINED, TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_USER_DEFINED, TYPE_UNUSED, TYPE_BYTE };

struct BuiltinVocab {
    int n_tokens;
    char *bytes;          /* all pieces, concatenated */
    size_t *offsets;      /* piece i is bytes[offsets[i] .. offsets[i] + lengths[i]) */
    int *lengths;
    float *scores;
    unsigned char *kinds; /* PieceKind */
    unsigned char *byte_values;
    int byte_ids[256];    /* id of "<0xXX>", or -1 */
    uint32_t *slots;      /* hash table of mergeable pieces: id + 1, 0 = empty */
    uint32_t slot_mask;
    int bos_id, eos_id, unk_id;
    TokenizerNormalizer normalizer;
};

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Id of the mergeable piece spelled s[0..n), or -1. */
static int find_piece(const BuiltinVocab *v, const char *s, size_t n) {
    for (uint32_t i = hash_bytes(s, n) & v->slot_mask;; i = (i + 1) & v->slot_mask) {
        uint32_t slot = v->slots[i];
        if (slot == 0) return -1;
        int id = (int)slot - 1;
        if ((size_t)v->lengths[id] == n && memcmp(v->bytes + v->offsets[id], s, n) == 0) return id;
    }
}

static void insert_piece(BuiltinVocab *v, int id) {
    const char *s = v->bytes + v->offsets[id];
    size_t n = (size_t)v->lengths[id];
    if (find_piece(v, s, n) >= 0) return; /* a duplicate spelling: the lowest id wins */
    uint32_t i = hash_bytes(s, n) & v->slot_mask;
    while (v->slots[i]) i = (i + 1) & v->slot_mask;
    v->slots[i] = (uint32_t)id + 1;
}

void builtin_free(BuiltinVocab *v) {
    if (!v) return;
    free(v->bytes);
    free(v->offsets);
    free(v->lengths);
    free(v->scores);
    free(v->kinds);
    free(v->byte_values);
    free(v->slots);
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
    const char *text = v->bytes + v->offsets[i];
    int byte = byte_piece_value(text, (size_t)v->lengths[i]);
    int type = vocab->types ? vocab->types[i]
               : i == vocab->unk_id                         ? TYPE_UNKNOWN
               : i == vocab->bos_id || i == vocab->eos_id   ? TYPE_CONTROL
               : byte >= 0                                  ? TYPE_BYTE
                                                            : TYPE_NORMAL;
    v->kinds[i] = type == TYPE_UNKNOWN ? PIECE_UNKNOWN : type == TYPE_CONTROL ? PIECE_CONTROL
                : type == TYPE_BYTE    ? PIECE_BYTE    : PIECE_NORMAL;
    if (type == TYPE_BYTE) {
        if (byte < 0) return fail(err, err_size, "byte token %d is not spelled <0xXX>", i);
        v->byte_values[i] = (unsigned char)byte;
        if (v->byte_ids[byte] < 0) v->byte_ids[byte] = i;
    }
    if (v->kinds[i] == PIECE_NORMAL) insert_piece(v, i);
    return 0;
}

static int allocate(BuiltinVocab *v, int n, size_t total_bytes) {
    uint32_t slots = 16;
    while (slots < 2u * (uint32_t)n) slots *= 2;
    v->slot_mask = slots - 1;
    v->bytes = malloc(total_bytes + 1);
    v->offsets = malloc((size_t)n * sizeof *v->offsets);
    v->lengths = malloc((size_t)n * sizeof *v->lengths);
    v->scores = malloc((size_t)n * sizeof *v->scores);
    v->kinds = calloc((size_t)n, 1);
    v->byte_values = calloc((size_t)n, 1);
    v->slots = calloc(slots, sizeof *v->slots);
    return v->bytes && v->offsets && v->lengths && v->scores && v->kinds && v->byte_values && v->slots ? 0 : -1;
}

BuiltinVocab *builtin_create(const TokenizerVocab *vocab, char *err, size_t err_size) {
    size_t total_bytes = 0;
    if (check_vocab(vocab, &total_bytes, err, err_size) < 0) return NULL;
    BuiltinVocab *v = calloc(1, sizeof *v);
    int n = vocab->n_tokens;
    if (!v || allocate(v, n, total_bytes) < 0) {
        builtin_free(v);
        fail(err, err_size, "out of memory building a vocabulary of %d tokens", n);
        return NULL;
    }
    v->n_tokens = n;
    v->bos_id = vocab->bos_id, v->eos_id = vocab->eos_id, v->unk_id = vocab->unk_id;
    v->normalizer = vocab->normalizer;
    memset(v->byte_ids, -1, sizeof v->byte_ids);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        v->offsets[i] = at;
        v->lengths[i] = vocab->piece_lengths[i];
        v->scores[i] = vocab->scores[i];
        if (v->lengths[i] > 0) memcpy(v->bytes + at, vocab->pieces[i], (size_t)v->lengths[i]);
        at += (size_t)v->lengths[i];
    }
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
    PieceView view = {v->bytes + v->offsets[id], (size_t)v->lengths[id], (PieceKind)v->kinds[id],
                      v->byte_values[id]};
    return view;
}

/* ---- encoding: bpe_model.cc's merge loop over the normalized text ---- */

typedef struct {
    int start, length; /* bytes of the normalized text; length 0 once merged away */
    int prev, next;    /* neighbours, -1 at the ends */
} Symbol;

typedef struct {
    float score;
    int left, right, length; /* length of the merged piece, to spot stale candidates */
} Candidate;

typedef struct {
    const BuiltinVocab *vocab;
    const char *text;
    Symbol *symbols;
    Candidate *heap;
    int heap_size;
} Merger;

/* SentencePiece's order: higher score first, then the leftmost pair. */
static int before(const Candidate *a, const Candidate *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(Merger *m, Candidate c) {
    int i = m->heap_size++;
    while (i > 0 && before(&c, &m->heap[(i - 1) / 2])) {
        m->heap[i] = m->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    m->heap[i] = c;
}

static Candidate heap_pop(Merger *m) {
    Candidate top = m->heap[0], last = m->heap[--m->heap_size];
    int i = 0, n = m->heap_size;
    for (int child = 1; child < n; child = 2 * i + 1) {
        if (child + 1 < n && before(&m->heap[child + 1], &m->heap[child])) child++;
        if (!before(&m->heap[child], &last)) break;
        m->heap[i] = m->heap[child];
        i = child;
    }
    if (n > 0) m->heap[i] = last;
    return top;
}

/* Queues the merge of symbols left and right if their concatenation is a piece. */
static void consider_pair(Merger *m, int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol *a = &m->symbols[left], *b = &m->symbols[right];
    int id = find_piece(m->vocab, m->text + a->start, (size_t)(a->length + b->length));
    if (id < 0) return;
    Candidate c = {m->vocab->scores[id], left, right, a->length + b->length};
    heap_push(m, c);
}

static void merge_all(Merger *m, int n_symbols) {
    for (int i = 1; i < n_symbols; i++) consider_pair(m, i - 1, i);
    while (m->heap_size > 0) {
        Candidate c = heap_pop(m);
        Symbol *a = &m->symbols[c.left], *b = &m->symbols[c.right];
        if (a->length == 0 || b->length == 0 || a->length + b->length != c.length) continue;
        a->length += b->length;
        a->next = b->next;
        if (b->next >= 0) m->symbols[b->next].prev = c.left;
        b->length = 0;
        consider_pair(m, a->prev, c.left);
        consider_pair(m, c.left, a->next);
    }
}

/* Splits the normalized text into its UTF-8 characters; returns how many. */
static int split_characters(const char *text, int len, Symbol *symbols) {
    int n = 0;
    for (int at = 0; at < len; n++) {
        unsigned char lead = (unsigned char)text[at];
        int width = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        if (width > len - at) width = len - at;
        symbols[n] = (Symbol){at, width, n - 1, at + width < len ? n + 1 : -1};
        at += width;
    }
    return n;
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
static int emit_ids(const Merger *m, int *ids, int max_ids, char *err, size_t err_size) {
    const BuiltinVocab *v = m->vocab;
    int count = 0, prev_unknown = 0;
    for (int i = 0; i >= 0; i = m->symbols[i].next) {
        const char *piece = m->text + m->symbols[i].start;
        int length = m->symbols[i].length, id = find_piece(v, piece, (size_t)length);
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

int builtin_encode(const BuiltinVocab *v, const char *text, size_t len, int *ids, int max_ids,
                   char *err, size_t err_size) {
    if (len > (size_t)(INT_MAX / 4 - 3)) return fail(err, err_size, "encode: text of %zu bytes is too long", len);
    char *normalized = malloc(3 * len + 3);
    if (!normalized) return fail(err, err_size, "encode: out of memory for %zu bytes of text", len);
    int n_bytes = (int)spm_normalize(text, len, v->normalizer, normalized);
    if (n_bytes == 0) {
        free(normalized);
        return 0;
    }
    Merger m = {v, normalized, malloc((size_t)n_bytes * sizeof(Symbol)), malloc((size_t)n_bytes * 3 * sizeof(Candidate)), 0};
    int count = -1;
    if (!m.symbols || !m.heap) fail(err, err_size, "encode: out of memory for %d symbols", n_bytes);
    else {
        merge_all(&m, split_characters(normalized, n_bytes, m.symbols));
        count = emit_ids(&m, ids, max_ids, err, err_size);
    }
    free(m.symbols);
    free(m.heap);
    free(normalized);
    return count;
}
