/* kernels/cuda/mma.h - one warp's BF16 tensor-core product, the PTX
 * instruction mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32:
 * D (16x8, fp32) += A (16x16, BF16) B (16x8, BF16), the 32 lanes of the warp
 * together, each holding its part of every operand in registers.
 *
 * The fragments (the PTX ISA, "Matrix Fragments for mma.m16n8k16 with
 * floating point type"), lane = 4 g + q (g = lane / 4, q = lane % 4), each
 * 32-bit word two BF16 values, the lower index in the low half:
 *   A  word 0: row g,     columns 2q, 2q+1     word 1: row g+8, columns 2q, 2q+1
 *      word 2: row g,     columns 2q+8, 2q+9   word 3: row g+8, columns 2q+8, 2q+9
 *   B  word 0: rows 2q, 2q+1 of column g       word 1: rows 2q+8, 2q+9 of column g
 *   C, D  element 0, 1: row g, columns 2q, 2q+1; element 2, 3: row g+8, same columns
 * So an accumulator pair of n-tiles (columns 0-7 and 8-15 of a 16x16 block)
 * is, rounded to BF16, the A fragment of the next product over those 16
 * columns: word 0 = tile 0's elements 0, 1; word 1 = its 2, 3; words 2, 3 =
 * tile 1's (flash attention's P = exp(S) goes from one product to the next
 * this way, never through memory).
 *
 * The CUDA emulator (tests/cuda/emu/cuda_emu.h) gives its own
 * ik_mma_bf16_16816, which computes the same layout from every lane's
 * registers, so a kernel's use of the layout is checked on the CPU.
 *
 * Below it, the loads and stores the kernels that use it need: BF16 pairs
 * as words, float4 loads and 4-BF16 stores, and fragments from tiles in
 * shared memory. Under the emulator each checks its alignment, as the GPU
 * would fault on a misaligned one. */
#ifndef IK_KERNELS_CUDA_MMA_H
#define IK_KERNELS_CUDA_MMA_H

#include <stdint.h>
#include <string.h>
#include <cuda_bf16.h>

#ifndef IK_CUDA_EMULATOR
/* d += a b: 4 words of A, 2 of B, 4 floats of D, as above. */
__device__ __forceinline__ void ik_mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2])
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif

/* Two floats rounded to BF16 (nearest even) in one word, lo in the low half. */
__device__ __forceinline__ uint32_t ik_bf16x2(float lo, float hi)
{
    return (uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(lo)) |
           (uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(hi)) << 16;
}

/* The two BF16 values at p[0], p[1] (p 4-byte aligned) as one word. */
__device__ __forceinline__ uint32_t ik_bf16_word(const __nv_bfloat16 *p)
{
#ifdef IK_CUDA_EMULATOR
    if ((uintptr_t)p % 4 != 0)
        ik_emu::misaligned(p, 4, __FILE__, __LINE__); /* a GPU's misaligned address */
    uint32_t w;
    memcpy(&w, p, sizeof w); /* the host compiler's aliasing rules */
    return w;
#else
    return *reinterpret_cast<const uint32_t *>(p);
#endif
}

/* Four floats at p (16-byte aligned) in one load. */
__device__ __forceinline__ float4 ik_load_float4(const float *p)
{
#ifdef IK_CUDA_EMULATOR
    if ((uintptr_t)p % 16 != 0)
        ik_emu::misaligned(p, 16, __FILE__, __LINE__);
    float4 v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    return *reinterpret_cast<const float4 *>(p);
#endif
}

/* v rounded to four BF16 values at p (8-byte aligned), in one store. */
__device__ __forceinline__ void ik_store_bf16x4(__nv_bfloat16 *p, float4 v)
{
    uint2 w = make_uint2(ik_bf16x2(v.x, v.y), ik_bf16x2(v.z, v.w));
#ifdef IK_CUDA_EMULATOR
    if ((uintptr_t)p % 8 != 0)
        ik_emu::misaligned(p, 8, __FILE__, __LINE__);
    memcpy((void *)p, &w, sizeof w);
#else
    *reinterpret_cast<uint2 *>(p) = w;
#endif
}

/* Two BF16 values (at p[0] and p[stride]) in one word. */
__device__ __forceinline__ uint32_t ik_bf16_pair(const __nv_bfloat16 *p, int stride)
{
    return (uint32_t)__bfloat16_as_ushort(p[0]) | (uint32_t)__bfloat16_as_ushort(p[stride]) << 16;
}

/* ---- fragments from a BF16 tile in shared memory (row stride ld, even) ----
 * lane = 4 g + q as above. */

/* A (16x16) = tile rows r0.., columns c0.. (row-major A). */
__device__ __forceinline__ void ik_mma_load_a(uint32_t a[4], const __nv_bfloat16 *tile, int ld, int r0, int c0)
{
    int g = (threadIdx.x & 31) >> 2, q = threadIdx.x & 3;
    const __nv_bfloat16 *p = tile + (size_t)(r0 + g) * ld + c0 + 2 * q;
    a[0] = ik_bf16_word(p);
    a[1] = ik_bf16_word(p + 8 * ld);
    a[2] = ik_bf16_word(p + 8);
    a[3] = ik_bf16_word(p + 8 * ld + 8);
}

/* B (16x8, k by n) = the transpose of tile rows n0.. (n), columns k0.. (k):
 * B[k][n] = tile[n0 + n][k0 + k], as K's rows are for S = Q K^T. */
__device__ __forceinline__ void ik_mma_load_b_t(uint32_t b[2], const __nv_bfloat16 *tile, int ld, int n0, int k0)
{
    int g = (threadIdx.x & 31) >> 2, q = threadIdx.x & 3;
    const __nv_bfloat16 *p = tile + (size_t)(n0 + g) * ld + k0 + 2 * q;
    b[0] = ik_bf16_word(p);
    b[1] = ik_bf16_word(p + 8);
}

/* B (16x8) = tile rows k0.. (k), columns n0.. (n): B[k][n] =
 * tile[k0 + k][n0 + n], as V's rows are for O = P V. */
__device__ __forceinline__ void ik_mma_load_b(uint32_t b[2], const __nv_bfloat16 *tile, int ld, int k0, int n0)
{
    int g = (threadIdx.x & 31) >> 2, q = threadIdx.x & 3;
    const __nv_bfloat16 *p = tile + (size_t)(k0 + 2 * q) * ld + n0 + g;
    b[0] = ik_bf16_pair(p, ld);
    b[1] = ik_bf16_pair(p + 8 * ld, ld);
}

/* The A fragment (16x16) of two accumulators side by side (columns 0-7 in
 * c0, 8-15 in c1), rounded to BF16. */
__device__ __forceinline__ void ik_mma_acc_to_a(uint32_t a[4], const float c0[4], const float c1[4])
{
    a[0] = ik_bf16x2(c0[0], c0[1]);
    a[1] = ik_bf16x2(c0[2], c0[3]);
    a[2] = ik_bf16x2(c1[0], c1[1]);
    a[3] = ik_bf16x2(c1[2], c1[3]);
}

#endif
