/* HD marks a function compiled for both host and device. Kernel bodies are
 * written once as plain functions over one index and included by the CPU
 * backend (gcc, OpenMP loop), the CUDA backend (nvcc, grid-stride kernel) and
 * the emulation build (g++ with src/cuda_emu.h), so all three run one source.
 * Bodies must stay C/C++-common: no designated initialisers, no compound
 * literals, explicit casts from void*. */
#ifndef MZ_HD_H
#define MZ_HD_H

#if defined(__CUDACC__)
#define HD __host__ __device__
#else
#define HD
#endif

#endif
