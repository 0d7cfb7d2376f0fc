#include "src/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/check.h"

static int fail(char *err, size_t err_len, const char *fmt, ...) MZ_PRINTF(3, 4);
static int fail(char *err, size_t err_len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err_len) vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

static size_t dtype_size(const char *dtype) {
    static const struct {
        const char *name;
        size_t size;
    } table[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
                 {"I16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, dtype) == 0) return table[i].size;
    return 0;
}

static uint64_t read_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* a JSON number that is a whole number in [0, 2^53] */
static int json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return -1;
    double d = item->valuedouble;
    if (!(d >= 0.0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

typedef struct {
    uint64_t begin, end;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = (const span *)a, *y = (const span *)b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

static int parse_tensor(const cJSON *item, mz_st_tensor *t, uint64_t data_len, span *s, const char *what, char *err,
                        size_t err_len) {
    if (!cJSON_IsObject(item)) return fail(err, err_len, "%s: tensor '%s' is not a JSON object", what, t->name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype) || strlen(dtype->valuestring) >= sizeof t->dtype || !dtype_size(dtype->valuestring))
        return fail(err, err_len, "%s: tensor '%s' has no known dtype", what, t->name);
    strcpy(t->dtype, dtype->valuestring);
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > MZ_ST_MAX_DIMS)
        return fail(err, err_len, "%s: tensor '%s' shape is not an array of at most %d dims", what, t->name,
                    MZ_ST_MAX_DIMS);
    t->ndim = cJSON_GetArraySize(shape);
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t dim;
        if (json_uint(cJSON_GetArrayItem(shape, d), &dim) != 0 || dim > (1ull << 40))
            return fail(err, err_len, "%s: tensor '%s' dim %d is not a valid size", what, t->name, d);
        t->shape[d] = (int64_t)dim;
        if (dim && numel > UINT64_MAX / 8 / dim)
            return fail(err, err_len, "%s: tensor '%s' is too large", what, t->name);
        numel *= dim;
    }
    uint64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        json_uint(cJSON_GetArrayItem(offsets, 0), &begin) != 0 || json_uint(cJSON_GetArrayItem(offsets, 1), &end) != 0)
        return fail(err, err_len, "%s: tensor '%s' data_offsets is not [begin, end]", what, t->name);
    if (begin > end || end > data_len)
        return fail(err, err_len, "%s: tensor '%s' data_offsets [%" PRIu64 ", %" PRIu64 "] outside the %" PRIu64
                    " data bytes (truncated file?)", what, t->name, begin, end, data_len);
    if (end - begin != numel * dtype_size(t->dtype))
        return fail(err, err_len, "%s: tensor '%s' holds %" PRIu64 " bytes but its shape and dtype need %" PRIu64,
                    what, t->name, end - begin, numel * dtype_size(t->dtype));
    s->begin = begin, s->end = end;
    t->bytes = (size_t)(end - begin);
    return 0;
}

int mz_st_parse(const uint8_t *bytes, size_t len, const char *what, mz_st_file *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    if (len < 8) return fail(err, err_len, "%s: %zu bytes, shorter than the 8-byte header length", what, len);
    uint64_t header_len = read_le64(bytes);
    if (header_len > MZ_ST_MAX_HEADER)
        return fail(err, err_len, "%s: header length %" PRIu64 " exceeds the %u-byte limit", what, header_len,
                    MZ_ST_MAX_HEADER);
    if (header_len > len - 8)
        return fail(err, err_len, "%s: header length %" PRIu64 " but only %zu bytes follow (truncated file?)", what,
                    header_len, len - 8);
    if (header_len < 2 || bytes[8] != '{')
        return fail(err, err_len, "%s: header does not start with '{'", what);
    out->file = (uint8_t *)mz_malloc(len ? len : 1);
    memcpy(out->file, bytes, len);
    out->file_bytes = len;
    const char *header = (const char *)out->file + 8;
    uint64_t data_len = len - 8 - header_len;
    const uint8_t *data = out->file + 8 + header_len;
    cJSON *root = cJSON_ParseWithLength(header, (size_t)header_len);
    span *spans = NULL;
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = fail(err, err_len, "%s: header is not a JSON object", what);
        goto done;
    }
    int n = cJSON_GetArraySize(root);
    out->tensors = (mz_st_tensor *)mz_calloc((size_t)n + 1, sizeof(mz_st_tensor));
    spans = (span *)mz_calloc((size_t)n + 1, sizeof(span));
    for (const cJSON *item = root->child; item; item = item->next) {
        if (!item->string) {
            rc = fail(err, err_len, "%s: header entry without a name", what);
            goto done;
        }
        if (strcmp(item->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(item) || out->meta_keys) {
                rc = fail(err, err_len, "%s: __metadata__ is not a single JSON object", what);
                goto done;
            }
            int m = cJSON_GetArraySize(item);
            out->meta_keys = (char **)mz_calloc((size_t)m + 1, sizeof(char *));
            out->meta_values = (char **)mz_calloc((size_t)m + 1, sizeof(char *));
            for (const cJSON *kv = item->child; kv; kv = kv->next) {
                if (!kv->string || !cJSON_IsString(kv)) {
                    rc = fail(err, err_len, "%s: __metadata__ value of '%s' is not a string", what,
                              kv->string ? kv->string : "?");
                    goto done;
                }
                out->meta_keys[out->n_meta] = mz_strdup(kv->string);
                out->meta_values[out->n_meta++] = mz_strdup(kv->valuestring);
            }
            continue;
        }
        mz_st_tensor *t = &out->tensors[out->count];
        t->name = mz_strdup(item->string);
        out->count++;
        if (mz_st_find(out, t->name) != t) {
            rc = fail(err, err_len, "%s: tensor '%s' appears twice", what, t->name);
            goto done;
        }
        if ((rc = parse_tensor(item, t, data_len, &spans[out->count - 1], what, err, err_len)) != 0) goto done;
        t->data = data + spans[out->count - 1].begin;
    }
    /* the tensors must tile the data section exactly: no overlap, no hole */
    qsort(spans, (size_t)out->count, sizeof(span), span_cmp);
    uint64_t at = 0;
    for (int i = 0; i < out->count; i++) {
        if (spans[i].begin != at) {
            rc = fail(err, err_len, "%s: tensor data overlaps or leaves a hole at byte %" PRIu64, what, at);
            goto done;
        }
        at = spans[i].end;
    }
    if (at != data_len)
        rc = fail(err, err_len, "%s: %" PRIu64 " data bytes but the tensors cover %" PRIu64, what, data_len, at);
done:
    cJSON_Delete(root);
    free(spans);
    if (rc != 0) mz_st_free(out);
    return rc;
}

