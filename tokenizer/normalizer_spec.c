/* normalizer_spec.c — the protobuf wire format walked just far enough to read
 * ModelProto.normalizer_spec (field 3) of a SentencePiece model (sentencepiece_model.proto):
 * name (1), precompiled_charsmap (2), add_dummy_prefix (3), remove_extra_whitespaces (4),
 * escape_whitespaces (5).  Unknown fields are skipped by their wire type. */
#include "normalizer_spec.h"

#include "../util/errors.h"

#include <stdint.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_BYTES = 2, WIRE_FIXED32 = 5 };

typedef struct {
    const unsigned char *at, *end;
} Cursor;

static int read_varint(Cursor *c, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && c->at < c->end; shift += 7) {
        unsigned char byte = *c->at++;
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 0;
        }
    }
    return -1;
}

/* The next field: its number, wire type, and (WIRE_BYTES) payload or (WIRE_VARINT) value. */
typedef struct {
    uint64_t number, value;
    int wire;
    Cursor payload;
} Field;

static int next_field(Cursor *c, Field *f) {
    uint64_t key, n = 0;
    if (read_varint(c, &key)) return -1;
    f->number = key >> 3, f->wire = (int)(key & 7);
    switch (f->wire) {
    case WIRE_VARINT: return read_varint(c, &f->value);
    case WIRE_FIXED64: n = 8; break;
    case WIRE_FIXED32: n = 4; break;
    case WIRE_BYTES:
        if (read_varint(c, &n)) return -1;
        break;
    default: return -1;
    }
    if (n > (uint64_t)(c->end - c->at)) return -1;
    f->payload = (Cursor){c->at, c->at + n};
    c->at += n;
    return 0;
}

static int read_spec_fields(Cursor c, SpmNormalizerSpec *spec) {
    while (c.at < c.end) {
        Field f;
        if (next_field(&c, &f)) return -1;
        size_t length = (size_t)(f.payload.end - f.payload.at);
        if (f.wire == WIRE_BYTES && f.number == 1) {
            size_t n = length < sizeof spec->name - 1 ? length : sizeof spec->name - 1;
            memcpy(spec->name, f.payload.at, n);
            spec->name[n] = '\0';
        } else if (f.wire == WIRE_BYTES && f.number == 2) {
            spec->charsmap_bytes = length;
        } else if (f.wire == WIRE_VARINT && f.number == 3) {
            spec->flags.add_space_prefix = f.value != 0;
        } else if (f.wire == WIRE_VARINT && f.number == 4) {
            spec->flags.remove_extra_whitespaces = f.value != 0;
        } else if (f.wire == WIRE_VARINT && f.number == 5) {
            spec->escape_whitespaces = f.value != 0;
        }
    }
    return 0;
}

int spm_read_normalizer_spec(const unsigned char *proto, size_t size, SpmNormalizerSpec *spec,
                             char *err, size_t err_size) {
    memset(spec, 0, sizeof *spec);
    spec->flags = (TokenizerNormalizer){1, 1};
    spec->escape_whitespaces = 1;
    Cursor c = {proto, proto + size};
    while (c.at < c.end) {
        Field f;
        if (next_field(&c, &f))
            return fail(err, err_size, "the SentencePiece model is not a well-formed protobuf message");
        if (f.wire == WIRE_BYTES && f.number == 3 && read_spec_fields(f.payload, spec))
            return fail(err, err_size, "the SentencePiece model's normalizer_spec is malformed");
    }
    return 0;
}
