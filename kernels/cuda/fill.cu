/* kernels/cuda/fill.cu - random BF16 values drawn on the device
 * (cuda_ops.h, ->fill_uniform_bf16), for benchmarks of models too large to
 * draw on the host: 8 billion weights are 32 GB as fp32 and tens of seconds
 * to draw, convert and copy. Element i is lo + (hi - lo) u with u the top 24
 * bits of f(f((i mod 2^32) ^ k0) + k1) * 2^-24, f MurmurHash3's 32-bit
 * finalizer (dropout_mask.h's), k0/k1 the seed's halves, rounded to BF16 by
 * __float2bfloat16_rn (nearest even). */
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_util.h"
#include "kernels/cuda/dropout_mask.h"

__global__ void fill_uniform_bf16_kernel(__nv_bfloat16 *x, size_t n, float lo, float span,
                                         uint32_t k0, uint32_t k1)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float u = (float)(ik_cuda__fmix(ik_cuda__fmix((uint32_t)i ^ k0) + k1) >> 8) * (1.0f / 16777216.0f);
        x[i] = __float2bfloat16_rn(__fadd_rn(lo, __fmul_rn(span, u))); /* no FMA: the host rounds twice */
    }
}

extern "C" int ik_cuda_fill_uniform_bf16(uint16_t *x, size_t n, float lo, float hi, uint64_t seed)
{
    if (!(lo <= hi))
        return ik_cuda__bad_arg("fill_uniform_bf16", "lo = %g, hi = %g (lo <= hi)", (double)lo,
                                (double)hi);
    if (n == 0)
        return 0;
    fill_uniform_bf16_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(
        (__nv_bfloat16 *)x, n, lo, hi - lo, (uint32_t)seed, (uint32_t)(seed >> 32));
    return ik_cuda__launched("fill_uniform_bf16");
}
