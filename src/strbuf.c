#include "src/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mz_strbuf_reserve(mz_strbuf *b, size_t extra) {
    MZ_CHECK(b->len + extra + 1 > b->len, "buffer size overflow (len %zu, extra %zu)", b->len, extra);
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = mz_realloc(b->data, cap);
    b->cap = cap;
}

void mz_strbuf_append(mz_strbuf *b, const void *bytes, size_t n) {
    mz_strbuf_reserve(b, n);
    if (n) memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mz_strbuf_puts(mz_strbuf *b, const char *s) { mz_strbuf_append(b, s, strlen(s)); }

void mz_strbuf_printf(mz_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    MZ_CHECK(n >= 0, "vsnprintf failed on format '%s'", fmt);
    mz_strbuf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mz_strbuf_json_string(mz_strbuf *b, const char *s) {
    mz_strbuf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': mz_strbuf_puts(b, "\\\""); break;
        case '\\': mz_strbuf_puts(b, "\\\\"); break;
        case '\n': mz_strbuf_puts(b, "\\n"); break;
        case '\r': mz_strbuf_puts(b, "\\r"); break;
        case '\t': mz_strbuf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20) mz_strbuf_printf(b, "\\u%04x", *p);
            else mz_strbuf_append(b, p, 1);
        }
    }
    mz_strbuf_puts(b, "\"");
}

void mz_strbuf_json_number(mz_strbuf *b, double v, bool strict) {
    if (isnan(v)) mz_strbuf_puts(b, strict ? "null" : "NaN");
    else if (isinf(v)) mz_strbuf_puts(b, strict ? "null" : (v > 0 ? "Infinity" : "-Infinity"));
    else if (v == floor(v) && fabs(v) < 9007199254740992.0) mz_strbuf_printf(b, "%.0f", v);
    else {
        /* the shortest of %.15g / %.17g that reads back exactly: 0.1, not 0.10000000000000001 */
        char text[32];
        snprintf(text, sizeof text, "%.15g", v);
        if (strtod(text, NULL) != v) snprintf(text, sizeof text, "%.17g", v);
        mz_strbuf_puts(b, text);
    }
}

void mz_strbuf_clear(mz_strbuf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void mz_strbuf_free(mz_strbuf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int mz_format(char *out, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}
