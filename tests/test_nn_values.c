/* Forward values of the NN ops against closed forms (the gradient and
 * parity tests only check self-consistency), the h transform and two-hot
 * identities, AdamW against a plain-C reference, clipping, schedules, EMA,
 * weight init, the parameter block and the arena. Each runs on both
 * backends. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/nn/nn.h"
#include "src/nn/optim.h"
#include "src/nn/params.h"
#include "tests/test_util.h"

static mz_backend *backend_at(int b) { return b == 0 ? test_cpu_backend() : test_emu_backend(); }

static float *dev_upload(mz_backend *be, const float *host, int64_t n) {
    float *d = (float *)be->alloc(be, (size_t)n * sizeof(float));
    be->copy_h2d(be, d, host, (size_t)n * sizeof(float));
    return d;
}
static void dev_download(mz_backend *be, float *host, const float *d, int64_t n) {
    be->copy_d2h(be, host, d, (size_t)n * sizeof(float));
}

/* h(h^-1(y)) and h^-1(h(x)) over [-1e4, 1e4], log-spaced so small values,
 * where the inverse cancels, are covered as well as large ones. */
static void test_h_round_trip(void **state) {
    (void)state;
    enum { N = 4001 };
    float *x = (float *)mz_malloc(N * sizeof(float)), *back = (float *)mz_malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) {
        double mag = pow(10.0, -6.0 + 10.0 * (double)(i / 2) / (double)(N / 2)); /* 1e-6 .. 1e4 */
        x[i] = (float)((i % 2) ? -mag : mag);
    }
    x[N - 1] = 0.0f;
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        float *dx = dev_upload(be, x, N), *dh = (float *)be->alloc(be, N * sizeof(float));
        mz_h_forward(be, dh, dx, N, MZ_H_EPS);
        mz_h_inverse(be, dx, dh, N, MZ_H_EPS);
        dev_download(be, back, dx, N);
        /* float storage of h(x) limits the round trip: ~2 ulp after the inverse */
        assert_close(x, back, N, 0.0, 1e-5, "h^-1(h(x))");
        be->free(be, dx), be->free(be, dh);
    }
    free(x), free(back);
}

/* eps x sits outside the sign: h(-x) = -h(x), and h(-10) matches the formula */
static void test_h_values(void **state) {
    (void)state;
    const float x[4] = {-10.0f, 10.0f, -300.0f, 0.5f};
    float ref[4], got[4];
    for (int i = 0; i < 4; i++) {
        double a = fabs((double)x[i]);
        ref[i] = (float)((x[i] < 0 ? -1.0 : 1.0) * (sqrt(a + 1.0) - 1.0) + 0.001 * x[i]);
    }
    assert_true(fabsf(ref[0] + 2.326625f) < 1e-5f); /* -(sqrt(11) - 1) - 0.01 */
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        float *dx = dev_upload(be, x, 4), *dh = (float *)be->alloc(be, sizeof got);
        mz_h_forward(be, dh, dx, 4, MZ_H_EPS);
        dev_download(be, got, dh, 4);
        assert_close(ref, got, 4, 0.0, 1e-6, "h(x)");
        be->free(be, dx), be->free(be, dh);
    }
}

/* two-hot then expectation returns the input inside the support; outside it
 * clamps to +-S; every row sums to 1 with at most two non-zero atoms */
