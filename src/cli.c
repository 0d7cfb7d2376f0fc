/* The `mazero` command line. Every path returns an exit status; nothing here
 * calls exit(), so tests can drive it in-process. */
#include "src/cli.h"

#include <cblas.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_backend.h"
#include "bench/bench_env.h"
#include "bench/bench_mcts.h"
#include "bench/bench_nn.h"
#include "bench/bench_ppo.h"
#include "envs/render.h"
#include "envs/vecenv.h"
#include "actors/mazero_train.h"
#include "learner/ppo.h"
#include "mcts/multiagent.h"
#include "mcts/oracle.h"
#include "mcts/sampled.h"
#include "src/rng.h"
#include "src/safetensors.h"
#include "src/backend.h"
#include "src/dist.h"
#include "src/check.h"
#include "src/config.h"
#include "src/plot.h"
#include "src/wandb_settings.h"
#include "src/wandb_sync.h"

#ifndef MZ_GIT_REV
#define MZ_GIT_REV "unknown"
#endif

typedef struct {
    const char *name;
    const char *summary;
    const char *usage; /* shown by `mazero NAME --help` */
    int (*run)(int argc, char **argv);
} command;

static const command *find_command(const char *name);
static void print_usage(FILE *f);

/* Arguments after the command: options, CONFIG, key=value overrides. */
typedef struct {
    const char *config_path;
    char **overrides;
    int n_overrides;
    bool quiet, schema, markdown;
    const char *json_path;
    const char *peers_path;
    const char *steps_text, *png_dir, *gif_path; /* render */
    const char *oracle_path, *out_path, *dot_path;  /* search */
    const char *positional; /* bench: what to benchmark */
} cli_args;

/* Is `arg` one of the space-separated options in `allowed`? */
static bool option_allowed(const char *allowed, const char *arg) {
    size_t n = strlen(arg);
    for (const char *p = allowed; (p = strstr(p, arg)) != NULL; p += n)
        if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
    return false;
}

/* Parses argv[1..] of a command. Returns -1 to go on, else an exit status
 * (0 after --help, 2 on bad usage). `allowed` lists the options taken. */
static int parse_args(const command *cmd, int argc, char **argv, const char *allowed, bool wants_config,
                      cli_args *a) {
    memset(a, 0, sizeof *a);
    a->overrides = argv + 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            printf("%s", cmd->usage);
            return 0;
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            bool known = option_allowed(allowed, arg);
            if (known && !strcmp(arg, "--quiet")) a->quiet = true;
            else if (known && !strcmp(arg, "--schema")) a->schema = true;
            else if (known && !strcmp(arg, "--markdown")) a->markdown = true;
            else if (known && !strcmp(arg, "--json") && i + 1 < argc) a->json_path = argv[++i];
            else if (known && !strcmp(arg, "--peers") && i + 1 < argc) a->peers_path = argv[++i];
            else if (known && !strcmp(arg, "--steps") && i + 1 < argc) a->steps_text = argv[++i];
            else if (known && !strcmp(arg, "--png") && i + 1 < argc) a->png_dir = argv[++i];
            else if (known && !strcmp(arg, "--gif") && i + 1 < argc) a->gif_path = argv[++i];
            else if (known && !strcmp(arg, "--oracle") && i + 1 < argc) a->oracle_path = argv[++i];
            else if (known && !strcmp(arg, "--out") && i + 1 < argc) a->out_path = argv[++i];
            else if (known && !strcmp(arg, "--dot") && i + 1 < argc) a->dot_path = argv[++i];
            else {
                fprintf(stderr, "mazero %s: %s '%s'\n", cmd->name,
                        known ? "option needs a value:" : "unknown option", arg);
                fprintf(stderr, "run 'mazero %s --help' for usage\n", cmd->name);
                return MZ_EXIT_USAGE;
            }
            continue;
        }
        if (strchr(arg, '=')) {
            a->overrides[a->n_overrides++] = argv[i]; /* compacted in place, order kept */
            continue;
        }
        if (wants_config && !a->config_path) {
            a->config_path = arg;
        } else if (!wants_config && !a->positional) {
            a->positional = arg;
        } else {
            fprintf(stderr, "mazero %s: unexpected argument '%s' (overrides are key=value)\n", cmd->name, arg);
            fprintf(stderr, "run 'mazero %s --help' for usage\n", cmd->name);
            return MZ_EXIT_USAGE;
        }
    }
    return -1;
}

static int check_loaded_config(mz_config *cfg, int rc, char *err, size_t err_len);

/* Loads the config and reports problems; -1 to go on, else an exit status. */
static int load_config(const cli_args *a, mz_config *cfg) {
    char err[4096];
    int rc = mz_config_load(cfg, a->config_path, a->n_overrides, a->overrides, err, sizeof err);
    return check_loaded_config(cfg, rc, err, sizeof err);
}

