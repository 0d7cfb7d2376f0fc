#include "src/crc32.h"

#include <pthread.h>
#include <string.h>

#include "src/check.h"

/* Reflected polynomial 0xEDB88320, one table lookup per byte. */
static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

uint32_t mz_crc32(uint32_t crc, const void *bytes, size_t n) {
    int rc = pthread_once(&table_once, build_table);
    MZ_CHECK(rc == 0, "pthread_once failed: %s", strerror(rc));
    const unsigned char *p = bytes;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
