/* safetensors: checkpoint round trips on both backends, atomic writes, clear
 * errors for bad files, a few hundred mutated files through the loader
 * (run under ASan by `make asan`), and files exchanged with the Python
 * `safetensors` package (tests/fixtures/gen_safetensors_fixture.py). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/check.h"
#include "src/nn/checkpoint.h"
#include "src/rng.h"
#include "src/safetensors.h"
#include "tests/test_util.h"

#define FIXTURE_DIR "tests/fixtures/"

static char tmpdir[256];

static int make_tmpdir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mz_st_test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) {
    (void)state;
    DIR *d = opendir(tmpdir);
    if (!d) return 0;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(tmpdir);
    return 0;
}

static const mz_tensor_spec SPECS[3] = {{"enc.weight", 2, {3, 5}}, {"enc.bias", 1, {3}}, {"head.weight", 2, {2, 3}}};

static void fill_params(mz_params *p, uint64_t seed) {
    float *host = (float *)mz_calloc((size_t)p->total, sizeof(float));
    for (int i = 0; i < p->count; i++) fill_normal(host + p->offset[i], mz_tensor_numel(&p->specs[i]), seed + (uint64_t)i);
    p->be->copy_h2d(p->be, p->values, host, (size_t)p->total * sizeof(float));
    free(host);
}

static void test_checkpoint_round_trip(void **state) {
    (void)state;
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    for (int b = 0; b < 2; b++) {
        mz_backend *be = b == 0 ? test_cpu_backend() : test_emu_backend();
        mz_params a, c;
        mz_params_init(&a, be, SPECS, 3);
        mz_params_init(&c, be, SPECS, 3);
        fill_params(&a, 10);
        assert_int_equal(mz_checkpoint_save(path, &a, false, "{\"hidden\":3}", 1234, err, sizeof err), 0);
        assert_int_equal(mz_checkpoint_save(path, &a, false, "{\"hidden\":3}", 1234, err, sizeof err), 0); /* overwrite */
        int64_t step = 0;
        char *cfg = NULL;
        /* a values-only file cannot resume an optimiser */
        assert_int_equal(mz_checkpoint_load(path, &c, true, &step, &cfg, err, sizeof err), -1);
        assert_non_null(strstr(err, "tensor 'adam_m.enc.weight' missing"));
        assert_int_equal(mz_checkpoint_load(path, &c, false, &step, &cfg, err, sizeof err), 0);
        assert_int_equal(step, 1234);
        assert_string_equal(cfg, "{\"hidden\":3}");
        free(cfg);
        float *x = (float *)mz_malloc((size_t)a.total * sizeof(float)), *y = (float *)mz_malloc((size_t)a.total * sizeof(float));
        be->copy_d2h(be, x, a.values, (size_t)a.total * sizeof(float));
        be->copy_d2h(be, y, c.values, (size_t)a.total * sizeof(float));
        assert_memory_equal(x, y, (size_t)a.total * sizeof(float));
        /* with the optimiser: both moments come back; without, they are ignored */
        be->rng_fill(be, a.total, a.adam_m, MZ_RNG_NORMAL, 0.0f, 1, 1, 0);
        be->rng_fill(be, a.total, a.adam_v, MZ_RNG_UNIFORM, 0.0f, 1, 2, 0);
        assert_int_equal(mz_checkpoint_save(path, &a, true, NULL, 7, err, sizeof err), 0);
        be->zero(be, c.adam_m, (size_t)c.total * 2 * sizeof(float)); /* m and v are adjacent blocks */
        assert_int_equal(mz_checkpoint_load(path, &c, false, &step, NULL, err, sizeof err), 0);
        be->copy_d2h(be, y, c.adam_m, (size_t)a.total * sizeof(float));
        for (int64_t i = 0; i < a.total; i++) assert_true(y[i] == 0.0f);
        assert_int_equal(mz_checkpoint_load(path, &c, true, &step, NULL, err, sizeof err), 0);
        assert_int_equal(step, 7);
        for (int blk = 0; blk < 2; blk++) {
            be->copy_d2h(be, x, blk ? a.adam_v : a.adam_m, (size_t)a.total * sizeof(float));
            be->copy_d2h(be, y, blk ? c.adam_v : c.adam_m, (size_t)a.total * sizeof(float));
            for (int i = 0; i < a.count; i++)
                assert_memory_equal(x + a.offset[i], y + a.offset[i], (size_t)mz_tensor_numel(&a.specs[i]) * sizeof(float));
        }
        free(x), free(y);
        mz_params_free(&a), mz_params_free(&c);
    }
    /* atomic write: only the file itself is left, no temporary */
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            files++;
            assert_string_equal(e->d_name, "model.safetensors");
        }
    closedir(d);
    assert_int_equal(files, 1);
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = mz_fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = (uint8_t *)mz_malloc((size_t)n + 1);
    MZ_CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len) {
    FILE *f = mz_fopen(path, "wb");
    MZ_CHECK(fwrite(buf, 1, len, f) == len, "short write of %s", path);
    fclose(f);
}

