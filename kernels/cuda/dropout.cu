/* kernels/cuda/dropout.cu - inverted dropout on the device with
 * ik_cpu_dropout's draw (kernels/kernels.h, kernels/cpu/dropout.c): element
 * i is dropped where f(f((i mod 2^32) ^ k0) + k1) < below, f MurmurHash3's
 * 32-bit finalizer, k0/k1 the key's halves; the threshold and the scale are
 * computed on the host with the CPU's very expressions, so the masks are the
 * same and the kept values the same bits (one multiply, one rounding). */
#include <math.h>

#include "kernels/cuda/cuda_util.h"

__device__ __forceinline__ uint32_t fmix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

__global__ void dropout_kernel(float *out, const float *x, size_t n, uint32_t k0, uint32_t k1,
                               uint32_t below, float keep)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        uint32_t u = fmix(fmix((uint32_t)i ^ k0) + k1);
        out[i] = u < below ? 0.0f : x[i] * keep;
    }
}

/* out += dropout(g): dropout_kernel's value, then one add. */
__global__ void dropout_add_kernel(float *out, const float *g, size_t n, uint32_t k0, uint32_t k1,
                                   uint32_t below, float keep)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        uint32_t u = fmix(fmix((uint32_t)i ^ k0) + k1);
        out[i] = __fadd_rn(out[i], u < below ? 0.0f : __fmul_rn(g[i], keep));
    }
}

/* The threshold and scale of p, as kernels/cpu/dropout.c: draw * 2^-32 < p,
 * in integers. */
static int dropout_params(const char *what, float p, uint32_t *below, float *keep)
{
    if (!(p > 0.0f && p < 1.0f))
        return ik_cuda__bad_arg(what, "p = %g (0 < p < 1)", (double)p);
    double b = ceil(ldexp((double)p, 32));
    *below = b >= 4294967295.0 ? 0xffffffffu : (uint32_t)b;
    *keep = 1.0f / (1.0f - p);
    return 0;
}

extern "C" int ik_cuda_dropout(float *out, const float *x, size_t n, float p, uint64_t key)
{
    uint32_t b = 0;
    float keep = 0.0f;
    if (dropout_params("dropout", p, &b, &keep) != 0)
        return -1;
    if (n == 0)
        return 0;
    dropout_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, x, n, (uint32_t)key,
                                                            (uint32_t)(key >> 32), b, keep);
    return ik_cuda__launched("dropout");
}

extern "C" int ik_cuda_dropout_add(float *out, const float *g, size_t n, float p, uint64_t key)
{
    uint32_t b = 0;
    float keep = 0.0f;
    if (dropout_params("dropout_add", p, &b, &keep) != 0)
        return -1;
    if (n == 0)
        return 0;
    dropout_add_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, g, n, (uint32_t)key,
                                                                (uint32_t)(key >> 32), b, keep);
    return ik_cuda__launched("dropout_add");
}