static void test_two_hot_expectation(void **state) {
    (void)state;
    enum { S = 5, K = 2 * S + 1, N = 9 };
    const float x[N] = {-5.0f, -4.25f, -0.5f, 0.0f, 0.3f, 2.999f, 5.0f, 7.5f, -12.0f};
    float probs[N * K], back[N], expect[N];
    for (int i = 0; i < N; i++) expect[i] = fminf(fmaxf(x[i], -S), S);
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        float *dx = dev_upload(be, x, N), *dp = (float *)be->alloc(be, sizeof probs);
        float *dv = (float *)be->alloc(be, sizeof back);
        mz_two_hot(be, dp, dx, N, S);
        mz_expectation_forward(be, dv, dp, N, S);
        dev_download(be, probs, dp, N * K);
        dev_download(be, back, dv, N);
        assert_close(expect, back, N, 1e-6, 1e-6, "expectation(two_hot(x))");
        for (int r = 0; r < N; r++) {
            float sum = 0.0f;
            int nonzero = 0;
            for (int k = 0; k < K; k++) sum += probs[r * K + k], nonzero += probs[r * K + k] != 0.0f;
            assert_true(fabsf(sum - 1.0f) < 1e-6f);
            assert_true(nonzero >= 1 && nonzero <= 2);
        }
        be->free(be, dx), be->free(be, dp), be->free(be, dv);
    }
}

static void test_small_forwards(void **state) {
    (void)state;
    enum { R = 3, C = 6 };
    float x[R * C], y[R * C], got[R * C], ref[R * C];
    fill_normal(x, R * C, 7);
    fill_normal(y, R * C, 8);
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        float *dx = dev_upload(be, x, R * C), *dy = dev_upload(be, y, R * C);
        float *dout = (float *)be->alloc(be, sizeof got);
        /* positional: sin / cos of n * 10000^(-2i/C), agent n = row % N with N = 3 */
        mz_positional_forward(be, dout, dx, 1, R, C);
        dev_download(be, got, dout, R * C);
        for (int n = 0; n < R; n++)
            for (int c = 0; c < C; c++) {
                double ang = n * pow(10000.0, -(double)(2 * (c / 2)) / C);
                ref[n * C + c] = x[n * C + c] + (float)((c % 2) ? cos(ang) : sin(ang));
            }
        assert_close(ref, got, R * C, 1e-5, 1e-5, "positional");
        /* min-max: each row spans exactly [0, 1] */
        mz_minmax_forward(be, dout, dx, R, C);
        dev_download(be, got, dout, R * C);
        for (int r = 0; r < R; r++) {
            float lo = 1, hi = 0;
            for (int c = 0; c < C; c++) lo = fminf(lo, got[r * C + c]), hi = fmaxf(hi, got[r * C + c]);
            assert_true(lo == 0.0f && fabsf(hi - 1.0f) < 1e-6f);
        }
        /* negative cosine of a row with itself is -1; mse against itself 0 */
        mz_neg_cosine_forward(be, dout, dx, dx, R, C);
        dev_download(be, got, dout, R);
        for (int r = 0; r < R; r++) assert_true(fabsf(got[r] + 1.0f) < 1e-6f);
        mz_mse_forward(be, dout, dx, dy, R, C);
        dev_download(be, got, dout, R);
        for (int r = 0; r < R; r++) {
            double s = 0;
            for (int c = 0; c < C; c++) s += (x[r * C + c] - y[r * C + c]) * (x[r * C + c] - y[r * C + c]);
            ref[r] = (float)(s / C);
        }
        assert_close(ref, got, R, 1e-6, 1e-5, "mse");
        be->free(be, dx), be->free(be, dy), be->free(be, dout);
    }
}

static void test_one_hot_values(void **state) {
    (void)state;
    const int32_t idx[4] = {2, 0, -1, 3};
    float got[4 * 3];
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        int32_t *di = (int32_t *)be->alloc(be, sizeof idx);
        be->copy_h2d(be, di, idx, sizeof idx);
        float *dout = (float *)be->alloc(be, sizeof got);
        mz_one_hot(be, dout, di, 4, 3);
        dev_download(be, got, dout, 12);
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < 3; k++) assert_true(got[r * 3 + k] == (idx[r] == k ? 1.0f : 0.0f));
        be->free(be, di), be->free(be, dout);
    }
}

/* two envs of two agents with 2-float observations: agent rows with ids,
 * and each agent's copy of its env's global state (concatenated obs) */
