/* kernels/cpu/dropout.c - inverted dropout with a counter-based draw per
 * element (kernels.h): element i's draw is a hash of (key, i), so any range
 * of elements can be drawn on its own; the ranges run on the kernels' thread
 * pool (parallel.h), 8 lanes at a time (simd.h; the 32-bit multiplies are
 * single instructions in every build), with the same mask whatever the
 * thread count. A sequential generator (base/prng.h, one draw per element)
 * made this the one serial pass of a training step with dropout: three draws
 * per input element of every adapted projection (the forward, the backward's
 * input, its gradient), 1.7 s on one core in a Qwen2.5-0.5B step at T = 512
 * (perf, 2 steps); this takes 0.3 s of CPU time over both cores. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

typedef uint32_t vu32 __attribute__((vector_size(IK_VL * sizeof(uint32_t))));

struct dropout {
    float *out;
    const float *x;
    uint32_t k0, k1, below; /* the key's halves; dropped where the draw is < below */
    float keep;
};

/* MurmurHash3's 32-bit finalizer (a bijection), lane by lane, in place
 * (vectors go by pointer: simd.h). */
IK_VINLINE void fmix(vu32 *v)
{
    vu32 h = *v;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    *v = h ^ (h >> 16);
}

IK_VINLINE void range_body(void *ctx, size_t lo, size_t hi)
{
    const struct dropout *a = ctx;
    vu32 lane;
    for (int l = 0; l < IK_VL; l++)
        lane[l] = (uint32_t)l;
    for (size_t i = lo; i < hi; i += IK_VL) {
        int n = hi - i < IK_VL ? (int)(hi - i) : IK_VL;
        vu32 u = (lane + (uint32_t)i) ^ a->k0;
        fmix(&u);
        u += a->k1;
        fmix(&u);
        ik_vf x;
        ik_vload(&x, a->x + i, n, 0.0f);
        x = IK_VSEL((ik_vi)(u < a->below), (ik_vf){0}, x * a->keep);
        ik_vstore(a->out + i, &x, n);
    }
}
IK_SIMD_RANGE_FN(range)

void ik_cpu_dropout(float *out, const float *x, size_t n, float p, uint64_t key)
{
    /* draw * 2^-32 < p, in integers: exact, as p * 2^32 is. */
    double below = ceil(ldexp((double)p, 32));
    struct dropout a = {out, x, (uint32_t)key, (uint32_t)(key >> 32),
                        below >= 4294967295.0 ? 0xffffffffu : (uint32_t)below, 1.0f / (1.0f - p)};
    ik_cpu_parallel_for(n, n * 4, range, &a);
}
