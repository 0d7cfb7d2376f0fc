/* Sync MuZero end to end on games with known optima, within a fixed
 * budget: the climbing game (optimum 11; independent learners settle on 7
 * or 5) with joint Gumbel MuZero search of 16 simulations on raw Q values,
 * 2400 env steps, every seed; and the 2-agent chain of length 5 (optimum
 * 1 - 0.01 * 3 = 0.97) with joint Gumbel search of 16 simulations, 6000
 * env steps, 14 of 16 seeds (16 of 16 here, 93 of 96 measured). A seed counts
 * when both the greedy search policy and the greedy prior reach the
 * optimum. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/mazero_train.h"
#include "actors/sync.h"
#include "src/nn/checkpoint.h"
#include "src/safetensors.h"
#include "tests/test_util.h"

static sync_config base_config(const char *env, const char *scenario, uint64_t seed) {
    sync_config c;
    memset(&c, 0, sizeof c);
    char err[256];
    assert_int_equal(mz_env_params_resolve(&c.env, env, scenario, 0, seed, err, sizeof err), 0);
    c.model.H = 16, c.model.F = 32, c.model.head_F = 32, c.model.P = 16, c.model.S = 10;
    c.model.comm_layers = 0, c.model.zero_init = 1;
    c.model.coef_reward = 1.0f, c.model.coef_value = 0.25f, c.model.coef_policy = 1.0f;
    c.model.coef_consistency = 2.0f, c.model.hidden_grad_scale = 0.5f, c.model.seed = seed;
    mcts_params_default(&c.search, MCTS_GUMBEL_MUZERO, 16);
    c.search.seed = seed;
    c.mode = MCTS_MA_JOINT;
    c.joint_limit = 64;
    c.replay.T = 256, c.replay.alpha = 0.6f, c.replay.beta0 = 0.4f, c.replay.beta_steps = 1000;
    c.learner.batch = 32;
    c.learner.adamw = (mz_adamw_config){0.9f, 0.999f, 1e-8f, 1e-4f, 5.0f, 1.0f};
    c.learner.lr = (mz_lr_schedule){3e-3f, 20, 0, 3e-3f};
    c.eval_envs = 8;
    c.seed = seed;
    return c;
}

/* A run of c trained to its env-step budget on the CPU; its last
 * position in *r. */
static sync_run *trained_run(const sync_config *c, sync_result *r) {
    char err[256];
    sync_run *s = sync_create(test_cpu_backend(), c, err, sizeof err);
    if (!s) fail_msg("%s", err);
    memset(r, 0, sizeof *r);
    while (sync_iterate(s, r)) {
    }
    return s;
}

/* Trains one seed's config; 1 if both the greedy search policy and the
 * greedy prior end within tol of the optimum. The search's return is
 * also returned in *with. */
static int run_to_optimum(sync_config *c, double optimum, double tol, const char *name, double *with_out) {
    sync_result r;
    sync_run *s = trained_run(c, &r);
    double with = sync_evaluate(s, 1, NULL), without = sync_evaluate(s, 0, NULL);
    int reached = fabs(with - optimum) <= tol && fabs(without - optimum) <= tol;
    print_message("%s seed %llu: %lld env steps, %lld updates, train return %.3f, eval with search %.3f, "
                  "prior only %.3f (optimum %.3f)%s\n",
                  name, (unsigned long long)c->seed, (long long)r.env_steps, (long long)r.updates, r.train_return,
                  with, without, optimum, reached ? "" : ": not reached");
    if (with_out) *with_out = with;
    sync_destroy(s);
    return reached;
}

/* Seeds 1..n of make(seed): how many reach the optimum. Each also ends
 * with a search policy of at least `floor`. The outcome of one seed
 * can depend on float rounding (another CPU's BLAS kernels, another
 * backend), so the chain tests ask for a share of seeds, not for given ones. */
