/* kernels/cpu/rmsnorm.c - RMSNorm forward and backward (see kernels.h): the
 * statistics are accumulated in double so the reference does not drift with
 * wide rows. Rows run on the kernels' thread pool (parallel.h). */
#include <math.h>
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

struct norm {
    float *out, *rstd, *dw;
    const float *x, *w, *dout, *rstd_in;
    int C;
    float eps;
};

static void fwd_rows(void *ctx, size_t lo, size_t hi)
{
    const struct norm *a = ctx;
    int C = a->C;
    for (size_t n = lo; n < hi; n++) {
        const float *xr = a->x + n * C;
        float *o = a->out + n * C;
        double ss = 0;
        for (int c = 0; c < C; c++)
            ss += (double)xr[c] * xr[c];
        float r = (float)(1.0 / sqrt(ss / C + a->eps));
        if (a->rstd)
            a->rstd[n] = r;
        for (int c = 0; c < C; c++)
            o[c] = xr[c] * r * a->w[c];
    }
}

void ik_cpu_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, int N, int C,
                        float eps)
{
    struct norm a = {out, rstd, NULL, x, w, NULL, NULL, C, eps};
    ik_cpu_parallel_for((size_t)N, (size_t)N * C * 4, fwd_rows, &a);
}

/* y = x * r * w with r = (mean(x^2) + eps)^-1/2, so
 * dx = r * (w*dy) - x * r^3 / C * sum(w*dy*x). */
static void bwd_rows(void *ctx, size_t lo, size_t hi)
{
    const struct norm *a = ctx;
    int C = a->C;
    const float *w = a->w;
    for (size_t n = lo; n < hi; n++) {
        const float *xr = a->x + n * C, *dy = a->dout + n * C;
        float *g = a->out + n * C;
        double r = a->rstd_in[n], dot = 0;
        for (int c = 0; c < C; c++)
            dot += (double)w[c] * dy[c] * xr[c];
        double k = dot * r * r * r / C;
        for (int c = 0; c < C; c++)
            g[c] += (float)(r * w[c] * dy[c] - xr[c] * k);
        if (a->dw)
            for (int c = 0; c < C; c++)
                a->dw[c] += (float)(dy[c] * xr[c] * r);
    }
}

void ik_cpu_rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x, const float *rstd,
                        const float *w, int N, int C)
{
    struct norm a = {dx, NULL, dw, x, w, dout, rstd, C, 0.0f};
    /* dw sums over the rows: only without it may they run in parallel. */
    ik_cpu_parallel_for((size_t)N, dw ? 0 : (size_t)N * C * 6, bwd_rows, &a);
}
