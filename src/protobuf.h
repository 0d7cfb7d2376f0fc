/* Just enough protocol buffers for the .wandb records: varint and
 * length-delimited fields, written and read by hand (no libprotobuf). */
#ifndef MZ_PROTOBUF_H
#define MZ_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/strbuf.h"

enum { MZ_PB_VARINT = 0, MZ_PB_I64 = 1, MZ_PB_LEN = 2, MZ_PB_I32 = 5 };

void mz_pb_varint(mz_strbuf *b, uint64_t v);
/* field with wire type VARINT; negative int32/int64 values take 10 bytes */
void mz_pb_int(mz_strbuf *b, int field, int64_t v);
/* field with wire type LEN: bytes, strings, embedded messages */
void mz_pb_bytes(mz_strbuf *b, int field, const void *bytes, size_t n);
void mz_pb_string(mz_strbuf *b, int field, const char *s);

/* A reader over one message. mz_pb_next returns true with the next field in
 * (field, wire, value / data+len), false at the end or on malformed input
 * (then `bad` is set). */
typedef struct {
    const unsigned char *p, *end;
    bool bad;
    int field, wire;
    uint64_t value;
    const unsigned char *data;
    size_t len;
} mz_pb_reader;

void mz_pb_reader_init(mz_pb_reader *r, const void *data, size_t len);
bool mz_pb_next(mz_pb_reader *r);

#endif