static int seeds_at_optimum(sync_config (*make)(uint64_t), int n, double optimum, double tol, double floor,
                            const char *name) {
    int reached = 0;
    for (uint64_t seed = 1; seed <= (uint64_t)n; seed++) {
        sync_config c = make(seed);
        double with;
        reached += run_to_optimum(&c, optimum, tol, name, &with);
        assert_true(with >= floor);
    }
    print_message("%s: %d of %d seeds reach the optimum\n", name, reached, n);
    return reached;
}

static sync_config climbing_config(uint64_t seed) {
    sync_config c = base_config("climbing", "default", seed);
    c.E = 8, c.rollout_steps = 1, c.updates = 2, c.env_steps = 2400, c.min_ready = 32;
    c.replay.K = 1, c.replay.n_step = 1, c.replay.discount = 0.0f; /* one-step game */
    c.search.rescale_values = 0, c.search.value_scale = 0.05f;
    return c;
}

/* Joint Gumbel search on the climbing game reaches the optimum 11 for every
 * seed (96 of 96 on the machine of 2026-12-02) when sigma(q) scales the raw
 * Q values (mcts.rescale_values=false, value_scale 0.05: 11 vs 7 is worth
 * 10 logits). With mctx's min-max rescaling the -30 cells squeeze the
 * scale so that 11 vs 5 is worth about one logit, and the factorised
 * prior, trained on the joint target's marginals, settles on 7, 6 or 5
 * for half of the seeds (8 of 24; pUCT MuZero with 32 simulations, the
 * configuration before, 11 of 24). */
static void test_climbing(void **state) {
    (void)state;
    int n = 12;
    assert_int_equal(seeds_at_optimum(climbing_config, n, 11.0, 1e-4, 11.0 - 1e-4, "climbing"), n);
}

static sync_config chain_config(uint64_t seed) {
    sync_config c = base_config("chain", "n2-l5", seed);
    c.E = 8, c.rollout_steps = 4, c.updates = 4, c.env_steps = 6000, c.min_ready = 64;
    c.replay.K = 3, c.replay.n_step = 10, c.replay.discount = 0.97f;
    c.replay.reward_shift = 0.01f; /* the step cost: every step before the goal is worth 0 */
    return c;
}

/* The chain: the optimum for 93 of 96 seeds (all of 1-48) within 6000 env
 * steps. The step cost is shifted to 0 (muzero.reward_shift=0.01; the
 * discount still prefers the shortest path): with the cost a third of the
 * seeds stopped exploring before their first goal (10-12 of 16 at 4000 env
 * steps, n 5; 45 of 48 with the shift alone at 6000, 39 of 48 with n 10
 * alone). Probably because every value before the goal then sits near
 * -0.01 / (1 - 0.97) and differs between actions only by the value head's
 * error, which the completed-Q rescaling stretches to the full sigma range;
 * shifted, those values are flat 0. n 10 covers a whole episode (at most
 * 10 steps). The 3 failing seeds never reach the goal; the test allows 2
 * of 16 for rounding on other machines. */
static void test_chain(void **state) {
    (void)state;
    assert_true(seeds_at_optimum(chain_config, 16, 0.97, 1e-3, -0.1 - 1e-6, "chain n2-l5") >= 14);
}

static sync_config chain_sampled_config(uint64_t seed) {
    sync_config c = chain_config(seed);
    c.eval_sample = 1;
    return c;
}

/* muzero.eval_greedy=false: evaluation plays the search's own Gumbel-noised
 * choice and samples of the prior; once trained, both stay near the
 * chain's optimum (the noise flips few steps of a sharp policy). */
static void test_chain_sampled_eval(void **state) {
    (void)state;
    assert_true(seeds_at_optimum(chain_sampled_config, 4, 0.97, 0.05, -0.1 - 1e-6,
                                 "chain n2-l5, sampled evaluation") >= 2);
}

