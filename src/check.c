#include "src/check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void mz_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "mazero: error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(MZ_EXIT_RUNTIME);
}

void *mz_malloc_check(size_t bytes, const char *file, int line) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) mz_fail(file, line, "malloc(%zu bytes) failed: %s", bytes, strerror(errno));
    return p;
}

void *mz_calloc_check(size_t count, size_t size, const char *file, int line) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) mz_fail(file, line, "calloc(%zu x %zu bytes) failed: %s", count, size, strerror(errno));
    return p;
}

void *mz_realloc_check(void *old, size_t bytes, const char *file, int line) {
    void *p = realloc(old, bytes ? bytes : 1);
    if (!p) mz_fail(file, line, "realloc(%zu bytes) failed: %s", bytes, strerror(errno));
    return p;
}

char *mz_strdup_check(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *p = (char *)mz_malloc_check(n, file, line);
    memcpy(p, s, n);
    return p;
}

FILE *mz_fopen_check(const char *path, const char *mode, const char *file, int line) {
    FILE *f = fopen(path, mode);
    if (!f) mz_fail(file, line, "cannot open '%s' (mode %s): %s", path, mode, strerror(errno));
    return f;
}
