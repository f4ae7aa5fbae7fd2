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

/* out = dropout(x), or with ADD out += dropout(x) (->dropout_add: the
 * same value, then one add; __fmul_rn/__fadd_rn so that nvcc fuses neither
 * into an FMA and the bits are ->dropout's then ->add's). out may equal x
 * without ADD. */
template <bool ADD>
__global__ void dropout_kernel(float *out, const float *x, size_t n, uint32_t k0, uint32_t k1,
                               uint32_t below, float keep)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        uint32_t u = fmix(fmix((uint32_t)i ^ k0) + k1);
        float v = u < below ? 0.0f : __fmul_rn(x[i], keep);
        out[i] = ADD ? __fadd_rn(out[i], v) : v;
    }
}

/* Checks p, computes the threshold and the scale as kernels/cpu/dropout.c
 * does (draw * 2^-32 < p, in integers) and launches; WHAT names the entry. */
static int launch_dropout(const char *what, bool add, float *out, const float *x, size_t n,
                          float p, uint64_t key)
{
    if (!(p > 0.0f && p < 1.0f))
        return ik_cuda__bad_arg(what, "p = %g (0 < p < 1)", (double)p);
    if (n == 0)
        return 0;
    double b = ceil(ldexp((double)p, 32));
    uint32_t below = b >= 4294967295.0 ? 0xffffffffu : (uint32_t)b;
    float keep = 1.0f / (1.0f - p);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    if (add)
        dropout_kernel<true><<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, x, n, k0, k1, below, keep);
    else
        dropout_kernel<false><<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, x, n, k0, k1, below, keep);
    return ik_cuda__launched(what);
}

extern "C" int ik_cuda_dropout(float *out, const float *x, size_t n, float p, uint64_t key)
{
    return launch_dropout("dropout", false, out, x, n, p, key);
}

extern "C" int ik_cuda_dropout_add(float *out, const float *g, size_t n, float p, uint64_t key)
{
    return launch_dropout("dropout_add", true, out, g, n, p, key);
}