/* A greedy evaluation with search plays the search's own joint choice with
 * its root noise off, so its outcome does not depend on the noise stream;
 * the per-agent argmax of the search's marginals did (the Gumbel noise
 * picks which joint actions get simulated). Two identical runs (joint
 * search on simple_spread, briefly trained) evaluate the same episodes
 * after one earlier evaluation each: with search in one run (its search
 * noise counter advances), prior-only in the other (it does not). */
static void second_search_eval(const sync_config *c, int first_with_search, double *returns) {
    sync_result r;
    sync_run *s = trained_run(c, &r);
    sync_evaluate(s, first_with_search, NULL);
    sync_evaluate(s, 1, returns);
    sync_destroy(s);
}

static void test_greedy_eval_noise_free(void **state) {
    (void)state;
    sync_config c = base_config("mpe_simple_spread", "3ag", 3);
    c.joint_limit = 125;
    c.E = 8, c.rollout_steps = 1, c.updates = 2, c.env_steps = 1600, c.min_ready = 64;
    c.replay.K = 3, c.replay.n_step = 3, c.replay.discount = 0.97f;
    double a[8], b[8];
    second_search_eval(&c, 1, a);
    second_search_eval(&c, 0, b);
    assert_memory_equal(a, b, sizeof a);
    c.eval_sample = 1; /* muzero.eval_greedy=false: the noisy choice, as in self-play */
    second_search_eval(&c, 1, a);
    second_search_eval(&c, 0, b);
    assert_true(memcmp(a, b, sizeof a) != 0);
}

/* Save -> load -> continue gives bitwise the losses, gradient norms and
 * parameters of running straight through, with an evaluation (its own
 * search noise) in the middle of both runs: joint search with a target
 * network copied every 5 updates, and sampled search. */
#define RESUME_PHASES 12
static sync_config resume_config(int sampled, int host_replay) {
    sync_config c = base_config("chain", "n2-l5", 7);
    c.E = 4, c.rollout_steps = 3, c.updates = 2, c.env_steps = 4 * 3 * RESUME_PHASES, c.min_ready = 16;
    c.replay.K = 2, c.replay.n_step = 3, c.replay.discount = 0.97f, c.replay.T = 64;
    c.learner.batch = 8, c.eval_envs = 2;
    c.learner.lr = (mz_lr_schedule){3e-3f, 5, 20, 1e-4f};
    if (!sampled) c.target_bootstrap = 1, c.target_interval = 5; /* the target network is state too */
    if (!sampled) /* and the dropout masks of the communication block follow the update counter */
        c.model.comm_layers = 1, c.model.comm_heads = 2, c.model.comm_ff = 16, c.model.comm_concat = 1,
        c.model.comm_dropout = 0.1f;
    c.host_replay = host_replay;
    if (sampled) {
        c.sampled = 1;
        mcts_sampled_params_default(&c.sampled_params, 8);
        c.sampled_params.K = 4, c.sampled_params.seed = 7;
    }
    return c;
}

static void phase(sync_run *s, int i, learner_stats *out) {
    sync_result r;
    memset(&r, 0, sizeof r);
    assert_true(sync_iterate(s, &r));
    out[i] = r.last;
    if (i == RESUME_PHASES / 2 + 1) sync_evaluate(s, 1, NULL);
}

