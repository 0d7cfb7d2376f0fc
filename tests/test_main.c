/* The unit, gradient and parity tests: one binary, one cmocka group per
 * area. `mazero_tests [group ...]` runs only the named groups. The last line
 * is "N passed, N failed"; the exit status is non-zero on any failure. */
#include <stdio.h>
#include <string.h>

#include "tests/test_util.h"

typedef struct {
    const char *name;
    int (*run)(void);
} group;

static const group groups[] = {
    {"rng", test_group_rng},   {"config", test_group_config}, {"backend", test_group_backend},
    {"gemm", test_group_gemm}, {"emu", test_group_emu},
};

int main(int argc, char **argv) {
    int n_groups = (int)(sizeof groups / sizeof groups[0]);
    for (int a = 1; a < argc; a++) {
        bool known = false;
        for (int g = 0; g < n_groups; g++) known |= !strcmp(argv[a], groups[g].name);
        if (!known) {
            fprintf(stderr, "mazero_tests: unknown group '%s' (groups:", argv[a]);
            for (int g = 0; g < n_groups; g++) fprintf(stderr, " %s", groups[g].name);
            fprintf(stderr, ")\n");
            return 2;
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
