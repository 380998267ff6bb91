// Shared by the CKernels sources; not part of the module's public header.
#ifndef AK_KERNELS_INTERNAL_H
#define AK_KERNELS_INTERNAL_H

#if defined(__x86_64__)
#include <immintrin.h>
#define AK_X86 1
#endif

/// The path that runs: AUTO resolved; a path above what the CPU has keeps its arithmetic and is
/// run by portable loops (see `ak_supported`).
int ak_resolve(int path);

/// Whether this CPU runs `path`'s instructions.
int ak_supported(int path);

#endif
