/* kernels/cuda/clip_grad_norm.cu - gradient clipping on the device, as
 * ik_cpu_clip_grad_norm (kernels/cpu/adamw.c; torch's clip_grad_norm_):
 * the L2 norm of g, and g scaled by max_norm / (norm + 1e-6) when it is
 * larger. The sum of squares accumulates in double, as the CPU's, in a fixed
 * order: each of a number of blocks that depends on n alone (one per 16K
 * values, at most PARTS) sums a strided share, each thread its own share
 * then the block's tree, and one block sums the blocks' partials by a tree;
 * so the norm does not vary from run to run nor from GPU to GPU, and differs
 * from the CPU's serial sum only in the last bits. One block alone read the
 * adapter's gradients at one SM's bandwidth: r 64 on every projection of an
 * 8B Llama is 168M values, some 10 ms a step. The norm comes back to the
 * host (the optimizer step's one wait) to decide the factor as the CPU does. */
#include <math.h>

#include "kernels/cuda/cuda_util.h"

enum {
    SUM_THREADS = 1024,
    PER_BLOCK = 16 * SUM_THREADS, /* values per block, so a small n takes one */
    PARTS = 256,                  /* blocks at most: two for each of an H100's 132 SMs, about */
};

/* The partial sums and the total's landing place: one set per device (the
 * module's static device memory), instead of a cudaMalloc and cudaFree
 * every step. */
__device__ double partials[PARTS];
__device__ double sum_squares;

/* The block's tree over its threads' values (SUM_THREADS of them in part). */
__device__ static double block_tree(double *part, double s, unsigned threads)
{
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned w = threads / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w)
            part[threadIdx.x] += part[threadIdx.x + w];
        __syncthreads();
    }
    return part[0];
}

/* Block b's partial: the squares of g[i] for i = b * SUM_THREADS + threadIdx.x,
 * then every gridDim.x * SUM_THREADS. */
__global__ void partial_squares_kernel(double *out, const float *g, size_t n)
{
    __shared__ double part[SUM_THREADS];
    double s = 0;
    size_t stride = (size_t)gridDim.x * SUM_THREADS;
    for (size_t i = (size_t)blockIdx.x * SUM_THREADS + threadIdx.x; i < n; i += stride)
        s += (double)g[i] * g[i];
    double total = block_tree(part, s, SUM_THREADS);
    if (threadIdx.x == 0)
        out[blockIdx.x] = total;
}

/* *out = the sum of the first `blocks` partials, by a tree over PARTS threads. */
__global__ void sum_partials_kernel(double *out, const double *in, unsigned blocks)
{
    __shared__ double part[PARTS];
    double total = block_tree(part, threadIdx.x < blocks ? in[threadIdx.x] : 0.0, PARTS);
    if (threadIdx.x == 0)
        *out = total;
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
    double *d_ss, *d_part;
    cudaError_t e = cudaGetSymbolAddress((void **)&d_ss, sum_squares);
    if (e == cudaSuccess)
        e = cudaGetSymbolAddress((void **)&d_part, partials);
    if (e != cudaSuccess)
        return ik_cuda__fail("cudaGetSymbolAddress", "clip_grad_norm", e);
    size_t want = (n + PER_BLOCK - 1) / PER_BLOCK;
    unsigned blocks = want < (size_t)PARTS ? (unsigned)want : (unsigned)PARTS;
    partial_squares_kernel<<<blocks, SUM_THREADS>>>(d_part, g, n);
    if (ik_cuda__launched("clip_grad_norm") != 0)
        return -1;
    sum_partials_kernel<<<1, PARTS>>>(d_ss, d_part, blocks);
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