static void test_agent_input_values(void **state) {
    (void)state;
    const float obs[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float with_ids[16] = {1, 0, 1, 2, 0, 1, 3, 4, 1, 0, 5, 6, 0, 1, 7, 8};
    const float states[16] = {1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 8};
    float got[16];
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        float *dobs = (float *)be->alloc(be, sizeof obs), *dout = (float *)be->alloc(be, sizeof got);
        be->copy_h2d(be, dobs, obs, sizeof obs);
        mz_agent_input(be, dout, dobs, 4, 2, 2, 1, 0, 0, 0);
        dev_download(be, got, dout, 16);
        assert_memory_equal(got, with_ids, sizeof got);
        mz_agent_input(be, dout, dobs, 4, 2, 2, 0, 1, 1, 4);
        dev_download(be, got, dout, 16);
        assert_memory_equal(got, states, sizeof got);
        be->free(be, dobs), be->free(be, dout);
    }
}

/* a sample whose agents are all absent attends to nothing: zero output and
 * zero gradient, never NaN */
static void test_attention_all_masked(void **state) {
    (void)state;
    enum { SB = 2, SN = 3, SNH = 1, SH = 4, QKV = SB * SN * 3 * SH, OUT = SB * SN * SH, P = SB * SNH * SN * SN };
    float qkv[QKV], mask[SB * SN] = {0, 0, 0, 1, 1, 0}, out[OUT], dqkv[QKV], dout[OUT];
    fill_normal(qkv, QKV, 61);
    fill_normal(dout, OUT, 62);
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        float *d_qkv = dev_upload(be, qkv, QKV), *d_mask = dev_upload(be, mask, SB * SN);
        float *d_dout = dev_upload(be, dout, OUT), *d_out = (float *)be->alloc(be, sizeof out);
        float *d_probs = (float *)be->alloc(be, P * sizeof(float)), *d_score = (float *)be->alloc(be, P * sizeof(float));
        float *d_dqkv = (float *)be->alloc(be, sizeof dqkv);
        be->zero(be, d_dqkv, sizeof dqkv);
        mz_attention_forward(be, d_out, d_probs, d_qkv, d_mask, SB, SN, SNH, SH);
        mz_attention_backward(be, d_dqkv, d_score, d_dout, d_probs, d_qkv, SB, SN, SNH, SH);
        dev_download(be, out, d_out, OUT);
        dev_download(be, dqkv, d_dqkv, QKV);
        for (int i = 0; i < SN * SH; i++) assert_true(out[i] == 0.0f);          /* sample 0 */
        for (int i = 0; i < SN * 3 * SH; i++) assert_true(dqkv[i] == 0.0f);
        for (int i = SN * SH; i < OUT; i++) assert_false(isnan(out[i]));        /* sample 1 */
        /* sample 1's absent agent 2 is a key nobody attends to: no k or v gradient */
        for (int i = 0; i < 2 * SH; i++) assert_true(dqkv[(SN + 2) * 3 * SH + SH + i] == 0.0f);
        be->free(be, d_qkv), be->free(be, d_mask), be->free(be, d_dout), be->free(be, d_out);
        be->free(be, d_probs), be->free(be, d_score), be->free(be, d_dqkv);
    }
}

/* dropout: keep rate near 1 - p and kept values scaled by 1 / (1 - p);
 * the identity when not training */
static void test_dropout_modes(void **state) {
    (void)state;
    enum { N = 20000 };
    float *ones = (float *)mz_malloc(N * sizeof(float)), *got = (float *)mz_malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) ones[i] = 1.0f;
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        float *dx = dev_upload(be, ones, N), *dout = (float *)be->alloc(be, N * sizeof(float));
        mz_dropout_forward(be, dout, dx, N, 0.25f, 3, true);
        dev_download(be, got, dout, N);
        int kept = 0;
        for (int i = 0; i < N; i++) {
            assert_true(got[i] == 0.0f || fabsf(got[i] - 1.0f / 0.75f) < 1e-6f);
            kept += got[i] != 0.0f;
        }
        assert_true(fabs(kept / (double)N - 0.75) < 0.015); /* 5 sigma of a binomial mean */
        mz_dropout_forward(be, dout, dx, N, 0.25f, 3, false);
        dev_download(be, got, dout, N);
        assert_memory_equal(ones, got, N * sizeof(float));
        be->free(be, dx), be->free(be, dout);
    }
    free(ones), free(got);
}

