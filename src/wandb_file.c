#include "src/wandb_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"
#include "src/crc32.h"
#include "src/protobuf.h"
#include "src/strbuf.h"

enum { CHUNK_FULL = 1, CHUNK_FIRST = 2, CHUNK_MIDDLE = 3, CHUNK_LAST = 4 };
static const unsigned char file_header[7] = {':', 'W', '&', 'B', 0xE1, 0xBE, 0};

struct mz_wandb_file {
    FILE *f;
    char path[1024];
    size_t offset; /* bytes written so far: block positions count from 0 */
    int64_t next_num;
};

static void write_bytes(mz_wandb_file *f, const void *bytes, size_t n) {
    MZ_CHECK(fwrite(bytes, 1, n, f->f) == n, "write to '%s' failed at byte %zu: %s", f->path, f->offset,
             strerror(errno));
    f->offset += n;
}

mz_wandb_file *mz_wandb_file_create(const char *path, char *err, size_t err_len) {
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        snprintf(err, err_len, "cannot create '%s': %s", path, strerror(errno));
        return NULL;
    }
    mz_wandb_file *f = mz_calloc(1, sizeof *f);
    f->f = fp;
    snprintf(f->path, sizeof f->path, "%s", path);
    f->next_num = 1;
    write_bytes(f, file_header, sizeof file_header);
    return f;
}

/* Splits one record into chunks that never cross a 32 KiB block. */
static void write_record(mz_wandb_file *f, const mz_strbuf *payload) {
    size_t left = payload->len, pos = 0;
    bool first = true;
    do {
        size_t room = MZ_WANDB_BLOCK - f->offset % MZ_WANDB_BLOCK;
        if (room < MZ_WANDB_CHUNK_HEADER) { /* a header never straddles blocks: pad the tail with zeros */
            static const unsigned char zeros[MZ_WANDB_CHUNK_HEADER];
            write_bytes(f, zeros, room);
            room = MZ_WANDB_BLOCK;
        }
        size_t n = room - MZ_WANDB_CHUNK_HEADER;
        if (n > left) n = left;
        bool last = n == left;
        unsigned char type = first && last ? CHUNK_FULL : first ? CHUNK_FIRST : last ? CHUNK_LAST : CHUNK_MIDDLE;
        uint32_t crc = mz_crc32(mz_crc32(0, &type, 1), payload->data + pos, n);
        unsigned char header[MZ_WANDB_CHUNK_HEADER] = {
            (unsigned char)crc, (unsigned char)(crc >> 8), (unsigned char)(crc >> 16), (unsigned char)(crc >> 24),
            (unsigned char)n,   (unsigned char)(n >> 8),   type};
        write_bytes(f, header, sizeof header);
        write_bytes(f, payload->data + pos, n);
        pos += n;
        left -= n;
        first = false;
    } while (left > 0);
    MZ_CHECK(fflush(f->f) == 0, "flush of '%s' failed: %s", f->path, strerror(errno));
}

/* Record{num=1, <kind>=body} */
static void write_wrapped(mz_wandb_file *f, int kind_field, const mz_strbuf *body) {
    mz_strbuf rec = {0};
    mz_pb_int(&rec, 1, f->next_num++);
    mz_pb_bytes(&rec, kind_field, body->data ? body->data : "", body->len);
    write_record(f, &rec);
    mz_strbuf_free(&rec);
}

/* repeated item messages: key=1, value_json=16 */
static void append_items(mz_strbuf *msg, int field, const mz_wandb_item *items, int n) {
    mz_strbuf item = {0};
    for (int i = 0; i < n; i++) {
        mz_strbuf_clear(&item);
        mz_pb_string(&item, 1, items[i].key);
        mz_pb_string(&item, 16, items[i].value_json);
        mz_pb_bytes(msg, field, item.data, item.len);
    }
    mz_strbuf_free(&item);
}

void mz_wandb_file_header(mz_wandb_file *f) {
    mz_strbuf empty = {0};
    write_wrapped(f, MZ_WREC_HEADER, &empty);
}

