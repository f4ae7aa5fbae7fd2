/* kernels/cpu/matmul.c - out = x @ w^T (+ bias), the nn.Linear of every
 * projection, through OpenBLAS sgemm, or gemv.c for a few rows (a generated token). */
#include <string.h>

#include "kernels/cpu/gemm.h"
#include "kernels/kernels.h"

void ik_cpu_matmul_fwd(float *out, const float *x, const float *w, const float *bias, int N, int In,
                       int Out)
{
    if (N <= 0 || Out <= 0)
        return;
    if (N <= IK_CPU_GEMV_ROWS && ik_cpu_gemv_available()) {
        ik_cpu_gemv(out, x, w, bias, 1.0f, 0, N, In, Out);
        return;
    }
    if (bias) {
        for (int n = 0; n < N; n++)
            memcpy(out + (size_t)n * Out, bias, (size_t)Out * sizeof *out);
    }
    /* Row-major (N,In) x (Out,In)^T: sgemm with B transposed; beta 1 adds the bias rows. */
    ik_cpu_sgemm(false, true, N, Out, In, 1.0f, x, In, w, In, bias ? 1.0f : 0.0f, out, Out);
}

void ik_cpu_matmul_bwd(float *dx, float *dw, float *db, const float *dout, const float *x,
                       const float *w, int N, int In, int Out)
{
    if (N <= 0 || Out <= 0 || In <= 0)
        return;
    /* dx (N,In) += dout (N,Out) @ w (Out,In) */
    if (dx)
        ik_cpu_sgemm(false, false, N, In, Out, 1.0f, dout, Out, w, In, 1.0f, dx, In);
    /* dw (Out,In) += dout^T (Out,N) @ x (N,In) */
    if (dw)
        ik_cpu_sgemm(true, false, Out, In, N, 1.0f, dout, Out, x, In, 1.0f, dw, In);
    if (db)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < Out; o++)
                db[o] += dout[(size_t)n * Out + o];
}
