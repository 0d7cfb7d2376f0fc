/* Parameter memory and the activation arena.
 *
 * A model lists its tensors once (name and shape); mz_params places them in
 * one backend block for the values, and the gradients and AdamW moments in
 * blocks of the same layout, so the optimiser, clipping, EMA and checkpoints
 * each run over one contiguous range. The model then keeps a struct of
 * pointers into `values` (see tests/test_nn_torch.c for one).
 *
 * The arena is one allocation sized for the largest batch at set-up; a
 * forward or backward pass only uses pointers taken from it beforehand. */
#ifndef MZ_NN_PARAMS_H
#define MZ_NN_PARAMS_H

#include <stdint.h>

#include "src/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_MAX_DIMS 4
#define MZ_TENSOR_NAME_MAX 96

typedef struct {
    char name[MZ_TENSOR_NAME_MAX]; /* checkpoint key, e.g. "block0.qkv.weight" */
    int ndim;
    int64_t shape[MZ_MAX_DIMS];
} mz_tensor_spec;

typedef struct {
    mz_backend *be;
    int count;
    mz_tensor_spec *specs; /* [count] */
    int64_t *offset;       /* [count]: first float of tensor i in every block */
    int64_t total;         /* floats per block */
    float *values;         /* [total] the parameters */
    float *grads;          /* [total] */
    float *adam_m;         /* [total] first moments */
    float *adam_v;         /* [total] second moments */
    float *memory;         /* the one allocation holding the four blocks */
} mz_params;

int64_t mz_tensor_numel(const mz_tensor_spec *spec);
/* Lays out `count` tensors; every block starts zeroed. */
void mz_params_init(mz_params *p, mz_backend *be, const mz_tensor_spec *specs, int count);
void mz_params_free(mz_params *p);
/* Pointer to tensor i inside a block (values, grads, adam_m, adam_v). */
float *mz_params_at(const mz_params *p, float *block, int i);
/* Index of the tensor called `name`, or -1. */
int mz_params_find(const mz_params *p, const char *name);
void mz_params_zero_grads(mz_params *p);

typedef struct {
    mz_backend *be;
    float *base;
    int64_t capacity; /* floats */
    int64_t used;     /* floats */
} mz_arena;

/* Sizing pass: an arena with base NULL counts what takes would use. */
void mz_arena_measure(mz_arena *a);
void mz_arena_init(mz_arena *a, mz_backend *be, int64_t floats);
/* `floats` floats, 256-byte aligned; exits naming `what` when it is full.
 * From a measuring arena it returns NULL and only counts. */
float *mz_arena_take(mz_arena *a, int64_t floats, const char *what);
void mz_arena_free(mz_arena *a);

#ifdef __cplusplus
}
#endif

#endif
