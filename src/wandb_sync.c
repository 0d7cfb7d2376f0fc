#include "src/wandb_sync.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src/check.h"
#include "src/strbuf.h"
#include "src/wandb_file.h"
#include "src/wandb_uploader.h"

/* {"k": v, ...} from record items; value texts are JSON already. */
static void items_to_object(const mz_wandb_record *rec, mz_strbuf *out) {
    mz_strbuf_clear(out);
    mz_strbuf_puts(out, "{");
    for (int i = 0; i < rec->n_items; i++) {
        if (i) mz_strbuf_puts(out, ",");
        mz_strbuf_json_string(out, rec->items[i].key);
        mz_strbuf_puts(out, ":");
        mz_strbuf_puts(out, rec->items[i].value_json);
    }
    mz_strbuf_puts(out, "}");
}

int mz_wandb_sync_file(const char *path, const mz_wandb_settings *base, long long *rows, char *err,
                       size_t err_len) {
    *rows = 0;
    mz_wandb_records recs;
    if (mz_wandb_file_read(path, &recs, err, err_len) != 0) return 1;
    const mz_wandb_record *run = NULL, *exit_rec = NULL;
    int n_history = 0;
    for (int i = 0; i < recs.n; i++) {
        if (recs.records[i].kind == MZ_WREC_RUN && !run) run = &recs.records[i];
        if (recs.records[i].kind == MZ_WREC_EXIT) exit_rec = &recs.records[i];
        n_history += recs.records[i].kind == MZ_WREC_HISTORY;
    }
    if (!run || !run->run_id) {
        snprintf(err, err_len, "%s: no run record: not a run file, or cut off before its start", path);
        mz_wandb_records_free(&recs);
        return 1;
    }
    mz_wandb_settings s = *base;
    s.mode = MZ_WANDB_ONLINE;
    snprintf(s.run_id, sizeof s.run_id, "%s", run->run_id);
    if (run->entity) snprintf(s.entity, sizeof s.entity, "%s", run->entity);
    if (run->project) snprintf(s.project, sizeof s.project, "%s", run->project);
    if (run->display_name) snprintf(s.name, sizeof s.name, "%s", run->display_name);
    mz_strbuf tags = {0}, config = {0}, line = {0}, summary = {0};
    for (int i = 0; i < run->n_tags; i++) {
        if (i) mz_strbuf_puts(&tags, ",");
        mz_strbuf_puts(&tags, run->tags[i]);
    }
    snprintf(s.tags, sizeof s.tags, "%s", tags.data ? tags.data : "");
    /* every row fits in the queue: this is the upload itself, not a training run */
    if (s.queue_rows < n_history + 1) s.queue_rows = n_history + 1;
    mz_strbuf_puts(&config, "{");
    for (int i = 0; i < run->n_items; i++) {
        if (i) mz_strbuf_puts(&config, ",");
        mz_strbuf_json_string(&config, run->items[i].key);
        mz_strbuf_puts(&config, ":{\"value\":");
        mz_strbuf_puts(&config, run->items[i].value_json);
        mz_strbuf_puts(&config, "}");
    }
    mz_strbuf_puts(&config, "}");

    /* the summary line a row sees: the latest of every history key, then the
     * summary records (applied cumulatively) once reached */
    cJSON *latest = cJSON_CreateObject();
    MZ_CHECK(latest, "cJSON: out of memory");
    mz_wandb_uploader *u = mz_wandb_uploader_start(&s, config.data);
    for (int i = 0; i < recs.n; i++) {
        const mz_wandb_record *rec = &recs.records[i];
        if (rec->kind != MZ_WREC_HISTORY && rec->kind != MZ_WREC_SUMMARY) continue;
        for (int k = 0; k < rec->n_items; k++) {
            cJSON *value = cJSON_Parse(rec->items[k].value_json);
            if (!value) value = cJSON_CreateRaw(rec->items[k].value_json); /* NaN, Infinity */
            MZ_CHECK(value, "cJSON: out of memory");
            if (cJSON_GetObjectItemCaseSensitive(latest, rec->items[k].key))
                cJSON_ReplaceItemInObjectCaseSensitive(latest, rec->items[k].key, value);
            else
                MZ_CHECK(cJSON_AddItemToObject(latest, rec->items[k].key, value), "cJSON: out of memory");
        }
        char *summary_text = cJSON_PrintUnformatted(latest);
        MZ_CHECK(summary_text, "cJSON: out of memory");
        if (rec->kind == MZ_WREC_HISTORY) {
            items_to_object(rec, &line);
            if (mz_wandb_uploader_log(u, line.data, summary_text)) (*rows)++;
        } else {
            mz_strbuf_clear(&summary);
            mz_strbuf_puts(&summary, summary_text);
        }
        free(summary_text);
    }
    /* a run cut off before its exit record counts as failed, as in wandb sync */
    int exit_code = exit_rec ? exit_rec->exit_code : 1;
    if (summary.len) {
        /* the final summary rides on an empty history batch: queue it as the summary of no new row */
        mz_wandb_uploader_log_summary(u, summary.data);
    }
    mz_wandb_upload_report report;
    mz_wandb_uploader_finish(u, exit_code, &report);
    cJSON_Delete(latest);
    mz_strbuf_free(&tags);
    mz_strbuf_free(&config);
    mz_strbuf_free(&line);
    mz_strbuf_free(&summary);
    mz_wandb_records_free(&recs);
    if (!report.completed) {
        snprintf(err, err_len, "%s: upload incomplete (%lld of %d rows sent): %s", path, (long long)report.rows_sent,
                 n_history, report.failure[0] ? report.failure : "unknown reason");
        return 1;
    }
    printf("wandb-sync: %s: %lld rows, exit code %d: %s\n", path, (long long)report.rows_sent, exit_code,
           report.url);
    return 0;
}

int mz_wandb_sync_run_dir(const char *run_dir, const mz_wandb_settings *s, char *err, size_t err_len) {
    char wandb_dir[2048];
    snprintf(wandb_dir, sizeof wandb_dir, "%s/wandb", run_dir);
    DIR *d = opendir(wandb_dir);
    if (!d) {
        snprintf(err, err_len, "%s: no wandb/ folder (was the run made with wandb.mode=online or offline?)", run_dir);
        return 1;
    }
    int files = 0, rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "run-", 4) != 0 && strncmp(e->d_name, "offline-run-", 12) != 0) continue;
        const char *id = strrchr(e->d_name, '-');
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/run-%s.wandb", wandb_dir, e->d_name, id ? id + 1 : "");
        FILE *probe = fopen(path, "rb");
        if (!probe) continue;
        fclose(probe);
        long long rows = 0;
        rc = mz_wandb_sync_file(path, s, &rows, err, err_len);
        files++;
    }
    closedir(d);
    if (rc == 0 && files == 0) {
        snprintf(err, err_len, "%s: no run-<id>.wandb file under wandb/", run_dir);
        rc = 1;
    }
    return rc;
}
