/* The safetensors file format (huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"key": "string", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * (offsets relative to the byte after the header), then the raw
 * little-endian data. Readers of this file format must assume hostile input:
 * every length, offset and shape is checked before use, and a bad file is
 * an error message, never a crash. Host memory only. */
#ifndef MZ_SAFETENSORS_H
#define MZ_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_ST_MAX_DIMS 8
#define MZ_ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */

typedef struct {
    char *name;
    char dtype[8]; /* "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL" */
    int ndim;
    int64_t shape[MZ_ST_MAX_DIMS];
    const uint8_t *data; /* into the file's data section */
    size_t bytes;
} mz_st_tensor;

typedef struct {
    int count;
    mz_st_tensor *tensors;
    int n_meta;
    char **meta_keys;
    char **meta_values;
    uint8_t *file; /* the whole file */
    size_t file_bytes;
} mz_st_file;

/* Reads and validates `path`. 0 on success; otherwise -1 with a one-line
 * reason (naming the path and the tensor or field at fault) in err. */
int mz_st_read(const char *path, mz_st_file *out, char *err, size_t err_len);
/* The same from memory (copied). */
int mz_st_parse(const uint8_t *bytes, size_t len, const char *what, mz_st_file *out, char *err, size_t err_len);
void mz_st_free(mz_st_file *f);
const mz_st_tensor *mz_st_find(const mz_st_file *f, const char *name);
/* NULL if absent */
const char *mz_st_meta(const mz_st_file *f, const char *key);

typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    const void *data;  /* host, little-endian elements of dtype */
    const char *dtype; /* NULL: "F32"; else one of the names above */
} mz_st_write_tensor;

/* Writes tensors in the order given, atomically: a temporary file in
 * the same directory, fsync, rename over `path`, fsync of the directory.
 * Metadata values are strings. 0 on success, else -1 and err. */
int mz_st_write(const char *path, const mz_st_write_tensor *tensors, int count, const char *const *meta_keys,
                const char *const *meta_values, int n_meta, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
