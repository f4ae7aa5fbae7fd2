/* kernels/cpu/blas_lib.h - OpenBLAS, loaded when the first GEMM needs it.
 *
 * The library is not linked into ikada: loading it costs every process about
 * half of a no-op `ikada run` (14,000 symbol relocations, and a thread pool
 * that spins on sched_yield while the engine works), and only the processes
 * that compute (`ikada exec` of a model node, `ikada lm`) use it. The few
 * entry points ikada calls are resolved here, once, from the same shared
 * library a link would have used (Debian's libopenblas.so.0 alternative). */
#ifndef IK_KERNELS_CPU_BLAS_LIB_H
#define IK_KERNELS_CPU_BLAS_LIB_H

#include <cblas.h>

struct ik_cpu_blas {
    void (*sgemm)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE,
                  const blasint, const blasint, const blasint, const float, const float *,
                  const blasint, const float *, const blasint, const float, float *,
                  const blasint);
    void (*set_num_threads)(int);
    int (*get_num_threads)(void);
    char *(*get_corename)(void);
};

/* The library's entry points, loading it on the first call (thread-safe).
 * Cannot fail: a missing library or symbol ends the process with a message
 * that names it and the package to install, as a missing link would have. */
const struct ik_cpu_blas *ik_cpu_blas(void);

#endif
