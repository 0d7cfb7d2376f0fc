#include "src/wandb_settings.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/check.h"

static void copy(char *dst, size_t len, const char *src) { snprintf(dst, len, "%s", src); }

/* The environment variable if set (even to ""), else the config's value. */
static const char *env_or(const char *var, const char *config_value) {
    const char *v = getenv(var);
    return v ? v : config_value;
}

void mz_wandb_random_run_id(char out[9]) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char bytes[8];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(bytes, 1, sizeof bytes, f) : 0;
    if (f) fclose(f);
    if (got != sizeof bytes) { /* no /dev/urandom: time and pid still make collisions unlikely */
        uint64_t x = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid() * 1442695040888963407ull;
        for (int i = 0; i < 8; i++, x = x * 6364136223846793005ull + 1442695040888963407ull) bytes[i] = (unsigned char)(x >> 56);
    }
    for (int i = 0; i < 8; i++) out[i] = alphabet[bytes[i] % 36];
    out[8] = '\0';
}

void mz_wandb_app_url(const char *base_url, char *out, size_t len) {
    const char *api = strstr(base_url, "://api.");
    if (api && !strncmp(api + 7, "wandb.", 6)) {
        snprintf(out, len, "%.*s://%s", (int)(api - base_url), base_url, api + 7);
    } else if (api) {
        snprintf(out, len, "%.*s://app.%s", (int)(api - base_url), base_url, api + 7);
    } else {
        copy(out, len, base_url);
    }
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/') out[--n] = '\0';
}

/* host[:port] of a URL: what netrc files name as `machine`. */
static void url_netloc(const char *url, char *out, size_t len) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    snprintf(out, len, "%.*s", (int)n, p);
}

int mz_wandb_netrc_key(const char *netrc_path, const char *base_url, char *key, size_t len) {
    char path[1024];
    if (netrc_path) copy(path, sizeof path, netrc_path);
    else if (getenv("NETRC")) copy(path, sizeof path, getenv("NETRC"));
    else if (getenv("HOME")) snprintf(path, sizeof path, "%s/.netrc", getenv("HOME"));
    else return -1;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char host[512];
    url_netloc(base_url, host, sizeof host);
    /* netrc is a stream of tokens: machine NAME login USER password KEY ... */
    char token[1024], machine[512] = "";
    bool in_match = false;
    int found = -1;
    while (found != 0 && fscanf(f, "%1023s", token) == 1) {
        if (!strcmp(token, "machine") || !strcmp(token, "default")) {
            if (!strcmp(token, "machine")) {
                if (fscanf(f, "%511s", machine) != 1) break;
            } else {
                machine[0] = '\0';
            }
            in_match = !strcmp(token, "default") || !strcmp(machine, host);
        } else if (!strcmp(token, "password") && fscanf(f, "%1023s", token) == 1 && in_match) {
            copy(key, len, token);
            found = 0;
        }
    }
    fclose(f);
    return found;
}

static bool has_any(const char *s, const char *chars) { return strpbrk(s, chars) != NULL; }

int mz_wandb_settings_resolve(const mz_config *cfg, mz_wandb_settings *s, char *note, size_t note_len, char *err,
                              size_t err_len) {
    memset(s, 0, sizeof *s);
    if (note_len) note[0] = '\0';
    if (err_len) err[0] = '\0';
    s->mode = cfg->wandb.mode;
    const char *mode = getenv("WANDB_MODE");
    if (mode) {
        if (!strcmp(mode, "online") || !strcmp(mode, "run")) s->mode = MZ_WANDB_ONLINE;
        else if (!strcmp(mode, "offline") || !strcmp(mode, "dryrun")) s->mode = MZ_WANDB_OFFLINE;
        else if (!strcmp(mode, "disabled")) s->mode = MZ_WANDB_DISABLED;
        else {
            snprintf(err, err_len, "WANDB_MODE: expected one of online, offline, dryrun, disabled, got '%s'", mode);
            return MZ_EXIT_USAGE;
        }
    }
    copy(s->base_url, sizeof s->base_url, env_or("WANDB_BASE_URL", cfg->wandb.base_url));
    size_t n = strlen(s->base_url);
    while (n > 0 && s->base_url[n - 1] == '/') s->base_url[--n] = '\0';
    if (getenv("WANDB_APP_URL")) copy(s->app_url, sizeof s->app_url, getenv("WANDB_APP_URL"));
    else mz_wandb_app_url(s->base_url, s->app_url, sizeof s->app_url);
    copy(s->entity, sizeof s->entity, env_or("WANDB_ENTITY", cfg->wandb.entity));
    copy(s->project, sizeof s->project, env_or("WANDB_PROJECT", cfg->wandb.project));
    if (!s->project[0]) copy(s->project, sizeof s->project, "uncategorized");
    copy(s->run_id, sizeof s->run_id, env_or("WANDB_RUN_ID", cfg->wandb.run_id));
    copy(s->name, sizeof s->name, env_or("WANDB_NAME", cfg->wandb.name));
    copy(s->tags, sizeof s->tags, env_or("WANDB_TAGS", cfg->wandb.tags));
    s->batch_seconds = cfg->wandb.batch_seconds;
    s->heartbeat_seconds = cfg->wandb.heartbeat_seconds;
    s->request_timeout_seconds = cfg->wandb.request_timeout_seconds;
    s->retry_base_seconds = cfg->wandb.retry_base_seconds;
    s->retry_max_seconds = cfg->wandb.retry_max_seconds;
    s->finish_timeout_seconds = cfg->wandb.finish_timeout_seconds;
    s->max_retries = cfg->wandb.max_retries;
    s->queue_rows = cfg->wandb.queue_rows;

    const char *run_id_source = getenv("WANDB_RUN_ID") ? "WANDB_RUN_ID" : "wandb.run_id";
    if (s->run_id[0] && (has_any(s->run_id, ":;,#?/'") || isspace((unsigned char)s->run_id[0]) ||
                         isspace((unsigned char)s->run_id[strlen(s->run_id) - 1]))) {
        snprintf(err, err_len, "%s: a run id may not contain any of :;,#?/' nor surrounding spaces, got '%s'",
                 run_id_source, s->run_id);
        return MZ_EXIT_USAGE;
    }
    if (has_any(s->project, "/\\#?%:")) {
        snprintf(err, err_len, "%s: a project name may not contain any of /\\#?%%:, got '%s'",
                 getenv("WANDB_PROJECT") ? "WANDB_PROJECT" : "wandb.project", s->project);
        return MZ_EXIT_USAGE;
    }
    if (!s->run_id[0]) mz_wandb_random_run_id(s->run_id);
    if (s->mode != MZ_WANDB_ONLINE) return 0;

    if (strncmp(s->base_url, "http://", 7) != 0 && strncmp(s->base_url, "https://", 8) != 0) {
        snprintf(err, err_len, "%s: expected an http:// or https:// URL, got '%s'",
                 getenv("WANDB_BASE_URL") ? "WANDB_BASE_URL" : "wandb.base_url", s->base_url);
        return MZ_EXIT_USAGE;
    }
    const char *key = getenv("WANDB_API_KEY");
    if (key && key[0]) copy(s->api_key, sizeof s->api_key, key);
    else if (mz_wandb_netrc_key(NULL, s->base_url, s->api_key, sizeof s->api_key) != 0) {
        snprintf(note, note_len,
                 "no W&B API key (WANDB_API_KEY, or a netrc entry for %s): logging offline instead; "
                 "upload later with 'mazero wandb-sync RUN_DIR'",
                 s->base_url);
        s->mode = MZ_WANDB_OFFLINE;
    }
    return 0;
}
