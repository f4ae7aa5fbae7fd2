/* kernels/cpu/rmsnorm.c - RMSNorm forward (see kernels.h): the statistics are
 * accumulated in double so the reference does not drift with wide rows. */
#include <math.h>
#include <stddef.h>

#include "kernels/kernels.h"

void ik_cpu_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, int N, int C,
                        float eps)
{
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *o = out + (size_t)n * C;
        double ss = 0;
        for (int c = 0; c < C; c++)
            ss += (double)xr[c] * xr[c];
        float r = (float)(1.0 / sqrt(ss / C + eps));
        if (rstd)
            rstd[n] = r;
        for (int c = 0; c < C; c++)
            o[c] = xr[c] * r * w[c];
    }
}

/* y = x * r * w with r = (mean(x^2) + eps)^-1/2, so
 * dx = r * (w*dy) - x * r^3 / C * sum(w*dy*x). */
void ik_cpu_rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x, const float *rstd,
                        const float *w, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *g = dx + (size_t)n * C;
        double r = rstd[n], dot = 0;
        for (int c = 0; c < C; c++)
            dot += (double)w[c] * dy[c] * xr[c];
        double k = dot * r * r * r / C;
        for (int c = 0; c < C; c++)
            g[c] += (float)(r * w[c] * dy[c] - xr[c] * k);
        if (dw)
            for (int c = 0; c < C; c++)
                dw[c] += (float)(dy[c] * xr[c] * r);
    }
}
