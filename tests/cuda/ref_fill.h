/* tests/cuda/ref_fill.h - the host's copy of kernels/cuda/fill.cu's draw,
 * shared by the module's check (check_elementwise.c) and the CPU stand-in
 * (cpu_ops.c): element i of seed s is u in [0, 1), 24 bits of MurmurHash3's
 * finalizer applied twice (to i ^ low32(s), then plus high32(s)). */
#ifndef IK_TESTS_CUDA_REF_FILL_H
#define IK_TESTS_CUDA_REF_FILL_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t ref_fill_fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

static inline float ref_fill_uniform(size_t i, uint64_t seed)
{
    uint32_t h = ref_fill_fmix32((uint32_t)i ^ (uint32_t)seed);
    h = ref_fill_fmix32(h + (uint32_t)(seed >> 32));
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

#endif