/* AdamW with clipping and loss scale against a plain-C reference of the
 * PyTorch formulas, both backends; the pre-clip norm is returned */
static void test_adamw_reference(void **state) {
    (void)state;
    mz_tensor_spec specs[2] = {{"w", 2, {3, 5}}, {"b", 1, {7}}};
    const int64_t n0 = 15, n1 = 7;
    float p_ref[22], m_ref[22] = {0}, v_ref[22] = {0}, g[22], got[22];
    fill_normal(p_ref, 22, 40);
    mz_adamw_config cfg = {0.9f, 0.95f, 1e-8f, 0.01f, 1.5f, 4.0f};
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        mz_params P;
        mz_params_init(&P, be, specs, 2);
        be->copy_h2d(be, mz_params_at(&P, P.values, 0), p_ref, n0 * sizeof(float));
        be->copy_h2d(be, mz_params_at(&P, P.values, 1), p_ref + n0, n1 * sizeof(float));
        float *dot = (float *)be->alloc(be, sizeof(float));
        float ref[22];
        memcpy(ref, p_ref, sizeof ref);
        memset(m_ref, 0, sizeof m_ref), memset(v_ref, 0, sizeof v_ref);
        for (int t = 1; t <= 3; t++) {
            fill_normal(g, 22, 50 + (uint64_t)t);
            for (int i = 0; i < 22; i++) g[i] *= cfg.loss_scale; /* as if the loss had been scaled */
            be->copy_h2d(be, mz_params_at(&P, P.grads, 0), g, n0 * sizeof(float));
            be->copy_h2d(be, mz_params_at(&P, P.grads, 1), g + n0, n1 * sizeof(float));
            float lr = 0.1f;
            float norm = mz_adamw_step(&P, &cfg, lr, t, dot);
            double sq = 0;
            for (int i = 0; i < 22; i++) sq += (double)(g[i] / cfg.loss_scale) * (g[i] / cfg.loss_scale);
            double ref_norm = sqrt(sq), coef = fmin(1.0, cfg.max_grad_norm / (ref_norm + 1e-6));
            assert_true(fabs(norm - ref_norm) <= 1e-5 * ref_norm);
            assert_true(coef < 1.0); /* the case exercises clipping */
            for (int i = 0; i < 22; i++) {
                double gi = g[i] / cfg.loss_scale * coef;
                m_ref[i] = (float)(0.9 * m_ref[i] + 0.1 * gi);
                v_ref[i] = (float)(0.95 * v_ref[i] + 0.05 * gi * gi);
                double mhat = m_ref[i] / (1 - pow(0.9, t)), denom = sqrt(v_ref[i]) / sqrt(1 - pow(0.95, t)) + 1e-8;
                ref[i] = (float)(ref[i] * (1 - lr * 0.01) - lr * mhat / denom * 1.0);
            }
        }
        be->copy_d2h(be, got, mz_params_at(&P, P.values, 0), n0 * sizeof(float));
        be->copy_d2h(be, got + n0, mz_params_at(&P, P.values, 1), n1 * sizeof(float));
        assert_close(ref, got, 22, 1e-6, 1e-5, "AdamW after 3 steps");
        be->free(be, dot);
        mz_params_free(&P);
    }
}