/* a valid checkpoint of SPECS in memory */
static uint8_t *valid_file(size_t *len) {
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/valid.safetensors", tmpdir);
    mz_params a;
    mz_params_init(&a, test_cpu_backend(), SPECS, 3);
    fill_params(&a, 20);
    MZ_CHECK(mz_checkpoint_save(path, &a, false, "{}", 5, err, sizeof err) == 0, "%s", err);
    mz_params_free(&a);
    uint8_t *buf = slurp(path, len);
    unlink(path);
    return buf;
}

static void expect_load_error(const uint8_t *buf, size_t len, const char *needle) {
    char path[300], err[512] = "";
    snprintf(path, sizeof path, "%s/bad.safetensors", tmpdir);
    spit(path, buf, len);
    mz_params p;
    mz_params_init(&p, test_cpu_backend(), SPECS, 3);
    int rc = mz_checkpoint_load(path, &p, false, NULL, NULL, err, sizeof err);
    if (rc == 0 || !strstr(err, needle)) fail_msg("expected an error containing '%s', got rc %d: '%s'", needle, rc, err);
    mz_params_free(&p);
    unlink(path);
}

static void test_bad_files(void **state) {
    (void)state;
    size_t len;
    uint8_t *good = valid_file(&len);
    uint8_t *buf = (uint8_t *)mz_malloc(len + 64);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | good[i];
    /* truncated: in the data, in the header, inside the length word */
    expect_load_error(good, len - 3, "truncated");
    expect_load_error(good, 8 + (size_t)hlen / 2, "truncated");
    expect_load_error(good, 5, "shorter than the 8-byte header length");
    /* oversized header length */
    memcpy(buf, good, len);
    for (int i = 0; i < 8; i++) buf[i] = 0xff;
    expect_load_error(buf, len, "exceeds");
    /* shape mismatch: enc.weight written as [5, 3] */
    memcpy(buf, good, len);
    char *at = strstr((char *)buf + 8, "[3,5]");
    assert_non_null(at);
    memcpy(at, "[5,3]", 5);
    expect_load_error(buf, len, "has shape [5, 3], the model needs [3, 5]");
    /* a tensor the model lacks, and one missing: rename head.weight */
    memcpy(buf, good, len);
    at = strstr((char *)buf + 8, "head.weight");
    assert_non_null(at);
    at[0] = 'x';
    expect_load_error(buf, len, "missing");
    /* wrong dtype with the same byte count: F32 -> I32 */
    memcpy(buf, good, len);
    at = strstr((char *)buf + 8, "\"F32\"");
    assert_non_null(at);
    at[1] = 'I';
    expect_load_error(buf, len, "is I32, the model needs F32");
    /* trailing garbage after the tensors */
    memcpy(buf, good, len);
    memset(buf + len, 0, 4);
    expect_load_error(buf, len + 4, "the tensors cover");
    /* not JSON */
    memcpy(buf, good, len);
    buf[8] = '[';
    expect_load_error(buf, len, "does not start with '{'");
    expect_load_error((const uint8_t *)"", 0, "shorter");
    free(buf);
    free(good);
}

/* Mutated files through the parser: it must return, never crash or read out
 * of bounds (ASan), and a file it accepts must have every tensor inside it. */
