/* kernels/cuda/clip_grad_norm.cu - gradient clipping on the device, as
 * ik_cpu_clip_grad_norm (kernels/cpu/adamw.c; torch's clip_grad_norm_):
 * the L2 norm of g, and g scaled by max_norm / (norm + 1e-6) when it is
 * larger. The sum of squares accumulates in double, as the CPU's, in a fixed
 * order (one block: each thread a strided share, then the block's tree), so
 * the norm does not vary from run to run; it differs from the CPU's serial
 * sum only in the last bits. The norm comes back to the host (the
 * optimizer step's one wait) to decide the factor as the CPU does. */
#include <math.h>

#include "kernels/cuda/cuda_util.h"

enum { SUM_THREADS = 1024 };

/* The sum of squares' landing place: one per device (the module's static
 * device memory), instead of a cudaMalloc and cudaFree every step. */
__device__ double sum_squares;

__global__ void sum_squares_kernel(double *out, const float *g, size_t n)
{
    __shared__ double part[SUM_THREADS];
    double s = 0;
    for (size_t i = threadIdx.x; i < n; i += SUM_THREADS)
        s += (double)g[i] * g[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned w = SUM_THREADS / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w)
            part[threadIdx.x] += part[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        *out = part[0];
}

__global__ void scale_kernel(float *g, size_t n, float f)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        g[i] *= f;
}

extern "C" int ik_cuda_clip_grad_norm(float *g, size_t n, double max_norm, double *norm)
{
    if (!(max_norm >= 0))
        return ik_cuda__bad_arg("clip_grad_norm", "max_norm = %g (>= 0)", max_norm);
    *norm = 0;
    if (n == 0)
        return 0;
    double *d_ss;
    cudaError_t e = cudaGetSymbolAddress((void **)&d_ss, sum_squares);
    if (e != cudaSuccess)
        return ik_cuda__fail("cudaGetSymbolAddress", "clip_grad_norm", e);
    sum_squares_kernel<<<1, SUM_THREADS>>>(d_ss, g, n);
    if (ik_cuda__launched("clip_grad_norm") != 0)
        return -1;
    double ss = 0;
    if ((e = cudaMemcpy(&ss, d_ss, sizeof ss, cudaMemcpyDeviceToHost)) != cudaSuccess)
        return ik_cuda__fail("cudaMemcpy", "clip_grad_norm", e);
    *norm = sqrt(ss);
    if (max_norm > 0 && *norm > max_norm) {
        float f = (float)(max_norm / (*norm + 1e-6));
        scale_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(g, n, f);
        return ik_cuda__launched("clip_grad_norm");
    }
    return 0;
}
