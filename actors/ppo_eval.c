/* `mazero eval RUN_DIR|CHECKPOINT` for algo=ippo|mappo|rec_ippo|rec_mappo:
 * the run rebuilt from its config as `mazero train` builds it
 * (mz_ppo_run_create), the actor loaded from a checkpoint, and the
 * trainer's final evaluation (the absolute metric's: same envs, seed and
 * greedy or sampled actions, GRU states carried through each episode) over
 * N episodes; optionally one episode as a GIF (actors/eval_output.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actors/eval_output.h"
#include "envs/env_bodies.h"
#include "learner/ppo.h"
#include "src/check.h"
#include "src/nn/checkpoint.h"

int mz_ppo_run_paths(const char *arg, char *actor, char *run_dir, size_t len, char *err, size_t err_len) {
    struct stat st;
    if (stat(arg, &st) != 0 || !S_ISDIR(st.st_mode)) return -1;
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/') n--;
    char config_path[1100];
    snprintf(config_path, sizeof config_path, "%.*s/config.json", (int)n, arg);
    mz_config cfg;
    char cfg_err[1024];
    if (stat(config_path, &st) != 0 || mz_config_load(&cfg, config_path, 0, NULL, cfg_err, sizeof cfg_err) != 0 ||
        cfg.algo == MZ_ALGO_MAZERO)
        return -1; /* not a PPO run: the MuZero resolution says what is missing */
    if (snprintf(run_dir, len, "%.*s", (int)n, arg) >= (int)len) {
        snprintf(err, err_len, "'%s': path too long", arg);
        return MZ_EXIT_USAGE;
    }
    const char *names[2] = {"best_actor.safetensors", "actor.safetensors"};
    for (int k = 0; k < 2; k++) {
        if (snprintf(actor, len, "%s/checkpoints/%s", run_dir, names[k]) >= (int)len) {
            snprintf(err, err_len, "'%s': path too long", arg);
            return MZ_EXIT_USAGE;
        }
        if (stat(actor, &st) == 0) return 0;
    }
    snprintf(err, err_len, "'%s': no checkpoint %s (nor best_actor.safetensors beside it)", arg, actor);
    return MZ_EXIT_USAGE;
}

int mz_ppo_eval(const mz_config *cfg, mz_backend *be, const char *actor_path, int episodes, const char *gif_path) {
    char err[1024];
    mz_ppo_run run;
    if (mz_ppo_run_create(&run, cfg, be, err, sizeof err) != 0) {
        fprintf(stderr, "mazero eval: %s\n", err);
        return MZ_EXIT_USAGE;
    }
    int64_t step = 0;
    if (mz_checkpoint_load(actor_path, &run.ppo.actor.p, false, &step, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "mazero eval: %s\n", err);
        mz_ppo_run_destroy(&run);
        return MZ_EXIT_USAGE;
    }
    mz_eval_gif gif;
    if (gif_path) {
        if (mz_eval_gif_open(&gif, &run.env_params, gif_path) != 0) {
            mz_ppo_run_destroy(&run);
            return MZ_EXIT_USAGE;
        }
        run.ppo.eval_frame = mz_eval_gif_frame;
        run.ppo.eval_frame_ctx = &gif;
    }
    int n = episodes > 0 ? episodes : (int)cfg->ppo.eval_episodes;
    double *returns = mz_calloc((size_t)n, sizeof *returns);
    printf("mazero eval: %s (%lld updates), %s on %s %s, %d %s episodes\n", actor_path, (long long)step,
           mz_config_enum_name("algo", cfg->algo), cfg->env.name, cfg->env.scenario, n,
           run.eval_greedy ? "greedy" : "sampled");
    float win = 0.0f;
    mz_ppo_run_final_evaluation(&run, n, returns, &win);
    mz_eval_report("actor", returns, n, env_defines_win(&run.env_params), win);
    int rc = gif_path ? mz_eval_gif_close(&gif, "the first evaluation episode") : 0;
    free(returns);
    mz_ppo_run_destroy(&run);
    return rc;
}
