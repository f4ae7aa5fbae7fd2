/* kernels/cpu/swiglu.c - SwiGLU gate of the MLP: silu(gate) * up. */
#include <math.h>
#include <stddef.h>

#include "kernels/kernels.h"

void ik_cpu_swiglu_fwd(float *out, const float *gate, const float *up, int N, int F)
{
    size_t n = (size_t)N * F;
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* d silu(g)/dg = sig(g) * (1 + g * (1 - sig(g))). */
void ik_cpu_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate,
                       const float *up, int N, int F)
{
    size_t n = (size_t)N * F;
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], sg = 1.0f / (1.0f + expf(-g));
        dup[i] += dout[i] * g * sg;
        dgate[i] += dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
    }
}
