#include "src/trajectory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "src/check.h"
#include "src/strbuf.h"

typedef struct {
    char name[128];
    mz_npy_dtype dtype;
    int rank;
    int64_t shape[MZ_TRAJ_MAX_RANK];
    size_t step_bytes; /* one environment, one step */
    unsigned char *chunk; /* time-major while filling: (T_chunk, B, ...) */
} field_buffer;

struct mz_recorder {
    char dir[1024];
    char env[MZ_CFG_STR], algo[MZ_CFG_STR];
    int64_t seed, batch, chunk_steps;
    field_buffer *fields;
    int n_fields;
    int64_t steps_in_chunk, total_steps;
    int n_chunks;
    bool failed;
};

static int mkdir_p(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0775);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -1;
    }
    return (mkdir(path, 0775) == 0 || errno == EEXIST) ? 0 : -1;
}

mz_recorder *mz_recorder_open(const mz_config *cfg, int64_t batch, const mz_traj_field *fields, int n_fields,
                              char *err, size_t err_len) {
    MZ_CHECK(batch > 0 && n_fields > 0, "mz_recorder_open: batch %lld, %d fields", (long long)batch, n_fields);
    char parent[1024], uid[32];
    if (mz_format(parent, sizeof parent, "%s/%s", cfg->record.dir, cfg->env.name) != 0 || mkdir_p(parent) != 0) {
        snprintf(err, err_len, "cannot create '%s': %s", parent, strerror(errno));
        return NULL;
    }
    mz_recorder *r = mz_calloc(1, sizeof *r);
    /* the uid as Flashbax makes it (%Y%m%d%H%M%S), -2, -3... if taken */
    time_t now = time(NULL);
    struct tm tm;
    MZ_CHECK(localtime_r(&now, &tm), "localtime_r failed");
    strftime(uid, sizeof uid, "%Y%m%d%H%M%S", &tm);
    for (int attempt = 1;; attempt++) {
        int cut = attempt == 1 ? mz_format(r->dir, sizeof r->dir, "%s/%s", parent, uid)
                               : mz_format(r->dir, sizeof r->dir, "%s/%s-%d", parent, uid, attempt);
        if (cut == 0 && mkdir(r->dir, 0775) == 0) break;
        if (cut != 0 || errno != EEXIST || attempt == 1000) {
            snprintf(err, err_len, "cannot create '%s': %s", r->dir, cut ? "path too long" : strerror(errno));
            free(r);
            return NULL;
        }
    }
    snprintf(r->env, sizeof r->env, "%s", cfg->env.name);
    snprintf(r->algo, sizeof r->algo, "%s", mz_config_enum_name("algo", cfg->algo));
    r->seed = cfg->seed;
    r->batch = batch;
    r->chunk_steps = cfg->record.chunk_steps;
    r->n_fields = n_fields;
    r->fields = mz_calloc((size_t)n_fields, sizeof *r->fields);
    for (int f = 0; f < n_fields; f++) {
        field_buffer *b = &r->fields[f];
        MZ_CHECK(fields[f].rank >= 0 && fields[f].rank <= MZ_TRAJ_MAX_RANK, "field '%s': rank %d",
                 fields[f].name, fields[f].rank);
        MZ_CHECK(strlen(fields[f].name) < sizeof b->name && !strchr(fields[f].name, '/'),
                 "field name '%s': too long or has a '/'", fields[f].name);
        snprintf(b->name, sizeof b->name, "%s", fields[f].name);
        b->dtype = fields[f].dtype;
        b->rank = fields[f].rank;
        b->step_bytes = mz_npy_itemsize(b->dtype);
        for (int d = 0; d < b->rank; d++) {
            MZ_CHECK(fields[f].shape[d] > 0, "field '%s': dimension %d is %lld", b->name, d,
                     (long long)fields[f].shape[d]);
            b->shape[d] = fields[f].shape[d];
            b->step_bytes *= (size_t)b->shape[d];
        }
        b->chunk = mz_malloc((size_t)r->chunk_steps * (size_t)batch * b->step_bytes);
    }
    return r;
}

const char *mz_recorder_dir(const mz_recorder *r) { return r->dir; }

