#include "src/wandb_uploader.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "src/check.h"
#include "src/strbuf.h"
#include "src/wandb_http.h"
#include "src/clock.h"

#define MAX_REQUEST_BYTES (8u << 20) /* the server takes about 10 MiB per request */
#define MAX_CONSOLE_LINES 10000

static const char upsert_query[] =
    "mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $groupName: String, "
    "$description: String, $displayName: String, $notes: String, $commit: String, $config: JSONString, "
    "$host: String, $debug: Boolean, $program: String, $repo: String, $jobType: String, $state: String, "
    "$sweep: String, $tags: [String!], $summaryMetrics: JSONString) {\n"
    "  upsertBucket(input: {id: $id, name: $name, groupName: $groupName, modelName: $project, "
    "entityName: $entity, description: $description, displayName: $displayName, notes: $notes, config: $config, "
    "commit: $commit, host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo, jobType: $jobType, "
    "state: $state, sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics}) {\n"
    "    bucket { id name displayName description config sweepName "
    "project { id name entity { id name } } historyLineCount }\n"
    "    inserted\n"
    "  }\n"
    "}\n";

typedef struct {
    char **lines;
    int n, cap;
} line_list;

static void list_push(line_list *l, char *line) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->lines = mz_realloc(l->lines, (size_t)l->cap * sizeof *l->lines);
    }
    l->lines[l->n++] = line;
}

static void list_free_lines(line_list *l, int from, int to) {
    for (int i = from; i < to; i++) free(l->lines[i]);
}

/* Drops the first n lines (already sent), keeping the rest in order. */
static void list_drop_front(line_list *l, int n) {
    if (n == 0) return;
    list_free_lines(l, 0, n);
    memmove(l->lines, l->lines + n, (size_t)(l->n - n) * sizeof *l->lines);
    l->n -= n;
}

struct mz_wandb_uploader {
    mz_wandb_settings s;
    char *config_json;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    /* shared with the training thread, under mu */
    line_list history, console;
    char *summary;         /* latest whole summary line; NULL when unchanged since sent */
    bool finishing, dead;  /* dead: stopped for good, queue no more */
    int exit_code;
    double finish_deadline;
    int64_t rows_not_sent;
    /* the thread's own */
    CURL *curl;
    unsigned jitter_seed;
    char entity[256], project[256], run_name[256];
    int64_t history_offset, console_offset;
    int64_t rows_sent;
    double last_send;
    mz_wandb_upload_report report;
};

static void lock(mz_wandb_uploader *u) {
    int rc = pthread_mutex_lock(&u->mu);
    MZ_CHECK(rc == 0, "pthread_mutex_lock failed: %s", strerror(rc));
}

static void unlock(mz_wandb_uploader *u) {
    int rc = pthread_mutex_unlock(&u->mu);
    MZ_CHECK(rc == 0, "pthread_mutex_unlock failed: %s", strerror(rc));
}

static void signal_wake(mz_wandb_uploader *u) {
    int rc = pthread_cond_broadcast(&u->wake);
    MZ_CHECK(rc == 0, "pthread_cond_broadcast failed: %s", strerror(rc));
}

/* Waits on the condition until `until` (monotonic seconds) or a signal. */
static void wait_until(mz_wandb_uploader *u, double until) {
    struct timespec ts;
    double whole = (double)(int64_t)until;
    ts.tv_sec = (time_t)whole;
    ts.tv_nsec = (long)((until - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    int rc = pthread_cond_timedwait(&u->wake, &u->mu, &ts);
    MZ_CHECK(rc == 0 || rc == ETIMEDOUT, "pthread_cond_timedwait failed: %s", strerror(rc));
}

/* Past the finish deadline nothing more is worth waiting for. */
static bool past_deadline_locked(const mz_wandb_uploader *u) {
    return u->finishing && mz_clock_seconds() >= u->finish_deadline;
}

static bool should_abort(void *arg) {
    mz_wandb_uploader *u = arg;
    lock(u);
    bool stop = past_deadline_locked(u);
    unlock(u);
    return stop;
}

static void warn(const char *fmt, ...) MZ_PRINTF(1, 2);
static void warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "wandb: warning: %s\n", text);
}

/* POSTs with retries. Returns the final status (2xx on success) and the
 * last response in *resp (caller frees its body); a reason in `why`. */
