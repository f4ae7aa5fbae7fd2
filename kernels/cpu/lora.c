/* kernels/cpu/lora.c - the low-rank branch scale * B @ A @ x of a LoRA
 * projection and its backward (see kernels.h), as four thin sgemm calls:
 * going through the rank-R bottleneck keeps both directions O(N*R*(In+Out)). */

#include "kernels/cpu/gemm.h"
#include "kernels/kernels.h"

void ik_cpu_lora_fwd(float *out, float *h, const float *x, const float *A, const float *B,
                     float scale, int N, int In, int Out, int R)
{
    if (N <= 0)
        return;
    if (N <= IK_CPU_GEMV_ROWS && ik_cpu_gemv_available()) {
        ik_cpu_gemv(h, x, A, NULL, 1.0f, 0, N, In, R);
        ik_cpu_gemv(out, h, B, NULL, scale, 1, N, R, Out);
        return;
    }
    ik_cpu_sgemm(false, true, N, R, In, 1.0f, x, In, A, In, 0.0f, h, R);
    ik_cpu_sgemm(false, true, N, Out, R, scale, h, R, B, R, 1.0f, out, Out);
}

void ik_cpu_lora_bwd(float *dx, float *dA, float *dB, float *dh, const float *dout, const float *x,
                     const float *h, const float *A, const float *B, float scale, int N, int In,
                     int Out, int R)
{
    if (N <= 0)
        return;
    /* dB (Out,R) += scale * dout^T (Out,N) @ h (N,R) */
    ik_cpu_sgemm(true, false, Out, R, N, scale, dout, Out, h, R, 1.0f, dB, R);
    /* dh (N,R) = scale * dout (N,Out) @ B (Out,R) */
    ik_cpu_sgemm(false, false, N, R, Out, scale, dout, Out, B, R, 0.0f, dh, R);
    /* dA (R,In) += dh^T (R,N) @ x (N,In) */
    ik_cpu_sgemm(true, false, R, In, N, 1.0f, dh, R, x, In, 1.0f, dA, In);
    /* dx (N,In) += dh (N,R) @ A (R,In) */
    if (dx)
        ik_cpu_sgemm(false, false, N, In, R, 1.0f, dh, R, A, In, 1.0f, dx, In);
}
