/* NN benchmarks. The MLP is linear-ReLU-linear-ReLU-linear at width H on a
 * batch of B rows; a step is forward plus backward (input and weight
 * gradients, biases included): 3 layers x (2 + 4) B H^2 flops. The block
 * is src/nn/transformer.c over N agents (MLP 4H, dropout off): per row
 * 24 H^2 flops forward in its four linears plus 4 N H in attention, and
 * twice that backward. Each rate sits next to the gemm of the MLP's own
 * layer shape and a 1024^3 gemm, timed in the same run. */
#include "bench/bench_nn.h"
#include "bench/bench_util.h"

#include <cblas.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "src/check.h"
#include "src/nn/nn.h"
#include "src/nn/params.h"
#include "src/nn/transformer.h"
#include "src/clock.h"

#define MIN_SECONDS 0.25

typedef struct {
    char what[32];
    int B, H, N;
    double gflops;      /* achieved */
    double gemm_gflops; /* gemm of the layer shape (H x B x H) */
    double ms;          /* per step */
} nn_row;

typedef void (*step_fn)(mz_backend *be, void *ctx);

/* seconds per call of fn, repeated for at least MIN_SECONDS after a warm-up */
static double time_it(mz_backend *be, step_fn fn, void *ctx) {
    fn(be, ctx);
    be->sync(be);
    long calls = 0;
    double start = mz_clock_seconds(), elapsed;
    do {
        fn(be, ctx);
        be->sync(be);
        calls++;
        elapsed = mz_clock_seconds() - start;
    } while (elapsed < MIN_SECONDS || calls < 3);
    return elapsed / (double)calls;
}

typedef struct {
    int M, N, K;
    float *a, *b, *c;
} gemm_ctx;

static void gemm_step(mz_backend *be, void *p) {
    gemm_ctx *g = (gemm_ctx *)p;
    be->gemm(be, true, false, g->M, g->N, g->K, 1.0f, g->a, g->K, g->b, g->K, 0.0f, g->c, g->M);
}

static double gemm_rate(mz_backend *be, int M, int N, int K) {
    gemm_ctx g = {M, N, K, NULL, NULL, NULL};
    g.a = (float *)be->alloc(be, (size_t)M * K * sizeof(float));
    g.b = (float *)be->alloc(be, (size_t)K * N * sizeof(float));
    g.c = (float *)be->alloc(be, (size_t)M * N * sizeof(float));
    be->rng_fill(be, (int64_t)M * K, g.a, MZ_RNG_NORMAL, 0.0f, 1, 0, 0);
    be->rng_fill(be, (int64_t)K * N, g.b, MZ_RNG_NORMAL, 0.0f, 1, 1, 0);
    double s = time_it(be, gemm_step, &g);
    be->free(be, g.a), be->free(be, g.b), be->free(be, g.c);
    return 2.0 * M * N * K / s / 1e9;
}

/* ---- MLP ------------------------------------------------------------------- */

enum { MLP_LAYERS = 3 };

typedef struct {
    int B, H;
    mz_params params;
    float *w[MLP_LAYERS], *b[MLP_LAYERS], *dw[MLP_LAYERS], *db[MLP_LAYERS];
    mz_arena arena;
    float *x, *ones, *dout;
    float *pre[MLP_LAYERS], *act[MLP_LAYERS], *dact[MLP_LAYERS], *dpre[MLP_LAYERS];
} mlp_ctx;

static void mlp_step(mz_backend *be, void *p) {
    mlp_ctx *m = (mlp_ctx *)p;
    int B = m->B, H = m->H;
    size_t bytes = (size_t)B * H * sizeof(float);
    const float *in = m->x;
    for (int l = 0; l < MLP_LAYERS; l++) {
        mz_linear_forward(be, m->pre[l], in, m->w[l], m->b[l], B, H, H);
        if (l + 1 < MLP_LAYERS) mz_relu_forward(be, m->act[l], m->pre[l], (int64_t)B * H);
        in = l + 1 < MLP_LAYERS ? m->act[l] : m->pre[l];
    }
    mz_params_zero_grads(&m->params);
    const float *d = m->dout;
    for (int l = MLP_LAYERS - 1; l >= 0; l--) {
        const float *layer_in = l == 0 ? m->x : m->act[l - 1];
        float *dinp = l == 0 ? NULL : m->dact[l - 1];
        if (dinp) be->zero(be, dinp, bytes);
        mz_linear_backward(be, dinp, m->dw[l], m->db[l], d, layer_in, m->w[l], m->ones, B, H, H);
        if (l > 0) {
            be->zero(be, m->dpre[l - 1], bytes);
            mz_relu_backward(be, m->dpre[l - 1], m->dact[l - 1], m->pre[l - 1], (int64_t)B * H);
            d = m->dpre[l - 1];
        }
    }
}

