#include "src/nn/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/dist.h"
#include "src/safetensors.h"

/* the blocks a checkpoint may hold, in file order, and their name prefixes */
enum { BLOCK_VALUES, BLOCK_ADAM_M, BLOCK_ADAM_V, N_BLOCKS };
static const char *const PREFIX[N_BLOCKS] = {"", "adam_m.", "adam_v."};

static float *block_of(const mz_params *p, int b) {
    return b == BLOCK_VALUES ? p->values : (b == BLOCK_ADAM_M ? p->adam_m : p->adam_v);
}

int mz_checkpoint_save(const char *path, const mz_params *p, bool with_optimizer, const char *config_json,
                       int64_t step, char *err, size_t err_len) {
    if (mz_dist_rank() != 0) return 0; /* data-parallel: the ranks hold rank 0's parameters; it writes */
    int blocks = with_optimizer ? N_BLOCKS : 1;
    size_t per_block = (size_t)p->total * sizeof(float);
    float *host = (float *)mz_malloc(per_block * (size_t)blocks + 1);
    mz_st_write_tensor *t = (mz_st_write_tensor *)mz_calloc((size_t)(p->count * blocks), sizeof(mz_st_write_tensor));
    char *names = (char *)mz_calloc((size_t)(p->count * blocks), MZ_TENSOR_NAME_MAX + 8);
    for (int b = 0; b < blocks; b++) {
        p->be->copy_d2h(p->be, host + (size_t)b * (size_t)p->total, block_of(p, b), per_block);
        for (int i = 0; i < p->count; i++) {
            int k = b * p->count + i;
            char *name = names + (size_t)k * (MZ_TENSOR_NAME_MAX + 8);
            snprintf(name, MZ_TENSOR_NAME_MAX + 8, "%s%s", PREFIX[b], p->specs[i].name);
            t[k].name = name;
            t[k].ndim = p->specs[i].ndim;
            t[k].shape = p->specs[i].shape;
            t[k].data = host + (size_t)b * (size_t)p->total + p->offset[i];
        }
    }
    char step_text[32];
    snprintf(step_text, sizeof step_text, "%" PRId64, step);
    const char *keys[3] = {"format", "step", "config"};
    const char *values[3] = {"mazero", step_text, config_json ? config_json : "{}"};
    int rc = mz_st_write(path, t, p->count * blocks, keys, values, 3, err, err_len);
    free(names);
    free(t);
    free(host);
    return rc;
}

static void shape_text(char *out, size_t len, int ndim, const int64_t *shape) {
    size_t at = (size_t)snprintf(out, len, "[");
    for (int d = 0; d < ndim && at < len; d++)
        at += (size_t)snprintf(out + at, len - at, "%s%" PRId64, d ? ", " : "", shape[d]);
    if (at < len) snprintf(out + at, len - at, "]");
}

/* the model tensor a file tensor belongs to, or -1; *block gets which block */
static int owner(const mz_params *p, const char *name, int *block) {
    for (int b = N_BLOCKS - 1; b >= 0; b--) {
        size_t n = strlen(PREFIX[b]);
        if (strncmp(name, PREFIX[b], n) == 0) {
            int i = mz_params_find(p, name + n);
            if (i >= 0) {
                *block = b;
                return i;
            }
        }
    }
    return -1;
}

int mz_checkpoint_load(const char *path, mz_params *p, bool with_optimizer, int64_t *step, char **config_json,
                       char *err, size_t err_len) {
    mz_st_file f;
    if (mz_st_read(path, &f, err, err_len) != 0) return -1;
    int rc = 0, blocks = with_optimizer ? N_BLOCKS : 1;
    char name[MZ_TENSOR_NAME_MAX + 8];
    for (int b = 0; b < blocks && rc == 0; b++)
        for (int i = 0; i < p->count && rc == 0; i++) {
            const mz_tensor_spec *s = &p->specs[i];
            snprintf(name, sizeof name, "%s%s", PREFIX[b], s->name);
            const mz_st_tensor *t = mz_st_find(&f, name);
            char want[128], got[128];
            if (!t) {
                snprintf(err, err_len, "%s: tensor '%s' missing", path, name);
                rc = -1;
            } else if (strcmp(t->dtype, "F32") != 0) {
                snprintf(err, err_len, "%s: tensor '%s' is %s, the model needs F32", path, name, t->dtype);
                rc = -1;
            } else if (t->ndim != s->ndim || memcmp(t->shape, s->shape, (size_t)s->ndim * sizeof(int64_t)) != 0) {
                shape_text(want, sizeof want, s->ndim, s->shape);
                shape_text(got, sizeof got, t->ndim, t->shape);
                snprintf(err, err_len, "%s: tensor '%s' has shape %s, the model needs %s", path, name, got, want);
                rc = -1;
            }
        }
    int block;
    for (int i = 0; i < f.count && rc == 0; i++)
        if (owner(p, f.tensors[i].name, &block) < 0) {
            snprintf(err, err_len, "%s: tensor '%s' is not part of the model", path, f.tensors[i].name);
            rc = -1;
        }
    const char *step_text = mz_st_meta(&f, "step");
    char *end = NULL;
    long long step_value = step_text ? strtoll(step_text, &end, 10) : 0;
    if (rc == 0 && step_text && (*step_text == '\0' || *end != '\0')) {
        snprintf(err, err_len, "%s: __metadata__ step '%s' is not an integer", path, step_text);
        rc = -1;
    }
    if (rc == 0) {
        for (int i = 0; i < f.count; i++) {
            int idx = owner(p, f.tensors[i].name, &block);
            if (block >= blocks) continue;
            /* the data section need not be 4-byte aligned in a foreign file:
             * the copy goes through bytes */
            p->be->copy_h2d(p->be, block_of(p, block) + p->offset[idx], f.tensors[i].data, f.tensors[i].bytes);
        }
        if (step) *step = step_value;
        if (config_json) {
            const char *cfg = mz_st_meta(&f, "config");
            *config_json = cfg ? mz_strdup(cfg) : NULL;
        }
    }
    mz_st_free(&f);
    return rc;
}
