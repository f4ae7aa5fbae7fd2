/* kernels/cpu/blas_core.h - undoing OpenBLAS's fallback to its slowest
 * kernels on CPUs it does not know.
 *
 * OpenBLAS 0.3.21 (Debian 12) picks its kernels once, when the library
 * loads, from the CPU's family and model. A Xeon newer than the library (e.g.
 * family 6 model 207) is not in its tables, and it falls back to its Prescott
 * (SSE3) kernels, 5-6x slower than the AVX-512 ones on the same machine:
 * every GEMM, hence every forward and training step, pays that. The library
 * only listens to OPENBLAS_CORETYPE, read at load time, so the fix is to set
 * it and re-execute the program before any work is done.
 *
 * The fix applies only to that misdetection: the library reporting Prescott
 * on a CPU with AVX-512 (SkylakeX kernels) or AVX2 (Haswell kernels), and the
 * caller not having chosen a core type. Everything else is left as the
 * library chose it. */
#ifndef IK_KERNELS_CPU_BLAS_CORE_H
#define IK_KERNELS_CPU_BLAS_CORE_H

#include <stdbool.h>

/* The pure rule: the core type to ask for given the library's choice
 * (corename), the CPU's features and whether OPENBLAS_CORETYPE is already
 * set; NULL when the library's choice stands. */
const char *ik_cpu_blas_core_for(const char *corename, bool has_avx512f, bool has_avx2,
                                 bool coretype_set);

/* The rule applied to this process: the core type to ask for, or NULL.
 * Loads the library (blas_lib.h) unless OPENBLAS_CORETYPE or
 * IKADA_BLAS_CORE_CHECKED is set. */
const char *ik_cpu_blas_better_core(void);

/* If ik_cpu_blas_better_core() names a core type, sets OPENBLAS_CORETYPE to
 * it and re-executes /proc/self/exe with argv (so the process starts over
 * with the faster kernels, and its children inherit the setting). Returns
 * only when nothing needed doing or the exec failed (the program then goes
 * on, slower, after a line on stderr). prog names the program in messages. */
void ik_cpu_blas_fix_core(const char *prog, char **argv);

/* For a process that does no BLAS work of its own (`ikada run` before its
 * first node starts): sets OPENBLAS_CORETYPE when ik_cpu_blas_better_core()
 * names a core type, and IKADA_BLAS_CORE_CHECKED in any case, so the children
 * it starts on this machine (`ikada exec`) load the library with the faster
 * kernels and need neither a restart nor a check of their own (a `command`
 * node then never loads the library at all). Not for jobs that run on other
 * machines: their CPUs may differ. */
void ik_cpu_blas_pass_core(void);

#endif