/* The checks of a loaded config beyond the schema (env, search sizes); -1
 * to go on, else an exit status after printing every problem in err. */
static int check_loaded_config(mz_config *cfg, int rc, char *err, size_t err_len) {
    if (rc == 0) {
        mz_env_params env; /* the environment keys are checked together, by the registry */
        rc = mz_env_params_resolve(&env, cfg->env.name, cfg->env.scenario, (int)cfg->env.max_steps,
                                   (uint64_t)cfg->seed, err, err_len);
        if (rc == 0) rc = mcts_ma_check_config(cfg->mcts.mode == MZ_SEARCH_JOINT, env.N, env.A,
                                               (int)cfg->mcts.joint_action_limit, err, err_len);
        if (rc == 0 && cfg->mcts.mode == MZ_SEARCH_SAMPLED) {
            mcts_sampled_params sp;
            mcts_sampled_params_from_config(&sp, cfg);
            rc = mcts_sampled_check(&sp, (int)cfg->env.num_envs, env.N, env.A, err, err_len);
        }
        if (rc == 0) return -1;
    }
    for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n")) fprintf(stderr, "mazero: %s\n", line);
    return rc;
}

/* Loads the config, then opens the device it names. -1 to go on (with
 * *be open and `chosen` describing it), else an exit status. */
static int load_config_and_backend(const cli_args *a, mz_config *cfg, mz_backend **be, char *chosen,
                                   size_t chosen_len) {
    int rc = load_config(a, cfg);
    if (rc >= 0) return rc;
    char err[512], device[MZ_CFG_STR];
    mz_dist_device(cfg->device, device, sizeof device); /* a GPU per rank in data-parallel jobs */
    rc = mz_backend_open(device, (int)cfg->threads, be, chosen, chosen_len, err, sizeof err);
    if (rc == 0) return -1;
    fprintf(stderr, "mazero: %s\n", err);
    return rc;
}

/* ---- commands ---------------------------------------------------------------- */

/* mazero train under mpirun: every rank trains the config on its own
 * environments with its own seed (mz_rng_rank_seed); rank 0 speaks. */
static int cmd_train_data_parallel(mz_config *cfg, mz_backend *be, const char *chosen, bool quiet) {
    int rank = mz_dist_rank();
    if (rank == 0) {
        printf("mazero train: %d data-parallel ranks (%s), rank 0 on device %s\n", mz_dist_size(),
               mz_dist_backend_name(), chosen);
        if (!quiet) {
            char *json = mz_config_to_json(cfg);
            printf("resolved config (per rank):\n%s\n", json);
            free(json);
        }
        fflush(stdout);
    }
    cfg->seed = (int64_t)mz_rng_rank_seed((uint64_t)cfg->seed, rank);
    int rc = cfg->algo != MZ_ALGO_MAZERO ? mz_ppo_train(cfg, be, chosen) : mz_mazero_train(cfg, be, chosen);
    /* a stop every rank agreed on (a signal): none exits, which would end the
     * job, before rank 0 has saved */
    if (rc > 128) (void)mz_dist_any(false);
    return rc;
}

/* Removes the override `key=...` from a (the last one wins) and returns its
 * value, or NULL: command arguments that look like overrides. */
static const char *take_argument(cli_args *a, const char *key) {
    const char *value = NULL;
    size_t n = strlen(key);
    int kept = 0;
    for (int i = 0; i < a->n_overrides; i++) {
        if (!strncmp(a->overrides[i], key, n) && a->overrides[i][n] == '=') value = a->overrides[i] + n + 1;
        else a->overrides[kept++] = a->overrides[i];
    }
    a->n_overrides = kept;
    return value;
}