static void test_lr_schedule(void **state) {
    (void)state;
    mz_lr_schedule s = {1e-3f, 10, 100, 1e-4f};
    assert_true(mz_lr_at(&s, 0) == 0.0f);
    assert_true(fabsf(mz_lr_at(&s, 5) - 5e-4f) < 1e-9f);
    assert_true(fabsf(mz_lr_at(&s, 10) - 1e-3f) < 1e-9f);
    assert_true(fabsf(mz_lr_at(&s, 60) - 5.5e-4f) < 1e-9f); /* half way: mean of peak and floor */
    assert_true(fabsf(mz_lr_at(&s, 110) - 1e-4f) < 1e-9f);
    assert_true(fabsf(mz_lr_at(&s, 10000) - 1e-4f) < 1e-9f);
    mz_lr_schedule constant = {3e-4f, 0, 0, 0.0f};
    assert_true(mz_lr_at(&constant, 0) == 3e-4f && mz_lr_at(&constant, 123456) == 3e-4f);
}

static void test_ema_and_init(void **state) {
    (void)state;
    enum { N = 4096 };
    float *host = (float *)mz_malloc(N * sizeof(float)), *other = (float *)mz_malloc(N * sizeof(float));
    for (int b = 0; b < 2; b++) {
        mz_backend *be = backend_at(b);
        float *w = (float *)be->alloc(be, N * sizeof(float)), *ema = (float *)be->alloc(be, N * sizeof(float));
        /* Kaiming: std sqrt(2 / fan_in); the same draws on both backends */
        mz_init_weights(be, w, N, 32, 128, MZ_INIT_KAIMING, 9, 1);
        dev_download(be, host, w, N);
        double sq = 0;
        for (int i = 0; i < N; i++) sq += (double)host[i] * host[i];
        assert_true(fabs(sqrt(sq / N) / sqrt(2.0 / 32) - 1.0) < 0.05);
        if (b == 1) {
            mz_backend *cpu = backend_at(0);
            float *wc = (float *)cpu->alloc(cpu, N * sizeof(float));
            mz_init_weights(cpu, wc, N, 32, 128, MZ_INIT_KAIMING, 9, 1);
            cpu->copy_d2h(cpu, other, wc, N * sizeof(float));
            assert_memory_equal(host, other, N * sizeof(float));
            cpu->free(cpu, wc);
        }
        /* EMA: ema = 0.9 ema + 0.1 w from ema = 0 */
        be->zero(be, ema, N * sizeof(float));
        mz_ema_update(be, ema, w, N, 0.9f);
        dev_download(be, other, ema, N);
        for (int i = 0; i < N; i++) assert_true(fabsf(other[i] - 0.1f * host[i]) <= 1e-6f * (1 + fabsf(host[i])));
        mz_init_weights(be, w, N, 32, 128, MZ_INIT_ZERO, 9, 1);
        dev_download(be, host, w, N);
        for (int i = 0; i < N; i++) assert_true(host[i] == 0.0f);
        be->free(be, w), be->free(be, ema);
    }
    free(host), free(other);
}

/* the arena refuses to hand out more than it was sized for, naming the user */
static void arena_overflow(void *arg) {
    (void)arg;
    mz_arena a;
    mz_arena_init(&a, test_cpu_backend(), 100);
    (void)mz_arena_take(&a, 64, "first");
    (void)mz_arena_take(&a, 64, "second tensor");
}

static void test_params_and_arena(void **state) {
    (void)state;
    mz_tensor_spec specs[3] = {{"a", 1, {3}}, {"b", 2, {65, 2}}, {"c", 1, {1}}};
    mz_params P;
    mz_params_init(&P, test_cpu_backend(), specs, 3);
    assert_int_equal(mz_params_find(&P, "b"), 1);
    assert_int_equal(mz_params_find(&P, "zz"), -1);
    assert_true(mz_params_at(&P, P.values, 1) - P.values == 64);  /* aligned starts */
    assert_true(mz_params_at(&P, P.values, 2) - P.values == 256); /* 130 rounds to 192 */
    assert_true(P.grads == P.values + P.total && P.adam_v == P.values + 3 * P.total);
    mz_params_free(&P);
    mz_arena m;
    mz_arena_measure(&m);
    assert_null(mz_arena_take(&m, 10, "x"));
    (void)mz_arena_take(&m, 100, "y");
    assert_int_equal(m.used, 64 + 128);
    char err[512];
    int rc = run_in_child(arena_overflow, NULL, err, sizeof err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "second tensor"));
}

