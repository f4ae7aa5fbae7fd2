/* bench/bench_common.c - helpers of the bench programs (bench_common.h). */
#include <stdlib.h>

#include "base/diag.h"
#include "base/xmalloc.h"
#include "bench/bench_common.h"

void ik_bench_die(struct ik_diag *d)
{
    ik_diag_print(d);
    exit(1);
}

float *ik_bench_uniform(size_t n, unsigned *seed, float lo, float hi)
{
    float *v = ik_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        v[i] = lo + (hi - lo) * (float)((*seed >> 8) & 0xffffff) / 16777216.0f;
    }
    return v;
}