static int cmd_train_or_eval(int argc, char **argv) {
    const command *cmd = find_command(argv[0]);
    cli_args a;
    int rc = parse_args(cmd, argc, argv, "--quiet", true, &a);
    if (rc >= 0) return rc;
    const char *resume = take_argument(&a, "resume");
    char resumed_config[1100];
    if (resume && !a.config_path) { /* the run's own resolved config */
        char model[1024], state[1024], run_dir[1024], err[1200];
        if (mz_mazero_run_paths(resume, model, state, run_dir, sizeof run_dir, err, sizeof err) != 0) {
            fprintf(stderr, "mazero train: resume=%s: %s\n", resume, err);
            return MZ_EXIT_USAGE;
        }
        snprintf(resumed_config, sizeof resumed_config, "%s/config.json", run_dir);
        a.config_path = resumed_config;
    }
    if (!a.config_path) {
        fprintf(stderr, "mazero %s: missing CONFIG (e.g. configs/default.json)\n%s", cmd->name, cmd->usage);
        return MZ_EXIT_USAGE;
    }
    mz_config cfg;
    mz_backend *be = NULL;
    char chosen[512];
    if (!strcmp(cmd->name, "train")) mz_dist_init(); /* under mpirun: data-parallel ranks (src/dist.h) */
    if ((rc = load_config_and_backend(&a, &cfg, &be, chosen, sizeof chosen)) >= 0) return rc;
    if (mz_dist_active() && cfg.algo == MZ_ALGO_MAZERO && cfg.mode == MZ_MODE_ASYNC) {
        fprintf(stderr, "mazero train: mode=async is not built for data-parallel (mpirun) jobs; use mode=sync\n");
        be->destroy(be);
        return MZ_EXIT_USAGE;
    }
    if (mz_dist_active() && resume) {
        /* each rank's replay and envs are its own: one state file cannot restore them all */
        fprintf(stderr, "mazero train: resume= is not built for data-parallel (mpirun) jobs\n");
        be->destroy(be);
        return MZ_EXIT_USAGE;
    }
    if (mz_dist_active()) {
        rc = cmd_train_data_parallel(&cfg, be, chosen, a.quiet);
        be->destroy(be);
        if (rc == 0) mz_dist_finalize(); /* else exit unfinalised: mpirun ends the other ranks */
        return rc;
    }
    printf("mazero %s: device %s\n", cmd->name, chosen);
    if (!a.quiet) {
        char *json = mz_config_to_json(&cfg);
        printf("resolved config:\n%s\n", json);
        free(json);
    }
    if (!strcmp(cmd->name, "train") && cfg.algo != MZ_ALGO_MAZERO) { /* ippo, mappo and their rec_ forms */
        rc = mz_ppo_train(&cfg, be, chosen);
        be->destroy(be);
        return rc;
    }
    if (resume && cfg.algo != MZ_ALGO_MAZERO) {
        fprintf(stderr, "mazero train: resume= is built for algo=mazero only\n");
        be->destroy(be);
        return MZ_EXIT_USAGE;
    }
    rc = mz_mazero_train_from(&cfg, be, chosen, resume);
    be->destroy(be);
    return rc;
}

/* mazero eval RUN_DIR|CHECKPOINT [episodes=N] [render=gif|FILE.gif] [key=value ...]:
 * the config is the checkpoint's own (its metadata), then the overrides. */
static int cmd_eval(int argc, char **argv) {
    const command *cmd = find_command("eval");
    cli_args a;
    int rc = parse_args(cmd, argc, argv, "--quiet", true, &a);
    if (rc >= 0) return rc;
    if (!a.config_path) {
        fprintf(stderr, "mazero eval: missing RUN_DIR or CHECKPOINT\n%s", cmd->usage);
        return MZ_EXIT_USAGE;
    }
    const char *episodes = take_argument(&a, "episodes"), *render = take_argument(&a, "render");
    const char *greedy = take_argument(&a, "greedy");
    char model[1024], state[1024], run_dir[1024], err[4096], gif[1100];
    /* a PPO run directory names its actor; anything else is MuZero's */
    rc = mz_ppo_run_paths(a.config_path, model, run_dir, sizeof model, err, sizeof err);
    if (rc < 0) rc = mz_mazero_run_paths(a.config_path, model, state, run_dir, sizeof model, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "mazero eval: %s\n", err);
        return MZ_EXIT_USAGE;
    }
    if (greedy && strcmp(greedy, "true") != 0 && strcmp(greedy, "false") != 0) {
        fprintf(stderr, "mazero eval: greedy: expected true or false, got '%s'\n", greedy);
        return MZ_EXIT_USAGE;
    }
    char *end = NULL;
    long n_episodes = episodes ? strtol(episodes, &end, 10) : 0;
    if (episodes && (end == episodes || *end || n_episodes < 1 || n_episodes > 65536)) {
        fprintf(stderr, "mazero eval: episodes: expected an integer in [1, 65536], got '%s'\n", episodes);
        return MZ_EXIT_USAGE;
    }
    if (render && strcmp(render, "gif") != 0 && !strstr(render, ".gif")) {
        fprintf(stderr, "mazero eval: render: expected gif or a FILE.gif, got '%s'\n", render);
        return MZ_EXIT_USAGE;
    }
    if (render) snprintf(gif, sizeof gif, "%s", strcmp(render, "gif") ? render : "");
    if (render && !strcmp(render, "gif")) snprintf(gif, sizeof gif, "%s/eval.gif", run_dir);
    mz_st_file f;
    if (mz_st_read(model, &f, err, sizeof err) != 0) {
        fprintf(stderr, "mazero eval: %s\n", err);
        return MZ_EXIT_USAGE;
    }
    const char *text = mz_st_meta(&f, "config");
    char episodes_override[64], greedy_overrides[2][64];
    char **overrides = mz_calloc((size_t)a.n_overrides + 3, sizeof *overrides);
    memcpy(overrides, a.overrides, (size_t)a.n_overrides * sizeof *overrides);
    int n_overrides = a.n_overrides;
    if (episodes) { /* PPO takes the count as an argument: its evaluation envs stay the run's */
        snprintf(episodes_override, sizeof episodes_override, "muzero.eval_episodes=%s", episodes);
        overrides[n_overrides++] = episodes_override;
    }
    if (greedy) { /* either algorithm's evaluation setting */
        snprintf(greedy_overrides[0], sizeof greedy_overrides[0], "muzero.eval_greedy=%.40s", greedy);
        snprintf(greedy_overrides[1], sizeof greedy_overrides[1], "ppo.eval_greedy=%.40s", greedy);
        overrides[n_overrides++] = greedy_overrides[0];
        overrides[n_overrides++] = greedy_overrides[1];
    }
    mz_config cfg;
    rc = text ? mz_config_load_text(&cfg, model, text, strlen(text), n_overrides, overrides, err, sizeof err) : 2;
    if (!text) snprintf(err, sizeof err, "%s holds no config (not a mazero train checkpoint)", model);
    mz_st_free(&f);
    free(overrides);
    if ((rc = check_loaded_config(&cfg, rc, err, sizeof err)) >= 0) return rc;
    mz_backend *be = NULL;
    char chosen[512];
    if ((rc = mz_backend_open(cfg.device, (int)cfg.threads, &be, chosen, sizeof chosen, err, sizeof err)) != 0) {
        fprintf(stderr, "mazero: %s\n", err);
        return rc;
    }
    printf("mazero eval: device %s\n", chosen);
    if (cfg.algo != MZ_ALGO_MAZERO) rc = mz_ppo_eval(&cfg, be, model, (int)n_episodes, render ? gif : NULL);
    else rc = mz_mazero_eval(&cfg, be, a.config_path, render ? gif : NULL);
    be->destroy(be);
    return rc;
}