/* a host pointer handed to an emulated-CUDA op fails as on a GPU */
static void relu_into_host_memory(void *arg) {
    (void)arg;
    mz_backend *be = test_emu_backend();
    float host_out[8], *dev_in = (float *)be->alloc(be, sizeof host_out);
    mz_relu_forward(be, host_out, dev_in, 8);
}

static void test_host_pointer_refused(void **state) {
    (void)state;
    char err[512];
    assert_int_equal(run_in_child(relu_into_host_memory, NULL, err, sizeof err), 1);
    assert_non_null(strstr(err, "relu_forward output"));
}

/* Row gather/scatter against hand-written results, both backends. */
static void test_gather_scatter_rows(void **state) {
    (void)state;
    enum { TREES = 2, NODES = 3, W = 2 };
    const float table[TREES * NODES * W] = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15};
    const int32_t node[TREES] = {2, 1};
    for (int k = 0; k < 2; k++) {
        mz_backend *be = k ? test_emu_backend() : test_cpu_backend();
        float *dtable = (float *)be->alloc(be, sizeof table), *drows = (float *)be->alloc(be, 3 * W * sizeof(float));
        int32_t *dnode = (int32_t *)be->alloc(be, sizeof node);
        be->copy_h2d(be, dtable, table, sizeof table);
        be->copy_h2d(be, dnode, node, sizeof node);
        float got[3 * W];
        mz_gather_rows(be, drows, dtable, dnode, TREES, W, 1, NODES); /* tree 0 node 2, tree 1 node 1 */
        be->copy_d2h(be, got, drows, TREES * W * sizeof(float));
        assert_true(got[0] == 4 && got[1] == 5 && got[2] == 12 && got[3] == 13);
        mz_gather_rows(be, drows, dtable, NULL, 3, W, 2, 3); /* rows 0, 0, 3 */
        be->copy_d2h(be, got, drows, 3 * W * sizeof(float));
        assert_true(got[0] == 0 && got[1] == 1 && got[2] == 0 && got[3] == 1 && got[4] == 10 && got[5] == 11);
        const float rows[TREES * W] = {-1, -2, -3, -4};
        be->copy_h2d(be, drows, rows, sizeof rows);
        mz_scatter_rows(be, dtable, drows, dnode, TREES, W, NODES);
        float after[TREES * NODES * W];
        be->copy_d2h(be, after, dtable, sizeof after);
        assert_true(after[4] == -1 && after[5] == -2 && after[8] == -3 && after[9] == -4);
        assert_true(after[0] == 0 && after[2] == 2 && after[6] == 10 && after[10] == 14); /* others untouched */
        mz_scatter_rows(be, dtable, drows, NULL, TREES, W, NODES); /* the roots */
        be->copy_d2h(be, after, dtable, sizeof after);
        assert_true(after[0] == -1 && after[1] == -2 && after[6] == -3 && after[7] == -4);
        be->free(be, dtable), be->free(be, drows), be->free(be, dnode);
    }
}

static int run_group(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_scatter_rows), cmocka_unit_test(test_h_round_trip),      cmocka_unit_test(test_h_values),
        cmocka_unit_test(test_two_hot_expectation), cmocka_unit_test(test_small_forwards),
        cmocka_unit_test(test_one_hot_values),      cmocka_unit_test(test_agent_input_values),
        cmocka_unit_test(test_dropout_modes),
        cmocka_unit_test(test_attention_all_masked), cmocka_unit_test(test_host_pointer_refused),
        cmocka_unit_test(test_adamw_reference),   cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_ema_and_init),      cmocka_unit_test(test_params_and_arena),
    };
    return MZ_RUN_GROUP("nn_values", tests);
}

MZ_TEST_GROUP("nn_values", run_group)
