#include "src/cuda_emu_runtime.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "src/check.h"

#define EMU_DEFAULT_CAPACITY ((size_t)16 << 30) /* pretend 16 GiB */

typedef struct {
    uintptr_t begin;
    size_t bytes;
} emu_block;

static pthread_mutex_t emu_lock = PTHREAD_MUTEX_INITIALIZER;
static emu_block *emu_blocks;
static size_t emu_count, emu_cap_blocks, emu_in_use;
static size_t emu_capacity = EMU_DEFAULT_CAPACITY;

static void emu_lock_take(void) { MZ_CHECK(pthread_mutex_lock(&emu_lock) == 0, "cuda-emu: mutex lock failed"); }
static void emu_lock_give(void) { MZ_CHECK(pthread_mutex_unlock(&emu_lock) == 0, "cuda-emu: mutex unlock failed"); }

int mz_emu_malloc(void **p, size_t bytes) {
    int rc = 0;
    emu_lock_take();
    if (emu_in_use + bytes > emu_capacity) {
        rc = -1;
    } else {
        /* at least one byte so every allocation has a distinct address */
        void *mem = malloc(bytes ? bytes : 1);
        if (!mem) {
            rc = -1;
        } else {
            if (emu_count == emu_cap_blocks) {
                emu_cap_blocks = emu_cap_blocks ? 2 * emu_cap_blocks : 64;
                emu_blocks = (emu_block *)mz_realloc(emu_blocks, emu_cap_blocks * sizeof(emu_block));
            }
            emu_blocks[emu_count].begin = (uintptr_t)mem;
            emu_blocks[emu_count].bytes = bytes;
            emu_count++;
            emu_in_use += bytes;
            *p = mem;
        }
    }
    emu_lock_give();
    return rc;
}

int mz_emu_free(void *p) {
    int rc = -1;
    emu_lock_take();
    for (size_t i = 0; i < emu_count; i++) {
        if (emu_blocks[i].begin == (uintptr_t)p) {
            emu_in_use -= emu_blocks[i].bytes;
            emu_blocks[i] = emu_blocks[--emu_count];
            free(p);
            rc = 0;
            break;
        }
    }
    if (emu_count == 0) { /* leave nothing behind for leak checkers */
        free(emu_blocks);
        emu_blocks = NULL;
        emu_cap_blocks = 0;
    }
    emu_lock_give();
    return rc;
}

bool mz_emu_is_device(const void *p, size_t bytes) {
    bool found = false;
    uintptr_t a = (uintptr_t)p;
    emu_lock_take();
    for (size_t i = 0; i < emu_count; i++) {
        uintptr_t b = emu_blocks[i].begin;
        size_t n = emu_blocks[i].bytes ? emu_blocks[i].bytes : 1;
        if (a >= b && a - b <= n && bytes <= n - (a - b)) {
            found = true;
            break;
        }
    }
    emu_lock_give();
    return found;
}

size_t mz_emu_bytes_in_use(void) {
    emu_lock_take();
    size_t n = emu_in_use;
    emu_lock_give();
    return n;
}

size_t mz_emu_capacity(void) { return emu_capacity; }

void mz_emu_set_capacity(size_t bytes) {
    emu_lock_take();
    emu_capacity = bytes ? bytes : EMU_DEFAULT_CAPACITY;
    emu_lock_give();
}
