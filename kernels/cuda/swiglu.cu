/* kernels/cuda/swiglu.cu - SwiGLU forward and backward on the device, as
 * ik_cpu_swiglu_fwd/bwd (kernels/kernels.h): elementwise over N*F values,
 * the same expressions in the same order (expf where the CPU has its 8-lane
 * polynomial exp). The backward accumulates into dgate and dup. */
#include "kernels/cuda/cuda_util.h"

__global__ void swiglu_fwd_kernel(float *out, const float *gate, const float *up, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* d silu(g)/dg = sig(g) * (1 + g * (1 - sig(g))). */
__global__ void swiglu_bwd_kernel(float *dgate, float *dup, const float *dout, const float *gate,
                                  const float *up, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = gate[i], u = up[i], d = dout[i];
        float sg = 1.0f / (1.0f + expf(-g));
        dup[i] += d * g * sg;
        dgate[i] += d * u * sg * (1.0f + g * (1.0f - sg));
    }
}

extern "C" int ik_cuda_swiglu_fwd(float *out, const float *gate, const float *up, int N, int F)
{
    if (N < 0 || F < 0)
        return ik_cuda__bad_arg("swiglu_fwd", "N = %d, F = %d (both >= 0)", N, F);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    swiglu_fwd_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, gate, up, n);
    return ik_cuda__launched("swiglu_fwd");
}

extern "C" int ik_cuda_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate,
                                  const float *up, int N, int F)
{
    if (N < 0 || F < 0)
        return ik_cuda__bad_arg("swiglu_bwd", "N = %d, F = %d (both >= 0)", N, F);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    swiglu_bwd_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(dgate, dup, dout, gate, up, n);
    return ik_cuda__launched("swiglu_bwd");
}
