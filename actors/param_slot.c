/* Versioned parameter publishing: see param_slot.h. */
#include "actors/param_slot.h"

#include <pthread.h>
#include <stdlib.h>

#include "src/check.h"

typedef struct {
    float *data;
    int64_t version;
    int refs;
} slot_buffer;

struct mz_param_slot {
    pthread_mutex_t mu;
    int64_t n;
    int count;
    slot_buffer *buf; /* [count] */
    int current;      /* -1 before the first publish */
    int writing;      /* the buffer handed to the writer, -1 when none */
    int64_t version;
};

#define LOCK(s) MZ_CHECK(pthread_mutex_lock(&(s)->mu) == 0, "param slot: mutex lock failed")
#define UNLOCK(s) MZ_CHECK(pthread_mutex_unlock(&(s)->mu) == 0, "param slot: mutex unlock failed")

mz_param_slot *mz_param_slot_create(int64_t n, int readers) {
    MZ_CHECK(n >= 1 && readers >= 1, "param slot: %lld floats, %d readers", (long long)n, readers);
    mz_param_slot *s = mz_calloc(1, sizeof *s);
    MZ_CHECK(pthread_mutex_init(&s->mu, NULL) == 0, "param slot: mutex init failed");
    s->n = n;
    s->count = readers + 2;
    s->buf = mz_calloc((size_t)s->count, sizeof *s->buf);
    for (int i = 0; i < s->count; i++) s->buf[i].data = mz_malloc((size_t)n * sizeof(float));
    s->current = -1;
    s->writing = -1;
    return s;
}

void mz_param_slot_destroy(mz_param_slot *s) {
    if (!s) return;
    for (int i = 0; i < s->count; i++) {
        MZ_CHECK(s->buf[i].refs == 0, "param slot: destroyed while a reader holds version %lld",
                 (long long)s->buf[i].version);
        free(s->buf[i].data);
    }
    free(s->buf);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int64_t mz_param_slot_floats(const mz_param_slot *s) { return s->n; }

float *mz_param_slot_begin_write(mz_param_slot *s) {
    LOCK(s);
    MZ_CHECK(s->writing < 0, "param slot: a second writer");
    int free_buf = -1;
    for (int i = 0; i < s->count && free_buf < 0; i++)
        if (i != s->current && s->buf[i].refs == 0) free_buf = i;
    MZ_CHECK(free_buf >= 0, "param slot: no free buffer (more readers than declared)");
    s->writing = free_buf;
    UNLOCK(s);
    return s->buf[free_buf].data;
}

int64_t mz_param_slot_publish(mz_param_slot *s) {
    LOCK(s);
    MZ_CHECK(s->writing >= 0, "param slot: publish without begin_write");
    s->buf[s->writing].version = ++s->version;
    s->current = s->writing;
    s->writing = -1;
    int64_t v = s->version;
    UNLOCK(s);
    return v;
}

void mz_param_slot_start_at(mz_param_slot *s, int64_t version) {
    LOCK(s);
    MZ_CHECK(s->current < 0 && version >= 0, "param slot: numbering set to %lld after a publish", (long long)version);
    s->version = version;
    UNLOCK(s);
}

int64_t mz_param_slot_version(mz_param_slot *s) {
    LOCK(s);
    int64_t v = s->version;
    UNLOCK(s);
    return v;
}

const float *mz_param_slot_acquire(mz_param_slot *s, int64_t *version) {
    LOCK(s);
    const float *data = NULL;
    *version = 0;
    if (s->current >= 0) {
        slot_buffer *b = &s->buf[s->current];
        b->refs++;
        data = b->data;
        *version = b->version;
    }
    UNLOCK(s);
    return data;
}

void mz_param_slot_release(mz_param_slot *s, const float *data) {
    if (!data) return;
    LOCK(s);
    int found = 0;
    for (int i = 0; i < s->count && !found; i++)
        if (s->buf[i].data == data) {
            MZ_CHECK(s->buf[i].refs > 0, "param slot: release of a buffer nobody holds");
            s->buf[i].refs--;
            found = 1;
        }
    MZ_CHECK(found, "param slot: release of an unknown buffer");
    UNLOCK(s);
}
