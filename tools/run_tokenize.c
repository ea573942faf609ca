/* run_tokenize.c — the --tokenize and --detokenize modes: open the vocabulary and its
 * tokenizer (no engine, no weights), then list the prompt's ids with their pieces, or turn
 * an id list back into text. */
#include "run_tokenize.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"
#include "run_ppl.h"
#include "run_session.h"

const char *prompt_bytes(const RunOptions *o, size_t *len, char **owned, char *err,
                         size_t err_size) {
    *owned = NULL;
    if (!o->prompt_file) {
        *len = strlen(o->prompt);
        return o->prompt;
    }
    *owned = ppl_read_text(o->prompt_file, len, err, err_size);
    return *owned;
}

/* The piece's bytes as one printable line: \n, \t, \r, \\ and other non-printing ASCII
 * escaped; bytes from 0x80 (UTF-8) kept as they are. */
static void print_escaped(FILE *out, const char *s, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c == '\r') fputs("\\r", out);
        else if (c == '\\') fputs("\\\\", out);
        else if (c < 0x20 || c == 0x7f) fprintf(out, "\\x%02x", c);
        else fputc(c, out);
    }
}

static void print_ids(const Tokenizer *tok, const int *ids, int n, const RunOptions *o) {
    char piece[256];
    if (o->ppl.format == PPL_FORMAT_JSON) {
        printf("{\"ids\": [");
        for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        printf("], \"pieces\": [");
        for (int i = 0; i < n; i++) {
            if (i) printf(", ");
            int len = tokenizer_piece_display(tok, ids[i], piece, sizeof piece);
            print_json_bytes(stdout, piece, len > 0 ? (size_t)len : 0);
        }
        printf("]}\n");
    } else if (o->ids_only) {
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    } else {
        for (int i = 0; i < n; i++) {
            printf("%d\t", ids[i]);
            print_escaped(stdout, piece, tokenizer_piece_display(tok, ids[i], piece, sizeof piece));
            printf("\n");
        }
        printf("%d tokens\n", n);
    }
}

int run_tokenize(const RunOptions *o, char *err, size_t err_size) {
    Session s;
    if (session_open_tokenizer(&s, o, err, err_size) != 0) return -1;
    size_t len;
    char *owned;
    const char *text = prompt_bytes(o, &len, &owned, err, err_size);
    int *ids = NULL, n = -1;
    if (text && len < (size_t)INT_MAX - 2) {
        /* at most one token per byte (byte fallback), plus BOS */
        ids = malloc((len + 2) * sizeof *ids);
        n = ids ? tokenizer_encode_text(s.tokenizer, text, len, session_encode_flags(&s, o), ids,
                                        (int)len + 2, err, err_size)
                : fail(err, err_size, "out of memory for %zu bytes of prompt", len);
    } else if (text) {
        fail(err, err_size, "the prompt is %zu bytes: more than this tool tokenizes at once", len);
    }
    if (n >= 0) print_ids(s.tokenizer, ids, n, o);
    free(ids);
    free(owned);
    session_close(&s);
    return n >= 0 ? 0 : -1;
}

/* Parses "1 2 3" (or "1,2,3") into ids, each within the vocabulary. */
static int parse_id_list(const char *list, int vocab, int **ids, int *n, char *err,
                         size_t err_size) {
    size_t cap = strlen(list) / 2 + 1;
    *ids = malloc(cap * sizeof **ids);
    *n = 0;
    if (!*ids) return fail(err, err_size, "out of memory for the id list");
    for (const char *p = list; *p;) {
        if (*p == ' ' || *p == ',') { p++; continue; }
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno)
            return fail(err, err_size, "--ids: '%.20s' is not an id", p);
        if (v < 0 || v >= vocab)
            return fail(err, err_size, "--ids: id %ld is outside the vocabulary (0..%d)", v,
                        vocab - 1);
        (*ids)[(*n)++] = (int)v;
        p = end;
    }
    return 0;
}

int run_detokenize(const RunOptions *o, char *err, size_t err_size) {
    Session s;
    if (session_open_tokenizer(&s, o, err, err_size) != 0) return -1;
    int *ids = NULL, n = 0;
    int rc = parse_id_list(o->id_list, tokenizer_vocab_size(s.tokenizer), &ids, &n, err, err_size);
    char *text = NULL;
    if (rc == 0) {
        size_t bytes = tokenizer_decode(s.tokenizer, ids, n, NULL, 0);
        text = malloc(bytes + 1);
        if (!text) rc = fail(err, err_size, "out of memory for %zu bytes of text", bytes);
        else fwrite(text, 1, tokenizer_decode(s.tokenizer, ids, n, text, bytes + 1), stdout);
    }
    free(text);
    free(ids);
    session_close(&s);
    return rc;
}
