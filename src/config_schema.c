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
    {"log.dir", MZ_CFG_STRING, STR(log.dir), "runs", 0, 0, NULL, NULL, "root folder of run directories"},
    {"log.interval_steps", MZ_CFG_INT, OFF(log.interval_steps), 0, "10000", 1, BIG, NULL, NULL,
     "environment steps between metric rows"},
};

const int mz_config_schema_len = (int)(sizeof mz_config_schema / sizeof mz_config_schema[0]);