static int cmd_config(int argc, char **argv) {
    cli_args a;
    int rc = parse_args(find_command("config"), argc, argv, "--schema --markdown", true, &a);
    if (rc >= 0) return rc;
    if (a.schema) {
        mz_config_print_schema(stdout, a.markdown);
        return 0;
    }
    mz_config cfg;
    if ((rc = load_config(&a, &cfg)) >= 0) return rc;
    char *json = mz_config_to_json(&cfg);
    printf("%s\n", json);
    free(json);
    return 0;
}

static int cmd_bench(int argc, char **argv) {
    const command *cmd = find_command("bench");
    cli_args a;
    int rc = parse_args(cmd, argc, argv, "--json --peers", false, &a);
    if (rc >= 0) return rc;
    if (!a.positional || (strcmp(a.positional, "backend") && strcmp(a.positional, "env") && strcmp(a.positional, "nn") &&
                          strcmp(a.positional, "mcts") && strcmp(a.positional, "ppo"))) {
        fprintf(stderr, "mazero bench: %s%s%s\n%s", a.positional ? "unknown benchmark '" : "missing benchmark name",
                a.positional ? a.positional : "", a.positional ? "'" : "", cmd->usage);
        return MZ_EXIT_USAGE;
    }
    mz_config cfg;
    mz_backend *be = NULL;
    char chosen[512];
    if ((rc = load_config_and_backend(&a, &cfg, &be, chosen, sizeof chosen)) >= 0) return rc;
    if (!strcmp(a.positional, "env"))
        rc = mz_bench_env(be, chosen, a.peers_path, a.json_path);
    else if (!strcmp(a.positional, "nn"))
        rc = mz_bench_nn(be, chosen, a.json_path);
    else if (!strcmp(a.positional, "mcts"))
        rc = mz_bench_mcts(be, chosen, a.peers_path, a.json_path);
    else if (!strcmp(a.positional, "ppo"))
        rc = mz_bench_ppo(be, chosen, a.peers_path, a.json_path);
    else
        rc = mz_bench_backend(be, chosen, a.json_path);
    be->destroy(be);
    return rc;
}

