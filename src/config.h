/* Run configuration: one JSON file, checked against the schema table in
 * src/config_schema.c (type, default, range or enum, help for every key),
 * then `section.key=value` overrides from the command line, checked the same
 * way. The schema table is the only list of keys: defaults, validation, the
 * resolved JSON and the README's reference all come from it. */
#ifndef MZ_CONFIG_H
#define MZ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MZ_CFG_STR 128

typedef enum { MZ_MODE_SYNC = 0, MZ_MODE_ASYNC = 1 } mz_mode;
typedef enum { MZ_ALGO_MAZERO = 0, MZ_ALGO_IPPO = 1, MZ_ALGO_MAPPO = 2, MZ_ALGO_REC_IPPO = 3, MZ_ALGO_REC_MAPPO = 4 } mz_algo;
typedef enum { MZ_SEARCH_MUZERO = 0, MZ_SEARCH_GUMBEL_MUZERO = 1 } mz_search_policy;
typedef enum { MZ_SEARCH_INDEPENDENT = 0, MZ_SEARCH_JOINT = 1, MZ_SEARCH_SAMPLED = 2 } mz_search_mode;
typedef enum { MZ_SEARCH_PARTNER_ARGMAX = 0, MZ_SEARCH_PARTNER_SAMPLE = 1 } mz_search_partner;
typedef enum { MZ_COMM_CONCAT = 0, MZ_COMM_REPLACE = 1 } mz_comm_mode;
typedef enum { MZ_BOOTSTRAP_ROOT = 0, MZ_BOOTSTRAP_TARGET = 1 } mz_value_bootstrap;
typedef enum { MZ_CONSOLE_AUTO = 0, MZ_CONSOLE_LINE = 1, MZ_CONSOLE_PLAIN = 2, MZ_CONSOLE_QUIET = 3 } mz_console_mode;
typedef enum { MZ_WANDB_DISABLED = 0, MZ_WANDB_ONLINE = 1, MZ_WANDB_OFFLINE = 2 } mz_wandb_mode;

