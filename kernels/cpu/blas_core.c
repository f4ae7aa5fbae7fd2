/* kernels/cpu/blas_core.c - OPENBLAS_CORETYPE when OpenBLAS fell back to
 * Prescott on a CPU it does not know (blas_core.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/cpu/blas_core.h"
#include "kernels/cpu/blas_lib.h"

const char *ik_cpu_blas_core_for(const char *corename, bool has_avx512f, bool has_avx2,
                                 bool coretype_set)
{
    if (coretype_set || corename == NULL || strcmp(corename, "Prescott") != 0)
        return NULL;
    if (has_avx512f)
        return "SkylakeX";
    if (has_avx2)
        return "Haswell";
    return NULL;
}

/* Set by ik_cpu_blas_pass_core for the children: this machine was checked. */
#define CHECKED_VAR "IKADA_BLAS_CORE_CHECKED"

const char *ik_cpu_blas_better_core(void)
{
    /* Once it is set (by the parent, or before a restart), or the parent
     * found nothing to fix (ik_cpu_blas_pass_core), the library need not be
     * loaded to know that nothing is to be done. */
    const char *set = getenv("OPENBLAS_CORETYPE");
    if ((set != NULL && set[0] != '\0') || getenv(CHECKED_VAR) != NULL)
        return NULL;
    return ik_cpu_blas_core_for(ik_cpu_blas()->get_corename(), __builtin_cpu_supports("avx512f"),
                                __builtin_cpu_supports("avx2"), false);
}

void ik_cpu_blas_pass_core(void)
{
    const char *core = ik_cpu_blas_better_core();
    if (core != NULL)
        setenv("OPENBLAS_CORETYPE", core, 1);
    setenv(CHECKED_VAR, "1", 1);
}

void ik_cpu_blas_fix_core(const char *prog, char **argv)
{
    const char *core = ik_cpu_blas_better_core();
    if (core == NULL)
        return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv("/proc/self/exe", argv);
    /* Not fatal: the same results, only slower. */
    fprintf(stderr, "%s: warning: OpenBLAS chose its Prescott kernels on a CPU with %s, and "
            "restarting with OPENBLAS_CORETYPE=%s failed; going on with the slow kernels\n",
            prog, strcmp(core, "SkylakeX") == 0 ? "AVX-512" : "AVX2", core);
}
