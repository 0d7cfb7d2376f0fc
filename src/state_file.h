/* A trainer's resumable state (replay contents, environment states, step
 * and RNG counters) as one safetensors file of named U8 blocks, beside the
 * model checkpoint (src/nn/checkpoint.h). Each part of a trainer lists its
 * state as blocks (host or backend memory); save writes them, load checks
 * that the file holds exactly these names with these sizes and copies them
 * back. The file's metadata says what kind of state it is. */
#ifndef MZ_STATE_FILE_H
#define MZ_STATE_FILE_H

#include <stddef.h>

#include "src/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char name[64];
    void *data;
    size_t bytes;
    int on_device; /* 1: data is backend memory */
} mz_state_block;

/* Appends a block to list[*n] (at most max). */
void mz_state_add(mz_state_block *list, int *n, int max, const char *name, void *data, size_t bytes, int on_device);

/* 0, or -1 with a reason naming the file (and the block) in err. */
int mz_state_save(const char *path, mz_backend *be, const mz_state_block *blocks, int n, const char *kind, char *err,
                  size_t err_len);
/* Nothing is written into the blocks unless every one matches. */
int mz_state_load(const char *path, mz_backend *be, const mz_state_block *blocks, int n, const char *kind, char *err,
                  size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