/* Plays random legal actions in one environment and shows every frame. */
static int cmd_render(int argc, char **argv) {
    const command *cmd = find_command("render");
    cli_args a;
    int rc = parse_args(cmd, argc, argv, "--steps --png --gif --quiet", true, &a);
    if (rc >= 0) return rc;
    if (!a.config_path) {
        fprintf(stderr, "mazero render: missing CONFIG (e.g. configs/default.json)\n%s", cmd->usage);
        return MZ_EXIT_USAGE;
    }
    long steps = 25;
    if (a.steps_text) {
        char *end = NULL;
        steps = strtol(a.steps_text, &end, 10);
        if (*end || steps < 0 || steps > 100000) {
            fprintf(stderr, "mazero render: --steps: expected an integer in [0, 100000], got '%s'\n", a.steps_text);
            return MZ_EXIT_USAGE;
        }
    }
    mz_config cfg;
    if ((rc = load_config(&a, &cfg)) >= 0) return rc;
    mz_env_params p;
    char err[512];
    if (mz_env_params_resolve(&p, cfg.env.name, cfg.env.scenario, (int)cfg.env.max_steps, (uint64_t)cfg.seed, err,
                              sizeof err)) {
        fprintf(stderr, "mazero: %s\n", err);
        return MZ_EXIT_USAGE;
    }
    mz_env_canvas *canvas = NULL;
    if (a.png_dir || a.gif_path) {
        canvas = mz_env_canvas_create(&p, err, sizeof err);
        if (!canvas) {
            fprintf(stderr, "mazero render: %s\n", err);
            return MZ_EXIT_USAGE;
        }
    }
    mz_backend *be = mz_backend_cpu_create(1); /* one environment: no device needed */
    mz_vecenv *v = mz_vecenv_create(be, &p, 1);
    void *state = mz_malloc((size_t)p.state_bytes);
    char *text = (char *)mz_malloc(1 << 16);
    int32_t actions[64];
    uint8_t avail[64 * 16];
    float episode_return = 0.0f;
    mz_vecenv_reset(v);
    for (long t = 0; t <= steps && rc <= 0; t++) {
        mz_vecenv_get_state(v, 0, state);
        if (!a.quiet) {
            mz_env_render_text(&p, state, text, 1 << 16);
            printf("%s%s\n", t ? "\n" : "", text);
        }
        if (canvas) {
            mz_env_canvas_draw(canvas, state);
            char path[1024];
            if (a.png_dir) {
                snprintf(path, sizeof path, "%s/frame_%05ld.png", a.png_dir, t);
                if (mz_env_canvas_write_png(canvas, path, err, sizeof err)) rc = MZ_EXIT_RUNTIME;
            }
            if (rc <= 0 && a.gif_path && mz_env_canvas_add_gif_frame(canvas, a.gif_path, 20, err, sizeof err)) rc = MZ_EXIT_RUNTIME;
            if (rc > 0) fprintf(stderr, "mazero render: %s\n", err);
        }
        if (t == steps) break;
        be->copy_d2h(be, avail, v->buf.avail, (size_t)(p.N * p.A));
        for (int i = 0; i < p.N; i++) {
            mz_rng r;
            mz_rng_init(&r, (uint64_t)cfg.seed, 0x7e4d, (uint64_t)(t * p.N + i));
            float w[16];
            for (int k = 0; k < p.A; k++) w[k] = avail[i * p.A + k];
            actions[i] = mz_rng_categorical(&r, w, p.A);
        }
        be->copy_h2d(be, v->buf.actions, actions, (size_t)p.N * sizeof(int32_t));
        mz_vecenv_step(v);
        float reward;
        uint8_t term, trunc;
        be->copy_d2h(be, &reward, v->buf.reward, sizeof reward);
        be->copy_d2h(be, &term, v->buf.terminated, 1);
        be->copy_d2h(be, &trunc, v->buf.truncated, 1);
        episode_return += reward;
        if (!a.quiet) printf("actions:");
        for (int i = 0; i < p.N && !a.quiet; i++) printf(" %d", actions[i]);
        if (!a.quiet) printf("  team reward %.4g%s\n", reward, term ? "  (terminated; reset)" : trunc ? "  (truncated; reset)" : "");
        if (term || trunc) episode_return = 0.0f;
    }
    if (canvas && rc <= 0 && a.gif_path && mz_env_canvas_close_gif(canvas, err, sizeof err)) {
        fprintf(stderr, "mazero render: %s\n", err);
        rc = MZ_EXIT_RUNTIME;
    }
    if (rc <= 0 && a.gif_path) printf("wrote %s\n", a.gif_path);
    if (rc <= 0 && a.png_dir) printf("wrote %ld frames to %s\n", steps + 1, a.png_dir);
    (void)episode_return;
    free(state);
    free(text);
    mz_env_canvas_destroy(canvas);
    mz_vecenv_destroy(v);
    be->destroy(be);
    return rc > 0 ? rc : 0;
}

/* Replays a stored mctx tree: the tree is the model; the search must
 * rebuild it. */
