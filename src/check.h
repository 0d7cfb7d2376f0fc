/* Always-on checks that name the file and line at fault (llm.c style).
 * Runtime failures exit with status 1; bad usage or config is the CLI's job
 * (exit 2) and never goes through here. Safe to include from C and from .cu. */
#ifndef MZ_CHECK_H
#define MZ_CHECK_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_EXIT_OK 0
#define MZ_EXIT_RUNTIME 1
#define MZ_EXIT_USAGE 2

#if defined(__GNUC__)
#define MZ_NORETURN __attribute__((noreturn))
#define MZ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MZ_NORETURN
#define MZ_PRINTF(a, b)
#endif

/* Prints "mazero: error at FILE:LINE: message" and exits 1. */
MZ_NORETURN void mz_fail(const char *file, int line, const char *fmt, ...) MZ_PRINTF(3, 4);

void *mz_malloc_check(size_t bytes, const char *file, int line);
void *mz_calloc_check(size_t count, size_t size, const char *file, int line);
void *mz_realloc_check(void *p, size_t bytes, const char *file, int line);
char *mz_strdup_check(const char *s, const char *file, int line);
FILE *mz_fopen_check(const char *path, const char *mode, const char *file, int line);

#ifdef __cplusplus
}
#endif

/* The condition is evaluated exactly once, in every build (no NDEBUG). */
#define MZ_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) mz_fail(__FILE__, __LINE__, __VA_ARGS__);                 \
    } while (0)

#define mz_malloc(bytes) mz_malloc_check((bytes), __FILE__, __LINE__)
#define mz_calloc(count, size) mz_calloc_check((count), (size), __FILE__, __LINE__)
#define mz_realloc(p, bytes) mz_realloc_check((p), (bytes), __FILE__, __LINE__)
#define mz_strdup(s) mz_strdup_check((s), __FILE__, __LINE__)
#define mz_fopen(path, mode) mz_fopen_check((path), (mode), __FILE__, __LINE__)

#endif
