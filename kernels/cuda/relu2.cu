/* kernels/cuda/relu2.cu - NemotronH's squared-ReLU MLP activation on the
 * device, forward and backward, as ik_cpu_relu2_fwd/bwd (kernels/kernels.h):
 * elementwise over n values with the CPU's bits. The backward's product and
 * sum are __fmul_rn/__fadd_rn, so that nvcc fuses neither into an FMA the
 * CPU does not form (kernels/cpu/simd.h builds without contraction). */
#include "kernels/cuda/cuda_util.h"

/* max(x, 0) as the CPU's select: x > 0 is false for -0 and NaN, giving +0. */
__device__ __forceinline__ float relu(float x) { return x > 0.0f ? x : 0.0f; }

__global__ void relu2_fwd_kernel(float *out, const float *x, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = relu(x[i]);
        out[i] = v * v;
    }
}

/* dx += (2 max(x, 0)) dout, the CPU's order of the two products. */
__global__ void relu2_bwd_kernel(float *dx, const float *dout, const float *x, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dx[i] = __fadd_rn(dx[i], __fmul_rn(2.0f * relu(x[i]), dout[i]));
}

extern "C" int ik_cuda_relu2_fwd(float *out, const float *x, size_t n)
{
    if (n == 0)
        return 0;
    relu2_fwd_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, x, n);
    return ik_cuda__launched("relu2_fwd");
}

extern "C" int ik_cuda_relu2_bwd(float *dx, const float *dout, const float *x, size_t n)
{
    if (n == 0)
        return 0;
    relu2_bwd_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(dx, dout, x, n);
    return ik_cuda__launched("relu2_bwd");
}
