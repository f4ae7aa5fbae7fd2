/* kernels/cpu/act_bwd.c - the backward passes of NemotronH's elementwise
 * activations (see kernels.h): SiLU after the Mamba-2 conv and the squared
 * ReLU of its MLP, from the activation's input, in ranges on the kernels'
 * thread pool, 8 lanes at a time (simd.h). */
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

struct act_bwd {
    float *dx;
    const float *dout, *x;
};

/* d silu(x)/dx = sig(x) * (1 + x * (1 - sig(x))), as swiglu.c's gate. */
IK_VINLINE void silu_bwd_range_body(void *ctx, size_t lo, size_t hi)
{
    const struct act_bwd *a = ctx;
    for (size_t i = lo; i < hi; i += IK_VL) {
        int n = hi - i < IK_VL ? (int)(hi - i) : IK_VL;
        ik_vf x, d, g, e;
        ik_vload(&x, a->x + i, n, 0.0f);
        ik_vload(&d, a->dout + i, n, 0.0f);
        ik_vload(&g, a->dx + i, n, 0.0f);
        e = -x;
        ik_vexp(&e);
        ik_vf s = 1.0f / (1.0f + e);
        g = g + d * s * (1.0f + x * (1.0f - s));
        ik_vstore(a->dx + i, &g, n);
    }
}
IK_SIMD_RANGE_FN(silu_bwd_range)

void ik_cpu_silu_bwd(float *dx, const float *dout, const float *x, size_t n)
{
    struct act_bwd a = {dx, dout, x};
    ik_cpu_parallel_for(n, n * 10, silu_bwd_range, &a);
}

/* d max(x,0)^2/dx = 2 max(x,0). */
IK_VINLINE void relu2_bwd_range_body(void *ctx, size_t lo, size_t hi)
{
    const struct act_bwd *a = ctx;
    for (size_t i = lo; i < hi; i += IK_VL) {
        int n = hi - i < IK_VL ? (int)(hi - i) : IK_VL;
        ik_vf x, d, g;
        ik_vload(&x, a->x + i, n, 0.0f);
        ik_vload(&d, a->dout + i, n, 0.0f);
        ik_vload(&g, a->dx + i, n, 0.0f);
        x = IK_VSEL(x > 0.0f, x, (ik_vf){0});
        g = g + 2.0f * x * d;
        ik_vstore(a->dx + i, &g, n);
    }
}
IK_SIMD_RANGE_FN(relu2_bwd_range)

void ik_cpu_relu2_bwd(float *dx, const float *dout, const float *x, size_t n)
{
    struct act_bwd a = {dx, dout, x};
    ik_cpu_parallel_for(n, n * 3, relu2_bwd_range, &a);
}