/* The chunk, transposed to batch-major (B, T_chunk, ...), one .npy per field. */
static void flush_chunk(mz_recorder *r) {
    if (r->steps_in_chunk == 0) return;
    int64_t T = r->steps_in_chunk, B = r->batch;
    for (int f = 0; f < r->n_fields; f++) {
        field_buffer *b = &r->fields[f];
        unsigned char *out = mz_malloc((size_t)(T * B) * b->step_bytes);
        for (int64_t t = 0; t < T; t++)
            for (int64_t e = 0; e < B; e++)
                memcpy(out + (size_t)(e * T + t) * b->step_bytes, b->chunk + (size_t)(t * B + e) * b->step_bytes,
                       b->step_bytes);
        int64_t shape[2 + MZ_TRAJ_MAX_RANK] = {B, T};
        for (int d = 0; d < b->rank; d++) shape[2 + d] = b->shape[d];
        char path[1200];
        mz_format(path, sizeof path, "%s/%s.%05d.npy", r->dir, b->name, r->n_chunks);
        if (mz_npy_write(path, b->dtype, 2 + b->rank, shape, out) != 0) {
            if (!r->failed) fprintf(stderr, "mazero: warning: cannot write '%s': %s\n", path, strerror(errno));
            r->failed = true;
        }
        free(out);
    }
    r->n_chunks++;
    r->steps_in_chunk = 0;
}

void mz_recorder_step(mz_recorder *r, const void *const *data) {
    for (int f = 0; f < r->n_fields; f++) {
        field_buffer *b = &r->fields[f];
        size_t bytes = (size_t)r->batch * b->step_bytes;
        memcpy(b->chunk + (size_t)r->steps_in_chunk * bytes, data[f], bytes);
    }
    r->steps_in_chunk++;
    r->total_steps++;
    if (r->steps_in_chunk == r->chunk_steps) flush_chunk(r);
}

static int write_description(mz_recorder *r) {
    cJSON *root = cJSON_CreateObject(), *fields = cJSON_CreateObject();
    MZ_CHECK(root && fields, "cJSON: out of memory");
    bool ok = cJSON_AddNumberToObject(root, "version", 1) && cJSON_AddStringToObject(root, "env", r->env) &&
              cJSON_AddStringToObject(root, "algo", r->algo) &&
              cJSON_AddNumberToObject(root, "seed", (double)r->seed) &&
              cJSON_AddStringToObject(root, "layout", "batch-major (B, T, ...) per chunk; chunks concatenate on axis 1") &&
              cJSON_AddNumberToObject(root, "batch", (double)r->batch) &&
              cJSON_AddNumberToObject(root, "steps", (double)r->total_steps) &&
              cJSON_AddNumberToObject(root, "chunks", r->n_chunks);
    for (int f = 0; ok && f < r->n_fields; f++) {
        field_buffer *b = &r->fields[f];
        cJSON *desc = cJSON_CreateObject(), *shape = cJSON_CreateArray();
        ok = desc && shape && cJSON_AddStringToObject(desc, "dtype", mz_npy_descr(b->dtype));
        for (int d = 0; ok && d < b->rank; d++) ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)b->shape[d]));
        ok = ok && cJSON_AddItemToObject(desc, "shape", shape) && cJSON_AddItemToObject(fields, b->name, desc);
    }
    ok = ok && cJSON_AddItemToObject(root, "fields", fields);
    MZ_CHECK(ok, "cJSON: out of memory");
    char *text = cJSON_Print(root);
    MZ_CHECK(text, "cJSON: out of memory");
    cJSON_Delete(root);
    char path[1100];
    mz_format(path, sizeof path, "%s/recording.json", r->dir);
    FILE *f = fopen(path, "w");
    bool written = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    written = (f && fclose(f) == 0) && written;
    free(text);
    if (!written) fprintf(stderr, "mazero: warning: cannot write '%s': %s\n", path, strerror(errno));
    return written ? 0 : 1;
}

int mz_recorder_close(mz_recorder *r) {
    flush_chunk(r);
    int rc = write_description(r) || r->failed;
    for (int f = 0; f < r->n_fields; f++) free(r->fields[f].chunk);
    free(r->fields);
    free(r);
    return rc;
}