static void test_fuzz_loader(void **state) {
    (void)state;
    size_t len;
    uint8_t *good = valid_file(&len);
    uint8_t *buf = (uint8_t *)mz_malloc(len + 256);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | good[i];
    const int N = 600;
    int accepted = 0;
    char err[512];
    for (int it = 0; it < N; it++) {
        mz_rng r;
        mz_rng_init(&r, 99, 0, (uint64_t)it);
        memcpy(buf, good, len);
        size_t n = len;
        int kind = it % 6;
        uint32_t u = mz_rng_u32(&r);
        size_t pos_header = 8 + u % hlen;
        switch (kind) {
        case 0: buf[pos_header] ^= (uint8_t)(1u << (mz_rng_u32(&r) % 8)); break;           /* bit flip */
        case 1: buf[pos_header] = "{}[]\",:0123456789-e.E \\"[mz_rng_u32(&r) % 24]; break; /* JSON token */
        case 2: n = u % len; break;                                                            /* truncate */
        case 3: /* header length word */
            for (int i = 0; i < 8; i++) buf[i] = i < 3 ? (uint8_t)mz_rng_u32(&r) : (i < 4 ? buf[i] : 0);
            break;
        case 4: { /* a run of random bytes in the header */
            for (int i = 0; i < 4; i++) buf[(pos_header + (size_t)i) % (8 + hlen)] = (uint8_t)mz_rng_u32(&r);
            break;
        }
        default: { /* digits inside numbers grow: offsets and dims out of range */
            char *digit = strpbrk((char *)buf + 8 + u % (hlen / 2), "0123456789");
            if (digit && digit < (char *)buf + 8 + hlen) *digit = '9';
            break;
        }
        }
        mz_st_file f;
        if (mz_st_parse(buf, n, "fuzz", &f, err, sizeof err) == 0) {
            accepted++;
            for (int t = 0; t < f.count; t++)
                assert_true(f.tensors[t].data >= f.file && f.tensors[t].data + f.tensors[t].bytes <= f.file + f.file_bytes);
            mz_st_free(&f);
        } else {
            assert_true(strlen(err) > 0);
        }
    }
    assert_true(accepted < N); /* most mutations must be caught */
    free(buf);
    free(good);
}

/* written by Python's safetensors (tests/fixtures/gen_safetensors_fixture.py) */
static void test_read_python_file(void **state) {
    (void)state;
    mz_st_file f;
    char err[512];
    assert_int_equal(mz_st_read(FIXTURE_DIR "safetensors_python.safetensors", &f, err, sizeof err), 0);
    assert_string_equal(mz_st_meta(&f, "written_by"), "python safetensors");
    const mz_st_tensor *a = mz_st_find(&f, "a"), *ints = mz_st_find(&f, "ints"), *d = mz_st_find(&f, "d");
    assert_non_null(a), assert_non_null(ints), assert_non_null(d);
    assert_string_equal(a->dtype, "F32");
    assert_int_equal(a->ndim, 2), assert_int_equal(a->shape[0], 2), assert_int_equal(a->shape[1], 3);
    float av[6];
    memcpy(av, a->data, sizeof av);
    for (int i = 0; i < 6; i++) assert_true(av[i] == 0.5f * (float)i - 1.0f);
    assert_string_equal(ints->dtype, "I32");
    int32_t iv[3];
    memcpy(iv, ints->data, sizeof iv);
    assert_true(iv[0] == 1 && iv[1] == -2 && iv[2] == 3);
    assert_string_equal(d->dtype, "F64");
    double dv[2];
    memcpy(dv, d->data, sizeof dv);
    assert_true(dv[0] == 0.1 && dv[1] == -1e300);
    mz_st_free(&f);
}

/* what Python's safetensors reads back (checked by the generator script) is
 * exactly what the writer produces today */
static void test_writer_bytes_match_fixture(void **state) {
    (void)state;
    const int64_t shape_w[2] = {2, 3}, shape_b[1] = {3};
    const float w[6] = {-0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f}, bias[3] = {1.0f, 2.0f, 3.0f};
    mz_st_write_tensor t[2] = {{"layer.weight", 2, shape_w, w, NULL}, {"layer.bias", 1, shape_b, bias, "F32"}};
    const char *keys[2] = {"step", "config"}, *values[2] = {"7", "{\"hidden\":3}"};
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/mazero_written.safetensors", tmpdir);
    assert_int_equal(mz_st_write(path, t, 2, keys, values, 2, err, sizeof err), 0);
    size_t n_ours, n_fixture;
    uint8_t *ours = slurp(path, &n_ours), *fixture = slurp(FIXTURE_DIR "safetensors_mazero.safetensors", &n_fixture);
    assert_int_equal(n_ours, n_fixture);
    assert_memory_equal(ours, fixture, n_ours);
    free(ours), free(fixture);
    unlink(path);
}

#define ST_TEST(fn) cmocka_unit_test_setup_teardown(fn, make_tmpdir, remove_tmpdir)

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        ST_TEST(test_checkpoint_round_trip), ST_TEST(test_bad_files),
        ST_TEST(test_fuzz_loader),           ST_TEST(test_read_python_file),
        ST_TEST(test_writer_bytes_match_fixture),
    };
    return MZ_RUN_GROUP("safetensors", tests);
}

MZ_TEST_GROUP("safetensors", run_group)
