/* kernels/cpu/rmsnorm_gated_bwd.c - the backward pass of Mamba-2's gated
 * RMSNorm (see kernels.h). The gated value v = y silu(z) and the group's
 * reciprocal RMS r are recomputed from y and z (cheaper than keeping them);
 * then, per group of Cg channels, as kernels/cpu/rmsnorm.c:
 *   dv = r (w dout) - v r^3 / Cg * sum(w dout v),
 * and dy = dv silu(z), dz = dv y silu'(z). Statistics in double; rows on
 * the thread pool. */
#include <math.h>
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

struct gnorm_bwd {
    float *dy, *dz;
    const float *dout, *y, *z, *w;
    int lddz, ldz, C, G;
    float eps;
};

static void gated_rows_bwd(void *ctx, size_t lo, size_t hi)
{
    const struct gnorm_bwd *a = ctx;
    int C = a->C, Cg = a->C / a->G;
    for (size_t n = lo; n < hi; n++) {
        const float *y = a->y + n * C, *z = a->z + n * (size_t)a->ldz, *dout = a->dout + n * C;
        float *dy = a->dy + n * C, *dz = a->dz + n * (size_t)a->lddz;
        for (int g = 0; g < a->G; g++) {
            double ss = 0, dot = 0;
            for (int c = g * Cg; c < (g + 1) * Cg; c++) {
                double v = y[c] * (z[c] / (1.0f + expf(-z[c])));
                ss += v * v;
                dot += (double)a->w[c] * dout[c] * v;
            }
            double r = 1.0 / sqrt(ss / Cg + a->eps), k = dot * r * r * r / Cg;
            for (int c = g * Cg; c < (g + 1) * Cg; c++) {
                float s = 1.0f / (1.0f + expf(-z[c])), silu = z[c] * s;
                float dv = (float)(r * a->w[c] * dout[c] - y[c] * silu * k);
                dy[c] += dv * silu;
                dz[c] += dv * y[c] * s * (1.0f + z[c] * (1.0f - s));
            }
        }
    }
}

void ik_cpu_rmsnorm_gated_bwd(float *dy, float *dz, int lddz, const float *dout, const float *y,
                              const float *z, int ldz, const float *w, int N, int C, int G,
                              float eps)
{
    struct gnorm_bwd a = {dy, dz, dout, y, z, w, lddz, ldz, C, G, eps};
    ik_cpu_parallel_for((size_t)N, (size_t)N * C * 20, gated_rows_bwd, &a);
}