static long post_with_retries(mz_wandb_uploader *u, const char *url, const char *body, bool is_upsert,
                              mz_http_response *resp, char *why, size_t why_len) {
    for (int attempt = 0;; attempt++) {
        long status = mz_http_post_json(u->curl, url, u->s.api_key, body, u->s.request_timeout_seconds,
                                        should_abort, u, resp);
        if (status >= 200 && status < 300) return status;
        if (status) snprintf(why, why_len, "HTTP %ld from %s", status, url);
        else snprintf(why, why_len, "%s (%s)", resp->error, url);
        if (!mz_wandb_retryable(status, is_upsert)) return status;
        if (attempt >= u->s.max_retries) {
            size_t n = strlen(why);
            snprintf(why + n, why_len - n, "; gave up after %d retries", attempt);
            return status;
        }
        double u01 = (double)rand_r(&u->jitter_seed) / ((double)RAND_MAX + 1.0);
        double delay = mz_wandb_backoff(attempt, u->s.retry_base_seconds, u->s.retry_max_seconds, u01,
                                        resp->retry_after);
        mz_strbuf_free(&resp->body);
        double wake_at = mz_clock_seconds() + delay;
        lock(u);
        while (mz_clock_seconds() < wake_at && !past_deadline_locked(u)) {
            double until = wake_at;
            if (u->finishing && u->finish_deadline < until) until = u->finish_deadline;
            wait_until(u, until);
        }
        bool give_up = past_deadline_locked(u);
        unlock(u);
        if (give_up) {
            size_t n = strlen(why);
            snprintf(why + n, why_len - n, "; the run ended and wandb.finish_timeout_seconds (%g s) passed",
                     u->s.finish_timeout_seconds);
            memset(resp, 0, sizeof *resp);
            return 0;
        }
    }
}

static const char *json_string_at(const cJSON *obj, const char *const *path, int depth) {
    for (int i = 0; i < depth && obj; i++) obj = cJSON_GetObjectItemCaseSensitive(obj, path[i]);
    return cJSON_IsString(obj) ? obj->valuestring : NULL;
}

