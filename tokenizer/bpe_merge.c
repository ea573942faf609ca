/* bpe_merge.c — the shared BPE merge loop (see bpe_merge.h), after bpe_model.cc of
 * libsentencepiece. */
#include "bpe_merge.h"

#include <stdlib.h>

typedef struct {
    float priority;
    int left, right, length; /* length of the merged piece, to spot stale candidates */
} Candidate;

typedef struct {
    const char *text;
    BpeSymbol *symbols;
    Candidate *heap;
    int heap_size;
    BpePairPriority priority;
    const void *context;
} Merger;

/* Higher priority first, then the leftmost pair. */
static int before(const Candidate *a, const Candidate *b) {
    return a->priority > b->priority || (a->priority == b->priority && a->left < b->left);
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

/* Queues the merge of symbols left and right if the family allows it. */
static void consider_pair(Merger *m, int left, int right) {
    if (left < 0 || right < 0) return;
    const BpeSymbol *a = &m->symbols[left], *b = &m->symbols[right];
    Candidate c = {0, left, right, a->length + b->length};
    if (m->priority(m->context, m->text, a->start, a->length, b->length, &c.priority))
        heap_push(m, c);
}

/* Splits the text into its UTF-8 characters (a stray byte is one); returns how many. */
static int split_characters(const char *text, int len, BpeSymbol *symbols) {
    int n = 0;
    for (int at = 0; at < len; n++) {
        unsigned char lead = (unsigned char)text[at];
        int width = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        if (width > len - at) width = len - at;
        symbols[n] = (BpeSymbol){at, width, n - 1, at + width < len ? n + 1 : -1};
        at += width;
    }
    return n;
}

int bpe_merge(const char *text, int n_bytes, BpePairPriority priority, const void *context,
              BpeSymbol *symbols) {
    /* each merge queues at most two candidates: 3n bounds the heap */
    Merger m = {text, symbols, malloc((size_t)n_bytes * 3 * sizeof(Candidate)), 0, priority, context};
    if (!m.heap) return -1;
    int n_symbols = split_characters(text, n_bytes, symbols);
    for (int i = 1; i < n_symbols; i++) consider_pair(&m, i - 1, i);
    while (m.heap_size > 0) {
        Candidate c = heap_pop(&m);
        BpeSymbol *a = &symbols[c.left], *b = &symbols[c.right];
        if (a->length == 0 || b->length == 0 || a->length + b->length != c.length) continue;
        a->length += b->length;
        a->next = b->next;
        if (b->next >= 0) symbols[b->next].prev = c.left;
        b->length = 0;
        consider_pair(&m, a->prev, c.left);
        consider_pair(&m, c.left, a->next);
    }
    free(m.heap);
    return 0;
}
