/* kernels/cpu/simd.h - the CPU kernels' one vector idiom: an 8-lane float
 * vector (a GCC/clang vector extension, no intrinsics) and a range function
 * compiled three times, for AVX-512, AVX2 and the x86-64 baseline, the CPU
 * choosing at run time. The source fixes the width at 8 lanes whatever the
 * instruction set, and the build does not contract a*b+c into a fused
 * multiply-add (ISO C mode, and FP_CONTRACT OFF below for clang), so every
 * lane rounds exactly as the scalar code would and the three builds give the
 * same bits. Eight lanes are one ymm register: a 16-lane vector has no
 * machine mode without AVX-512, so GCC kept every such value in memory and
 * the AVX2 build (AMD's Zen 2 and 3, most Intel desktops) ran the row loops
 * 4x slower than with 8 (softmax rows of the attention backward, T = 512:
 * 5.2 ns a score against 1.3). Fused multiply-adds are asked for explicitly
 * (ik_vfma: fmaf per lane, one rounding) in range functions built for
 * AVX-512 and AVX2+FMA only (IK_SIMD_FMA_RANGE_FN), whose two builds agree
 * too. Vectors are passed by pointer only: a vector argument or return value
 * changes the ABI between the builds (-Wpsabi). */
#ifndef IK_KERNELS_CPU_SIMD_H
#define IK_KERNELS_CPU_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

enum { IK_VL = 8 };
typedef float ik_vf __attribute__((vector_size(IK_VL * sizeof(float))));
typedef int32_t ik_vi __attribute__((vector_size(IK_VL * sizeof(int32_t))));

#define IK_VINLINE static inline __attribute__((always_inline))

/* Lanes of a where mask m (a comparison's result: all ones or zero) is set, else of b. */
#define IK_VSEL(m, a, b) ((ik_vf)(((ik_vi)(a) & (m)) | ((ik_vi)(b) & ~(m))))

/* n <= IK_VL floats from p; lanes from n on get pad. */
IK_VINLINE void ik_vload(ik_vf *v, const float *p, int n, float pad)
{
    if (n == IK_VL) {
        memcpy(v, p, sizeof *v);
        return;
    }
    float t[IK_VL];
    for (int i = 0; i < IK_VL; i++)
        t[i] = i < n ? p[i] : pad;
    memcpy(v, t, sizeof t);
}

/* The first n <= IK_VL lanes of v to p. A whole vector is one store: a
 * memcpy of variable length compiles to `rep movs`, which cost as much as
 * the arithmetic of the row loops around it. */
IK_VINLINE void ik_vstore(float *p, const ik_vf *v, int n)
{
    if (n == IK_VL) {
        memcpy(p, v, sizeof *v);
        return;
    }
    memcpy(p, v, (size_t)n * sizeof(float));
}

/* Sum of the lanes, as a fixed tree (pairs, then pairs of pairs, ...). */
IK_VINLINE float ik_vsum(const ik_vf *v)
{
    float t[IK_VL];
    memcpy(t, v, sizeof t);
    for (int w = IK_VL / 2; w > 0; w /= 2)
        for (int i = 0; i < w; i++)
            t[i] = t[i] + t[i + w];
    return t[0];
}

IK_VINLINE float ik_vmax(const ik_vf *v)
{
    float t[IK_VL];
    memcpy(t, v, sizeof t);
    float m = t[0];
    for (int i = 1; i < IK_VL; i++)
        m = t[i] > m ? t[i] : m;
    return m;
}

/* exp(x) in place, within 2 ulp of expf for x in [-87, 88.3] (Cephes' expf
 * polynomial after x = n ln2 + r, |r| <= ln2/2); 0 below -87 (where expf's
 * results approach the subnormals, which would slow every later operation
 * on them), +inf above 88.3 (or overflow), NaN for NaN. */