static bool upsert(mz_wandb_uploader *u, char *why, size_t why_len) {
    cJSON *root = cJSON_CreateObject(), *vars = cJSON_CreateObject();
    MZ_CHECK(root && vars, "cJSON: out of memory");
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    bool ok = cJSON_AddStringToObject(root, "operationName", "UpsertBucket") &&
              cJSON_AddStringToObject(root, "query", upsert_query) && cJSON_AddNullToObject(vars, "id") &&
              cJSON_AddStringToObject(vars, "name", u->s.run_id) &&
              cJSON_AddStringToObject(vars, "project", u->s.project) &&
              (u->s.entity[0] ? cJSON_AddStringToObject(vars, "entity", u->s.entity)
                              : cJSON_AddNullToObject(vars, "entity")) &&
              (u->s.name[0] ? cJSON_AddStringToObject(vars, "displayName", u->s.name)
                            : cJSON_AddNullToObject(vars, "displayName")) &&
              cJSON_AddStringToObject(vars, "config", u->config_json) &&
              (host[0] ? cJSON_AddStringToObject(vars, "host", host) : cJSON_AddNullToObject(vars, "host")) &&
              cJSON_AddStringToObject(vars, "program", "mazero");
    cJSON *tags = cJSON_AddArrayToObject(vars, "tags");
    ok = ok && tags;
    for (const char *t = u->s.tags; ok && *t;) {
        size_t n = strcspn(t, ",");
        char tag[256];
        snprintf(tag, sizeof tag, "%.*s", (int)n, t);
        cJSON *item = cJSON_CreateString(tag);
        ok = item && (n == 0 || cJSON_AddItemToArray(tags, item));
        if (n == 0) cJSON_Delete(item);
        t += n + (t[n] == ',');
    }
    ok = ok && cJSON_AddItemToObject(root, "variables", vars);
    MZ_CHECK(ok, "cJSON: out of memory building UpsertBucket");
    char *body = cJSON_PrintUnformatted(root);
    MZ_CHECK(body, "cJSON: out of memory");
    cJSON_Delete(root);

    char url[1024];
    snprintf(url, sizeof url, "%s/graphql", u->s.base_url);
    mz_http_response resp;
    long status = post_with_retries(u, url, body, true, &resp, why, why_len);
    free(body);
    bool created = false;
    if (status >= 200 && status < 300) {
        cJSON *answer = cJSON_Parse(resp.body.data);
        const cJSON *errors = answer ? cJSON_GetObjectItemCaseSensitive(answer, "errors") : NULL;
        static const char *const entity_path[] = {"data", "upsertBucket", "bucket", "project", "entity", "name"};
        static const char *const project_path[] = {"data", "upsertBucket", "bucket", "project", "name"};
        static const char *const name_path[] = {"data", "upsertBucket", "bucket", "name"};
        static const char *const display_path[] = {"data", "upsertBucket", "bucket", "displayName"};
        const char *entity = json_string_at(answer, entity_path, 6);
        const char *project = json_string_at(answer, project_path, 5);
        const char *name = json_string_at(answer, name_path, 4);
        const char *display = json_string_at(answer, display_path, 4);
        if (!answer) {
            snprintf(why, why_len, "UpsertBucket answered HTTP %ld with a body that is not JSON", status);
        } else if (cJSON_GetArraySize(errors) > 0) {
            const char *msg = json_string_at(cJSON_GetArrayItem(errors, 0), (const char *const[]){"message"}, 1);
            snprintf(why, why_len, "UpsertBucket failed: %s", msg ? msg : "(no message)");
        } else if (!entity && !u->s.entity[0]) {
            snprintf(why, why_len, "UpsertBucket's answer names no entity and none is configured");
        } else {
            snprintf(u->entity, sizeof u->entity, "%s", entity ? entity : u->s.entity);
            snprintf(u->project, sizeof u->project, "%s", project ? project : u->s.project);
            snprintf(u->run_name, sizeof u->run_name, "%s", name ? name : u->s.run_id);
            created = true;
            char *e = curl_easy_escape(u->curl, u->entity, 0), *p = curl_easy_escape(u->curl, u->project, 0),
                 *r = curl_easy_escape(u->curl, u->run_name, 0);
            MZ_CHECK(e && p && r, "curl_easy_escape: out of memory");
            snprintf(u->report.url, sizeof u->report.url, "%s/%s/%s/runs/%s", u->s.app_url, e, p, r);
            curl_free(e);
            curl_free(p);
            curl_free(r);
            fprintf(stderr, "wandb: run %s: %s\n", display ? display : u->run_name, u->report.url);
        }
        cJSON_Delete(answer);
    }
    mz_strbuf_free(&resp.body);
    return created;
}

/* {"files": {...}} with what is queued (taken out of the queue under the
 * lock); *n_history / *n_console say how many lines went in. */
static void build_batch(mz_wandb_uploader *u, mz_strbuf *body, int *n_history, int *n_console) {
    mz_strbuf_clear(body);
    *n_history = *n_console = 0;
    lock(u);
    bool any = false;
    mz_strbuf_puts(body, "{\"files\":{");
    if (u->history.n) {
        mz_strbuf_printf(body, "\"wandb-history.jsonl\":{\"offset\":%lld,\"content\":[", (long long)u->history_offset);
        for (int i = 0; i < u->history.n && body->len < MAX_REQUEST_BYTES; i++) {
            if (i) mz_strbuf_puts(body, ",");
            mz_strbuf_json_string(body, u->history.lines[i]);
            (*n_history)++;
        }
        mz_strbuf_puts(body, "]}");
        any = true;
    }
    if (u->summary) {
        mz_strbuf_puts(body, any ? "," : "");
        mz_strbuf_puts(body, "\"wandb-summary.json\":{\"offset\":0,\"content\":[");
        mz_strbuf_json_string(body, u->summary);
        mz_strbuf_puts(body, "]}");
        any = true;
    }
    if (u->console.n) {
        mz_strbuf_puts(body, any ? "," : "");
        mz_strbuf_printf(body, "\"output.log\":{\"offset\":%lld,\"content\":[", (long long)u->console_offset);
        for (int i = 0; i < u->console.n && body->len < MAX_REQUEST_BYTES; i++) {
            if (i) mz_strbuf_puts(body, ",");
            mz_strbuf_json_string(body, u->console.lines[i]);
            (*n_console)++;
        }
        mz_strbuf_puts(body, "]}");
    }
    mz_strbuf_puts(body, "}}");
    unlock(u);
}

