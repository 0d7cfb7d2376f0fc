#include "src/nn/params.h"

#include <stdlib.h>
#include <string.h>

#include "src/check.h"

int64_t mz_tensor_numel(const mz_tensor_spec *spec) {
    int64_t n = 1;
    for (int d = 0; d < spec->ndim; d++) n *= spec->shape[d];
    return n;
}

/* Each tensor starts on a 64-float (256-byte) boundary: cuBLAS and vector
 * loads want aligned starts, and the padding is noise next to the weights. */
static int64_t round_up64(int64_t n) { return (n + 63) / 64 * 64; }

void mz_params_init(mz_params *p, mz_backend *be, const mz_tensor_spec *specs, int count) {
    MZ_CHECK(count >= 1, "params: %d tensors", count);
    memset(p, 0, sizeof *p);
    p->be = be;
    p->count = count;
    p->specs = (mz_tensor_spec *)mz_malloc((size_t)count * sizeof(mz_tensor_spec));
    p->offset = (int64_t *)mz_malloc((size_t)count * sizeof(int64_t));
    memcpy(p->specs, specs, (size_t)count * sizeof(mz_tensor_spec));
    int64_t total = 0;
    for (int i = 0; i < count; i++) {
        const mz_tensor_spec *s = &specs[i];
        MZ_CHECK(s->ndim >= 1 && s->ndim <= MZ_MAX_DIMS, "params: tensor '%s' has %d dims", s->name, s->ndim);
        for (int d = 0; d < s->ndim; d++)
            MZ_CHECK(s->shape[d] >= 1, "params: tensor '%s' dim %d is %lld", s->name, d, (long long)s->shape[d]);
        MZ_CHECK(mz_params_find(p, s->name) < 0 || mz_params_find(p, s->name) == i,
                 "params: tensor name '%s' used twice", s->name);
        p->offset[i] = total;
        total += round_up64(mz_tensor_numel(s));
    }
    p->total = total;
    p->memory = (float *)be->alloc(be, (size_t)total * 4 * sizeof(float));
    be->zero(be, p->memory, (size_t)total * 4 * sizeof(float));
    p->values = p->memory;
    p->grads = p->memory + total;
    p->adam_m = p->memory + 2 * total;
    p->adam_v = p->memory + 3 * total;
}

void mz_params_free(mz_params *p) {
    if (p->be) p->be->free(p->be, p->memory);
    free(p->specs);
    free(p->offset);
    memset(p, 0, sizeof *p);
}

float *mz_params_at(const mz_params *p, float *block, int i) {
    MZ_CHECK(i >= 0 && i < p->count, "params: tensor index %d outside [0, %d)", i, p->count);
    return block + p->offset[i];
}

int mz_params_find(const mz_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->specs[i].name, name) == 0) return i;
    return -1;
}

void mz_params_zero_grads(mz_params *p) { p->be->zero(p->be, p->grads, (size_t)p->total * sizeof(float)); }

void mz_arena_measure(mz_arena *a) { memset(a, 0, sizeof *a); }

void mz_arena_init(mz_arena *a, mz_backend *be, int64_t floats) {
    a->be = be;
    a->capacity = floats;
    a->used = 0;
    a->base = (float *)be->alloc(be, (size_t)floats * sizeof(float));
    be->zero(be, a->base, (size_t)floats * sizeof(float));
}

float *mz_arena_take(mz_arena *a, int64_t floats, const char *what) {
    MZ_CHECK(floats >= 0, "arena: negative size %lld for %s", (long long)floats, what);
    int64_t start = a->used;
    a->used += round_up64(floats);
    if (!a->base) return NULL;
    MZ_CHECK(a->used <= a->capacity, "arena: %s needs %lld floats, only %lld of %lld left", what, (long long)floats,
             (long long)(a->capacity - start), (long long)a->capacity);
    return a->base + start;
}

void mz_arena_free(mz_arena *a) {
    if (a->be) a->be->free(a->be, a->base);
    memset(a, 0, sizeof *a);
}
