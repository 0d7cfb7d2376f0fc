/* The schema: every config key, its type, default, allowed values and help.
 * Sections fill in as the parts that read them are built (see README). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "src/config.h"

/* "auto", "cpu", "cuda" or "cuda:N" */
static const char *check_device(const char *text) {
    static const char *expected = "one of auto, cpu, cuda, cuda:N";
    if (!strcmp(text, "auto") || !strcmp(text, "cpu") || !strcmp(text, "cuda")) return NULL;
    if (strncmp(text, "cuda:", 5) != 0 || text[5] < '0' || text[5] > '9') return expected;
    char *end = NULL;
    long v = strtol(text + 5, &end, 10);
    return (*end == '\0' && v >= 0 && v <= 1023) ? NULL : expected;
}

#define OFF(field) offsetof(mz_config, field)
#define STR(field) OFF(field), sizeof(((mz_config *)0)->field)
#define BIG 9007199254740991.0 /* 2^53 - 1: the largest integer JSON keeps exactly */

const mz_cfg_key mz_config_schema[] = {
    {"device", MZ_CFG_STRING, STR(device), "auto", 0, 0, NULL, check_device,
     "where to run: auto (CUDA if usable, else CPU), cpu, cuda, cuda:N"},
    {"seed", MZ_CFG_INT, OFF(seed), 0, "0", 0, BIG, NULL, NULL, "seed of every random stream of the run"},
    {"threads", MZ_CFG_INT, OFF(threads), 0, "0", 0, 4096, NULL, NULL, "CPU threads (OpenMP, OpenBLAS); 0 = all cores"},
    {"mode", MZ_CFG_ENUM, OFF(mode), 0, "sync", 0, 0, "sync|async", NULL,
     "training architecture: sync (all on one device) or async (CPU actors + learner)"},
    {"algo", MZ_CFG_ENUM, OFF(algo), 0, "mazero", 0, 0, "mazero|ippo|mappo", NULL, "algorithm to train"},
    {"total_env_steps", MZ_CFG_INT, OFF(total_env_steps), 0, "1000000", 1, BIG, NULL, NULL,
     "training budget in environment steps (summed over environments)"},
    {"env.name", MZ_CFG_STRING, STR(env.name), "mpe_simple_spread", 0, 0, NULL, NULL,
     "environment: mpe_simple_spread, lbf, rware, climbing, chain (README: Environments)"},
    {"env.scenario", MZ_CFG_STRING, STR(env.scenario), "", 0, 0, NULL, NULL,
     "preset or size; empty = the env's default (3ag, 2s-8x8-2p-2f-coop, tiny-2ag, default, n2-l5)"},
    {"env.num_envs", MZ_CFG_INT, OFF(env.num_envs), 0, "64", 1, 1 << 24, NULL, NULL, "environments stepped in parallel"},
    {"env.max_steps", MZ_CFG_INT, OFF(env.max_steps), 0, "0", 0, 1 << 24, NULL, NULL,
     "episode length limit (truncation); 0 = the env's own (spread 25, lbf 100, rware 500)"},
    {"mcts.policy", MZ_CFG_ENUM, OFF(mcts.policy), 0, "gumbel_muzero", 0, 0, "muzero|gumbel_muzero", NULL,
     "search policy"},
    {"mcts.mode", MZ_CFG_ENUM, OFF(mcts.mode), 0, "sampled", 0, 0, "independent|joint|sampled", NULL,
     "multi-agent search: per-agent trees, one joint tree, or sampled joint actions"},
    {"mcts.num_simulations", MZ_CFG_INT, OFF(mcts.num_simulations), 0, "50", 1, 100000, NULL, NULL,
     "simulations per search"},
    {"mcts.joint_action_limit", MZ_CFG_INT, OFF(mcts.joint_action_limit), 0, "512", 1, 512, NULL, NULL,
     "mcts.mode=joint: refuse more joint actions (A^N) than this"},
    {"mcts.partner", MZ_CFG_ENUM, OFF(mcts.partner), 0, "argmax", 0, 0, "argmax|sample", NULL,
     "mcts.mode=independent: the other agents act by the argmax of, or a sample from, their prior"},
    {"mcts.sampled_actions", MZ_CFG_INT, OFF(mcts.sampled_actions), 0, "10", 1, 256, NULL, NULL,
     "mcts.mode=sampled: joint actions K sampled per expansion (duplicates merge)"},
    {"mcts.os_lambda", MZ_CFG_FLOAT, OFF(mcts.os_lambda), 0, "0.8", 0.01, 1, NULL, NULL,
     "mcts.mode=sampled: OS(lambda) weight lambda^d of the subtree returns d levels down"},
    {"mcts.os_rho", MZ_CFG_FLOAT, OFF(mcts.os_rho), 0, "0.25", 0, 0.99, NULL, NULL,
     "mcts.mode=sampled: fraction of each depth's returns OS(lambda) drops (MAZero's code: keep the top "
     "1-rho; the paper's Table 1 rho=0.75 reads the other way and equals 0.25 here)"},
    {"mcts.root_dirichlet_fraction", MZ_CFG_FLOAT, OFF(mcts.root_dirichlet_fraction), 0, "0.25", 0, 1, NULL, NULL,
     "mcts.mode=sampled: weight eps of the Dirichlet noise in each agent's root proposal"},
    {"mcts.root_dirichlet_alpha", MZ_CFG_FLOAT, OFF(mcts.root_dirichlet_alpha), 0, "0.3", 0.001, 100, NULL, NULL,
     "mcts.mode=sampled: concentration of the root Dirichlet noise"},
    {"log.dir", MZ_CFG_STRING, STR(log.dir), "runs", 0, 0, NULL, NULL, "root folder of run directories"},
    {"log.interval_steps", MZ_CFG_INT, OFF(log.interval_steps), 0, "10000", 1, BIG, NULL, NULL,
     "environment steps between metric rows"},
    {"log.console", MZ_CFG_ENUM, OFF(log.console), 0, "auto", 0, 0, "auto|line|plain|quiet", NULL,
     "progress on stdout: auto (an updating line on a terminal, else plain lines), line, plain, quiet"},
    {"log.progress_seconds", MZ_CFG_FLOAT, OFF(log.progress_seconds), 0, "10", 0, 86400, NULL, NULL,
     "seconds between plain progress lines (stdout when not a terminal, and console.log)"},
    {"wandb.mode", MZ_CFG_ENUM, OFF(wandb.mode), 0, "disabled", 0, 0, "disabled|online|offline", NULL,
     "Weights & Biases logging; the WANDB_MODE environment variable wins"},
    {"wandb.project", MZ_CFG_STRING, STR(wandb.project), "mazero", 0, 0, NULL, NULL, "W&B project (WANDB_PROJECT wins)"},
    {"wandb.entity", MZ_CFG_STRING, STR(wandb.entity), "", 0, 0, NULL, NULL,
     "W&B entity; empty: the key's default entity (WANDB_ENTITY wins)"},
    {"wandb.base_url", MZ_CFG_STRING, STR(wandb.base_url), "https://api.wandb.ai", 0, 0, NULL, NULL,
     "W&B API server (WANDB_BASE_URL wins)"},
    {"wandb.run_id", MZ_CFG_STRING, STR(wandb.run_id), "", 0, 0, NULL, NULL,
     "W&B run id; empty: 8 random characters (WANDB_RUN_ID wins)"},
    {"wandb.name", MZ_CFG_STRING, STR(wandb.name), "", 0, 0, NULL, NULL,
     "W&B display name; empty: the run directory's name (WANDB_NAME wins)"},
    {"wandb.tags", MZ_CFG_STRING, STR(wandb.tags), "", 0, 0, NULL, NULL, "comma-separated W&B tags (WANDB_TAGS wins)"},
    {"wandb.batch_seconds", MZ_CFG_FLOAT, OFF(wandb.batch_seconds), 0, "15", 0.001, 3600, NULL, NULL,
     "at most one file_stream upload per this many seconds"},
    {"wandb.heartbeat_seconds", MZ_CFG_FLOAT, OFF(wandb.heartbeat_seconds), 0, "30", 0.001, 3600, NULL, NULL,
     "an empty file_stream request after this many idle seconds"},
    {"wandb.request_timeout_seconds", MZ_CFG_FLOAT, OFF(wandb.request_timeout_seconds), 0, "30", 0.01, 3600, NULL,
     NULL, "time limit of one HTTP attempt"},
    {"wandb.retry_base_seconds", MZ_CFG_FLOAT, OFF(wandb.retry_base_seconds), 0, "2", 0.001, 600, NULL, NULL,
     "first retry delay; doubles per retry, plus up to 25% jitter (Retry-After wins)"},
    {"wandb.retry_max_seconds", MZ_CFG_FLOAT, OFF(wandb.retry_max_seconds), 0, "60", 0.001, 3600, NULL, NULL,
     "longest retry delay"},
    {"wandb.max_retries", MZ_CFG_INT, OFF(wandb.max_retries), 0, "30", 0, 100000, NULL, NULL,
     "retries of one request before the upload stops for good (rows stay on disk)"},
    {"wandb.finish_timeout_seconds", MZ_CFG_FLOAT, OFF(wandb.finish_timeout_seconds), 0, "60", 0, 86400, NULL, NULL,
     "at the end of a run, how long to wait for the last uploads"},
    {"wandb.queue_rows", MZ_CFG_INT, OFF(wandb.queue_rows), 0, "100000", 1, 1 << 24, NULL, NULL,
     "rows waiting for upload before new ones are left on disk only"},
    {"ppo.rollout_length", MZ_CFG_INT, OFF(ppo.rollout_length), 0, "128", 1, 1 << 20, NULL, NULL,
     "algo=ippo|mappo: environment steps per rollout (per env)"},
    {"ppo.epochs", MZ_CFG_INT, OFF(ppo.epochs), 0, "4", 1, 1000, NULL, NULL, "PPO epochs over each rollout"},
    {"ppo.minibatches", MZ_CFG_INT, OFF(ppo.minibatches), 0, "2", 1, 1 << 20, NULL, NULL,
     "minibatches per epoch; must divide rollout_length x env.num_envs"},
    {"ppo.actor_lr", MZ_CFG_FLOAT, OFF(ppo.actor_lr), 0, "0.00025", 0, 1, NULL, NULL, "actor Adam learning rate"},
    {"ppo.critic_lr", MZ_CFG_FLOAT, OFF(ppo.critic_lr), 0, "0.00025", 0, 1, NULL, NULL, "critic Adam learning rate"},
    {"ppo.decay_lr", MZ_CFG_BOOL, OFF(ppo.decay_lr), 0, "false", 0, 0, NULL, NULL,
     "decay both learning rates linearly to 0 over the run"},
    {"ppo.gamma", MZ_CFG_FLOAT, OFF(ppo.gamma), 0, "0.99", 0, 1, NULL, NULL, "discount"},
    {"ppo.gae_lambda", MZ_CFG_FLOAT, OFF(ppo.gae_lambda), 0, "0.95", 0, 1, NULL, NULL, "GAE lambda"},
    {"ppo.clip_eps", MZ_CFG_FLOAT, OFF(ppo.clip_eps), 0, "0.2", 0, 10, NULL, NULL,
     "surrogate ratio clip, also the value clip"},
    {"ppo.ent_coef", MZ_CFG_FLOAT, OFF(ppo.ent_coef), 0, "0.01", 0, 100, NULL, NULL, "entropy bonus coefficient"},
    {"ppo.vf_coef", MZ_CFG_FLOAT, OFF(ppo.vf_coef), 0, "0.5", 0, 100, NULL, NULL, "value loss coefficient"},
    {"ppo.max_grad_norm", MZ_CFG_FLOAT, OFF(ppo.max_grad_norm), 0, "0.5", 0, 1e9, NULL, NULL,
     "global-norm gradient clip, per network; 0 = none"},
    {"ppo.adam_eps", MZ_CFG_FLOAT, OFF(ppo.adam_eps), 0, "0.00001", 1e-12, 1, NULL, NULL, "Adam epsilon"},
    {"ppo.add_agent_id", MZ_CFG_BOOL, OFF(ppo.add_agent_id), 0, "true", 0, 0, NULL, NULL,
     "prepend the agent's one-hot id to the actor's (and IPPO critic's) input"},
    {"ppo.bootstrap_truncation", MZ_CFG_BOOL, OFF(ppo.bootstrap_truncation), 0, "true", 0, 0, NULL, NULL,
     "bootstrap time-limit truncation from the final observation's value; false = Mava's behaviour"},
    {"ppo.team_reward", MZ_CFG_BOOL, OFF(ppo.team_reward), 0, "false", 0, 0, NULL, NULL,
     "train every agent on the env's team reward instead of its own (Mava on LBF and RWARE)"},
    {"ppo.hidden", MZ_CFG_INT, OFF(ppo.hidden), 0, "128", 1, 65536, NULL, NULL,
     "width of the two hidden layers of the actor and critic MLPs"},
    {"ppo.layer_norm", MZ_CFG_BOOL, OFF(ppo.layer_norm), 0, "false", 0, 0, NULL, NULL,
     "LayerNorm (learned offset, no scale, as Mava) after each hidden dense layer of both MLPs"},
    {"ppo.num_evaluation", MZ_CFG_INT, OFF(ppo.num_evaluation), 0, "200", 1, 1 << 20, NULL, NULL,
     "evaluations over the run (Mava's num_evaluation)"},
    {"ppo.eval_episodes", MZ_CFG_INT, OFF(ppo.eval_episodes), 0, "32", 1, 1 << 20, NULL, NULL,
     "episodes per evaluation"},
    {"ppo.absolute_episodes", MZ_CFG_INT, OFF(ppo.absolute_episodes), 0, "320", 0, 1 << 24, NULL, NULL,
     "episodes of the final absolute metric (best evaluated parameters); 0 = none"},
    {"ppo.eval_greedy", MZ_CFG_BOOL, OFF(ppo.eval_greedy), 0, "false", 0, 0, NULL, NULL,
     "evaluate with the argmax action instead of a sample"},
    {"record.trajectories", MZ_CFG_BOOL, OFF(record.trajectories), 0, "false", 0, 0, NULL, NULL,
     "write the run's experience as .npy chunks under record.dir/<env>/<uid>/"},
    {"record.dir", MZ_CFG_STRING, STR(record.dir), "vaults", 0, 0, NULL, NULL, "root folder of trajectory recordings"},
    {"record.chunk_steps", MZ_CFG_INT, OFF(record.chunk_steps), 0, "1024", 1, 1 << 24, NULL, NULL,
     "time steps held in memory per .npy chunk"},
};

const int mz_config_schema_len = (int)(sizeof mz_config_schema / sizeof mz_config_schema[0]);