static int cmd_search(int argc, char **argv) {
    const command *cmd = find_command("search");
    cli_args a;
    int rc = parse_args(cmd, argc, argv, "--oracle --out --dot", false, &a);
    if (rc >= 0) return rc;
    if (!a.oracle_path || a.positional) {
        fprintf(stderr, "mazero search: %s\n%s", a.positional ? "unexpected argument" : "missing --oracle TREE.json", cmd->usage);
        return MZ_EXIT_USAGE;
    }
    mz_config cfg;
    mz_backend *be = NULL;
    char chosen[512], err[512];
    if ((rc = load_config_and_backend(&a, &cfg, &be, chosen, sizeof chosen)) >= 0) return rc;
    mcts_params p;
    mcts_oracle *o = mcts_oracle_load(a.oracle_path, be, 1, &p, err, sizeof err);
    if (!o) {
        fprintf(stderr, "mazero search: %s\n", err);
        be->destroy(be);
        return MZ_EXIT_USAGE;
    }
    mcts_search *s = mcts_search_create(be, &p, 1, mcts_oracle_num_actions(o));
    mcts_model model = mcts_oracle_model(o);
    mcts_search_run(s, &model);
    mcts_oracle_report r;
    mcts_oracle_compare(o, s, 0, &r);
    printf("%s search of %s on %s: %d simulations, %d actions\n", p.policy == MCTS_MUZERO ? "muzero" : "gumbel_muzero", a.oracle_path, chosen, p.num_simulations,
           mcts_oracle_num_actions(o));
    bool same = !r.mismatched_visits && !r.mismatched_order && !r.missing && r.max_value_error <= 1e-5;
    if (same)
        printf("reproduced: all %d nodes with the same visit counts and creation order, values within %.2g\n",
               r.nodes_compared, r.max_value_error);
    else
        printf("NOT reproduced: %d visit and %d order mismatches, %d nodes missing, max value error %.3g; first: %s\n",
               r.mismatched_visits, r.mismatched_order, r.missing, r.max_value_error, r.first_problem);
    rc = same ? 0 : MZ_EXIT_RUNTIME;
    if (a.out_path) {
        char *json = mcts_tree_to_json(s, 0, mcts_oracle_discount(o));
        FILE *f = fopen(a.out_path, "w");
        if (!f || fputs(json, f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "mazero search: cannot write '%s'\n", a.out_path);
            rc = MZ_EXIT_RUNTIME;
        } else {
            printf("wrote %s\n", a.out_path);
        }
        free(json);
    }
    if (a.dot_path) {
        FILE *f = fopen(a.dot_path, "w");
        if (!f || mcts_tree_to_dot(s, 0, f, 60) != 0 || fclose(f) != 0) {
            fprintf(stderr, "mazero search: cannot write '%s'\n", a.dot_path);
            rc = MZ_EXIT_RUNTIME;
        } else {
            printf("wrote %s (dot -Tpng %s -o tree.png)\n", a.dot_path, a.dot_path);
        }
    }
    mcts_search_destroy(s);
    mcts_oracle_destroy(o);
    be->destroy(be);
    return rc;
}

static int cmd_plot(int argc, char **argv) {
    const command *cmd = find_command("plot");
    const char *metric = "mean_episode_return", *out = NULL;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    if (!paths) {
        fprintf(stderr, "mazero plot: out of memory\n");
        return MZ_EXIT_RUNTIME;
    }
    int n_paths = 0, rc = -1;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            printf("%s", cmd->usage);
            rc = 0;
        } else if ((!strcmp(arg, "--metric") || !strcmp(arg, "--out")) && i + 1 < argc) {
            *(!strcmp(arg, "--metric") ? &metric : &out) = argv[++i];
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "mazero plot: %s '%s'\nrun 'mazero plot --help' for usage\n",
                    !strcmp(arg, "--metric") || !strcmp(arg, "--out") ? "option needs a value:" : "unknown option",
                    arg);
            rc = MZ_EXIT_USAGE;
        } else {
            paths[n_paths++] = arg;
        }
    }
    if (rc < 0 && n_paths == 0) {
        fprintf(stderr, "mazero plot: missing RUN_DIR\n%s", cmd->usage);
        rc = MZ_EXIT_USAGE;
    }
    if (rc < 0) {
        char default_out[256], err[1024];
        snprintf(default_out, sizeof default_out, "%s.png", metric);
        if (!out) out = default_out;
        if (mz_plot(paths, n_paths, metric, out, err, sizeof err) == 0) {
            printf("mazero plot: wrote %s\n", out);
            rc = 0;
        } else {
            fprintf(stderr, "mazero plot: %s\n", err);
            rc = strstr(err, "expected a .png") ? MZ_EXIT_USAGE : MZ_EXIT_RUNTIME;
        }
    }
    free(paths);
    return rc;
}

