/* kernels/cpu/rmsnorm_gated.c - Mamba-2's gated RMSNorm (see kernels.h):
 * the scan's output times silu(z), normalised over each group of channels
 * (transformers' MambaRMSNormGated with norm_before_gate = False; llama.cpp
 * reshapes to (d_inner/G, G) and applies ssm_norm). Statistics in double,
 * as kernels/cpu/rmsnorm.c; rows on the thread pool. */
#include <math.h>
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

struct gnorm {
    float *out;
    const float *y, *z, *w;
    int ldz, C, G;
    float eps;
};

static void gated_rows(void *ctx, size_t lo, size_t hi)
{
    const struct gnorm *a = ctx;
    int C = a->C, Cg = a->C / a->G;
    for (size_t n = lo; n < hi; n++) {
        const float *y = a->y + n * C, *z = a->z + n * (size_t)a->ldz;
        float *o = a->out + n * C;
        for (int g = 0; g < a->G; g++) {
            double ss = 0;
            for (int c = g * Cg; c < (g + 1) * Cg; c++) {
                float v = y[c] * (z[c] / (1.0f + expf(-z[c])));
                o[c] = v;
                ss += (double)v * v;
            }
            float r = (float)(1.0 / sqrt(ss / Cg + a->eps));
            for (int c = g * Cg; c < (g + 1) * Cg; c++)
                o[c] = o[c] * r * a->w[c];
        }
    }
}

void ik_cpu_rmsnorm_gated_fwd(float *out, const float *y, const float *z, int ldz, const float *w,
                              int N, int C, int G, float eps)
{
    struct gnorm a = {out, y, z, w, ldz, C, G, eps};
    ik_cpu_parallel_for((size_t)N, (size_t)N * C * 12, gated_rows, &a);
}
