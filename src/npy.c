#include "src/npy.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

size_t mz_npy_itemsize(mz_npy_dtype dtype) { return dtype == MZ_NPY_BOOL ? 1 : 4; }

const char *mz_npy_descr(mz_npy_dtype dtype) {
    return dtype == MZ_NPY_F32 ? "<f4" : dtype == MZ_NPY_I32 ? "<i4" : "|b1";
}

int mz_npy_write(const char *path, mz_npy_dtype dtype, int rank, const int64_t *shape, const void *data) {
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", mz_npy_descr(dtype));
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        /* as numpy writes it: (3, 4) and (5,) */
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)shape[i],
                      i + 1 < rank ? ", " : rank == 1 ? "," : "");
        count *= (size_t)shape[i];
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* magic (6) + version (2) + length (2) + dict + padding + '\n': a multiple of 64 */
    size_t header = 10 + (size_t)n + 1;
    size_t padded = (header + 63) / 64 * 64;
    unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    size_t dict_len = padded - 10;
    prefix[8] = (unsigned char)(dict_len & 0xFF);
    prefix[9] = (unsigned char)(dict_len >> 8);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t bytes = count * mz_npy_itemsize(dtype);
    bool ok = fwrite(prefix, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
    for (size_t i = header; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && (bytes == 0 || fwrite(data, 1, bytes, f) == bytes);
    return (fclose(f) == 0 && ok) ? 0 : -1;
}
