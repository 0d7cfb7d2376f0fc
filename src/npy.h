/* NumPy .npy files (format 1.0): the header dict, then the raw C-order
 * little-endian data. Read by numpy.load and most array libraries. */
#ifndef MZ_NPY_H
#define MZ_NPY_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MZ_NPY_F32 = 0, MZ_NPY_I32 = 1, MZ_NPY_BOOL = 2 } mz_npy_dtype;

size_t mz_npy_itemsize(mz_npy_dtype dtype);
const char *mz_npy_descr(mz_npy_dtype dtype); /* "<f4", "<i4", "|b1" */

/* Writes an array of shape[0..rank) from `data`. 0, or -1 with errno set. */
int mz_npy_write(const char *path, mz_npy_dtype dtype, int rank, const int64_t *shape, const void *data);

#endif
