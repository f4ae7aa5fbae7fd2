/* kernels/cpu/swiglu.c - SwiGLU gate of the MLP: silu(gate) * up, elementwise,
 * in ranges on the kernels' thread pool (parallel.h), 8 lanes at a time
 * (simd.h; a range's last, partial vector padded). out may equal gate. */
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

struct swiglu {
    float *out, *dgate, *dup;
    const float *dout, *gate, *up;
};

IK_VINLINE void fwd_range_body(void *ctx, size_t lo, size_t hi)
{
    const struct swiglu *a = ctx;
    for (size_t i = lo; i < hi; i += IK_VL) {
        int n = hi - i < IK_VL ? (int)(hi - i) : IK_VL;
        ik_vf g, u, e;
        ik_vload(&g, a->gate + i, n, 0.0f);
        ik_vload(&u, a->up + i, n, 0.0f);
        e = -g;
        ik_vexp(&e);
        g = g / (1.0f + e) * u;
        ik_vstore(a->out + i, &g, n);
    }
}
IK_SIMD_RANGE_FN(fwd_range)

void ik_cpu_swiglu_fwd(float *out, const float *gate, const float *up, int N, int F)
{
    struct swiglu a = {out, NULL, NULL, NULL, gate, up};
    size_t n = (size_t)N * F;
    ik_cpu_parallel_for(n, n * 8, fwd_range, &a);
}

/* d silu(g)/dg = sig(g) * (1 + g * (1 - sig(g))). */
IK_VINLINE void bwd_range_body(void *ctx, size_t lo, size_t hi)
{
    const struct swiglu *a = ctx;
    for (size_t i = lo; i < hi; i += IK_VL) {
        int n = hi - i < IK_VL ? (int)(hi - i) : IK_VL;
        ik_vf g, u, d, dg, du, e;
        ik_vload(&g, a->gate + i, n, 0.0f);
        ik_vload(&u, a->up + i, n, 0.0f);
        ik_vload(&d, a->dout + i, n, 0.0f);
        ik_vload(&dg, a->dgate + i, n, 0.0f);
        ik_vload(&du, a->dup + i, n, 0.0f);
        e = -g;
        ik_vexp(&e);
        ik_vf sg = 1.0f / (1.0f + e);
        du = du + d * g * sg;
        dg = dg + d * u * sg * (1.0f + g * (1.0f - sg));
        ik_vstore(a->dup + i, &du, n);
        ik_vstore(a->dgate + i, &dg, n);
    }
}
IK_SIMD_RANGE_FN(bwd_range)

void ik_cpu_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate,
                       const float *up, int N, int F)
{
    struct swiglu a = {NULL, dgate, dup, dout, gate, up};
    size_t n = (size_t)N * F;
    ik_cpu_parallel_for(n, n * 8, bwd_range, &a);
}
