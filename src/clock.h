/* Monotonic wall-clock seconds, for timing phases of a loop. */
#ifndef MZ_CLOCK_H
#define MZ_CLOCK_H

#include <errno.h>
#include <string.h>
#include <time.h>

#include "src/check.h"

static inline double mz_clock_seconds(void) {
    struct timespec ts;
    MZ_CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0, "clock_gettime(CLOCK_MONOTONIC) failed: %s", strerror(errno));
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