static void mlp_take(mlp_ctx *m, mz_arena *a) {
    int64_t n = (int64_t)m->B * m->H;
    m->x = mz_arena_take(a, n, "x");
    m->ones = mz_arena_take(a, m->B, "ones");
    m->dout = mz_arena_take(a, n, "dout");
    for (int l = 0; l < MLP_LAYERS; l++) {
        m->pre[l] = mz_arena_take(a, n, "pre");
        m->act[l] = mz_arena_take(a, n, "act");
        m->dact[l] = mz_arena_take(a, n, "dact");
        m->dpre[l] = mz_arena_take(a, n, "dpre");
    }
}

static void bench_mlp(mz_backend *be, int B, int H, nn_row *row) {
    mlp_ctx m;
    memset(&m, 0, sizeof m);
    m.B = B, m.H = H;
    mz_tensor_spec specs[2 * MLP_LAYERS];
    memset(specs, 0, sizeof specs);
    for (int l = 0; l < MLP_LAYERS; l++) {
        snprintf(specs[2 * l].name, sizeof specs[2 * l].name, "l%d.weight", l);
        specs[2 * l].ndim = 2, specs[2 * l].shape[0] = H, specs[2 * l].shape[1] = H;
        snprintf(specs[2 * l + 1].name, sizeof specs[2 * l + 1].name, "l%d.bias", l);
        specs[2 * l + 1].ndim = 1, specs[2 * l + 1].shape[0] = H;
    }
    mz_params_init(&m.params, be, specs, 2 * MLP_LAYERS);
    for (int l = 0; l < MLP_LAYERS; l++) {
        m.w[l] = mz_params_at(&m.params, m.params.values, 2 * l);
        m.b[l] = mz_params_at(&m.params, m.params.values, 2 * l + 1);
        m.dw[l] = mz_params_at(&m.params, m.params.grads, 2 * l);
        m.db[l] = mz_params_at(&m.params, m.params.grads, 2 * l + 1);
        mz_init_weights(be, m.w[l], (int64_t)H * H, H, H, MZ_INIT_KAIMING, 3, (uint32_t)l);
    }
    mz_arena_measure(&m.arena);
    mlp_take(&m, &m.arena);
    mz_arena_init(&m.arena, be, m.arena.used);
    mlp_take(&m, &m.arena);
    mz_fill(be, m.ones, B, 1.0f);
    be->rng_fill(be, (int64_t)B * H, m.x, MZ_RNG_NORMAL, 0.0f, 5, 0, 0);
    be->rng_fill(be, (int64_t)B * H, m.dout, MZ_RNG_NORMAL, 0.0f, 5, 1, 0);
    double s = time_it(be, mlp_step, &m);
    snprintf(row->what, sizeof row->what, "mlp fwd+bwd");
    row->B = B, row->H = H, row->N = 0;
    row->ms = 1e3 * s;
    row->gflops = MLP_LAYERS * 6.0 * B * (double)H * H / s / 1e9;
    row->gemm_gflops = gemm_rate(be, H, B, H);
    mz_arena_free(&m.arena);
    mz_params_free(&m.params);
}

/* ---- transformer block -------------------------------------------------------- */

typedef struct {
    int B;
    mz_params params;
    mz_block_weights w, g;
    mz_block_acts acts;
    mz_arena arena;
    float *x, *dx, *dout;
} block_ctx;

static void block_step(mz_backend *be, void *p) {
    block_ctx *c = (block_ctx *)p;
    mz_block_forward(be, &c->acts, &c->w, c->x, NULL, c->B, false, 0);
    mz_params_zero_grads(&c->params);
    be->zero(be, c->dx, (size_t)c->acts.max_rows * c->acts.H * sizeof(float));
    mz_block_backward(be, &c->acts, &c->w, &c->g, c->dx, c->dout, c->x, c->B);
}

static void block_take(block_ctx *c, mz_arena *a, int N, int NH, int H, float **ones) {
    int64_t R = (int64_t)c->B * N;
    *ones = mz_arena_take(a, R, "ones");
    c->x = mz_arena_take(a, R * H, "x");
    c->dx = mz_arena_take(a, R * H, "dx");
    c->dout = mz_arena_take(a, R * H, "dout");
    mz_block_acts_take(&c->acts, a, (int)R, N, NH, H, 4 * H, 0.0f, *ones);
}

