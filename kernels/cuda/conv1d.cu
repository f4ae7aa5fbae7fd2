/* kernels/cuda/conv1d.cu - Mamba-2's causal depthwise conv1d and the SiLU
 * after it on the device, over a whole sequence from a zero state (training
 * keeps no state): the forward as ik_cpu_conv1d_fwd then ik_cpu_silu_fwd,
 * the backward as ik_cpu_silu_bwd onto zeros then ik_cpu_conv1d_bwd, each
 * pair in one pass, so the SiLU's gradient (T x C, 12288 channels wide in
 * NemotronH) is never stored. One thread per (row, channel), the channel
 * fastest (coalesced): at the real size both are memory-bound, and the
 * Kc - 1 earlier (or later) rows a thread reads again are its neighbours'
 * rows, found in the caches. The conv's products and sums are
 * __fmul_rn/__fadd_rn in the CPU's order (bias, then the oldest tap first,
 * the state's zeros multiplied in), so conv has the CPU's bits; the SiLU
 * differs by expf's rounding. */
#include "kernels/cuda/cuda_util.h"

/* conv (T, C) and, when not NULL, act (T, C) = silu(conv). x rows ldx apart;
 * w (C, Kc); bias (C) or NULL. */
__global__ void conv1d_silu_fwd_kernel(float *conv, float *act, const float *x, size_t ldx,
                                       const float *w, const float *bias, size_t total,
                                       unsigned C, int Kc)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        long t = (long)(i / C);
        unsigned c = (unsigned)(i % C);
        const float *wc = w + (size_t)c * Kc;
        float acc = bias != NULL ? bias[c] : 0.0f;
        for (int k = 0; k < Kc; k++) {
            long j = t + k - (Kc - 1); /* the input row this tap reads; < 0: the zero state */
            float v = j >= 0 ? x[(size_t)j * ldx + c] : 0.0f;
            acc = __fadd_rn(acc, __fmul_rn(wc[k], v));
        }
        conv[i] = acc;
        if (act != NULL)
            act[i] = acc / (1.0f + expf(-acc));
    }
}

/* d silu(x)/dx = sig(x) (1 + x (1 - sig(x))), times the gradient d: the
 * term ik_cpu_silu_bwd adds, in its order. */
__device__ __forceinline__ float silu_grad(float d, float x)
{
    float s = 1.0f / (1.0f + expf(-x));
    return d * s * (1.0f + x * (1.0f - s));
}

/* dx[j][c] += sum_k w[c][k] g[j + Kc - 1 - k][c], g = dact silu'(conv) on
 * the fly; dact, conv (T, C), dx rows lddx apart. */
__global__ void conv1d_silu_bwd_kernel(float *dx, size_t lddx, const float *dact,
                                       const float *conv, const float *w, size_t total, int T,
                                       unsigned C, int Kc)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        long j = (long)(i / C);
        unsigned c = (unsigned)(i % C);
        const float *wc = w + (size_t)c * Kc;
        float acc = 0.0f;
        for (int k = 0; k < Kc; k++) {
            long t = j + (Kc - 1) - k; /* the output row whose tap k read row j */
            if (t < T) {
                size_t at = (size_t)t * C + c;
                acc = __fadd_rn(acc, __fmul_rn(wc[k], silu_grad(dact[at], conv[at])));
            }
        }
        float *d = dx + (size_t)j * lddx + c;
        *d = __fadd_rn(*d, acc);
    }
}

/* The shape both entries refuse: negative sizes, no taps, rows closer than C. */
static int conv_args(const char *what, int T, int C, int Kc, int ld, const char *ld_name)
{
    if (T < 0 || C < 0 || Kc < 1 || ld < C)
        return ik_cuda__bad_arg(what, "T = %d, C = %d, Kc = %d, %s = %d (T, C >= 0, Kc >= 1, "
                                "%s >= C)", T, C, Kc, ld_name, ld, ld_name);
    return 0;
}

extern "C" int ik_cuda_conv1d_silu_fwd(float *conv, float *act, const float *x, int ldx,
                                       const float *w, const float *bias, int T, int C, int Kc)
{
    if (conv_args("conv1d_silu_fwd", T, C, Kc, ldx, "ldx") != 0)
        return -1;
    size_t total = (size_t)T * C;
    if (total == 0)
        return 0;
    conv1d_silu_fwd_kernel<<<ik_cuda__blocks(total), IK_CUDA_THREADS>>>(
        conv, act, x, (size_t)ldx, w, bias, total, (unsigned)C, Kc);
    return ik_cuda__launched("conv1d_silu_fwd");
}

extern "C" int ik_cuda_conv1d_silu_bwd(float *dx, int lddx, const float *dact, const float *conv,
                                       const float *w, int T, int C, int Kc)
{
    if (conv_args("conv1d_silu_bwd", T, C, Kc, lddx, "lddx") != 0)
        return -1;
    size_t total = (size_t)T * C;
    if (total == 0)
        return 0;
    conv1d_silu_bwd_kernel<<<ik_cuda__blocks(total), IK_CUDA_THREADS>>>(
        dx, (size_t)lddx, dact, conv, w, total, T, (unsigned)C, Kc);
    return ik_cuda__launched("conv1d_silu_bwd");
}
