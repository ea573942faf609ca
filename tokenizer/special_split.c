/* special_split.c — special tokens found in text before tokenizing (see special_split.h). */
#define _GNU_SOURCE /* memmem */
#include "special_split.h"

#include <stdlib.h>
#include <string.h>

static int is_special(PieceKind kind) {
    return kind == PIECE_CONTROL || kind == PIECE_UNKNOWN || kind == PIECE_USER_DEFINED;
}

void special_tokens_free(SpecialTokens *s) {
    free(s->ids);
    free(s->texts);
    free(s->lengths);
    free(s->is_user_defined);
    memset(s, 0, sizeof *s);
}

int special_tokens_init(SpecialTokens *s, int n_tokens, PieceLookup piece, const void *context) {
    memset(s, 0, sizeof *s);
    int count = 0;
    for (int id = 0; id < n_tokens; id++) {
        PieceView p = piece(context, id);
        count += is_special(p.kind) && p.length > 0;
    }
    size_t n = count > 0 ? (size_t)count : 1;
    s->ids = malloc(n * sizeof *s->ids);
    s->texts = malloc(n * sizeof *s->texts);
    s->lengths = malloc(n * sizeof *s->lengths);
    s->is_user_defined = malloc(n);
    if (!s->ids || !s->texts || !s->lengths || !s->is_user_defined) return special_tokens_free(s), -1;
    for (int id = 0; id < n_tokens; id++) {
        PieceView p = piece(context, id);
        if (!is_special(p.kind) || p.length == 0) continue;
        int at = s->count++; /* insertion sort: longest first, ties by id */
        while (at > 0 && s->lengths[at - 1] < p.length) {
            s->ids[at] = s->ids[at - 1], s->texts[at] = s->texts[at - 1];
            s->lengths[at] = s->lengths[at - 1], s->is_user_defined[at] = s->is_user_defined[at - 1];
            at--;
        }
        s->ids[at] = id, s->texts[at] = p.text, s->lengths[at] = p.length;
        s->is_user_defined[at] = p.kind == PIECE_USER_DEFINED;
    }
    return 0;
}

typedef struct {
    TextSegment *items;
    int count, capacity;
} Segments;

static int push(Segments *s, size_t offset, size_t length, int id) {
    if (length == 0) return 0;
    if (s->count == s->capacity) {
        int capacity = s->capacity ? 2 * s->capacity : 8;
        TextSegment *grown = realloc(s->items, (size_t)capacity * sizeof *grown);
        if (!grown) return -1;
        s->items = grown, s->capacity = capacity;
    }
    s->items[s->count++] = (TextSegment){offset, length, id};
    return 0;
}

/* Splits every plain segment of `in` at each occurrence of spelling (id) into `out`. */
static int split_at(const Segments *in, const char *text, const char *spelling, size_t length,
                    int id, Segments *out) {
    for (int k = 0; k < in->count; k++) {
        TextSegment seg = in->items[k];
        if (seg.id >= 0) {
            if (push(out, seg.offset, seg.length, seg.id)) return -1;
            continue;
        }
        size_t at = seg.offset, end = seg.offset + seg.length;
        for (const char *hit; (hit = memmem(text + at, end - at, spelling, length)) != NULL;) {
            size_t found = (size_t)(hit - text);
            if (push(out, at, found - at, -1) || push(out, found, length, id)) return -1;
            at = found + length;
        }
        if (push(out, at, end - at, -1)) return -1;
    }
    return 0;
}

int special_split(const SpecialTokens *s, const char *text, size_t len, int parse_control,
                  TextSegment **out) {
    Segments current = {0}, next = {0};
    int rc = push(&current, 0, len, -1);
    for (int k = 0; k < s->count && rc == 0; k++) {
        if (!parse_control && !s->is_user_defined[k]) continue;
        if (!memmem(text, len, s->texts[k], s->lengths[k])) continue;
        next.count = 0;
        rc = split_at(&current, text, s->texts[k], s->lengths[k], s->ids[k], &next);
        Segments swap = current;
        current = next, next = swap;
    }
    free(next.items);
    if (rc) {
        free(current.items);
        return -1;
    }
    *out = current.items;
    return current.count;
}
