/* Versioned parameter publishing between one writer (the learner) and many
 * readers (actors, reanalyse workers), without torn reads and without the
 * writer ever waiting for a reader.
 *
 * The slot owns readers + 2 host buffers of n floats, each with a version
 * and a reference count. The writer fills a buffer no reader holds and that
 * is not the current one (one always exists: each reader holds at most one
 * buffer, the current is one more), outside any lock, then makes it current
 * under the mutex (version + 1). A reader takes a reference to the current
 * buffer under the mutex, copies it outside the lock, and drops the
 * reference. A buffer is only rewritten at reference count zero, so a
 * reader's copy is always one whole version. The mutex is held for a few
 * pointer operations only, never during a copy. */
#ifndef MZ_ACTORS_PARAM_SLOT_H
#define MZ_ACTORS_PARAM_SLOT_H

#include <stdint.h>

typedef struct mz_param_slot mz_param_slot;

/* n floats per version; at most `readers` readers hold a version at once. */
mz_param_slot *mz_param_slot_create(int64_t n, int readers);
void mz_param_slot_destroy(mz_param_slot *s);
int64_t mz_param_slot_floats(const mz_param_slot *s);

/* Writer: a buffer to fill, then publish it as the next version (returned;
 * the first is 1). One writer at a time. */
float *mz_param_slot_begin_write(mz_param_slot *s);
int64_t mz_param_slot_publish(mz_param_slot *s);

/* A resumed run: numbering goes on from `version` (the next publish is
 * version + 1). Before the first publish only. */
void mz_param_slot_start_at(mz_param_slot *s, int64_t version);

/* The newest published version (0 before the first). */
int64_t mz_param_slot_version(mz_param_slot *s);

/* Reader: the newest version's floats (NULL before the first publish) with
 * its version in *version; hold it until mz_param_slot_release. */
const float *mz_param_slot_acquire(mz_param_slot *s, int64_t *version);
void mz_param_slot_release(mz_param_slot *s, const float *buf);

#endif