static int cmd_wandb_sync(int argc, char **argv) {
    const command *cmd = find_command("wandb-sync");
    cli_args a;
    int rc = parse_args(cmd, argc, argv, "", false, &a);
    if (rc >= 0) return rc;
    if (!a.positional) {
        fprintf(stderr, "mazero wandb-sync: missing RUN_DIR\n%s", cmd->usage);
        return MZ_EXIT_USAGE;
    }
    mz_config cfg;
    if ((rc = load_config(&a, &cfg)) >= 0) return rc;
    cfg.wandb.mode = MZ_WANDB_ONLINE; /* uploading is the point; WANDB_MODE=disabled still stops it */
    mz_wandb_settings s;
    char note[512], err[1024];
    if (mz_wandb_settings_resolve(&cfg, &s, note, sizeof note, err, sizeof err) != 0) {
        fprintf(stderr, "mazero wandb-sync: %s\n", err);
        return MZ_EXIT_USAGE;
    }
    if (s.mode != MZ_WANDB_ONLINE) {
        fprintf(stderr, "mazero wandb-sync: %s\n",
                note[0] ? "no W&B API key: set WANDB_API_KEY or add a netrc entry for the server"
                        : "WANDB_MODE says not to upload");
        return MZ_EXIT_USAGE;
    }
    rc = mz_wandb_sync_run_dir(a.positional, &s, err, sizeof err);
    memset(s.api_key, 0, sizeof s.api_key);
    if (rc != 0) fprintf(stderr, "mazero wandb-sync: %s\n", err);
    return rc ? MZ_EXIT_RUNTIME : 0;
}

static int cmd_version(int argc, char **argv) {
    cli_args a;
    int rc = parse_args(find_command("version"), argc, argv, "", false, &a);
    if (rc >= 0) return rc;
    if (a.positional) {
        fprintf(stderr, "mazero version: unexpected argument '%s'\n", a.positional);
        return MZ_EXIT_USAGE;
    }
    char reason[256] = "";
    bool cuda = mz_cuda_compiled();
    printf("mazero %s (git %s)\n", MZ_VERSION, MZ_GIT_REV);
#ifdef _OPENMP
    printf("cpu backend: OpenMP %d, %s\n", _OPENMP, openblas_get_config());
#else
    printf("cpu backend: no OpenMP, %s\n", openblas_get_config());
#endif
    if (!cuda) {
        printf("cuda backend: not compiled (make CUDA=1)\n");
    } else if (mz_cuda_probe(0, reason, sizeof reason) == 0) {
        printf("cuda backend: compiled, device 0 usable\n");
    } else {
        printf("cuda backend: compiled, not usable here: %s\n", reason);
    }
    if (strcmp(mz_dist_backend_name(), "mpi") == 0)
        printf("data-parallel: MPI%s (mpirun -np P mazero train ...)\n", cuda ? " and NCCL" : "");
    else
        printf("data-parallel: not compiled (make MPI=1)\n");
    return 0;
}

