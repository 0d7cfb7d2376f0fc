/* Linked instead of the CUDA backend when the binary is built without it
 * (plain `make`): CUDA is then reported unavailable with the way to get it. */
#include <stdio.h>

#include "src/backend.h"
#include "src/check.h"

bool mz_cuda_compiled(void) { return false; }

int mz_cuda_probe(int index, char *reason, size_t reason_len) {
    (void)index;
    snprintf(reason, reason_len, "this binary was built without CUDA (rebuild with `make CUDA=1`)");
    return -1;
}

mz_backend *mz_backend_cuda_create(int index) {
    mz_fail(__FILE__, __LINE__, "cuda:%d requested from a binary built without CUDA", index);
}
