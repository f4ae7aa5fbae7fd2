/* tests/cuda/ref_gemm.h - the double-precision reference of the CUDA
 * module's ->gemm (kernels/cuda/cuda_ops.h), shared by the tests of the
 * module (check_gemm.c), of its CPU stand-in (test_cpu_ops.c; the stand-in
 * itself rounds TF32 operands with it) and of the own attention's order of
 * work (test_attention_chunks.c). */
#ifndef IK_TESTS_CUDA_REF_GEMM_H
#define IK_TESTS_CUDA_REF_GEMM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* x rounded to TF32 as ->gemm's IK_CUDA_TF32 operands are: 10 mantissa
 * bits, to nearest, ties to even (which way the library breaks exact ties
 * is its own; the emulator's cuBLAS rounds so too). */
static inline float ref_tf32_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) != 0x7f800000u)
        u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Row-major C = alpha op(A) op(B) + beta C in double, rounded once to fp32;
 * beta 0 overwrites C without reading it, as BLAS (and ->gemm) do. */
static inline void ref_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                            const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                       (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            double c = beta == 0.0f ? 0.0 : beta * (double)C[(size_t)i * ldc + j];
            C[(size_t)i * ldc + j] = (float)(alpha * acc + c);
        }
}

#endif