/* After a successful post: the sent lines leave the queue. The summary sent
 * is cleared only if no newer one arrived meanwhile. */
static void commit_batch(mz_wandb_uploader *u, int n_history, int n_console, const char *summary_sent) {
    lock(u);
    list_drop_front(&u->history, n_history);
    list_drop_front(&u->console, n_console);
    if (u->summary && summary_sent && !strcmp(u->summary, summary_sent)) {
        free(u->summary);
        u->summary = NULL;
    }
    unlock(u);
    u->history_offset += n_history;
    u->console_offset += n_console;
    u->rows_sent += n_history;
}

static void stop_for_good(mz_wandb_uploader *u, const char *why) {
    lock(u);
    u->dead = true;
    u->rows_not_sent += u->history.n;
    list_drop_front(&u->history, u->history.n);
    list_drop_front(&u->console, u->console.n);
    free(u->summary);
    u->summary = NULL;
    unlock(u);
    snprintf(u->report.failure, sizeof u->report.failure, "%s", why);
    warn("upload stopped: %s. Training goes on; every row is on disk (metrics.jsonl and the .wandb file); "
         "upload later with 'mazero wandb-sync RUN_DIR'",
         why);
}

static void *uploader_main(void *arg) {
    mz_wandb_uploader *u = arg;
    char why[1024] = "";
    char url[1600];
    mz_strbuf body = {0};
    u->curl = curl_easy_init();
    if (!u->curl) {
        stop_for_good(u, "curl_easy_init failed");
        return NULL;
    }
    if (!upsert(u, why, sizeof why)) {
        stop_for_good(u, why);
        curl_easy_cleanup(u->curl);
        u->curl = NULL;
        return NULL;
    }
    u->report.run_created = true;
    char *e = curl_easy_escape(u->curl, u->entity, 0), *p = curl_easy_escape(u->curl, u->project, 0),
         *r = curl_easy_escape(u->curl, u->run_name, 0);
    MZ_CHECK(e && p && r, "curl_easy_escape: out of memory");
    snprintf(url, sizeof url, "%s/files/%s/%s/%s/file_stream", u->s.base_url, e, p, r);
    curl_free(e);
    curl_free(p);
    curl_free(r);
    u->last_send = mz_clock_seconds();
    for (;;) {
        lock(u);
        /* batch when rows wait and the interval passed; a heartbeat when idle
         * that long; everything at once when finishing */
        for (;;) {
            bool pending = u->history.n || u->console.n || u->summary;
            double due = pending ? u->last_send + u->s.batch_seconds : u->last_send + u->s.heartbeat_seconds;
            if (u->finishing || mz_clock_seconds() >= due) break;
            wait_until(u, due);
        }
        bool pending = u->history.n || u->console.n || u->summary;
        bool finishing = u->finishing;
        char *summary_sent = u->summary ? mz_strdup(u->summary) : NULL;
        unlock(u);
        if (finishing && !pending) break;
        int n_history = 0, n_console = 0;
        if (pending) build_batch(u, &body, &n_history, &n_console);
        else {
            mz_strbuf_clear(&body);
            mz_strbuf_puts(&body, "{}"); /* heartbeat: the run is alive */
        }
        mz_http_response resp;
        long status = post_with_retries(u, url, body.data, false, &resp, why, sizeof why);
        mz_strbuf_free(&resp.body);
        if (status < 200 || status >= 300) {
            free(summary_sent);
            stop_for_good(u, why);
            break;
        }
        commit_batch(u, n_history, n_console, summary_sent);
        free(summary_sent);
        u->last_send = mz_clock_seconds();
    }
    lock(u);
    bool send_final = u->finishing && !u->dead;
    int exit_code = u->exit_code;
    unlock(u);
    if (send_final) {
        mz_strbuf_clear(&body);
        mz_strbuf_printf(&body, "{\"complete\":true,\"exitcode\":%d}", exit_code);
        mz_http_response resp;
        long status = post_with_retries(u, url, body.data, false, &resp, why, sizeof why);
        mz_strbuf_free(&resp.body);
        if (status >= 200 && status < 300) u->report.completed = true;
        else stop_for_good(u, why);
    }
    mz_strbuf_free(&body);
    curl_easy_cleanup(u->curl);
    u->curl = NULL;
    return NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void init_curl(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

mz_wandb_uploader *mz_wandb_uploader_start(const mz_wandb_settings *s, const char *config_json) {
    int rc = pthread_once(&curl_once, init_curl);
    MZ_CHECK(rc == 0, "pthread_once failed: %s", strerror(rc));
    MZ_CHECK(curl_init_rc == CURLE_OK, "curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
    mz_wandb_uploader *u = mz_calloc(1, sizeof *u);
    u->s = *s;
    u->config_json = mz_strdup(config_json);
    u->jitter_seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    rc = pthread_mutex_init(&u->mu, NULL);
    MZ_CHECK(rc == 0, "pthread_mutex_init failed: %s", strerror(rc));
    pthread_condattr_t attr;
    rc = pthread_condattr_init(&attr);
    MZ_CHECK(rc == 0, "pthread_condattr_init failed: %s", strerror(rc));
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    MZ_CHECK(rc == 0, "pthread_condattr_setclock(CLOCK_MONOTONIC) failed: %s", strerror(rc));
    rc = pthread_cond_init(&u->wake, &attr);
    MZ_CHECK(rc == 0, "pthread_cond_init failed: %s", strerror(rc));
    pthread_condattr_destroy(&attr);
    rc = pthread_create(&u->thread, NULL, uploader_main, u);
    MZ_CHECK(rc == 0, "pthread_create (W&B uploader) failed: %s", strerror(rc));
    return u;
}

bool mz_wandb_uploader_log(mz_wandb_uploader *u, const char *history_line, const char *summary_line) {
    lock(u);
    bool queued = !u->dead && u->history.n < u->s.queue_rows;
    if (queued) {
        list_push(&u->history, mz_strdup(history_line));
        free(u->summary);
        u->summary = mz_strdup(summary_line);
        signal_wake(u);
    } else {
        u->rows_not_sent++;
    }
    unlock(u);
    return queued;
}

void mz_wandb_uploader_log_summary(mz_wandb_uploader *u, const char *summary_line) {
    lock(u);
    if (!u->dead) {
        free(u->summary);
        u->summary = mz_strdup(summary_line);
        signal_wake(u);
    }
    unlock(u);
}

void mz_wandb_uploader_console(mz_wandb_uploader *u, const char *text, bool is_error) {
    /* output.log lines: [ERROR ]<UTC 2006-01-02T15:04:05.000000> text */
    struct timespec ts;
    MZ_CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0, "clock_gettime(CLOCK_REALTIME) failed: %s", strerror(errno));
    struct tm tm;
    MZ_CHECK(gmtime_r(&ts.tv_sec, &tm), "gmtime_r failed for %lld", (long long)ts.tv_sec);
    char stamp[64];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    size_t n = strlen(text) + 96;
    char *line = mz_malloc(n);
    snprintf(line, n, "%s%s.%06ld %s", is_error ? "ERROR " : "", stamp, ts.tv_nsec / 1000, text);
    lock(u);
    if (!u->dead && u->console.n < MAX_CONSOLE_LINES) {
        list_push(&u->console, line);
        line = NULL;
    }
    unlock(u);
    free(line);
}

void mz_wandb_uploader_finish(mz_wandb_uploader *u, int exit_code, mz_wandb_upload_report *report) {
    lock(u);
    u->finishing = true;
    u->exit_code = exit_code;
    u->finish_deadline = mz_clock_seconds() + u->s.finish_timeout_seconds;
    signal_wake(u);
    unlock(u);
    int rc = pthread_join(u->thread, NULL);
    MZ_CHECK(rc == 0, "pthread_join (W&B uploader) failed: %s", strerror(rc));
    u->report.rows_sent = u->rows_sent;
    u->report.rows_not_sent = u->rows_not_sent + u->history.n;
    if (report) *report = u->report;
    list_free_lines(&u->history, 0, u->history.n);
    list_free_lines(&u->console, 0, u->console.n);
    free(u->history.lines);
    free(u->console.lines);
    free(u->summary);
    free(u->config_json);
    memset(u->s.api_key, 0, sizeof u->s.api_key);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->wake);
    free(u);
}
