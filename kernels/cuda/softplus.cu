/* kernels/cuda/softplus.cu - Mamba-2's time step on the device: dt =
 * softplus(x + dt_bias) over the dt columns of the in_proj output, and its
 * backward into those columns' gradient, as lm/train_mamba.c's loops (there
 * is no ik_cpu_ kernel: the trainer's own loops are the reference). The
 * softplus is llama.cpp's (forward_mamba.c): the identity above 20, where
 * log1pf(expf(u)) equals u in fp32 anyway and expf would soon overflow.
 * Elementwise over T x n, the column fastest (coalesced); u = x + bias is
 * the CPU's one fp32 addition, the rest differs by expf's and log1pf's
 * rounding only. */
#include "kernels/cuda/cuda_util.h"

__global__ void softplus_bias_fwd_kernel(float *out, const float *x, size_t ldx,
                                         const float *bias, size_t total, unsigned n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / n;
        unsigned c = (unsigned)(i % n);
        float u = x[t * ldx + c] + bias[c];
        out[i] = u > 20.0f ? u : log1pf(expf(u));
    }
}

/* d softplus(u)/du = sigmoid(u), 1 where the forward took the identity.
 * Each element reads its x before writing its dx: dx may be x. */
__global__ void softplus_bias_bwd_kernel(float *dx, size_t lddx, const float *dout,
                                         const float *x, size_t ldx, const float *bias,
                                         size_t total, unsigned n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / n;
        unsigned c = (unsigned)(i % n);
        float u = x[t * ldx + c] + bias[c];
        float s = u > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-u));
        float *d = dx + t * lddx + c;
        *d = __fadd_rn(*d, __fmul_rn(dout[i], s));
    }
}

extern "C" int ik_cuda_softplus_bias_fwd(float *out, const float *x, int ldx, const float *bias,
                                         int T, int n)
{
    if (T < 0 || n < 0 || ldx < n)
        return ik_cuda__bad_arg("softplus_bias_fwd", "T = %d, n = %d, ldx = %d (T, n >= 0, "
                                "ldx >= n)", T, n, ldx);
    size_t total = (size_t)T * n;
    if (total == 0)
        return 0;
    softplus_bias_fwd_kernel<<<ik_cuda__blocks(total), IK_CUDA_THREADS>>>(
        out, x, (size_t)ldx, bias, total, (unsigned)n);
    return ik_cuda__launched("softplus_bias_fwd");
}

extern "C" int ik_cuda_softplus_bias_bwd(float *dx, int lddx, const float *dout, const float *x,
                                         int ldx, const float *bias, int T, int n)
{
    if (T < 0 || n < 0 || ldx < n || lddx < n)
        return ik_cuda__bad_arg("softplus_bias_bwd", "T = %d, n = %d, ldx = %d, lddx = %d (T, "
                                "n >= 0, ldx, lddx >= n)", T, n, ldx, lddx);
    size_t total = (size_t)T * n;
    if (total == 0)
        return 0;
    softplus_bias_bwd_kernel<<<ik_cuda__blocks(total), IK_CUDA_THREADS>>>(
        dx, (size_t)lddx, dout, x, (size_t)ldx, bias, total, (unsigned)n);
    return ik_cuda__launched("softplus_bias_bwd");
}
