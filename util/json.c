/* json.c — a recursive-descent JSON parser (reference files, tokenizer.json). */
#include "json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "read_file.h"

typedef struct {
    const char *p;
    int ok;
} Parser;

static void skip_space(Parser *ps) {
    while (isspace((unsigned char)*ps->p)) ps->p++;
}

static int parse_value(Parser *ps, JsonValue *out, int depth);

static void put_utf8(char **w, unsigned code) {
    char *o = *w;
    if (code < 0x80) { *o++ = (char)code; }
    else if (code < 0x800) { *o++ = (char)(0xC0 | code >> 6); *o++ = (char)(0x80 | (code & 63)); }
    else if (code < 0x10000) {
        *o++ = (char)(0xE0 | code >> 12); *o++ = (char)(0x80 | ((code >> 6) & 63));
        *o++ = (char)(0x80 | (code & 63));
    } else {
        *o++ = (char)(0xF0 | code >> 18); *o++ = (char)(0x80 | ((code >> 12) & 63));
        *o++ = (char)(0x80 | ((code >> 6) & 63)); *o++ = (char)(0x80 | (code & 63));
    }
    *w = o;
}

static unsigned parse_hex4(const char *s) {
    char hex[5] = {s[0], s[1], s[2], s[3], 0};
    return (unsigned)strtoul(hex, NULL, 16);
}

static char *parse_string(Parser *ps) {
    if (*ps->p != '"') return NULL;
    const char *start = ++ps->p;
    const char *end = start;
    while (*end && *end != '"') end += (*end == '\\' && end[1]) ? 2 : 1;
    if (*end != '"') return NULL;
    char *s = malloc((size_t)(end - start) + 4), *w = s;
    for (const char *r = start; r < end; r++) {
        if (*r != '\\') { *w++ = *r; continue; }
        r++;
        switch (*r) {
        case 'n': *w++ = '\n'; break;
        case 't': *w++ = '\t'; break;
        case 'r': *w++ = '\r'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'u': {
            if (end - r < 5) { free(s); return NULL; }
            unsigned code = parse_hex4(r + 1);
            r += 4;
            if (code >= 0xD800 && code < 0xDC00 && end - r >= 7 && r[1] == '\\' && r[2] == 'u') {
                unsigned low = parse_hex4(r + 3);
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                r += 6;
            }
            put_utf8(&w, code);
            break;
        }
        default: *w++ = *r; break;
        }
    }
    *w = 0;
    ps->p = end + 1;
    return s;
}

static int parse_container(Parser *ps, JsonValue *out, int is_object, int depth) {
    char close = is_object ? '}' : ']';
    out->kind = is_object ? JSON_OBJECT : JSON_ARRAY;
    int cap = 0;
    ps->p++;
    skip_space(ps);
    if (*ps->p == close) { ps->p++; return 1; }
    for (;;) {
        if (out->n_items == cap) {
            cap = cap ? 2 * cap : 8;
            out->items = realloc(out->items, (size_t)cap * sizeof *out->items);
        }
        JsonValue *item = &out->items[out->n_items];
        memset(item, 0, sizeof *item);
        out->n_items++;
        skip_space(ps);
        if (is_object) {
            item->key = parse_string(ps);
            skip_space(ps);
            if (!item->key || *ps->p != ':') return 0;
            ps->p++;
        }
        if (!parse_value(ps, item, depth + 1)) return 0;
        skip_space(ps);
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == close) { ps->p++; return 1; }
        return 0;
    }
}

static int parse_value(Parser *ps, JsonValue *out, int depth) {
    if (depth > 64) return 0;
    skip_space(ps);
    char c = *ps->p;
    if (c == '{' || c == '[') return parse_container(ps, out, c == '{', depth);
    if (c == '"') {
        out->kind = JSON_STRING;
        out->string = parse_string(ps);
        return out->string != NULL;
    }
    if (!strncmp(ps->p, "null", 4)) { out->kind = JSON_NULL; ps->p += 4; return 1; }
    if (!strncmp(ps->p, "true", 4)) { out->kind = JSON_BOOL; out->number = 1; ps->p += 4; return 1; }
    if (!strncmp(ps->p, "false", 5)) { out->kind = JSON_BOOL; ps->p += 5; return 1; }
    char *end;
    out->kind = JSON_NUMBER;
    out->number = strtod(ps->p, &end);
    if (end == ps->p) return 0;
    ps->p = end;
    return 1;
}

JsonValue *json_parse(const char *text) {
    Parser ps = {text, 1};
    JsonValue *root = calloc(1, sizeof *root);
    if (!parse_value(&ps, root, 0)) { json_free(root); return NULL; }
    return root;
}

JsonValue *json_parse_file(const char *path) {
    char err[256];
    char *text = read_whole_file(path, "file", NULL, err, sizeof err);
    if (!text) return NULL;
    JsonValue *v = json_parse(text);
    free(text);
    return v;
}

static void free_children(JsonValue *v) {
    for (int i = 0; i < v->n_items; i++) free_children(&v->items[i]);
    free(v->items);
    free(v->string);
    free(v->key);
}

void json_free(JsonValue *value) {
    if (!value) return;
    free_children(value);
    free(value);
}

const JsonValue *json_get(const JsonValue *object, const char *key) {
    if (!object || object->kind != JSON_OBJECT) return NULL;
    for (int i = 0; i < object->n_items; i++)
        if (!strcmp(object->items[i].key, key)) return &object->items[i];
    return NULL;
}

double json_number(const JsonValue *object, const char *key, double fallback) {
    const JsonValue *v = json_get(object, key);
    return v && v->kind == JSON_NUMBER ? v->number : fallback;
}

int json_numbers(const JsonValue *array, double *out, int max) {
    if (!array || array->kind != JSON_ARRAY) return 0;
    for (int i = 0; i < array->n_items && i < max; i++) out[i] = array->items[i].number;
    return array->n_items;
}
