/* kernels/cpu/argmax.c - the index of each row's largest entry (kernels.h),
 * rows on the kernels' thread pool (parallel.h), 8 lanes at a time
 * (simd.h). Lane i keeps the largest entry it has seen among columns i,
 * i + 16, ... with the first column on ties (a strict >); the lanes are then
 * merged by value, the smaller column winning a tie, which is the first
 * column of the row's maximum. A row's result does not depend on how the
 * rows are shared out. */
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

struct argmax {
    int *out;
    const float *x;
    int V;
};

IK_VINLINE int row_argmax(const float *l, int V)
{
    ik_vf best = (ik_vf){0} - __builtin_inff(), x;
    ik_vi at = (ik_vi){0} - 1, col;
    for (int i = 0; i < IK_VL; i++)
        col[i] = i;
    for (int v = 0; v < V; v += IK_VL) {
        ik_vload(&x, l + v, V - v < IK_VL ? V - v : IK_VL, -__builtin_inff()); /* never > */
        ik_vi gt = x > best;
        best = IK_VSEL(gt, x, best);
        at = (at & ~gt) | (col & gt);
        col = col + IK_VL;
    }
    float b = -__builtin_inff();
    int j = -1;
    for (int i = 0; i < IK_VL; i++)
        if (at[i] >= 0 && (j < 0 || best[i] > b || (best[i] == b && at[i] < j))) {
            b = best[i];
            j = at[i];
        }
    return j < 0 ? 0 : j; /* no entry above -inf (or only NaNs): the first column */
}

IK_VINLINE void rows_body(void *ctx, size_t lo, size_t hi)
{
    const struct argmax *a = ctx;
    for (size_t n = lo; n < hi; n++)
        a->out[n] = row_argmax(a->x + n * (size_t)a->V, a->V);
}
IK_SIMD_RANGE_FN(rows)

void ik_cpu_argmax_rows(int *out, const float *x, int N, int V)
{
    struct argmax a = {out, x, V};
    ik_cpu_parallel_for((size_t)N, (size_t)N * V, rows, &a);
}
