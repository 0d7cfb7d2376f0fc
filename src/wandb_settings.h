/* Who, where and how a run talks to Weights & Biases: the config's wandb.*
 * keys, overridden by the WANDB_* environment variables (as in the official
 * client), and the API key from WANDB_API_KEY or the netrc file. The key is
 * held in memory only: nothing here writes it anywhere. */
#ifndef MZ_WANDB_SETTINGS_H
#define MZ_WANDB_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "src/config.h"

typedef struct {
    int mode; /* mz_wandb_mode */
    char base_url[512];
    char app_url[512]; /* the UI, for the run URL */
    char api_key[512];
    char entity[MZ_CFG_STR]; /* empty: the server picks the key's default entity */
    char project[MZ_CFG_STR];
    char run_id[MZ_CFG_STR];
    char name[MZ_CFG_STR];
    char tags[1024]; /* comma-separated */
    double batch_seconds, heartbeat_seconds, request_timeout_seconds;
    double retry_base_seconds, retry_max_seconds, finish_timeout_seconds;
    int64_t max_retries, queue_rows;
} mz_wandb_settings;

/* Fills `s` from cfg and the environment. Returns 0; or 2 with a one-line
 * reason naming the variable or key and the value at fault. In online mode
 * without a key it falls back to offline and says so in `note`. */
int mz_wandb_settings_resolve(const mz_config *cfg, mz_wandb_settings *s, char *note, size_t note_len, char *err,
                              size_t err_len);

/* The key for `base_url` from a netrc file (machine = the URL's host[:port]).
 * 0 when found. `netrc_path` NULL: $NETRC, else ~/.netrc. */
int mz_wandb_netrc_key(const char *netrc_path, const char *base_url, char *key, size_t len);

/* Eight random characters from [a-z0-9], as the official client makes. */
void mz_wandb_random_run_id(char out[9]);

/* https://api.wandb.ai -> https://wandb.ai; https://api.x -> https://app.x. */
void mz_wandb_app_url(const char *base_url, char *out, size_t len);

#endif