void mz_wandb_file_run(mz_wandb_file *f, const mz_wandb_run_info *run, const mz_wandb_item *config, int n_config) {
    mz_strbuf body = {0}, sub = {0};
    mz_pb_string(&body, 1, run->run_id);
    if (run->entity && run->entity[0]) mz_pb_string(&body, 2, run->entity);
    if (run->project && run->project[0]) mz_pb_string(&body, 3, run->project);
    append_items(&sub, 1, config, n_config);
    mz_pb_bytes(&body, 4, sub.data ? sub.data : "", sub.len);
    if (run->display_name && run->display_name[0]) mz_pb_string(&body, 8, run->display_name);
    for (const char *t = run->tags; t && *t;) {
        size_t n = strcspn(t, ",");
        if (n) mz_pb_bytes(&body, 10, t, n);
        t += n + (t[n] == ',');
    }
    mz_strbuf_clear(&sub);
    int64_t seconds = (int64_t)run->start_unix;
    mz_pb_int(&sub, 1, seconds);
    mz_pb_int(&sub, 2, (int64_t)((run->start_unix - (double)seconds) * 1e9));
    mz_pb_bytes(&body, 17, sub.data, sub.len);
    write_wrapped(f, MZ_WREC_RUN, &body);
    mz_strbuf_free(&body);
    mz_strbuf_free(&sub);
}

void mz_wandb_file_history(mz_wandb_file *f, int64_t step, const mz_wandb_item *items, int n) {
    mz_strbuf body = {0}, sub = {0};
    append_items(&body, 1, items, n);
    mz_pb_int(&sub, 1, step);
    mz_pb_bytes(&body, 2, sub.data, sub.len);
    write_wrapped(f, MZ_WREC_HISTORY, &body);
    mz_strbuf_free(&body);
    mz_strbuf_free(&sub);
}

void mz_wandb_file_summary(mz_wandb_file *f, const mz_wandb_item *items, int n) {
    mz_strbuf body = {0};
    append_items(&body, 1, items, n);
    write_wrapped(f, MZ_WREC_SUMMARY, &body);
    mz_strbuf_free(&body);
}

void mz_wandb_file_exit(mz_wandb_file *f, int exit_code, double runtime_seconds) {
    mz_strbuf body = {0};
    mz_pb_int(&body, 1, exit_code);
    mz_pb_int(&body, 2, (int64_t)runtime_seconds);
    write_wrapped(f, MZ_WREC_EXIT, &body);
    mz_strbuf_clear(&body);
    write_wrapped(f, MZ_WREC_FINAL, &body);
    mz_strbuf_free(&body);
}

void mz_wandb_file_close(mz_wandb_file *f) {
    if (!f) return;
    MZ_CHECK(fclose(f->f) == 0, "close of '%s' failed: %s", f->path, strerror(errno));
    free(f);
}

/* ---- reading ---------------------------------------------------------------- */

