#include "bench/bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/check.h"

cJSON *mz_bench_load_peers(const char *path, const char *bench, const char *script) {
    if (!path) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mazero bench %s: no peer timings at '%s' (%s): run %s\n", bench, path, strerror(errno), script);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *text = (char *)mz_malloc(cap);
    for (size_t got; (got = fread(text + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) text = (char *)mz_realloc(text, cap *= 2);
    }
    fclose(f);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) fprintf(stderr, "mazero bench %s: '%s' is not JSON; ignoring it\n", bench, path);
    return j;
}

int mz_bench_write_json(const cJSON *rows, const char *path, const char *bench) {
    char *text = cJSON_Print(rows);
    MZ_CHECK(text, "cJSON: out of memory");
    FILE *f = fopen(path, "w");
    int failed = !f || fputs(text, f) < 0;
    if (f && fclose(f) != 0) failed = 1;
    cJSON_free(text);
    if (failed) {
        fprintf(stderr, "mazero bench %s: cannot write '%s': %s\n", bench, path, strerror(errno));
        return MZ_EXIT_RUNTIME;
    }
    printf("wrote %s\n", path);
    return 0;
}