static void resume_case(int sampled, int host_replay, int reanalyse) {
    char err[512];
    sync_config c = resume_config(sampled, host_replay);
    c.reanalyse = reanalyse; /* its picks, search noise and masks are state too */
    learner_stats straight[RESUME_PHASES], resumed[RESUME_PHASES];
    memset(straight, 0, sizeof straight), memset(resumed, 0, sizeof resumed);
    sync_run *a = sync_create(test_cpu_backend(), &c, err, sizeof err);
    if (!a) fail_msg("%s", err);
    for (int i = 0; i < RESUME_PHASES; i++) phase(a, i, straight);
    char dir[] = "/tmp/mz_resume_XXXXXX", model[64], state[64];
    assert_non_null(mkdtemp(dir));
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    snprintf(state, sizeof state, "%s/model.state.safetensors", dir);
    sync_run *b = sync_create(test_cpu_backend(), &c, err, sizeof err);
    for (int i = 0; i < RESUME_PHASES / 2; i++) phase(b, i, resumed);
    assert_int_equal(mz_checkpoint_save(model, sync_params(b), true, "{}", 0, err, sizeof err), 0);
    assert_int_equal(sync_save_state(b, state, err, sizeof err), 0);
    sync_destroy(b);
    b = sync_create(test_cpu_backend(), &c, err, sizeof err);
    assert_int_equal(mz_checkpoint_load(model, sync_params(b), true, NULL, NULL, err, sizeof err), 0);
    if (sync_load_state(b, state, err, sizeof err) != 0) fail_msg("%s", err);
    for (int i = RESUME_PHASES / 2; i < RESUME_PHASES; i++) phase(b, i, resumed);
    int updates = 0;
    for (int i = 0; i < RESUME_PHASES; i++) {
        updates += straight[i].step > 0;
        assert_memory_equal(&straight[i].loss, &resumed[i].loss, sizeof straight[i].loss);
        assert_memory_equal(&straight[i].grad_norm, &resumed[i].grad_norm, sizeof(float));
        assert_memory_equal(&straight[i].lr, &resumed[i].lr, sizeof(float));
        assert_true(straight[i].step == resumed[i].step);
    }
    assert_true(updates >= RESUME_PHASES / 2 + 2); /* updates on both sides of the save */
    mz_params *pa = sync_params(a), *pb = sync_params(b);
    assert_memory_equal(pa->values, pb->values, (size_t)pa->total * sizeof(float));
    assert_memory_equal(pa->adam_v, pb->adam_v, (size_t)pa->total * sizeof(float));
    /* a state file of another configuration is refused with the block at fault */
    sync_config other = c;
    other.replay.T = 32;
    sync_run *o = sync_create(test_cpu_backend(), &other, err, sizeof err);
    assert_int_equal(sync_load_state(o, state, err, sizeof err), -1);
    assert_non_null(strstr(err, "replay.obs"));
    sync_destroy(o);
    /* both replays save the same blocks: a run saved with one resumes with the other (reanalyse
     * needs the device replay) */
    other = c;
    other.reanalyse = 0;
    other.host_replay = !host_replay;
    o = sync_create(test_cpu_backend(), &other, err, sizeof err);
    assert_int_equal(mz_checkpoint_load(model, sync_params(o), true, NULL, NULL, err, sizeof err), 0);
    if (reanalyse) { /* the saved masks and reanalyse search have no place in a run without reanalyse */
        assert_int_equal(sync_load_state(o, state, err, sizeof err), -1);
        print_message("reanalysed state into a run without reanalyse: %s\n", err);
        other.host_replay = host_replay, other.reanalyse = reanalyse;
        sync_destroy(o);
        o = sync_create(test_cpu_backend(), &other, err, sizeof err);
        assert_int_equal(mz_checkpoint_load(model, sync_params(o), true, NULL, NULL, err, sizeof err), 0);
    }
    if (sync_load_state(o, state, err, sizeof err) != 0) fail_msg("%s", err);
    sync_result pos;
    sync_position(o, &pos);
    assert_true(pos.env_steps == (int64_t)c.E * c.rollout_steps * (RESUME_PHASES / 2));
    for (int i = RESUME_PHASES / 2; i < RESUME_PHASES; i++) {
        sync_result r;
        memset(&r, 0, sizeof r);
        assert_true(sync_iterate(o, &r));
        assert_true(isfinite(r.last.loss.total));
    }
    sync_destroy(o);
    unlink(model), unlink(state), rmdir(dir);
    sync_destroy(a);
    sync_destroy(b);
}

