/* kernels/cuda/dropout_mask.h - ik_cpu_dropout's draw on the device, for the
 * kernels that apply LoRA's dropout (dropout.cu, lora_dropout.cu): element i
 * of a tensor is dropped where f(f((i mod 2^32) ^ k0) + k1) < below, f
 * MurmurHash3's 32-bit finalizer, k0/k1 the key's halves; the threshold and
 * the scale are computed on the host with kernels/cpu/dropout.c's very
 * expressions, so the masks are the CPU's and a kept value is x * keep, one
 * multiply, one rounding. */
#ifndef IK_KERNELS_CUDA_DROPOUT_MASK_H
#define IK_KERNELS_CUDA_DROPOUT_MASK_H

#include <math.h>
#include <stdint.h>

struct ik_cuda__dropout {
    uint32_t k0, k1, below;
    float keep;
};

/* The draw's parameters for p (0 < p < 1, checked by the caller) and key. */
static inline struct ik_cuda__dropout ik_cuda__dropout_of(float p, uint64_t key)
{
    double b = ceil(ldexp((double)p, 32));
    struct ik_cuda__dropout d;
    d.below = b >= 4294967295.0 ? 0xffffffffu : (uint32_t)b;
    d.keep = 1.0f / (1.0f - p);
    d.k0 = (uint32_t)key;
    d.k1 = (uint32_t)(key >> 32);
    return d;
}

__device__ __forceinline__ uint32_t ik_cuda__fmix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

/* v (element i's value) through the mask: 0, or v * keep. */
__device__ __forceinline__ float ik_cuda__dropped(const struct ik_cuda__dropout &d, size_t i, float v)
{
    uint32_t u = ik_cuda__fmix(ik_cuda__fmix((uint32_t)i ^ d.k0) + d.k1);
    return u < d.below ? 0.0f : __fmul_rn(v, d.keep);
}

#endif