typedef struct {
    char device[MZ_CFG_STR]; /* auto | cpu | cuda | cuda:N */
    int64_t seed;
    int64_t threads; /* CPU threads, 0 = all cores */
    int mode;        /* mz_mode */
    int algo;        /* mz_algo */
    int64_t total_env_steps;
    struct {
        char name[MZ_CFG_STR];
        char scenario[MZ_CFG_STR];
        int64_t num_envs;
        int64_t max_steps;
        int64_t stack_observations;
    } env;
    struct {
        int policy; /* mz_search_policy */
        int mode;   /* mz_search_mode */
        int64_t num_simulations;
        int64_t joint_action_limit;
        int partner; /* mz_search_partner */
        int64_t sampled_actions; /* sampled mode: K */
        double os_lambda, os_rho; /* sampled mode: OS(lambda); rho = fraction dropped per depth */
        double root_dirichlet_fraction, root_dirichlet_alpha; /* sampled mode: root proposal noise */
        double value_scale, maxvisit_init; /* gumbel_muzero: sigma(q) = (maxvisit_init + max N) value_scale q */
        bool rescale_values;               /* gumbel_muzero: min-max normalise the completed Q first */
        int64_t considered_actions;        /* gumbel_muzero: root actions sequential halving starts from */
    } mcts;
    struct {
        char dir[MZ_CFG_STR];
        int64_t interval_steps;
        int console;             /* mz_console_mode */
        double progress_seconds; /* plain progress lines: one per this many seconds */
    } log;
    struct {
        int mode; /* mz_wandb_mode; WANDB_MODE wins */
        char project[MZ_CFG_STR];
        char entity[MZ_CFG_STR];
        char base_url[MZ_CFG_STR];
        char run_id[MZ_CFG_STR];
        char name[MZ_CFG_STR];
        char tags[MZ_CFG_STR]; /* comma-separated */
        double batch_seconds;
        double heartbeat_seconds;
        double request_timeout_seconds;
        double retry_base_seconds;
        double retry_max_seconds;
        int64_t max_retries;
        double finish_timeout_seconds;
        int64_t queue_rows;
    } wandb;
    struct { /* algo=ippo|mappo (learner/ppo.h) */
        int64_t rollout_length;
        int64_t epochs;
        int64_t minibatches;
        double actor_lr, critic_lr;
        bool decay_lr;
        double gamma, gae_lambda, clip_eps, ent_coef, vf_coef, max_grad_norm, adam_eps;
        bool add_agent_id;
        bool bootstrap_truncation;
        bool team_reward;
        int64_t hidden;
        bool layer_norm;
        int64_t num_evaluation;
        int64_t eval_episodes;
        int64_t absolute_episodes;
        bool eval_greedy;
        int64_t checkpoint_interval_updates;
    } ppo;
    struct { /* algo=mazero (worldmodel/, learner/, actors/sync.h) */
        int64_t hidden, mlp_width, head_width, projection, support;
        int64_t comm_layers, comm_heads, comm_ff;
        int comm_mode; /* mz_comm_mode */
        double comm_dropout;
        double policy_smoothing;
        bool zero_init;
        bool layer_norm;
        bool agent_id;
        int64_t unroll_steps, n_step;
        double discount;
        int64_t batch_size, replay_steps;
        double priority_alpha, priority_beta;
        int64_t priority_beta_updates;
        double lr, lr_floor;
        int64_t lr_warmup_updates, lr_decay_updates;
        double weight_decay, max_grad_norm;
        double reward_shift;
        bool replay_on_device;
        double coef_reward, coef_value, coef_policy, coef_consistency, hidden_grad_scale;
        int64_t rollout_steps, updates_per_rollout, min_replay_steps;
        double reanalyse_fraction;
        int64_t eval_interval_updates, eval_episodes, checkpoint_interval_updates;
        bool eval_greedy;
        int value_bootstrap; /* mz_value_bootstrap */
        double target_ema;
        int64_t target_update_interval;
        bool awpo;
        double awpo_alpha, awpo_clip;
    } muzero;
    struct { /* algo=mazero mode=async (actors/async.h) */
        int64_t num_actors, segment_length, publish_interval, queue_batches;
        double replay_ratio;
        int64_t num_reanalyse, reanalyse_batch;
        double reanalyse_fraction;
        int64_t fail_actor_after_steps; /* test hook */
        bool save_replay;
    } async;
    struct {
        bool trajectories;
        char dir[MZ_CFG_STR];
        int64_t chunk_steps;
    } record;
} mz_config;

typedef enum { MZ_CFG_INT, MZ_CFG_FLOAT, MZ_CFG_BOOL, MZ_CFG_STRING, MZ_CFG_ENUM } mz_cfg_type;

typedef struct {
    const char *key; /* dotted path: "mcts.num_simulations" */
    mz_cfg_type type;
    size_t offset; /* into mz_config */
    size_t size;   /* strings: buffer size */
    const char *def; /* default, written as on the command line */
    double min, max; /* int and float */
    const char *choices; /* enum: "sync|async"; stored as the index */
    /* strings: NULL if `text` is acceptable, else what was expected */
    const char *(*check)(const char *text);
    const char *help;
} mz_cfg_key;

extern const mz_cfg_key mz_config_schema[];
extern const int mz_config_schema_len;

void mz_config_defaults(mz_config *cfg);

/* Defaults, then the file at `path` (NULL: none), then the overrides. Returns
 * 0, or 2 (MZ_EXIT_USAGE) with every problem found in `err`, one per line,
 * each naming the file or "command line", the key and the value at fault. */
int mz_config_load(mz_config *cfg, const char *path, int n_overrides, char *const *overrides, char *err,
                   size_t err_len);

/* The same from JSON text in memory; `source` names it in messages. */
int mz_config_load_text(mz_config *cfg, const char *source, const char *text, size_t len, int n_overrides,
                        char *const *overrides, char *err, size_t err_len);

/* The resolved config as pretty JSON (every key); caller frees. */
char *mz_config_to_json(const mz_config *cfg);

/* The schema as a Markdown table (README) or aligned text. */
void mz_config_print_schema(FILE *f, bool markdown);

/* Name of an enum value, e.g. mz_config_enum_name("mode", cfg->mode); valid
 * until 8 more calls (several can share one printf). */
const char *mz_config_enum_name(const char *key, int value);

#endif
