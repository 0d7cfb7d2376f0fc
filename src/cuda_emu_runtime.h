/* The plain-C half of the CUDA emulation: a registry of emulated device
 * allocations, so that copies, cuBLAS calls and launches can check that a
 * "device" pointer really is one (the bug a GPU would catch and plain host
 * memory would hide). Linked only into emulation builds; src/cuda_emu.h maps
 * the CUDA runtime onto it. Thread-safe. */
#ifndef MZ_CUDA_EMU_RUNTIME_H
#define MZ_CUDA_EMU_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 0 on success, -1 when the emulated capacity would be exceeded. */
int mz_emu_malloc(void **p, size_t bytes);
/* 0 on success, -1 if p is not the start of a live allocation. */
int mz_emu_free(void *p);
/* Is [p, p+bytes) inside one live emulated device allocation? */
bool mz_emu_is_device(const void *p, size_t bytes);
size_t mz_emu_bytes_in_use(void);
size_t mz_emu_capacity(void);
/* Tests shrink the capacity to exercise out-of-memory paths; 0 restores it. */
void mz_emu_set_capacity(size_t bytes);

#ifdef __cplusplus
}
#endif

#endif
