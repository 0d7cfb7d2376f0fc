#include "src/crc32.h"

#include <stdbool.h>

/* Reflected polynomial 0xEDB88320, one table lookup per byte. */
static uint32_t table[256];
static bool table_ready;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    table_ready = true;
}

uint32_t mz_crc32(uint32_t crc, const void *bytes, size_t n) {
    /* computing the same table twice from two threads is harmless: same values */
    if (!table_ready) build_table();
    const unsigned char *p = bytes;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
