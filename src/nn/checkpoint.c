#include "src/nn/checkpoint.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/safetensors.h"

int mz_checkpoint_save(const char *path, const mz_params *p, const char *config_json, int64_t step, char *err,
                       size_t err_len) {
    float *host = (float *)mz_malloc((size_t)p->total * sizeof(float) + 1);
    p->be->copy_d2h(p->be, host, p->values, (size_t)p->total * sizeof(float));
    mz_st_write_tensor *t = (mz_st_write_tensor *)mz_calloc((size_t)p->count, sizeof(mz_st_write_tensor));
    for (int i = 0; i < p->count; i++) {
        t[i].name = p->specs[i].name;
        t[i].ndim = p->specs[i].ndim;
        t[i].shape = p->specs[i].shape;
        t[i].data = host + p->offset[i];
    }
    char step_text[32];
    snprintf(step_text, sizeof step_text, "%" PRId64, step);
    const char *keys[3] = {"format", "step", "config"};
    const char *values[3] = {"mazero", step_text, config_json ? config_json : "{}"};
    int rc = mz_st_write(path, t, p->count, keys, values, 3, err, err_len);
    free(t);
    free(host);
    return rc;
}

static int shape_text(char *out, size_t len, int ndim, const int64_t *shape) {
    size_t at = 0;
    at += (size_t)snprintf(out + at, len - at, "[");
    for (int d = 0; d < ndim && at < len; d++)
        at += (size_t)snprintf(out + at, len - at, "%s%" PRId64, d ? ", " : "", shape[d]);
    if (at < len) snprintf(out + at, len - at, "]");
    return 0;
}

int mz_checkpoint_load(const char *path, mz_params *p, int64_t *step, char **config_json, char *err, size_t err_len) {
    mz_st_file f;
    if (mz_st_read(path, &f, err, err_len) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < p->count && rc == 0; i++) {
        const mz_tensor_spec *s = &p->specs[i];
        const mz_st_tensor *t = mz_st_find(&f, s->name);
        char want[128], got[128];
        if (!t) {
            snprintf(err, err_len, "%s: tensor '%s' missing", path, s->name);
            rc = -1;
        } else if (strcmp(t->dtype, "F32") != 0) {
            snprintf(err, err_len, "%s: tensor '%s' is %s, the model needs F32", path, s->name, t->dtype);
            rc = -1;
        } else if (t->ndim != s->ndim || memcmp(t->shape, s->shape, (size_t)s->ndim * sizeof(int64_t)) != 0) {
            shape_text(want, sizeof want, s->ndim, s->shape);
            shape_text(got, sizeof got, t->ndim, t->shape);
            snprintf(err, err_len, "%s: tensor '%s' has shape %s, the model needs %s", path, s->name, got, want);
            rc = -1;
        }
    }
    for (int i = 0; i < f.count && rc == 0; i++)
        if (mz_params_find(p, f.tensors[i].name) < 0) {
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
        for (int i = 0; i < p->count; i++) {
            const mz_st_tensor *t = mz_st_find(&f, p->specs[i].name);
            /* the data section need not be 4-byte aligned in a foreign file:
             * the copy goes through bytes */
            p->be->copy_h2d(p->be, p->values + p->offset[i], t->data, t->bytes);
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
