#include "src/runlog.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "src/dist.h"
#include "src/plot.h"
#include "src/progress.h"
#include "src/strbuf.h"
#include "src/wandb_file.h"
#include "src/wandb_settings.h"
#include "src/wandb_uploader.h"
#include "src/clock.h"

#define PATH_LEN 1024
#define TTY_REDRAW_SECONDS 0.1

typedef struct {
    char *name;
    double value;
} latest_value;

struct mz_runlog {
    char dir[PATH_LEN], checkpoints[PATH_LEN], wandb_path[PATH_LEN];
    char algo[MZ_CFG_STR], env[MZ_CFG_STR], scenario[MZ_CFG_STR];
    int64_t seed, total_env_steps;
    FILE *metrics, *console;
    int console_mode; /* line, plain or quiet (auto resolved at open) */
    double progress_seconds;
    double start_monotonic, start_unix;
    double last_plain_print, last_tty_draw;
    bool tty_line_shown, printed_any;
    int64_t rows;
    mz_progress progress;
    char loss_names[MZ_PROGRESS_MAX_LOSSES][64];
    latest_value *latest; /* the W&B summary: latest value of every metric */
    int n_latest;
    cJSON *marl_root, *marl_seed;
    cJSON *marl_last; /* the last eval or absolute entry */
    int n_evals;
    int64_t last_eval_env_steps;
    double last_eval_time;
    mz_wandb_settings wandb;
    mz_wandb_file *wandb_file;
    mz_wandb_uploader *uploader;
    bool failed_io;
    bool follower; /* a data-parallel rank other than 0: writes nothing, joins the collectives */
};

/* ---- clocks, signals, crash exit ------------------------------------------ */

static double now_unix(void) {
    struct timespec ts;
    MZ_CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0, "clock_gettime failed: %s", strerror(errno));
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile sig_atomic_t stop_signal;
static struct sigaction old_int, old_term;
static mz_runlog *open_run; /* closed with exit code 1 if the process exits first */
static bool atexit_registered;

static void on_stop_signal(int sig) {
    stop_signal = sig;
    /* the next one acts as if we had not been here: a stuck run can still be killed */
    signal(sig, SIG_DFL);
}

/* In a data-parallel job the ranks agree (the largest signal any received),
 * so that they all leave the training loop at the same iteration. The
 * agreed value decides; a signal that lands while the collective runs is
 * kept for the next call, never overwritten by the agreed 0 (that lost a
 * SIGTERM to one rank and left the job running until killed). */
bool mz_stop_agree(volatile sig_atomic_t *sig, int64_t (*max_over_ranks)(int64_t)) {
    int64_t agreed = max_over_ranks((int64_t)*sig);
    if (agreed > *sig) *sig = (sig_atomic_t)agreed;
    return agreed != 0;
}
static int64_t dist_max_i64(int64_t v) { return -mz_dist_min_i64(-v); }
bool mz_runlog_stop_requested(void) {
    if (!mz_dist_active()) return stop_signal != 0;
    return mz_stop_agree(&stop_signal, dist_max_i64);
}
int mz_runlog_stop_signal(void) { return stop_signal; }

static void close_on_exit(void) {
    mz_runlog *rl = open_run;
    if (!rl) return;
    open_run = NULL;
    if (!rl->follower)
        fprintf(stderr, "mazero: the process is exiting with run %s still open: closing it as failed\n", rl->dir);
    mz_runlog_close(rl, MZ_EXIT_RUNTIME);
}

/* ---- files ------------------------------------------------------------------ */

static int make_dir(const char *path, char *err, size_t err_len) {
    if (mkdir(path, 0775) == 0 || errno == EEXIST) return 0;
    snprintf(err, err_len, "cannot create folder '%s': %s", path, strerror(errno));
    return -1;
}

/* mkdir -p */
static int make_dirs(const char *path, char *err, size_t err_len) {
    char partial[PATH_LEN];
    snprintf(partial, sizeof partial, "%s", path);
    for (char *p = partial + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (make_dir(partial, err, err_len) != 0) return -1;
        *p = '/';
    }
    return make_dir(partial, err, err_len);
}

static int write_text_file(const char *path, const char *text, char *err, size_t err_len) {
    char tmp[PATH_LEN + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, err_len, "cannot create '%s': %s", tmp, strerror(errno));
        return -1;
    }
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n && fputc('\n', f) != EOF;
    ok = (fclose(f) == 0) && ok;
    /* rename: a reader never sees half a file, even if we die mid-write */
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, err_len, "cannot write '%s': %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void io_warning(mz_runlog *rl, const char *what) {
    if (!rl->failed_io) fprintf(stderr, "mazero: warning: %s: %s (the run goes on)\n", what, strerror(errno));
    rl->failed_io = true;
}

/* ---- console ------------------------------------------------------------------ */