static void test_resume_exact(void **state) {
    (void)state;
    resume_case(0, 0, 0);
    resume_case(0, 1, 0);
}

static void test_resume_exact_sampled(void **state) {
    (void)state;
    resume_case(1, 0, 0);
    resume_case(1, 1, 0);
}

/* With reanalyse (5 stored steps re-searched per phase, joint and sampled). */
static void test_resume_exact_reanalyse(void **state) {
    (void)state;
    resume_case(0, 0, 5);
    resume_case(1, 0, 5);
}

/* Full sync iterations (rollout with joint search and root masks, env
 * step, replay, updates with a target network) on the emulated CUDA backend
 * give the CPU backend's losses, bitwise, with the device replay (its .cu
 * kernels) and with the host one, and with sampled search and AWPO's
 * policy targets computed on the device (learner/awpo_cuda.cu) with either
 * replay; and with reanalyse (device_replay_cuda.cu's pick, mask gather and
 * scatter kernels). */
static void cpu_emu_parity(int host_replay, int awpo, int reanalyse) {
    char err[512];
    sync_config c = resume_config(awpo || reanalyse > 1, host_replay);
    c.reanalyse = reanalyse;
    if (awpo) c.awpo = 1, c.awpo_alpha = 2.0f, c.awpo_clip = 3.0f; /* sampled search, AWPO targets on the device */
    learner_stats cpu[RESUME_PHASES / 2], emu[RESUME_PHASES / 2];
    memset(cpu, 0, sizeof cpu), memset(emu, 0, sizeof emu);
    sync_run *a = sync_create(test_cpu_backend(), &c, err, sizeof err);
    sync_run *b = sync_create(test_emu_backend(), &c, err, sizeof err);
    if (!a || !b) fail_msg("%s", err);
    int updates = 0;
    for (int i = 0; i < RESUME_PHASES / 2; i++) {
        sync_result r;
        memset(&r, 0, sizeof r);
        assert_true(sync_iterate(a, &r));
        cpu[i] = r.last;
        memset(&r, 0, sizeof r);
        assert_true(sync_iterate(b, &r));
        emu[i] = r.last;
        updates += cpu[i].step > 0;
        assert_true(fabsf(cpu[i].loss.total - emu[i].loss.total) <= 1e-5f * (1.0f + fabsf(cpu[i].loss.total)));
        assert_true(fabsf(cpu[i].grad_norm - emu[i].grad_norm) <= 1e-5f * (1.0f + cpu[i].grad_norm));
    }
    assert_true(updates >= 2);
    for (int i = 0; i < RESUME_PHASES / 2; i++) /* wall-clock timers are not results */
        cpu[i].seconds_replay = cpu[i].seconds_forward = cpu[i].seconds_backward = 0.0,
        emu[i].seconds_replay = emu[i].seconds_forward = emu[i].seconds_backward = 0.0;
    assert_memory_equal(cpu, emu, sizeof cpu); /* the emulation runs the same float operations in the same order */
    sync_destroy(a);
    sync_destroy(b);
}

static void test_cpu_emu_parity(void **state) {
    (void)state;
    cpu_emu_parity(0, 0, 0);
    cpu_emu_parity(1, 0, 0);
    cpu_emu_parity(0, 1, 0);
    cpu_emu_parity(1, 1, 0);
    cpu_emu_parity(0, 0, 1); /* reanalyse of one step per phase with joint search, */
    cpu_emu_parity(0, 0, 6); /* and of six with sampled search */
}

/* The sync loop stores the same steps in both replays: with no updates
 * (the model and so the searches stay alike) the host and the device
 * replay save the same rings, priorities and counts after 12 rollout
 * phases of joint search with truncations, on the CPU and under emulation
 * (the device replay reads the env's and the search's buffers in place,
 * after the env step and the truncation bootstrap: this catches one that
 * changed them in between). */
