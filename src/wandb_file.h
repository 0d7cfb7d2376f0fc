/* The offline run file of the official W&B client (`run-<id>.wandb`), which
 * `wandb sync` uploads: a 7-byte header (":W&B", magic 0xBEE1 LE, version 0),
 * then LevelDB log framing in 32 KiB blocks counted from offset 0 (7-byte
 * chunk headers: CRC-32 of type+payload, length, FULL/FIRST/MIDDLE/LAST),
 * each record one protobuf `Record` (wandb_internal.proto field numbers, see
 * shared/reference/wandb-protocol.md section 6). Written on the training
 * thread and flushed per record, so a crash leaves a readable prefix. */
#ifndef MZ_WANDB_FILE_H
#define MZ_WANDB_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MZ_WANDB_BLOCK 32768
#define MZ_WANDB_CHUNK_HEADER 7

typedef struct {
    const char *key;
    const char *value_json; /* the value as JSON text */
} mz_wandb_item;

typedef struct {
    const char *run_id, *entity, *project, *display_name;
    const char *tags; /* comma-separated */
    double start_unix;
} mz_wandb_run_info;

typedef struct mz_wandb_file mz_wandb_file;

/* NULL with the reason in err when the file cannot be created. */
mz_wandb_file *mz_wandb_file_create(const char *path, char *err, size_t err_len);
void mz_wandb_file_header(mz_wandb_file *f);
void mz_wandb_file_run(mz_wandb_file *f, const mz_wandb_run_info *run, const mz_wandb_item *config, int n_config);
void mz_wandb_file_history(mz_wandb_file *f, int64_t step, const mz_wandb_item *items, int n);
void mz_wandb_file_summary(mz_wandb_file *f, const mz_wandb_item *items, int n);
/* the exit record, then the empty final record legacy sync waits for */
void mz_wandb_file_exit(mz_wandb_file *f, int exit_code, double runtime_seconds);
void mz_wandb_file_close(mz_wandb_file *f);

/* ---- reading (mazero wandb-sync, tests) ---- */

typedef enum {
    MZ_WREC_OTHER = 0,
    MZ_WREC_HISTORY = 2,
    MZ_WREC_SUMMARY = 3,
    MZ_WREC_CONFIG = 5,
    MZ_WREC_RUN = 17,
    MZ_WREC_EXIT = 18,
    MZ_WREC_FINAL = 20,
    MZ_WREC_HEADER = 21,
} mz_wandb_record_kind;

typedef struct {
    char *key, *value_json;
} mz_wandb_owned_item;

typedef struct {
    mz_wandb_record_kind kind;
    int64_t num;
    /* history, summary, config (also the run record's config) */
    mz_wandb_owned_item *items;
    int n_items;
    int64_t step; /* history */
    /* run */
    char *run_id, *entity, *project, *display_name;
    char **tags;
    int n_tags;
    int64_t start_seconds;
    /* exit */
    int exit_code;
    int64_t runtime;
} mz_wandb_record;

typedef struct {
    mz_wandb_record *records;
    int n;
} mz_wandb_records;

/* Reads every record; 0, or -1 with the byte offset and reason in err
 * (bad header, CRC mismatch, broken chunk sequence, malformed protobuf). */
int mz_wandb_file_read(const char *path, mz_wandb_records *out, char *err, size_t err_len);
void mz_wandb_records_free(mz_wandb_records *r);

#endif
