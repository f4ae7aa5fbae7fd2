/* bench/bench_common.h - what the bench programs share: ending on an error
 * and the random inputs they time kernels on. */
#ifndef IK_BENCH_COMMON_H
#define IK_BENCH_COMMON_H

#include <stddef.h>

struct ik_diag;

/* Prints d and exits 1: a bench has nothing to go on with. */
void ik_bench_die(struct ik_diag *d);

/* n floats uniform in [lo, hi) from a 32-bit LCG advanced in *seed (the same
 * values on every machine, so runs time the same inputs). */
float *ik_bench_uniform(size_t n, unsigned *seed, float lo, float hi);

#endif
