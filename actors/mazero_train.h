/* `mazero train` for algo=mazero (actors/mazero_train.c). */
#ifndef MZ_ACTORS_MAZERO_TRAIN_H
#define MZ_ACTORS_MAZERO_TRAIN_H

#include "src/backend.h"
#include "src/config.h"

/* Trains cfg (mode=sync; mode=async is refused with exit 2) on be and
 * returns the exit status: 0, 1 (runtime), 2 (config), 128+signal when
 * stopped by SIGINT/SIGTERM (after saving the model). */
int mz_mazero_train(const mz_config *cfg, mz_backend *be, const char *device_line);

#endif