static const command commands[] = {
    {"train", "train on a config (sync or async mode)",
     "usage: mazero train CONFIG [key=value ...] [resume=RUN_DIR|CHECKPOINT] [--quiet]\n"
     "\n"
     "Loads CONFIG (JSON), applies the key=value overrides, checks both against\n"
     "the schema ('mazero config --schema'), opens the device and trains.\n"
     "  resume=RUN_DIR|CHECKPOINT  algo=mazero: continue that run exactly (model,\n"
     "            AdamW, replay, env states, counters) in its directory; CONFIG\n"
     "            defaults to RUN_DIR/config.json\n"
     "  --quiet   do not print the resolved config\n"
     "example: mazero train configs/default.json device=cpu seed=3\n",
     cmd_train_or_eval},
    {"eval", "evaluate a checkpoint",
     "usage: mazero eval RUN_DIR|CHECKPOINT [episodes=N] [greedy=true|false] [render=gif|FILE.gif]\n"
     "                  [key=value ...]\n"
     "\n"
     "Loads the checkpoint with the config saved in it (then the overrides) and\n"
     "prints each mean return with its 95% confidence interval and the win rate\n"
     "where the env defines one.\n"
     "algo=mazero: RUN_DIR means checkpoints/model.safetensors; plays N episodes\n"
     "  (default muzero.eval_episodes) with search and N with the prior alone.\n"
     "algo=ippo|mappo|rec_ippo|rec_mappo: RUN_DIR means checkpoints/best_actor.safetensors,\n"
     "  else actor.safetensors; plays N episodes (default ppo.eval_episodes) as the\n"
     "  run's absolute metric does (same envs and seed: episodes=ppo.absolute_episodes\n"
     "  on best_actor reproduces it).\n"
     "greedy=false samples actions (greedy=true the argmax); default: the run's\n"
     "muzero.eval_greedy or ppo.eval_greedy.\n"
     "render=gif writes one evaluation episode (MuZero: with search) to RUN_DIR/eval.gif.\n",
     cmd_eval},
    {"bench", "benchmarks: backend, env, nn, mcts, ppo",
     "usage: mazero bench backend|env|nn|mcts|ppo [key=value ...] [--json PATH] [--peers PATH]\n"
     "\n"
     "backend   gemm GFLOP/s, element-wise GB/s, reductions and RNG throughput\n"
     "env       env-steps/s of every environment at E = 1, 64, 4096 and 1, 2 threads\n"
     "nn        forward+backward GFLOP/s of MLPs and the transformer block, beside gemm\n"
     "mcts      simulations/s of MuZero and Gumbel MuZero search with a table model\n"
     "ppo       env-steps/s of the whole IPPO FF training loop on simple_spread at E = 16, 256, 1024\n"
     "on the configured device (device=cpu|cuda|auto, threads=N)\n"
     "  --json PATH    also write the rows as JSON\n"
     "  --peers PATH   peer timings shown as ratios: env from bench/peers/env_jaxmarl.py,\n"
     "                 mcts from bench/peers/mcts_mctx.py, ppo from bench/peers/ippo_jaxmarl.py\n",
     cmd_bench},
    {"config", "print the resolved config, or the schema",
     "usage: mazero config CONFIG [key=value ...]\n"
     "       mazero config --schema [--markdown]\n"
     "\n"
     "Prints CONFIG with every default filled in and the overrides applied, as\n"
     "JSON; exits 2 naming the key and value at fault if anything is wrong.\n"
     "  --schema     list every key: type, default, allowed values, meaning\n"
     "  --markdown   the schema as a Markdown table (as in README.md)\n",
     cmd_config},
    {"render", "play random actions in an environment: text, PNG frames, GIF",
     "usage: mazero render CONFIG [key=value ...] [--steps N] [--png DIR] [--gif FILE] [--quiet]\n"
     "\n"
     "Resets one environment of CONFIG (env.name, env.scenario, seed), plays N\n"
     "steps (default 25) of random legal actions and prints every frame as text.\n"
     "  --png DIR    also write DIR/frame_NNNNN.png (DIR must exist)\n"
     "  --gif FILE   also write an animated GIF\n"
     "  --quiet      no text frames\n"
     "example: mazero render configs/default.json env.name=rware env.scenario=tiny-2ag --gif rware.gif\n",
     cmd_render},
    {"search", "replay a stored mctx search tree (the tree is the model)",
     "usage: mazero search --oracle TREE.json [key=value ...] [--out FILE.json] [--dot FILE.dot]\n"
     "\n"
     "Runs the search TREE.json's algorithm_config describes (mctx fixture format)\n"
     "with the stored tree as the model: expanding child a answers with that\n"
     "child's stored priors, value and reward. Says whether every node's visits,\n"
     "creation order and values came back; exit 0 if so, 1 if not.\n"
     "  --out FILE.json   write the resulting tree in the same format\n"
     "  --dot FILE.dot    a Graphviz picture of the 60 most visited nodes\n"
     "example: mazero search --oracle ../shared/fixtures/mctx/gumbel_muzero_tree.json device=cpu\n",
     cmd_search},
    {"plot", "learning curves of runs (PNG or SVG)",
     "usage: mazero plot RUN_DIR... [--metric NAME] [--out FILE.png|FILE.svg]\n"
     "\n"
     "Draws NAME (default mean_episode_return) from each run's metrics.jsonl\n"
     "against environment steps. Runs are grouped by algorithm: the mean over\n"
     "seeds, with a 95% confidence band (Student t). A RUN_DIR may also be a\n"
     "folder holding run directories, e.g. runs/. Default --out: NAME.png.\n"
     "example: mazero plot runs/ --metric mean_episode_return --out curves.svg\n",
     cmd_plot},
    {"wandb-sync", "upload a run's W&B file (offline runs, failed uploads)",
     "usage: mazero wandb-sync RUN_DIR [key=value ...]\n"
     "\n"
     "Uploads RUN_DIR/wandb/*/run-<id>.wandb to Weights & Biases: the run, its\n"
     "config, every history row, the summary and the exit code. The key comes\n"
     "from WANDB_API_KEY or netrc; the server from WANDB_BASE_URL or\n"
     "wandb.base_url=URL; wandb.* keys set timeouts and retries.\n"
     "example: WANDB_API_KEY=... mazero wandb-sync runs/ippo/lbf-8x8-2p/20260101-120000-0\n",
     cmd_wandb_sync},
    {"version", "print version and build features", "usage: mazero version\n", cmd_version},
};

#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static const command *find_command(const char *name) {
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

static void print_usage(FILE *f) {
    fprintf(f, "mazero %s: model-based multi-agent RL (MuZero family) on CPU and CUDA\n\n", MZ_VERSION);
    fprintf(f, "usage: mazero COMMAND [args]   (mazero COMMAND --help for each)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit status: 0 success, 1 runtime failure, 2 bad usage, config or input\n");
}

int mz_cli_main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return MZ_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version")) name = "version";
    const command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "mazero: unknown %s '%s'\n\n", name[0] == '-' ? "option" : "command", name);
        print_usage(stderr);
        return MZ_EXIT_USAGE;
    }
    char *saved = argv[1];
    argv[1] = (char *)cmd->name; /* commands see their canonical name as argv[0] */
    int rc = cmd->run(argc - 1, argv + 1);
    argv[1] = saved;
    return rc;
}
