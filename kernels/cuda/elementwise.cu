/* kernels/cuda/elementwise.cu - the training step's plain elementwise ops on
 * the device (cuda_ops.h, ->add and ->bias_add): a residual sum and a bias
 * broadcast over rows. One fp32 addition per element, so the results are the
 * CPU's bits exactly. */
#include "kernels/cuda/cuda_util.h"

__global__ void add_kernel(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}

/* x (N*C values, row-major) += bias[column]. */
__global__ void bias_add_kernel(float *x, const float *bias, size_t n, unsigned C)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] += bias[i % C];
}

extern "C" int ik_cuda_add(float *out, const float *a, const float *b, size_t n)
{
    if (n == 0)
        return 0;
    add_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, a, b, n);
    return ik_cuda__launched("add");
}

extern "C" int ik_cuda_bias_add(float *x, const float *bias, int N, int C)
{
    if (N < 0 || C < 0)
        return ik_cuda__bad_arg("bias_add", "N = %d, C = %d (both >= 0)", N, C);
    size_t n = (size_t)N * C;
    if (n == 0)
        return 0;
    bias_add_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(x, bias, n, (unsigned)C);
    return ik_cuda__launched("bias_add");
}
