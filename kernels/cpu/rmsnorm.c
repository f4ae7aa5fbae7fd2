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