static void test_replays_store_alike(void **state) {
    (void)state;
    char err[512];
    mz_backend *bes[2] = {test_cpu_backend(), test_emu_backend()};
    for (int bi = 0; bi < 2; bi++) {
        char dir[] = "/tmp/mz_replays_XXXXXX", path[2][64];
        assert_non_null(mkdtemp(dir));
        for (int host = 0; host <= 1; host++) {
            sync_config c = resume_config(0, host);
            c.min_ready = 1 << 30; /* no update */
            sync_run *s = sync_create(bes[bi], &c, err, sizeof err);
            if (!s) fail_msg("%s", err);
            for (int i = 0; i < RESUME_PHASES; i++) {
                sync_result r;
                memset(&r, 0, sizeof r);
                assert_true(sync_iterate(s, &r));
            }
            snprintf(path[host], sizeof path[host], "%s/%s.safetensors", dir, host ? "host" : "device");
            assert_int_equal(sync_save_state(s, path[host], err, sizeof err), 0);
            sync_destroy(s);
        }
        mz_st_file f[2];
        for (int h = 0; h < 2; h++) assert_int_equal(mz_st_read(path[h], &f[h], err, sizeof err), 0);
        assert_int_equal(f[0].count, f[1].count);
        int compared = 0;
        for (int t = 0; t < f[0].count; t++) {
            const mz_st_tensor *a = &f[0].tensors[t], *b = mz_st_find(&f[1], a->name);
            assert_non_null(b);
            if (strncmp(a->name, "replay.", 7) != 0) continue;
            assert_int_equal(a->bytes, b->bytes);
            if (memcmp(a->data, b->data, a->bytes) != 0) fail_msg("%s: block %s differs between the replays", bes[bi]->name, a->name);
            compared++;
        }
        assert_int_equal(compared, 13);
        for (int h = 0; h < 2; h++) mz_st_free(&f[h]), unlink(path[h]);
        rmdir(dir);
    }
}

/* The Gumbel sigma(q) keys reach the search (mctx's names and defaults). */
static void test_search_keys(void **state) {
    (void)state;
    char err[2048];
    mz_config cfg;
    char *defaults[] = {"log.console=quiet"};
    assert_int_equal(mz_config_load(&cfg, "configs/spread_mazero_sync.json", 1, defaults, err, sizeof err), 0);
    sync_config c;
    assert_int_equal(mz_mazero_sync_config(&c, &cfg, err, sizeof err), 0);
    assert_true(c.search.value_scale == 0.1f && c.search.maxvisit_init == 50.0f);
    assert_int_equal(c.search.rescale_values, 1);
    assert_int_equal(c.search.max_num_considered_actions, 16);
    char *over[] = {"mcts.value_scale=0.02", "mcts.maxvisit_init=10", "mcts.rescale_values=false",
                    "mcts.considered_actions=8"};
    assert_int_equal(mz_config_load(&cfg, "configs/spread_mazero_sync.json", 4, over, err, sizeof err), 0);
    assert_int_equal(mz_mazero_sync_config(&c, &cfg, err, sizeof err), 0);
    assert_true(c.search.value_scale == 0.02f && c.search.maxvisit_init == 10.0f);
    assert_int_equal(c.search.rescale_values, 0);
    assert_int_equal(c.search.max_num_considered_actions, 8);
}

static int run_sync(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_climbing),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_chain_sampled_eval),
        cmocka_unit_test(test_greedy_eval_noise_free),
        cmocka_unit_test(test_resume_exact),
        cmocka_unit_test(test_resume_exact_sampled),
        cmocka_unit_test(test_resume_exact_reanalyse),
        cmocka_unit_test(test_cpu_emu_parity),
        cmocka_unit_test(test_replays_store_alike),
        cmocka_unit_test(test_search_keys),
    };
    return MZ_RUN_GROUP("sync", tests);
}
MZ_TEST_GROUP("sync", run_sync)
