/* kernels/cpu/act.c - the elementwise activations of NemotronH: SiLU (the
 * Mamba-2 conv output) and squared ReLU (its MLP), in ranges on the kernels'
 * thread pool, 8 lanes at a time (simd.h). out may equal x. */
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

struct act {
    float *out;
    const float *x;
};

IK_VINLINE void silu_range_body(void *ctx, size_t lo, size_t hi)
{
    const struct act *a = ctx;
    for (size_t i = lo; i < hi; i += IK_VL) {
        int n = hi - i < IK_VL ? (int)(hi - i) : IK_VL;
        ik_vf x, e;
        ik_vload(&x, a->x + i, n, 0.0f);
        e = -x;
        ik_vexp(&e);
        x = x / (1.0f + e);
        ik_vstore(a->out + i, &x, n);
    }
}
IK_SIMD_RANGE_FN(silu_range)

void ik_cpu_silu_fwd(float *out, const float *x, size_t n)
{
    struct act a = {out, x};
    ik_cpu_parallel_for(n, n * 8, silu_range, &a);
}

IK_VINLINE void relu2_range_body(void *ctx, size_t lo, size_t hi)
{
    const struct act *a = ctx;
    for (size_t i = lo; i < hi; i += IK_VL) {
        int n = hi - i < IK_VL ? (int)(hi - i) : IK_VL;
        ik_vf x;
        ik_vload(&x, a->x + i, n, 0.0f);
        x = IK_VSEL(x > 0.0f, x, (ik_vf){0});
        x = x * x;
        ik_vstore(a->out + i, &x, n);
    }
}
IK_SIMD_RANGE_FN(relu2_range)

void ik_cpu_relu2_fwd(float *out, const float *x, size_t n)
{
    struct act a = {out, x};
    ik_cpu_parallel_for(n, n * 2, relu2_range, &a);
}
