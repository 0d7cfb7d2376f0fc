/* The unit, gradient and parity tests: one binary, one cmocka group per
 * area, each registered by its file (MZ_TEST_GROUP). `mazero_tests [group
 * ...]` runs only the named groups; `--list` names them. The last line is
 * "N passed, N failed"; the exit status is non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_util.h"

#define MAX_GROUPS 64

typedef struct {
    const char *name;
    int (*run)(void);
} group;

static group groups[MAX_GROUPS];
static int n_groups;

void mz_test_register(const char *name, int (*run)(void)) {
    if (n_groups == MAX_GROUPS) {
        fprintf(stderr, "mazero_tests: more than %d test groups; raise MAX_GROUPS\n", MAX_GROUPS);
        exit(2);
    }
    groups[n_groups].name = name;
    groups[n_groups].run = run;
    n_groups++;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const group *)a)->name, ((const group *)b)->name);
}

int main(int argc, char **argv) {
    qsort(groups, (size_t)n_groups, sizeof groups[0], by_name); /* same order whatever the link order */
    for (int a = 1; a < argc; a++) {
        bool known = !strcmp(argv[a], "--list");
        for (int g = 0; g < n_groups; g++) known |= !strcmp(argv[a], groups[g].name);
        if (!known || !strcmp(argv[a], "--list")) {
            FILE *f = known ? stdout : stderr;
            if (!known) fprintf(f, "mazero_tests: unknown group '%s'\n", argv[a]);
            fprintf(f, "groups:");
            for (int g = 0; g < n_groups; g++) fprintf(f, " %s", groups[g].name);
            fprintf(f, "\n");
            return known ? 0 : 2;
        }
    }
    for (int g = 0; g < n_groups; g++) {
        bool selected = argc == 1;
        for (int a = 1; a < argc; a++) selected |= !strcmp(argv[a], groups[g].name);
        if (selected) groups[g].run();
    }
    test_backends_destroy();
    int run = 0, failed = 0;
    mz_test_totals(&run, &failed);
    printf("%d passed, %d failed\n", run - failed, failed);
    return failed ? 1 : 0;
}
