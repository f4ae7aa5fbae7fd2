/* kernels/cpu/swiglu.c - SwiGLU gate of the MLP: silu(gate) * up, elementwise,
 * in ranges on the kernels' thread pool (parallel.h). */
#include <math.h>
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

struct swiglu {
    float *out, *dgate, *dup;
    const float *dout, *gate, *up;
};

static void fwd_range(void *ctx, size_t lo, size_t hi)
{
    const struct swiglu *a = ctx;
    for (size_t i = lo; i < hi; i++) {
        float g = a->gate[i];
        a->out[i] = g / (1.0f + expf(-g)) * a->up[i];
    }
}

void ik_cpu_swiglu_fwd(float *out, const float *gate, const float *up, int N, int F)
{
    struct swiglu a = {out, NULL, NULL, NULL, gate, up};
    size_t n = (size_t)N * F;
    ik_cpu_parallel_for(n, n * 8, fwd_range, &a);
}

/* d silu(g)/dg = sig(g) * (1 + g * (1 - sig(g))). */
static void bwd_range(void *ctx, size_t lo, size_t hi)
{
    const struct swiglu *a = ctx;
    for (size_t i = lo; i < hi; i++) {
        float g = a->gate[i], sg = 1.0f / (1.0f + expf(-g)), d = a->dout[i];
        a->dup[i] += d * g * sg;
        a->dgate[i] += d * a->up[i] * sg * (1.0f + g * (1.0f - sg));
    }
}

void ik_cpu_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate,
                       const float *up, int N, int F)
{
    struct swiglu a = {NULL, dgate, dup, dout, gate, up};
    size_t n = (size_t)N * F;
    ik_cpu_parallel_for(n, n * 8, bwd_range, &a);
}
