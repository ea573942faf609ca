/* piece_table.c — token spellings and the hash table over them (see piece_table.h). */
#include "piece_table.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

int piece_table_init(PieceTable *t, int n, const char *const *pieces, const int *lengths,
                     size_t total_bytes) {
    memset(t, 0, sizeof *t);
    uint32_t slots = 16;
    while (slots < 2u * (uint32_t)n) slots *= 2;
    t->n_tokens = n;
    t->slot_mask = slots - 1;
    t->bytes = malloc(total_bytes + 1);
    t->offsets = malloc((size_t)n * sizeof *t->offsets);
    t->lengths = malloc((size_t)n * sizeof *t->lengths);
    t->slots = calloc(slots, sizeof *t->slots);
    if (!t->bytes || !t->offsets || !t->lengths || !t->slots) return -1;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        t->offsets[i] = at;
        t->lengths[i] = lengths[i];
        if (lengths[i] > 0) memcpy(t->bytes + at, pieces[i], (size_t)lengths[i]);
        at += (size_t)lengths[i];
    }
    return 0;
}

void piece_table_free(PieceTable *t) {
    free(t->bytes);
    free(t->offsets);
    free(t->lengths);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

int piece_table_find(const PieceTable *t, const char *s, size_t n) {
    for (uint32_t i = hash_bytes(s, n) & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        uint32_t slot = t->slots[i];
        if (slot == 0) return -1;
        int id = (int)slot - 1;
        if ((size_t)t->lengths[id] == n && memcmp(piece_table_text(t, id), s, n) == 0) return id;
    }
}

void piece_table_index(PieceTable *t, int id) {
    const char *s = piece_table_text(t, id);
    size_t n = (size_t)t->lengths[id];
    if (piece_table_find(t, s, n) >= 0) return; /* a duplicate spelling: the lowest id wins */
    uint32_t i = hash_bytes(s, n) & t->slot_mask;
    while (t->slots[i]) i = (i + 1) & t->slot_mask;
    t->slots[i] = (uint32_t)id + 1;
}
