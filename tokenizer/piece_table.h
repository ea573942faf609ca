/* piece_table.h — the spellings of a vocabulary's tokens, stored end to end, with a hash
 * table from spelling to id (FNV-1a, open addressing; the lowest id wins when two tokens
 * share a spelling). Private to tokenizer/; both BPE back ends keep their pieces here. */
#ifndef ROPEWALK_PIECE_TABLE_H
#define ROPEWALK_PIECE_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n_tokens;
    char *bytes;     /* all pieces, concatenated */
    size_t *offsets; /* piece i is bytes[offsets[i] .. offsets[i] + lengths[i]) */
    int *lengths;
    uint32_t *slots; /* id + 1 of each indexed piece, 0 = empty */
    uint32_t slot_mask;
} PieceTable;

/* Copies n pieces (pieces[i] of lengths[i] bytes, total_bytes in all); indexes none yet.
 * Returns 0, or -1 when out of memory. */
int piece_table_init(PieceTable *t, int n, const char *const *pieces, const int *lengths,
                     size_t total_bytes);
void piece_table_free(PieceTable *t);
void piece_table_index(PieceTable *t, int id);                 /* makes id findable */
int piece_table_find(const PieceTable *t, const char *s, size_t n); /* id or -1 */

static inline const char *piece_table_text(const PieceTable *t, int id) {
    return t->bytes + t->offsets[id];
}

#endif