static void bench_block(mz_backend *be, int B, int N, int H, nn_row *row) {
    const int NH = 4;
    block_ctx c;
    memset(&c, 0, sizeof c);
    c.B = B;
    mz_tensor_spec specs[MZ_BLOCK_TENSORS];
    mz_block_specs(specs, "", H, 4 * H);
    mz_params_init(&c.params, be, specs, MZ_BLOCK_TENSORS);
    mz_block_bind(&c.w, &c.params, c.params.values, 0);
    mz_block_bind(&c.g, &c.params, c.params.grads, 0);
    mz_block_init(be, &c.w, H, 4 * H, 11);
    float *ones;
    mz_arena_measure(&c.arena);
    block_take(&c, &c.arena, N, NH, H, &ones);
    mz_arena_init(&c.arena, be, c.arena.used);
    block_take(&c, &c.arena, N, NH, H, &ones);
    int64_t R = (int64_t)B * N;
    mz_fill(be, ones, R, 1.0f);
    be->rng_fill(be, R * H, c.x, MZ_RNG_NORMAL, 0.0f, 6, 0, 0);
    be->rng_fill(be, R * H, c.dout, MZ_RNG_NORMAL, 0.0f, 6, 1, 0);
    double s = time_it(be, block_step, &c);
    snprintf(row->what, sizeof row->what, "block fwd+bwd");
    row->B = (int)R, row->H = H, row->N = N;
    row->ms = 1e3 * s;
    row->gflops = 3.0 * (24.0 * R * H * (double)H + 4.0 * R * N * (double)H) / s / 1e9;
    row->gemm_gflops = gemm_rate(be, H, (int)R, H);
    mz_arena_free(&c.arena);
    mz_params_free(&c.params);
}

int mz_bench_nn(mz_backend *be, const char *device_desc, const char *json_path) {
    static const int hidden[] = {128, 256, 512}, batch[] = {256, 1024, 2048, 8192};
    static const struct {
        int samples, agents, width;
    } blocks[] = {{256, 3, 128}, {1024, 3, 128}, {512, 8, 128}, {1024, 3, 256}};
    enum { N_ROWS = 3 * 4 + 4 };
    nn_row rows[N_ROWS];
    int n = 0;
    printf("nn benchmark on %s\n", device_desc);
    const char *wait = getenv("OMP_WAIT_POLICY");
    if (be->kind == MZ_BACKEND_CPU && openblas_get_parallel() == 1 && (!wait || strcasecmp(wait, "passive") != 0))
        printf("note: this binary uses OpenBLAS's pthread build, whose threads OpenMP threads spinning\n"
               "      between kernels starve (steps up to 100x slower): install libopenblas-openmp-dev and\n"
               "      rebuild (make deps does), or set OMP_WAIT_POLICY=passive\n");
    double peak = gemm_rate(be, 1024, 1024, 1024);
    printf("gemm 1024x1024x1024: %.1f GFLOP/s (reference for the %% column)\n", peak);
    printf("%-14s %6s %5s %3s %10s %10s %14s %8s %8s\n", "what", "rows", "H", "N", "ms/step", "GFLOP/s",
           "gemm(HxBxH)", "%shape", "%1024");
    for (int h = 0; h < 3; h++)
        for (int b = 0; b < 4; b++) bench_mlp(be, batch[b], hidden[h], &rows[n++]);
    for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++)
        bench_block(be, blocks[k].samples, blocks[k].agents, blocks[k].width, &rows[n++]);
    for (int i = 0; i < n; i++)
        printf("%-14s %6d %5d %3d %10.3f %10.1f %14.1f %7.0f%% %7.0f%%\n", rows[i].what, rows[i].B, rows[i].H,
               rows[i].N, rows[i].ms, rows[i].gflops, rows[i].gemm_gflops, 100.0 * rows[i].gflops / rows[i].gemm_gflops,
               100.0 * rows[i].gflops / peak);
    if (!json_path) return 0;
    cJSON *out = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(out, "rows");
    MZ_CHECK(out && list, "cJSON: out of memory");
    cJSON_AddStringToObject(out, "device", device_desc);
    cJSON_AddNumberToObject(out, "gemm_1024_gflops", peak);
    for (int i = 0; i < n; i++) {
        cJSON *row = cJSON_CreateObject();
        MZ_CHECK(row, "cJSON: out of memory");
        cJSON_AddStringToObject(row, "what", rows[i].what);
        cJSON_AddNumberToObject(row, "rows", rows[i].B);
        cJSON_AddNumberToObject(row, "hidden", rows[i].H);
        cJSON_AddNumberToObject(row, "agents", rows[i].N);
        cJSON_AddNumberToObject(row, "ms_per_step", rows[i].ms);
        cJSON_AddNumberToObject(row, "gflops", rows[i].gflops);
        cJSON_AddNumberToObject(row, "gemm_layer_gflops", rows[i].gemm_gflops);
        cJSON_AddItemToArray(list, row);
    }
    int rc = mz_bench_write_json(out, json_path, "nn");
    cJSON_Delete(out);
    return rc;
}