static void console_log_line(mz_runlog *rl, const char *line, bool is_error) {
    if (rl->console) {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        if (!localtime_r(&t, &tm) || !strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm)) stamp[0] = '\0';
        if (fprintf(rl->console, "%s %s\n", stamp, line) < 0 || fflush(rl->console) != 0)
            io_warning(rl, "console.log");
    }
    if (rl->uploader) mz_wandb_uploader_console(rl->uploader, line, is_error);
}

static void draw_progress(mz_runlog *rl, bool final) {
    char line[512];
    mz_progress_format(&rl->progress, line, sizeof line);
    double now = mz_clock_seconds();
    bool plain_due = final || !rl->printed_any || now - rl->last_plain_print >= rl->progress_seconds;
    if (plain_due) {
        rl->last_plain_print = now;
        rl->printed_any = true;
        console_log_line(rl, line, false);
        if (rl->console_mode == MZ_CONSOLE_PLAIN) {
            printf("%s\n", line);
            fflush(stdout);
        }
    }
    if (rl->console_mode == MZ_CONSOLE_LINE && (final || now - rl->last_tty_draw >= TTY_REDRAW_SECONDS)) {
        rl->last_tty_draw = now;
        printf("\r%s\033[K", line);
        rl->tty_line_shown = true;
        if (final) {
            printf("\n");
            rl->tty_line_shown = false;
        }
        fflush(stdout);
    }
}

void mz_runlog_print(mz_runlog *rl, const char *fmt, ...) {
    if (rl->follower) return;
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (rl->console_mode != MZ_CONSOLE_QUIET) {
        if (rl->tty_line_shown) printf("\r\033[K"); /* the message, then the progress line again below it */
        printf("%s\n", text);
        if (rl->tty_line_shown) {
            char line[512];
            mz_progress_format(&rl->progress, line, sizeof line);
            printf("%s\033[K", line);
        }
        fflush(stdout);
    }
    console_log_line(rl, text, false);
}

/* ---- W&B -------------------------------------------------------------------- */

/* The config as W&B takes it: {"key": {"value": v}} for each top-level key. */
static char *wandb_config_json(const mz_config *cfg, cJSON **items_out) {
    char *plain = mz_config_to_json(cfg);
    cJSON *config = cJSON_Parse(plain);
    MZ_CHECK(config, "cJSON_Parse of the resolved config failed");
    free(plain);
    cJSON *wrapped = cJSON_CreateObject();
    MZ_CHECK(wrapped, "cJSON: out of memory");
    for (cJSON *it = config->child; it; it = it->next) {
        cJSON *box = cJSON_CreateObject();
        cJSON *value = cJSON_Duplicate(it, true);
        MZ_CHECK(box && value && cJSON_AddItemToObject(box, "value", value) &&
                     cJSON_AddItemToObject(wrapped, it->string, box),
                 "cJSON: out of memory wrapping config key '%s'", it->string);
    }
    char *text = cJSON_PrintUnformatted(wrapped);
    MZ_CHECK(text, "cJSON: out of memory");
    cJSON_Delete(wrapped);
    *items_out = config;
    return text;
}

