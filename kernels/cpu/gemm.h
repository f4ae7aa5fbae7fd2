/* kernels/cpu/gemm.h - the one sgemm of the CPU kernels: OpenBLAS, threaded
 * by our pool over a partition that depends on the sizes only, so that every
 * result is the same whatever the thread count.
 *
 * Why not OpenBLAS's own threads: OpenBLAS cuts C between its threads, and
 * where the cuts fall decides which rows or columns its edge kernels compute,
 * with another order of operations: 1 and 2 threads gave different last bits
 * (measured on a LoRA run: adapters differed from the first step on). Here C
 * is cut into blocks along its longer side, their number and size a function
 * of (M, N, K) alone (ik_cpu_sgemm_split), each block one single-threaded
 * OpenBLAS call; the pool (parallel.h) runs the blocks, on one thread or
 * many, and gets the same bits. K is never cut: that would change the order
 * of each sum. The first call sets OpenBLAS to one thread for the whole
 * process. Row-major, as cblas_sgemm: C (M,N) = alpha * op(A) (M,K) @ op(B)
 * (K,N) + beta * C. Cannot fail. */
#ifndef IK_KERNELS_CPU_GEMM_H
#define IK_KERNELS_CPU_GEMM_H

#include <stdbool.h>

void ik_cpu_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* One single-threaded OpenBLAS call on the calling thread, for kernels that
 * run many independent products on the pool themselves (attention_gemm.c):
 * the same bits whatever the thread count, as each product's shape alone
 * decides its order of operations. Same arguments as ik_cpu_sgemm. */
void ik_cpu_sgemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                         const float *A, int lda, const float *B, int ldb, float beta, float *C,
                         int ldc);

/* The partition ik_cpu_sgemm uses for C (M,N) with a K-long reduction (M, N
 * > 0): C's rows (*by_rows) or columns cut into blocks of *block (the last
 * one shorter); returns the number of blocks, at most 8. Each block's call
 * packs the whole of the operand the blocks share (op(B) when cutting rows,
 * op(A) when cutting columns), so blocks are made as few as keeps the cores
 * busy, the wider the larger that operand is; their count a power of two
 * (but for the rounding of the width), so 2 or 4 threads share them evenly.
 * Exposed for the tests; the rule itself is in gemm.c. */
int ik_cpu_sgemm_split(int M, int N, int K, bool *by_rows, int *block);

#endif