static char *dup_bytes(const unsigned char *p, size_t n) {
    char *s = mz_malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int decode_items(const unsigned char *p, size_t n, int field, mz_wandb_record *rec) {
    mz_pb_reader r;
    mz_pb_reader_init(&r, p, n);
    while (mz_pb_next(&r)) {
        if (r.field != field || r.wire != MZ_PB_LEN) continue;
        mz_pb_reader item;
        mz_pb_reader_init(&item, r.data, r.len);
        mz_wandb_owned_item it = {NULL, NULL};
        while (mz_pb_next(&item)) {
            if (item.wire != MZ_PB_LEN) continue;
            if (item.field == 1 && !it.key) it.key = dup_bytes(item.data, item.len);
            if (item.field == 16 && !it.value_json) it.value_json = dup_bytes(item.data, item.len);
        }
        if (item.bad) {
            free(it.key);
            free(it.value_json);
            return -1;
        }
        if (!it.key) it.key = dup_bytes((const unsigned char *)"", 0);
        if (!it.value_json) it.value_json = dup_bytes((const unsigned char *)"null", 4);
        rec->items = mz_realloc(rec->items, (size_t)(rec->n_items + 1) * sizeof *rec->items);
        rec->items[rec->n_items++] = it;
    }
    return r.bad ? -1 : 0;
}

static int decode_run(const unsigned char *p, size_t n, mz_wandb_record *rec) {
    mz_pb_reader r;
    mz_pb_reader_init(&r, p, n);
    while (mz_pb_next(&r)) {
        if (r.wire != MZ_PB_LEN) continue;
        char **slot = r.field == 1 ? &rec->run_id : r.field == 2 ? &rec->entity : r.field == 3 ? &rec->project
                      : r.field == 8 ? &rec->display_name : NULL;
        if (slot) {
            free(*slot);
            *slot = dup_bytes(r.data, r.len);
        } else if (r.field == 4) {
            if (decode_items(r.data, r.len, 1, rec) != 0) return -1;
        } else if (r.field == 10) {
            rec->tags = mz_realloc(rec->tags, (size_t)(rec->n_tags + 1) * sizeof *rec->tags);
            rec->tags[rec->n_tags++] = dup_bytes(r.data, r.len);
        } else if (r.field == 17) {
            mz_pb_reader ts;
            mz_pb_reader_init(&ts, r.data, r.len);
            while (mz_pb_next(&ts))
                if (ts.field == 1 && ts.wire == MZ_PB_VARINT) rec->start_seconds = (int64_t)ts.value;
            if (ts.bad) return -1;
        }
    }
    return r.bad ? -1 : 0;
}

static int decode_record(const unsigned char *p, size_t n, mz_wandb_record *rec) {
    memset(rec, 0, sizeof *rec);
    mz_pb_reader r;
    mz_pb_reader_init(&r, p, n);
    while (mz_pb_next(&r)) {
        if (r.field == 1 && r.wire == MZ_PB_VARINT) {
            rec->num = (int64_t)r.value;
            continue;
        }
        if (r.wire != MZ_PB_LEN) continue;
        mz_pb_reader sub;
        switch (r.field) {
        case MZ_WREC_HISTORY:
            rec->kind = MZ_WREC_HISTORY;
            if (decode_items(r.data, r.len, 1, rec) != 0) return -1;
            mz_pb_reader_init(&sub, r.data, r.len);
            while (mz_pb_next(&sub)) {
                if (sub.field != 2 || sub.wire != MZ_PB_LEN) continue;
                mz_pb_reader step;
                mz_pb_reader_init(&step, sub.data, sub.len);
                while (mz_pb_next(&step))
                    if (step.field == 1 && step.wire == MZ_PB_VARINT) rec->step = (int64_t)step.value;
            }
            break;
        case MZ_WREC_SUMMARY:
        case MZ_WREC_CONFIG:
            rec->kind = (mz_wandb_record_kind)r.field;
            if (decode_items(r.data, r.len, 1, rec) != 0) return -1;
            break;
        case MZ_WREC_RUN:
            rec->kind = MZ_WREC_RUN;
            if (decode_run(r.data, r.len, rec) != 0) return -1;
            break;
        case MZ_WREC_EXIT:
            rec->kind = MZ_WREC_EXIT;
            mz_pb_reader_init(&sub, r.data, r.len);
            while (mz_pb_next(&sub)) {
                if (sub.field == 1 && sub.wire == MZ_PB_VARINT) rec->exit_code = (int)(int32_t)sub.value;
                if (sub.field == 2 && sub.wire == MZ_PB_VARINT) rec->runtime = (int64_t)sub.value;
            }
            if (sub.bad) return -1;
            break;
        case MZ_WREC_FINAL:
        case MZ_WREC_HEADER: rec->kind = (mz_wandb_record_kind)r.field; break;
        default: break;
        }
    }
    return r.bad ? -1 : 0;
}

static void record_free(mz_wandb_record *rec) {
    for (int i = 0; i < rec->n_items; i++) {
        free(rec->items[i].key);
        free(rec->items[i].value_json);
    }
    free(rec->items);
    free(rec->run_id);
    free(rec->entity);
    free(rec->project);
    free(rec->display_name);
    for (int i = 0; i < rec->n_tags; i++) free(rec->tags[i]);
    free(rec->tags);
}

void mz_wandb_records_free(mz_wandb_records *r) {
    for (int i = 0; i < r->n; i++) record_free(&r->records[i]);
    free(r->records);
    r->records = NULL;
    r->n = 0;
}

int mz_wandb_file_read(const char *path, mz_wandb_records *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    mz_strbuf file = {0};
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) mz_strbuf_append(&file, buf, got);
    bool read_error = ferror(f);
    fclose(f);
    const unsigned char *d = (const unsigned char *)file.data;
    size_t size = file.len, pos = sizeof file_header;
    mz_strbuf record = {0};
    bool in_record = false;
    int rc = 0;
    if (read_error || size < sizeof file_header || memcmp(d, file_header, sizeof file_header) != 0) {
        snprintf(err, err_len, "%s: %s", path, read_error ? "read error" : "not a .wandb file (bad 7-byte header)");
        rc = -1;
    }
    while (rc == 0 && pos < size) {
        size_t room = MZ_WANDB_BLOCK - pos % MZ_WANDB_BLOCK;
        if (room < MZ_WANDB_CHUNK_HEADER) {
            pos += room;
            continue;
        }
        if (size - pos < MZ_WANDB_CHUNK_HEADER) {
            snprintf(err, err_len, "%s: truncated chunk header at byte %zu", path, pos);
            rc = -1;
            break;
        }
        uint32_t crc = (uint32_t)d[pos] | (uint32_t)d[pos + 1] << 8 | (uint32_t)d[pos + 2] << 16 |
                       (uint32_t)d[pos + 3] << 24;
        size_t n = (size_t)d[pos + 4] | (size_t)d[pos + 5] << 8;
        unsigned char type = d[pos + 6];
        if (crc == 0 && n == 0 && type == 0) { /* zero padding written by a writer that stopped mid-block */
            pos += room;
            continue;
        }
        if (n > room - MZ_WANDB_CHUNK_HEADER || n > size - pos - MZ_WANDB_CHUNK_HEADER) {
            snprintf(err, err_len, "%s: chunk at byte %zu claims %zu bytes, beyond its block or the file", path, pos, n);
            rc = -1;
            break;
        }
        const unsigned char *payload = d + pos + MZ_WANDB_CHUNK_HEADER;
        uint32_t want = mz_crc32(mz_crc32(0, &type, 1), payload, n);
        if (want != crc) {
            snprintf(err, err_len, "%s: CRC mismatch at byte %zu (stored %08x, computed %08x)", path, pos, crc, want);
            rc = -1;
            break;
        }
        bool starts = type == CHUNK_FULL || type == CHUNK_FIRST;
        if (type < CHUNK_FULL || type > CHUNK_LAST || starts == in_record) {
            snprintf(err, err_len, "%s: chunk type %u at byte %zu out of sequence", path, type, pos);
            rc = -1;
            break;
        }
        if (starts) mz_strbuf_clear(&record);
        mz_strbuf_append(&record, payload, n);
        in_record = type == CHUNK_FIRST || type == CHUNK_MIDDLE;
        pos += MZ_WANDB_CHUNK_HEADER + n;
        if (in_record) continue;
        out->records = mz_realloc(out->records, (size_t)(out->n + 1) * sizeof *out->records);
        if (decode_record((const unsigned char *)record.data, record.len, &out->records[out->n]) != 0) {
            record_free(&out->records[out->n]);
            snprintf(err, err_len, "%s: malformed protobuf record ending at byte %zu", path, pos);
            rc = -1;
            break;
        }
        out->n++;
    }
    if (rc == 0 && in_record) {
        snprintf(err, err_len, "%s: file ends inside a record", path);
        rc = -1;
    }
    mz_strbuf_free(&record);
    mz_strbuf_free(&file);
    if (rc != 0) mz_wandb_records_free(out);
    return rc;
}
