/* Resumable trainer state as safetensors U8 blocks: see state_file.h. */
#include "src/state_file.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/safetensors.h"

void mz_state_add(mz_state_block *list, int *n, int max, const char *name, void *data, size_t bytes, int on_device) {
    MZ_CHECK(*n < max, "state: more than %d blocks (adding '%s')", max, name);
    mz_state_block *b = &list[(*n)++];
    MZ_CHECK(strlen(name) < sizeof b->name, "state: block name '%s' is too long", name);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->data = data, b->bytes = bytes, b->on_device = on_device;
}

int mz_state_save(const char *path, mz_backend *be, const mz_state_block *blocks, int n, const char *kind, char *err,
                  size_t err_len) {
    mz_st_write_tensor *t = mz_calloc((size_t)(n ? n : 1), sizeof *t);
    int64_t *shape = mz_calloc((size_t)(n ? n : 1), sizeof *shape);
    void **staged = mz_calloc((size_t)(n ? n : 1), sizeof *staged);
    for (int i = 0; i < n; i++) {
        const void *data = blocks[i].data;
        if (blocks[i].on_device && blocks[i].bytes) {
            staged[i] = mz_malloc(blocks[i].bytes);
            be->copy_d2h(be, staged[i], blocks[i].data, blocks[i].bytes);
            data = staged[i];
        }
        shape[i] = (int64_t)blocks[i].bytes;
        t[i] = (mz_st_write_tensor){blocks[i].name, 1, &shape[i], data, "U8"};
    }
    const char *keys[] = {"format", "kind"}, *values[] = {"mazero-state", kind};
    int rc = mz_st_write(path, t, n, keys, values, 2, err, err_len);
    for (int i = 0; i < n; i++) free(staged[i]);
    free(staged);
    free(shape);
    free(t);
    return rc;
}

int mz_state_load(const char *path, mz_backend *be, const mz_state_block *blocks, int n, const char *kind, char *err,
                  size_t err_len) {
    mz_st_file f;
    if (mz_st_read(path, &f, err, err_len) != 0) return -1;
    int rc = 0;
    const char *fmt = mz_st_meta(&f, "format"), *k = mz_st_meta(&f, "kind");
    if (!fmt || strcmp(fmt, "mazero-state") != 0 || !k || strcmp(k, kind) != 0) {
        snprintf(err, err_len, "%s: not a mazero %s state file (format '%s', kind '%s')", path, kind,
                 fmt ? fmt : "none", k ? k : "none");
        rc = -1;
    }
    if (rc == 0 && f.count != n) {
        snprintf(err, err_len, "%s: %d state blocks, this run has %d (a different configuration?)", path, f.count, n);
        rc = -1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const mz_st_tensor *t = mz_st_find(&f, blocks[i].name);
        if (!t || strcmp(t->dtype, "U8") != 0 || t->bytes != blocks[i].bytes) {
            snprintf(err, err_len, "%s: block '%s' is %s (%zu bytes), this run needs %zu bytes (a different configuration?)",
                     path, blocks[i].name, t ? "there" : "missing", t ? t->bytes : (size_t)0, blocks[i].bytes);
            rc = -1;
        }
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const mz_st_tensor *t = mz_st_find(&f, blocks[i].name);
        if (!blocks[i].bytes) continue;
        if (blocks[i].on_device) be->copy_h2d(be, blocks[i].data, t->data, t->bytes);
        else memcpy(blocks[i].data, t->data, t->bytes);
    }
    mz_st_free(&f);
    return rc;
}
