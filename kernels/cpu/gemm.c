/* kernels/cpu/gemm.c - sgemm with a thread-count-independent partition (gemm.h). */
#include <cblas.h>
#include <pthread.h>
#include <stddef.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

/* Blocks are a multiple of BLOCK_ALIGN (the widest OpenBLAS unroll, so edge
 * kernels only run at C's own edge) and at least BLOCK_MIN wide: each block
 * repacks the shared operand, about as costly as computing a few dozen of
 * its columns, so on Qwen2.5-0.5B's 896-wide products the 8 blocks of 112
 * columns this file used to cut ran at 75-85 % of one multi-threaded OpenBLAS
 * call (bench/gemm_shapes), and 4 of 224 close to 100 %. When that operand is
 * over STREAMED_BYTES it no longer sits in any cache and each repack streams
 * it from memory (the lm_head's input gradient repacks the 511 x 151,936
 * logits gradient, 310 MB), so blocks are twice as wide. Powers of two up to
 * 8: an even share for 2, 4 or 8 threads. */
enum { MAX_BLOCKS = 8, BLOCK_MIN = 224, BLOCK_ALIGN = 16 };
#define STREAMED_BYTES (64.0 * 1024 * 1024)

int ik_cpu_sgemm_split(int M, int N, int K, bool *by_rows, int *block)
{
    *by_rows = M >= N;
    int dim = *by_rows ? M : N, other = *by_rows ? N : M;
    double shared_bytes = (double)other * (K > 0 ? K : 1) * sizeof(float);
    int min = shared_bytes > STREAMED_BYTES ? 2 * BLOCK_MIN : BLOCK_MIN;
    int blocks = MAX_BLOCKS;
    while (blocks > 1 && dim / blocks < min)
        blocks /= 2;
    int len = (dim + blocks - 1) / blocks;
    len = (len + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
    *block = len;
    return (dim + len - 1) / len;
}

struct gemm_args {
    bool ta, tb, by_rows;
    int M, N, K, lda, ldb, ldc, block;
    float alpha, beta;
    const float *A, *B;
    float *C;
};

static void run_blocks(void *ctx, size_t lo, size_t hi)
{
    const struct gemm_args *g = ctx;
    for (size_t b = lo; b < hi; b++) {
        int off = (int)b * g->block, dim = g->by_rows ? g->M : g->N;
        int len = dim - off < g->block ? dim - off : g->block;
        const float *A = g->A, *B = g->B;
        float *C = g->C;
        int M = g->M, N = g->N;
        if (g->by_rows) { /* rows off.. of op(A) and of C */
            A += g->ta ? (size_t)off : (size_t)off * g->lda;
            C += (size_t)off * g->ldc;
            M = len;
        } else { /* columns off.. of op(B) and of C */
            B += g->tb ? (size_t)off * g->ldb : (size_t)off;
            C += off;
            N = len;
        }
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                    g->tb ? CblasTrans : CblasNoTrans, M, N, g->K, g->alpha, A, g->lda, B, g->ldb,
                    g->beta, C, g->ldc);
    }
}

static pthread_once_t single_once = PTHREAD_ONCE_INIT;
static void openblas_single(void) { openblas_set_num_threads(1); }

void ik_cpu_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    pthread_once(&single_once, openblas_single);
    struct gemm_args g = {trans_a, trans_b, false, M, N, K, lda, ldb, ldc, 0, alpha, beta, A, B, C};
    int blocks = ik_cpu_sgemm_split(M, N, K, &g.by_rows, &g.block);
    ik_cpu_parallel_for((size_t)blocks, 2 * (size_t)M * (size_t)N * (size_t)(K > 0 ? K : 1),
                        run_blocks, &g);
}