static int start_wandb(mz_runlog *rl, const mz_config *cfg, const char *stamp, char *err, size_t err_len) {
    char dir[PATH_LEN];
    mz_format(dir, sizeof dir, "%s/wandb", rl->dir);
    if (make_dir(dir, err, err_len) != 0) return -1;
    const char *prefix = rl->wandb.mode == MZ_WANDB_OFFLINE ? "offline-run" : "run";
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s-%s-%s", prefix, stamp, rl->wandb.run_id);
    if (make_dir(dir, err, err_len) != 0) return -1;
    snprintf(rl->wandb_path, sizeof rl->wandb_path, "%s/run-%s.wandb", dir, rl->wandb.run_id);
    rl->wandb_file = mz_wandb_file_create(rl->wandb_path, err, err_len);
    if (!rl->wandb_file) return -1;

    cJSON *config = NULL;
    char *wrapped = wandb_config_json(cfg, &config);
    int n = cJSON_GetArraySize(config), i = 0;
    mz_wandb_item *items = mz_calloc((size_t)n, sizeof *items);
    char **texts = mz_calloc((size_t)n, sizeof *texts);
    for (cJSON *it = config->child; it; it = it->next, i++) {
        texts[i] = cJSON_PrintUnformatted(it);
        MZ_CHECK(texts[i], "cJSON: out of memory");
        items[i].key = it->string;
        items[i].value_json = texts[i];
    }
    char display[MZ_CFG_STR * 2];
    const char *base = strrchr(rl->dir, '/');
    mz_format(display, sizeof display, "%s", rl->wandb.name[0] ? rl->wandb.name : base ? base + 1 : rl->dir);
    mz_wandb_run_info run = {rl->wandb.run_id, rl->wandb.entity, rl->wandb.project, display,
                             rl->wandb.tags, rl->start_unix};
    mz_wandb_file_header(rl->wandb_file);
    mz_wandb_file_run(rl->wandb_file, &run, items, n);
    for (i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(items);
    cJSON_Delete(config);

    if (rl->wandb.mode == MZ_WANDB_ONLINE) {
        if (!rl->wandb.name[0]) mz_format(rl->wandb.name, sizeof rl->wandb.name, "%s", display);
        fprintf(stderr, "wandb: logging run %s to %s (project %s); offline copy %s\n", rl->wandb.run_id,
                rl->wandb.base_url, rl->wandb.project, rl->wandb_path);
        rl->uploader = mz_wandb_uploader_start(&rl->wandb, wrapped);
    } else {
        fprintf(stderr, "wandb: offline run %s in %s (upload: wandb sync %s, or mazero wandb-sync %s)\n",
                rl->wandb.run_id, dir, dir, rl->dir);
    }
    free(wrapped);
    return 0;
}

/* ---- open ------------------------------------------------------------------ */

static void install_stop_handlers(mz_runlog *rl) {
    stop_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    /* the loop polls the flag; a write to a pipe or a socket (progress on a
     * piped stdout, a W&B upload) that the signal interrupts is restarted
     * instead of failing with EINTR and losing output */
    sa.sa_flags = SA_RESTART;
    MZ_CHECK(sigemptyset(&sa.sa_mask) == 0, "sigemptyset failed");
    MZ_CHECK(sigaction(SIGINT, &sa, &old_int) == 0 && sigaction(SIGTERM, &sa, &old_term) == 0,
             "sigaction failed: %s", strerror(errno));
    open_run = rl;
    if (!atexit_registered) {
        MZ_CHECK(atexit(close_on_exit) == 0, "atexit failed");
        atexit_registered = true;
    }
}

/* The evaluations already in an existing run's metrics.json, so a resumed
 * run appends to them; a missing file is an empty history. */
static int load_marl_eval(mz_runlog *rl, char *err, size_t err_len) {
    char path[PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/metrics.json", rl->dir);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    mz_strbuf text = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) mz_strbuf_append(&text, chunk, got);
    fclose(f);
    cJSON *root = text.data ? cJSON_Parse(text.data) : NULL;
    mz_strbuf_free(&text);
    if (!root) {
        snprintf(err, err_len, "cannot resume into '%s': its metrics.json is not valid JSON", rl->dir);
        return -1;
    }
    cJSON_Delete(rl->marl_root);
    rl->marl_root = root;
    char seed_key[48];
    snprintf(seed_key, sizeof seed_key, "seed_%lld", (long long)rl->seed);
    const char *path_keys[3] = {rl->env, rl->scenario, rl->algo};
    cJSON *node = root;
    for (int i = 0; i < 3; i++) {
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, path_keys[i]);
        node = child ? child : cJSON_AddObjectToObject(node, path_keys[i]);
    }
    cJSON *seed = cJSON_GetObjectItemCaseSensitive(node, seed_key);
    rl->marl_seed = seed ? seed : cJSON_AddObjectToObject(node, seed_key);
    MZ_CHECK(rl->marl_seed, "cJSON: out of memory");
    for (cJSON *it = rl->marl_seed->child; it; it = it->next)
        if (!strncmp(it->string, "step_", 5)) rl->n_evals++;
    return 0;
}

static mz_runlog *open_local(const mz_config *cfg, const char *existing_dir, int *exit_code, char *err,
                             size_t err_len) {
    *exit_code = MZ_EXIT_RUNTIME;
    if (open_run) {
        snprintf(err, err_len, "a run is already open (%s): one run per process", open_run->dir);
        return NULL;
    }
    mz_runlog *rl = mz_calloc(1, sizeof *rl);
    char note[512];
    if (mz_wandb_settings_resolve(cfg, &rl->wandb, note, sizeof note, err, err_len) != 0) {
        *exit_code = MZ_EXIT_USAGE;
        free(rl);
        return NULL;
    }
    snprintf(rl->algo, sizeof rl->algo, "%s", mz_config_enum_name("algo", cfg->algo));
    snprintf(rl->env, sizeof rl->env, "%s", cfg->env.name);
    snprintf(rl->scenario, sizeof rl->scenario, "%s", cfg->env.scenario);
    rl->seed = cfg->seed;
    rl->total_env_steps = cfg->total_env_steps;
    rl->progress_seconds = cfg->log.progress_seconds;
    rl->console_mode = cfg->log.console;
    if (rl->console_mode == MZ_CONSOLE_AUTO)
        rl->console_mode = isatty(STDOUT_FILENO) ? MZ_CONSOLE_LINE : MZ_CONSOLE_PLAIN;
    rl->start_monotonic = mz_clock_seconds();
    rl->start_unix = now_unix();

    time_t t = (time_t)rl->start_unix;
    struct tm tm;
    char stamp[32], wandb_stamp[32];
    MZ_CHECK(localtime_r(&t, &tm), "localtime_r failed for %lld", (long long)t);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    strftime(wandb_stamp, sizeof wandb_stamp, "%Y%m%d_%H%M%S", &tm);
    char parent[PATH_LEN];
    snprintf(parent, sizeof parent, "%s/%s/%s-%s", cfg->log.dir, rl->algo, rl->env, rl->scenario);
    errno = 0;
    if (existing_dir && (mz_format(rl->dir, sizeof rl->dir - 128, "%s", existing_dir) || access(rl->dir, W_OK) != 0)) {
        snprintf(err, err_len, "cannot resume into run folder '%s': %s", existing_dir,
                 errno ? strerror(errno) : "path too long");
        goto fail;
    }
    if (!existing_dir && make_dirs(parent, err, err_len) != 0) goto fail;
    /* two runs started in the same second with the same seed get -2, -3, ... */
    for (int attempt = 1; !existing_dir; attempt++) {
        int cut = attempt == 1
                      ? mz_format(rl->dir, sizeof rl->dir, "%s/%s-%lld", parent, stamp, (long long)rl->seed)
                      : mz_format(rl->dir, sizeof rl->dir, "%s/%s-%lld-%d", parent, stamp, (long long)rl->seed, attempt);
        /* the longest names below the run folder must fit too */
        if (cut || strlen(rl->dir) + 128 >= sizeof rl->dir) {
            snprintf(err, err_len, "log.dir '%s' makes run folder paths longer than %zu bytes", cfg->log.dir,
                     sizeof rl->dir - 128);
            goto fail;
        }
        if (mkdir(rl->dir, 0775) == 0) break;
        if (errno != EEXIST || attempt == 1000) {
            snprintf(err, err_len, "cannot create run folder '%s': %s", rl->dir, strerror(errno));
            goto fail;
        }
    }
    char path[PATH_LEN + 32];
    mz_format(rl->checkpoints, sizeof rl->checkpoints, "%s/checkpoints", rl->dir);
    snprintf(path, sizeof path, "%s/plots", rl->dir);
    if (make_dir(rl->checkpoints, err, err_len) != 0 || make_dir(path, err, err_len) != 0) goto fail;
    char *config_json = mz_config_to_json(cfg);
    snprintf(path, sizeof path, "%s/config.json", rl->dir);
    int rc = write_text_file(path, config_json, err, err_len);
    free(config_json);
    if (rc != 0) goto fail;
    /* a resumed run appends its rows and messages to the run's own */
    const char *how = existing_dir ? "a" : "w";
    snprintf(path, sizeof path, "%s/metrics.jsonl", rl->dir);
    rl->metrics = fopen(path, how);
    snprintf(path, sizeof path, "%s/console.log", rl->dir);
    rl->console = rl->metrics ? fopen(path, how) : NULL;
    if (!rl->console) {
        snprintf(err, err_len, "cannot create '%s': %s", path, strerror(errno));
        goto fail;
    }

    rl->marl_root = cJSON_CreateObject();
    cJSON *env = cJSON_AddObjectToObject(rl->marl_root, rl->env);
    cJSON *task = env ? cJSON_AddObjectToObject(env, rl->scenario) : NULL;
    cJSON *algo = task ? cJSON_AddObjectToObject(task, rl->algo) : NULL;
    char seed_key[48];
    snprintf(seed_key, sizeof seed_key, "seed_%lld", (long long)rl->seed);
    rl->marl_seed = algo ? cJSON_AddObjectToObject(algo, seed_key) : NULL;
    MZ_CHECK(rl->marl_seed, "cJSON: out of memory");
    if (existing_dir && load_marl_eval(rl, err, err_len) != 0) goto fail;

    rl->progress.total_env_steps = rl->total_env_steps;
    if (note[0]) fprintf(stderr, "wandb: %s\n", note);
    if (rl->wandb.mode != MZ_WANDB_DISABLED && start_wandb(rl, cfg, wandb_stamp, err, err_len) != 0) goto fail;
    memset(rl->wandb.api_key, 0, sizeof rl->wandb.api_key); /* the uploader holds its own copy */

    install_stop_handlers(rl);
    mz_runlog_print(rl, "run directory: %s", rl->dir);
    return rl;

fail:
    if (rl->metrics) fclose(rl->metrics);
    if (rl->console) fclose(rl->console);
    mz_wandb_file_close(rl->wandb_file);
    cJSON_Delete(rl->marl_root);
    memset(rl->wandb.api_key, 0, sizeof rl->wandb.api_key);
    free(rl);
    return NULL;
}

/* Data-parallel jobs: rank 0 opens the run (its progress counts every
 * rank's env steps), the other ranks follow; all fail if rank 0 fails. */
static mz_runlog *open_dist(const mz_config *cfg, const char *existing_dir, int *exit_code, char *err,
                            size_t err_len) {
    if (!mz_dist_active()) return open_local(cfg, existing_dir, exit_code, err, err_len);
    mz_runlog *rl = NULL;
    int code = 0;
    if (mz_dist_rank() == 0) {
        rl = open_local(cfg, existing_dir, exit_code, err, err_len);
        if (rl) rl->progress.total_env_steps = cfg->total_env_steps * mz_dist_size();
        code = rl ? 0 : *exit_code;
    } else {
        rl = mz_calloc(1, sizeof *rl);
        rl->follower = true;
        rl->start_monotonic = mz_clock_seconds();
        install_stop_handlers(rl);
    }
    mz_dist_broadcast_bytes(&code, sizeof code);
    if (code && rl && rl->follower) {
        mz_runlog_close(rl, code);
        snprintf(err, err_len, "rank 0 could not open the run directory (its message says why)");
        *exit_code = code;
        return NULL;
    }
    return rl;
}

mz_runlog *mz_runlog_open(const mz_config *cfg, int *exit_code, char *err, size_t err_len) {
    return open_dist(cfg, NULL, exit_code, err, err_len);
}

mz_runlog *mz_runlog_reopen(const mz_config *cfg, const char *dir, int *exit_code, char *err, size_t err_len) {
    return open_dist(cfg, dir, exit_code, err, err_len);
}

const char *mz_runlog_dir(const mz_runlog *rl) { return rl->dir; }
const char *mz_runlog_checkpoint_dir(const mz_runlog *rl) { return rl->checkpoints; }
const char *mz_runlog_wandb_file(const mz_runlog *rl) { return rl->wandb_file ? rl->wandb_path : NULL; }

/* ---- rows ------------------------------------------------------------------ */

static void remember(mz_runlog *rl, const char *name, double value) {
    for (int i = 0; i < rl->n_latest; i++) {
        if (!strcmp(rl->latest[i].name, name)) {
            rl->latest[i].value = value;
            return;
        }
    }
    rl->latest = mz_realloc(rl->latest, (size_t)(rl->n_latest + 1) * sizeof *rl->latest);
    rl->latest[rl->n_latest].name = mz_strdup(name);
    rl->latest[rl->n_latest].value = value;
    rl->n_latest++;
}

static bool is_loss(const char *name) { return strstr(name, "loss") != NULL; }

static void update_progress(mz_runlog *rl, int64_t env_steps, double elapsed, const mz_metric *m, int n) {
    mz_progress *p = &rl->progress;
    p->env_steps = env_steps;
    p->elapsed_seconds = elapsed;
    for (int i = 0; i < n; i++) {
        if (!strcmp(m[i].name, "train_episode_return")) {
            p->has_train_return = true;
            p->train_return = m[i].value;
        } else if (!strcmp(m[i].name, "mean_episode_return")) {
            p->has_eval_return = true;
            p->eval_return = m[i].value;
        } else if (!strcmp(m[i].name, "updates_per_second")) {
            p->has_update_rate = true;
            p->updates_per_second = m[i].value;
        } else if (is_loss(m[i].name)) {
            int slot = 0;
            while (slot < p->n_losses && strcmp(rl->loss_names[slot], m[i].name) != 0) slot++;
            if (slot == MZ_PROGRESS_MAX_LOSSES) continue;
            if (slot == p->n_losses) {
                snprintf(rl->loss_names[slot], sizeof rl->loss_names[slot], "%s", m[i].name);
                p->loss_names[slot] = rl->loss_names[slot];
                p->n_losses++;
            }
            p->loss_values[slot] = m[i].value;
        }
    }
}

static void write_row(mz_runlog *rl, int64_t step, int64_t env_steps, const mz_metric *m, int n) {
    double runtime = mz_clock_seconds() - rl->start_monotonic;
    double timestamp = rl->start_unix + runtime;
    mz_strbuf line = {0};
    mz_strbuf_printf(&line, "{\"step\":%lld,\"env_steps\":%lld,\"wall_time\":", (long long)step,
                     (long long)env_steps);
    mz_strbuf_json_number(&line, runtime, true);
    mz_strbuf_puts(&line, ",\"timestamp\":");
    mz_strbuf_json_number(&line, timestamp, true);
    for (int i = 0; i < n; i++) {
        mz_strbuf_puts(&line, ",");
        mz_strbuf_json_string(&line, m[i].name);
        mz_strbuf_puts(&line, ":");
        mz_strbuf_json_number(&line, m[i].value, true);
    }
    mz_strbuf_puts(&line, "}\n");
    if (fwrite(line.data, 1, line.len, rl->metrics) != line.len || fflush(rl->metrics) != 0)
        io_warning(rl, "metrics.jsonl");

    /* W&B history: _step counts rows from 0; our step and env_steps ride along as metrics */
    const char *names[5] = {"_step", "_runtime", "_timestamp", "step", "env_steps"};
    double values[5] = {(double)rl->rows, runtime, timestamp, (double)step, (double)env_steps};
    for (int i = 0; i < n + 5; i++) remember(rl, i < 5 ? names[i] : m[i - 5].name, i < 5 ? values[i] : m[i - 5].value);
    if (rl->wandb_file) {
        int n_items = n + 5;
        mz_wandb_item *items = mz_calloc((size_t)n_items, sizeof *items);
        mz_strbuf *texts = mz_calloc((size_t)n_items, sizeof *texts);
        for (int i = 0; i < n_items; i++) {
            items[i].key = i < 5 ? names[i] : m[i - 5].name;
            mz_strbuf_json_number(&texts[i], i < 5 ? values[i] : m[i - 5].value, false);
            items[i].value_json = texts[i].data;
        }
        mz_wandb_file_history(rl->wandb_file, rl->rows, items, n_items);
        if (rl->uploader) {
            mz_strbuf history = {0}, summary = {0};
            mz_strbuf_puts(&history, "{");
            for (int i = 0; i < n_items; i++) {
                if (i) mz_strbuf_puts(&history, ",");
                mz_strbuf_json_string(&history, items[i].key);
                mz_strbuf_puts(&history, ":");
                mz_strbuf_puts(&history, items[i].value_json);
            }
            mz_strbuf_puts(&history, "}");
            mz_strbuf_puts(&summary, "{");
            for (int i = 0; i < rl->n_latest; i++) {
                mz_strbuf_json_string(&summary, rl->latest[i].name);
                mz_strbuf_puts(&summary, ":");
                mz_strbuf_json_number(&summary, rl->latest[i].value, false);
                mz_strbuf_puts(&summary, ",");
            }
            mz_strbuf_printf(&summary, "\"_wandb\":{\"runtime\":%lld}}", (long long)runtime);
            mz_wandb_uploader_log(rl->uploader, history.data, summary.data);
            mz_strbuf_free(&history);
            mz_strbuf_free(&summary);
        }
        for (int i = 0; i < n_items; i++) mz_strbuf_free(&texts[i]);
        free(texts);
        free(items);
    }
    rl->rows++;
    mz_strbuf_free(&line);
    update_progress(rl, env_steps, runtime, m, n);
    draw_progress(rl, false);
}

/* ---- evaluations (marl-eval metrics.json) -------------------------------- */

static void write_marl_eval(mz_runlog *rl) {
    char *text = cJSON_Print(rl->marl_root);
    MZ_CHECK(text, "cJSON: out of memory");
    char path[PATH_LEN + 32], err[PATH_LEN + 128];
    snprintf(path, sizeof path, "%s/metrics.json", rl->dir);
    if (write_text_file(path, text, err, sizeof err) != 0) io_warning(rl, err);
    free(text);
}

static cJSON *number_list(const double *v, int n) {
    cJSON *list = cJSON_CreateArray();
    MZ_CHECK(list, "cJSON: out of memory");
    for (int i = 0; i < n; i++) {
        /* JSON has no NaN: a diverged episode is written as null, which marl-eval reads as NaN */
        cJSON *x = isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull();
        MZ_CHECK(x && cJSON_AddItemToArray(list, x), "cJSON: out of memory");
    }
    return list;
}

static void write_eval(mz_runlog *rl, int64_t step, int64_t env_steps, const double *returns, int n) {
    double elapsed = mz_clock_seconds() - rl->start_monotonic;
    double window = elapsed - rl->last_eval_time;
    double sps = window > 0 ? (double)(env_steps - rl->last_eval_env_steps) / window : 0.0;
    char key[48];
    snprintf(key, sizeof key, "step_%d", rl->n_evals++);
    cJSON *entry = cJSON_AddObjectToObject(rl->marl_seed, key);
    rl->marl_last = entry;
    MZ_CHECK(entry && cJSON_AddNumberToObject(entry, "step_count", (double)env_steps) &&
                 cJSON_AddNumberToObject(entry, "elapsed_time", elapsed) &&
                 cJSON_AddItemToObject(entry, "mean_episode_return", number_list(returns, n)) &&
                 cJSON_AddItemToObject(entry, "steps_per_second", number_list(&sps, 1)),
             "cJSON: out of memory");
    /* absolute_metrics stays the last key, as marl-eval writes it */
    cJSON *absolute = cJSON_DetachItemFromObjectCaseSensitive(rl->marl_seed, "absolute_metrics");
    if (absolute) MZ_CHECK(cJSON_AddItemToObject(rl->marl_seed, "absolute_metrics", absolute), "cJSON failed");
    write_marl_eval(rl);
    rl->last_eval_env_steps = env_steps;
    rl->last_eval_time = elapsed;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += returns[i];
    mz_metric mean = {"mean_episode_return", sum / n};
    write_row(rl, step, env_steps, &mean, 1);
}

static void write_eval_absolute(mz_runlog *rl, const double *returns, int n) {
    double elapsed = mz_clock_seconds() - rl->start_monotonic;
    double sps = elapsed > 0 ? (double)rl->progress.env_steps / elapsed : 0.0;
    cJSON_DeleteItemFromObjectCaseSensitive(rl->marl_seed, "absolute_metrics");
    cJSON *entry = cJSON_AddObjectToObject(rl->marl_seed, "absolute_metrics");
    rl->marl_last = entry;
    MZ_CHECK(entry && cJSON_AddItemToObject(entry, "mean_episode_return", number_list(returns, n)) &&
                 cJSON_AddItemToObject(entry, "steps_per_second", number_list(&sps, 1)),
             "cJSON: out of memory");
    write_marl_eval(rl);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += returns[i];
    mz_runlog_print(rl, "final evaluation: mean return %.4g over %d episodes", sum / n, n);
}

/* ---- data-parallel aggregation -------------------------------------------- */

/* A row as one rank sends it to rank 0. */
#define DIST_METRICS 32
typedef struct {
    int64_t env_steps;
    int n;
    struct {
        char name[56];
        double value;
    } m[DIST_METRICS];
} dist_row;

/* env steps per second add up over ranks; every other metric is averaged
 * over the ranks that reported it (losses, returns, learning rate). */
static bool summed_over_ranks(const char *name) {
    const char *suffix = "steps_per_second";
    size_t len = strlen(name), sl = strlen(suffix);
    return len >= sl && strcmp(name + len - sl, suffix) == 0;
}

/* Rank 0 writes the ranks' env steps summed and each metric combined by
 * name (the ranks may report different sets, e.g. a return only where an
 * episode ended). */
static void aggregate_row(mz_runlog *rl, int64_t step, int64_t env_steps, const mz_metric *m, int n) {
    MZ_CHECK(n <= DIST_METRICS, "mz_runlog_row: %d metrics (data-parallel rows hold at most %d)", n, DIST_METRICS);
    dist_row mine;
    memset(&mine, 0, sizeof mine);
    mine.env_steps = env_steps, mine.n = n;
    for (int i = 0; i < n; i++) {
        snprintf(mine.m[i].name, sizeof mine.m[i].name, "%s", m[i].name);
        mine.m[i].value = m[i].value;
    }
    int P = mz_dist_size();
    dist_row *all = rl->follower ? NULL : mz_calloc((size_t)P, sizeof *all);
    mz_dist_gather_bytes(&mine, sizeof mine, all);
    if (rl->follower) return;
    mz_metric out[DIST_METRICS * 2];
    double sum[DIST_METRICS * 2];
    int count[DIST_METRICS * 2], n_out = 0;
    int64_t steps = 0;
    for (int r = 0; r < P; r++) {
        steps += all[r].env_steps;
        for (int i = 0; i < all[r].n; i++) {
            int k = 0;
            while (k < n_out && strcmp(out[k].name, all[r].m[i].name)) k++;
            if (k == n_out) {
                if (n_out == DIST_METRICS * 2) continue;
                out[n_out] = (mz_metric){all[r].m[i].name, 0.0};
                sum[n_out] = 0.0, count[n_out] = 0;
                n_out++;
            }
            sum[k] += all[r].m[i].value;
            count[k]++;
        }
    }
    for (int k = 0; k < n_out; k++) out[k].value = summed_over_ranks(out[k].name) ? sum[k] : sum[k] / count[k];
    write_row(rl, step, steps, out, n_out);
    free(all);
}

/* Every rank's n returns (the same n on each), rank 0's first. */
static double *gather_returns(mz_runlog *rl, const double *returns, int n, int64_t *env_steps) {
    int P = mz_dist_size();
    double *all = rl->follower ? NULL : mz_calloc((size_t)P * (size_t)n, sizeof *all);
    int64_t *steps = rl->follower ? NULL : mz_calloc((size_t)P, sizeof *steps);
    mz_dist_gather_bytes(returns, (size_t)n * sizeof *returns, all);
    mz_dist_gather_bytes(env_steps, sizeof *env_steps, steps);
    if (steps) {
        *env_steps = 0;
        for (int r = 0; r < P; r++) *env_steps += steps[r];
    }
    free(steps);
    return all;
}

void mz_runlog_row(mz_runlog *rl, int64_t step, int64_t env_steps, const mz_metric *m, int n) {
    if (mz_dist_active()) aggregate_row(rl, step, env_steps, m, n);
    else write_row(rl, step, env_steps, m, n);
}

void mz_runlog_eval(mz_runlog *rl, int64_t step, int64_t env_steps, const double *returns, int n) {
    MZ_CHECK(n > 0, "mz_runlog_eval: no episode returns (n = %d)", n);
    if (!mz_dist_active()) {
        write_eval(rl, step, env_steps, returns, n);
        return;
    }
    double *all = gather_returns(rl, returns, n, &env_steps);
    if (all) write_eval(rl, step, env_steps, all, n * mz_dist_size());
    free(all);
}

void mz_runlog_eval_absolute(mz_runlog *rl, const double *returns, int n) {
    MZ_CHECK(n > 0, "mz_runlog_eval_absolute: no episode returns (n = %d)", n);
    if (!mz_dist_active()) {
        write_eval_absolute(rl, returns, n);
        return;
    }
    int64_t unused = 0;
    double *all = gather_returns(rl, returns, n, &unused);
    if (all) write_eval_absolute(rl, all, n * mz_dist_size());
    free(all);
}

void mz_runlog_eval_add(mz_runlog *rl, const char *key, double value) {
    if (rl->follower) return; /* data-parallel: rank 0 writes metrics.json */
    MZ_CHECK(rl->marl_last, "mz_runlog_eval_add('%s') before any evaluation", key);
    MZ_CHECK(cJSON_AddItemToObject(rl->marl_last, key, number_list(&value, 1)), "cJSON: out of memory");
    write_marl_eval(rl);
}

/* ---- close ------------------------------------------------------------------ */

/* plots/<metric>.png for the returns (evaluation; MuZero's training episodes
 * too: a 32-episode greedy evaluation is noisier than the last 100 training
 * episodes) and the losses of this run */
static void write_plots(mz_runlog *rl) {
    int losses = 0;
    for (int i = 0; i < rl->n_latest; i++) {
        const char *name = rl->latest[i].name;
        int is_return = !strcmp(name, "mean_episode_return") || !strcmp(name, "train_episode_return");
        if (!is_return && (!is_loss(name) || losses >= MZ_PROGRESS_MAX_LOSSES)) continue;
        char path[PATH_LEN + 160], err[PATH_LEN + 256];
        if (mz_format(path, sizeof path, "%s/plots/%s.png", rl->dir, name) != 0 || strchr(name, '/')) continue;
        const char *dirs[] = {rl->dir};
        if (mz_plot(dirs, 1, name, path, err, sizeof err) != 0)
            fprintf(stderr, "mazero: warning: plot of %s not written: %s\n", name, err);
        losses += !is_return;
    }
}

int mz_runlog_close(mz_runlog *rl, int exit_code) {
    if (open_run == rl) open_run = NULL;
    MZ_CHECK(sigaction(SIGINT, &old_int, NULL) == 0 && sigaction(SIGTERM, &old_term, NULL) == 0,
             "sigaction failed: %s", strerror(errno));
    if (rl->follower) {
        free(rl);
        return 0;
    }
    double runtime = mz_clock_seconds() - rl->start_monotonic;
    if (rl->rows) draw_progress(rl, true);
    mz_runlog_print(rl, "run finished with exit code %d after %.1f s: %s", exit_code, runtime, rl->dir);
    if (rl->wandb_file) {
        mz_wandb_item *items = mz_calloc((size_t)rl->n_latest + 1, sizeof *items);
        mz_strbuf *texts = mz_calloc((size_t)rl->n_latest + 1, sizeof *texts);
        for (int i = 0; i < rl->n_latest; i++) {
            items[i].key = rl->latest[i].name;
            mz_strbuf_json_number(&texts[i], rl->latest[i].value, false);
            items[i].value_json = texts[i].data;
        }
        mz_strbuf_printf(&texts[rl->n_latest], "{\"runtime\":%lld}", (long long)runtime);
        items[rl->n_latest].key = "_wandb";
        items[rl->n_latest].value_json = texts[rl->n_latest].data;
        mz_wandb_file_summary(rl->wandb_file, items, rl->n_latest + 1);
        mz_wandb_file_exit(rl->wandb_file, exit_code, runtime);
        mz_wandb_file_close(rl->wandb_file);
        for (int i = 0; i <= rl->n_latest; i++) mz_strbuf_free(&texts[i]);
        free(texts);
        free(items);
    }
    if (rl->uploader) {
        mz_wandb_upload_report report;
        mz_wandb_uploader_finish(rl->uploader, exit_code, &report);
        if (report.completed)
            fprintf(stderr, "wandb: uploaded %lld rows: %s\n", (long long)report.rows_sent, report.url);
        else
            fprintf(stderr,
                    "wandb: warning: the run is not complete on the server (%lld rows uploaded, %lld not); "
                    "every row is in %s; upload it with 'mazero wandb-sync %s' or 'wandb sync %s'\n",
                    (long long)report.rows_sent, (long long)report.rows_not_sent, rl->wandb_path, rl->dir,
                    rl->wandb_path);
    }
    if (fflush(rl->metrics) != 0) io_warning(rl, "metrics.jsonl");
    write_plots(rl);
    int rc = rl->failed_io ? MZ_EXIT_RUNTIME : 0;
    if (fclose(rl->metrics) != 0 || fclose(rl->console) != 0) rc = MZ_EXIT_RUNTIME;
    for (int i = 0; i < rl->n_latest; i++) free(rl->latest[i].name);
    free(rl->latest);
    cJSON_Delete(rl->marl_root);
    free(rl);
    return rc;
}
