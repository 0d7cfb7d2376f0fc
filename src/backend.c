/* Device selection: turns the config's `device` into a backend. */
#include "src/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cblas.h>

#include "src/check.h"

/* "cuda" -> 0, "cuda:N" -> N; -1 when the text is not a CUDA device. */
static int parse_cuda_index(const char *device) {
    if (strcmp(device, "cuda") == 0) return 0;
    if (strncmp(device, "cuda:", 5) != 0 || device[5] == '\0') return -1;
    char *end = NULL;
    long v = strtol(device + 5, &end, 10);
    if (*end != '\0' || v < 0 || v > 1023 || device[5] == '+' || device[5] == '-' || device[5] == ' ') return -1;
    return (int)v;
}

static void describe_cpu(char *chosen, size_t len, const char *prefix) {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    int blas = openblas_get_parallel(); /* 0 sequential, 1 pthreads, 2 OpenMP */
    snprintf(chosen, len, "%scpu (OpenMP %d thread%s, OpenBLAS %s)", prefix, threads, threads == 1 ? "" : "s",
             blas == 2 ? "OpenMP build" : blas == 1 ? "pthread build: set OMP_WAIT_POLICY=passive" : "sequential");
}

int mz_backend_open(const char *device, int threads, mz_backend **out, char *chosen, size_t chosen_len,
                    char *err, size_t err_len) {
    char reason[256];
    *out = NULL;
    if (strcmp(device, "cpu") == 0) {
        *out = mz_backend_cpu_create(threads);
        describe_cpu(chosen, chosen_len, "");
        return 0;
    }
    if (strcmp(device, "auto") == 0) {
        if (mz_cuda_probe(0, reason, sizeof reason) == 0) {
            *out = mz_backend_cuda_create(0);
            snprintf(chosen, chosen_len, "auto -> %s:0", (*out)->name);
            return 0;
        }
        *out = mz_backend_cpu_create(threads);
        describe_cpu(chosen, chosen_len, "auto -> ");
        size_t used = strlen(chosen);
        snprintf(chosen + used, chosen_len - used, "; CUDA not used: %s", reason);
        return 0;
    }
    int index = parse_cuda_index(device);
    if (index < 0) {
        snprintf(err, err_len, "device: expected one of auto, cpu, cuda, cuda:N, got '%s'", device);
        return MZ_EXIT_USAGE;
    }
    if (mz_cuda_probe(index, reason, sizeof reason) != 0) {
        snprintf(err, err_len, "device %s: %s", device, reason);
        return MZ_EXIT_USAGE;
    }
    *out = mz_backend_cuda_create(index);
    snprintf(chosen, chosen_len, "%s:%d", (*out)->name, index);
    return 0;
}
