/* A growable byte buffer for building JSON lines, HTTP bodies and protobuf
 * messages. Allocation failure exits through mz_fail (src/check.h). */
#ifndef MZ_STRBUF_H
#define MZ_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/check.h"

typedef struct {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len, cap;
} mz_strbuf;

void mz_strbuf_reserve(mz_strbuf *b, size_t extra);
void mz_strbuf_append(mz_strbuf *b, const void *bytes, size_t n);
void mz_strbuf_puts(mz_strbuf *b, const char *s);
void mz_strbuf_printf(mz_strbuf *b, const char *fmt, ...) MZ_PRINTF(2, 3);
/* A JSON string literal, quotes included. */
void mz_strbuf_json_string(mz_strbuf *b, const char *s);
/* A JSON number. Non-finite values are `null` when strict, else the bare
 * NaN / Infinity / -Infinity tokens W&B's history lines use. */
void mz_strbuf_json_number(mz_strbuf *b, double v, bool strict);
void mz_strbuf_clear(mz_strbuf *b);
void mz_strbuf_free(mz_strbuf *b);

/* snprintf that says whether the text fit: 0, or -1 when it was cut. */
int mz_format(char *out, size_t len, const char *fmt, ...) MZ_PRINTF(3, 4);

#endif
