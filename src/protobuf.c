#include "src/protobuf.h"

#include <string.h>

void mz_pb_varint(mz_strbuf *b, uint64_t v) {
    unsigned char bytes[10];
    size_t n = 0;
    do {
        bytes[n] = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (v) bytes[n] |= 0x80;
        n++;
    } while (v);
    mz_strbuf_append(b, bytes, n);
}

static void tag(mz_strbuf *b, int field, int wire) { mz_pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire); }

void mz_pb_int(mz_strbuf *b, int field, int64_t v) {
    tag(b, field, MZ_PB_VARINT);
    mz_pb_varint(b, (uint64_t)v);
}

void mz_pb_bytes(mz_strbuf *b, int field, const void *bytes, size_t n) {
    tag(b, field, MZ_PB_LEN);
    mz_pb_varint(b, n);
    mz_strbuf_append(b, bytes, n);
}

void mz_pb_string(mz_strbuf *b, int field, const char *s) { mz_pb_bytes(b, field, s, strlen(s)); }

void mz_pb_reader_init(mz_pb_reader *r, const void *data, size_t len) {
    memset(r, 0, sizeof *r);
    r->p = data;
    r->end = r->p + len;
}

static bool read_varint(mz_pb_reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return false;
        unsigned char byte = *r->p++;
        v |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

bool mz_pb_next(mz_pb_reader *r) {
    if (r->bad || r->p >= r->end) return false;
    uint64_t key;
    if (!read_varint(r, &key) || (key >> 3) == 0 || (key >> 3) > 536870911u) goto malformed;
    r->field = (int)(key >> 3);
    r->wire = (int)(key & 7);
    r->data = NULL;
    r->len = 0;
    switch (r->wire) {
    case MZ_PB_VARINT:
        if (!read_varint(r, &r->value)) goto malformed;
        return true;
    case MZ_PB_I64:
    case MZ_PB_I32: {
        size_t n = r->wire == MZ_PB_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) goto malformed;
        r->value = 0;
        for (size_t i = 0; i < n; i++) r->value |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        return true;
    }
    case MZ_PB_LEN:
        if (!read_varint(r, &r->value) || r->value > (uint64_t)(r->end - r->p)) goto malformed;
        r->data = r->p;
        r->len = (size_t)r->value;
        r->p += r->len;
        return true;
    default: goto malformed;
    }
malformed:
    r->bad = true;
    return false;
}