IK_VINLINE void ik_vexp(ik_vf *v)
{
    ik_vf x = *v, lo = (ik_vf){0} - 87.0f, hi = (ik_vf){0} + 88.3f;
    ik_vi under = x < lo, over = x > hi;
    x = IK_VSEL(under, lo, x);
    x = IK_VSEL(over, hi, x);
    /* n = round(x / ln2) by the 1.5 * 2^23 trick; t's low bits then hold n. */
    ik_vf t = x * 1.44269504088896341f + 12582912.0f;
    ik_vf n = t - 12582912.0f;
    ik_vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    ik_vf p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    ik_vi e = ((ik_vi)t - 0x4B400000 + 127) << 23; /* the bits of 2^n */
    p = p * (ik_vf)e;
    p = IK_VSEL(under, (ik_vf){0}, p);
    *v = IK_VSEL(over, (ik_vf){0} + __builtin_inff(), p);
}

/* acc += a * b per lane with one rounding (fmaf): only for the builds of
 * IK_SIMD_FMA_RANGE_FN, where it compiles to one instruction; the AVX-512
 * and AVX2 builds give the same bits. */
IK_VINLINE void ik_vfma(ik_vf *acc, const ik_vf *a, const ik_vf *b)
{
    ik_vf r;
    for (int i = 0; i < IK_VL; i++)
        r[i] = fmaf((*a)[i], (*b)[i], (*acc)[i]);
    *acc = r;
}

/* acc += a * s, fused, for a scalar s. */
IK_VINLINE void ik_vfmas(ik_vf *acc, const ik_vf *a, float s)
{
    ik_vf r;
    for (int i = 0; i < IK_VL; i++)
        r[i] = fmaf((*a)[i], s, (*acc)[i]);
    *acc = r;
}

/* Whether the CPU runs the builds of IK_SIMD_FMA_RANGE_FN. */
static inline int ik_simd_fma(void)
{
    return __builtin_cpu_supports("fma") &&
           (__builtin_cpu_supports("avx512f") || __builtin_cpu_supports("avx2"));
}

/* Defines the range function (kernels/cpu/parallel.h) `name`, running
 * name##_body(ctx, lo, hi) (an IK_VINLINE function) as compiled for the best
 * of AVX-512, AVX2 and the baseline that the CPU has. */
#define IK_SIMD_RANGE_FN(name)                                                                     \
    __attribute__((target("avx512f"))) static void name##_avx512(void *c, size_t lo, size_t hi)    \
    {                                                                                              \
        name##_body(c, lo, hi);                                                                    \
    }                                                                                              \
    __attribute__((target("avx2"))) static void name##_avx2(void *c, size_t lo, size_t hi)         \
    {                                                                                              \
        name##_body(c, lo, hi);                                                                    \
    }                                                                                              \
    static void name(void *c, size_t lo, size_t hi)                                                \
    {                                                                                              \
        if (__builtin_cpu_supports("avx512f"))                                                     \
            name##_avx512(c, lo, hi);                                                              \
        else if (__builtin_cpu_supports("avx2"))                                                   \
            name##_avx2(c, lo, hi);                                                                \
        else                                                                                       \
            name##_body(c, lo, hi);                                                                \
    }

/* As IK_SIMD_RANGE_FN for bodies using ik_vfma: built for AVX-512 and for
 * AVX2, each with FMA, so callers must check ik_simd_fma() first. The
 * AVX-512 build names "fma" too: GCC's avx512f alone has FMA on zmm and
 * scalars only, so the 8-lane fmaf loops of ik_vfma compiled to eight scalar
 * FMAs each (on an AVX-512 Zen 4, commit eac73d8, decoding ran 3.7x slower
 * one at a time and 11x batched than with "fma" named: bench/gen_bench). */
#define IK_SIMD_FMA_RANGE_FN(name)                                                                 \
    __attribute__((target("avx512f,fma"))) static void name##_avx512(void *c, size_t lo, size_t hi) \
    {                                                                                              \
        name##_body(c, lo, hi);                                                                    \
    }                                                                                              \
    __attribute__((target("avx2,fma"))) static void name##_avx2(void *c, size_t lo, size_t hi)     \
    {                                                                                              \
        name##_body(c, lo, hi);                                                                    \
    }                                                                                              \
    static void name(void *c, size_t lo, size_t hi)                                                \
    {                                                                                              \
        if (__builtin_cpu_supports("avx512f"))                                                     \
            name##_avx512(c, lo, hi);                                                              \
        else                                                                                       \
            name##_avx2(c, lo, hi);                                                                \
    }

#endif
