/* kernels/cpu/parallel.h - the one threading idiom of the CPU kernels: a loop
 * over [0, n) whose iterations are independent is cut into a few contiguous
 * chunks per core, which a small pool of threads (sleeping on a condition
 * variable between loops) and the caller claim one at a time, so a thread the
 * OS runs late, on a shared or busy machine, leaves its chunks to the others
 * instead of stalling the loop. (Not OpenMP: libgomp's idle threads spin for
 * milliseconds after each loop and starve OpenBLAS's threads on a small
 * machine.) Each iteration writes only its own outputs, so results do not
 * depend on the number of threads or on who ran which chunk. GEMMs are
 * threaded by OpenBLAS itself. */
#ifndef IK_KERNELS_CPU_PARALLEL_H
#define IK_KERNELS_CPU_PARALLEL_H

#include <stddef.h>

/* Below this many scalar operations a loop stays on the calling thread: waking
 * the pool costs tens of microseconds (generation runs one row at a time). */
#define IK_PAR_MIN_WORK 200000

/* Runs iterations lo..hi-1 of a loop; ctx holds the loop's operands. */
typedef void ik_cpu_range_fn(void *ctx, size_t lo, size_t hi);

/* Runs fn over [0, n) in chunks (fn(ctx, lo, hi) for each, on any thread, the
 * caller's included) and returns when all are done. work: the loop's
 * approximate number of scalar operations;
 * below IK_PAR_MIN_WORK, or while another thread is using the pool, fn(ctx, 0, n)
 * runs on the caller. The pool (one thread per online CPU but the caller's,
 * IKADA_THREADS overriding the CPU count) starts on first use and lives as long
 * as the process; a child forked after that runs every loop on its caller.
 * Cannot fail: without threads the loop runs on the caller. */
void ik_cpu_parallel_for(size_t n, size_t work, ik_cpu_range_fn *fn, void *ctx);

#endif