int mz_st_read(const char *path, mz_st_file *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, err_len, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return fail(err, err_len, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = (uint8_t *)mz_malloc(len ? len : 1);
    size_t got = fread(buf, 1, len, f);
    fclose(f);
    if (got != len) {
        free(buf);
        return fail(err, err_len, "%s: read %zu of %zu bytes", path, got, len);
    }
    int rc = mz_st_parse(buf, len, path, out, err, err_len);
    free(buf);
    return rc;
}

void mz_st_free(mz_st_file *f) {
    for (int i = 0; i < f->count; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) free(f->meta_keys[i]), free(f->meta_values[i]);
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->file);
    memset(f, 0, sizeof *f);
}

const mz_st_tensor *mz_st_find(const mz_st_file *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (f->tensors[i].name && strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *mz_st_meta(const mz_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

/* ---- writing ------------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w, n -= (size_t)w;
    }
    return 0;
}

static char *build_header(const mz_st_write_tensor *tensors, int count, const char *const *meta_keys,
                          const char *const *meta_values, int n_meta, char *err, size_t err_len) {
    cJSON *root = cJSON_CreateObject();
    MZ_CHECK(root, "safetensors: out of memory");
    if (n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < n_meta; i++) MZ_CHECK(cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i]), "oom");
    }
    uint64_t at = 0;
    for (int i = 0; i < count; i++) {
        const mz_st_write_tensor *t = &tensors[i];
        if (t->ndim < 0 || t->ndim > MZ_ST_MAX_DIMS || strcmp(t->name, "__metadata__") == 0 ||
            cJSON_GetObjectItemCaseSensitive(root, t->name)) {
            cJSON_Delete(root);
            fail(err, err_len, "safetensors: tensor '%s' has a bad rank or a duplicate name", t->name);
            return NULL;
        }
        uint64_t numel = 1;
        const char *dtype = t->dtype ? t->dtype : "F32";
        if (!dtype_size(dtype)) {
            cJSON_Delete(root);
            fail(err, err_len, "safetensors: tensor '%s' has an unknown dtype '%s'", t->name, dtype);
            return NULL;
        }
        cJSON *entry = cJSON_AddObjectToObject(root, t->name);
        MZ_CHECK(entry && cJSON_AddStringToObject(entry, "dtype", dtype), "safetensors: out of memory");
        cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
        for (int d = 0; d < t->ndim; d++) {
            numel *= (uint64_t)t->shape[d];
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        }
        cJSON *off = cJSON_AddArrayToObject(entry, "data_offsets");
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)at));
        at += numel * dtype_size(dtype);
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)at));
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    MZ_CHECK(text, "safetensors: out of memory printing the header");
    return text;
}

int mz_st_write(const char *path, const mz_st_write_tensor *tensors, int count, const char *const *meta_keys,
                const char *const *meta_values, int n_meta, char *err, size_t err_len) {
    char *header = build_header(tensors, count, meta_keys, meta_values, n_meta, err, err_len);
    if (!header) return -1;
    /* spaces pad the header to 8 bytes so the data section is aligned (the
     * format allows trailing whitespace in the header) */
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    size_t tmp_len = strlen(path) + 16;
    char *tmp = (char *)mz_malloc(tmp_len);
    snprintf(tmp, tmp_len, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    int rc = 0;
    if (fd < 0) {
        rc = fail(err, err_len, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        goto out;
    }
    /* mkstemp creates 0600; a checkpoint is an ordinary shareable file */
    if (fchmod(fd, 0644) != 0) {
        rc = fail(err, err_len, "%s: cannot set the mode of %s: %s", path, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    uint8_t len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int bad = write_all(fd, len_le, 8) || write_all(fd, header, hlen);
    for (size_t i = hlen; i < padded && !bad; i++) bad = write_all(fd, " ", 1);
    for (int i = 0; i < count && !bad; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < tensors[i].ndim; d++) numel *= (uint64_t)tensors[i].shape[d];
        size_t size = dtype_size(tensors[i].dtype ? tensors[i].dtype : "F32");
        bad = write_all(fd, tensors[i].data, (size_t)numel * size); /* x86 and arm64 hosts are little-endian */
    }
    if (bad || fsync(fd) != 0) {
        rc = fail(err, err_len, "%s: writing %s failed: %s", path, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        rc = fail(err, err_len, "%s: cannot move %s into place: %s", path, tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* the rename itself is durable only once the directory is synced */
    char *dir = mz_strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd); /* best effort: some filesystems refuse directory fsync */
        close(dfd);
    }
    free(dir);
out:
    free(tmp);
    cJSON_free(header);
    return rc;
}
