/* CRC-32 (IEEE 802.3, the zlib crc32), which the .wandb log framing uses. */
#ifndef MZ_CRC32_H
#define MZ_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues `crc` (0 to start) over n bytes: crc32(b, crc32(a)) == crc32(a+b). */
uint32_t mz_crc32(uint32_t crc, const void *bytes, size_t n);

#endif
