/* json.h — a small JSON reader, for the reference files of the tests (../shared/refs) and
 * for tools/convert_hf_tokenizer (a tokenizer.json). Parses a whole document into a tree;
 * numbers are doubles. */
#ifndef ROPEWALK_JSON_H
#define ROPEWALK_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonKind;

typedef struct JsonValue JsonValue;
struct JsonValue {
    JsonKind kind;
    double number;          /* JSON_NUMBER, JSON_BOOL (0/1) */
    char *string;           /* JSON_STRING (decoded UTF-8); object member key in `key` */
    char *key;              /* member name when inside an object */
    JsonValue *items;       /* JSON_ARRAY / JSON_OBJECT children */
    int n_items;
};

/* Parses text; NULL on malformed input. Free with json_free. */
JsonValue *json_parse(const char *text);
JsonValue *json_parse_file(const char *path);
void json_free(JsonValue *value);

/* Member lookup; NULL when absent or when v is not an object. */
const JsonValue *json_get(const JsonValue *object, const char *key);
/* Number of a member, or fallback when absent/not a number. */
double json_number(const JsonValue *object, const char *key, double fallback);
/* Fills out[] with up to max numbers of an array; returns how many the array has. */
int json_numbers(const JsonValue *array, double *out, int max);

#endif
