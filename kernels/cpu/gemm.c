/* kernels/cpu/gemm.c - sgemm with a thread-count-independent partition (gemm.h). */
#include <cblas.h>
#include <pthread.h>
#include <stddef.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

/* At most this many blocks, each at least BLOCK_MIN wide and a multiple of
 * BLOCK_ALIGN (the widest OpenBLAS unroll, so edge kernels only run at C's own
 * edge): enough to keep 8 cores busy, few enough that each call amortises its
 * packing. */
enum { MAX_BLOCKS = 8, BLOCK_MIN = 64, BLOCK_ALIGN = 16 };

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
    struct gemm_args g = {trans_a, trans_b, M >= N, M, N, K, lda, ldb, ldc, 0, alpha, beta, A, B, C};
    int dim = g.by_rows ? M : N;
    int blocks = (dim + BLOCK_MIN - 1) / BLOCK_MIN;
    blocks = blocks > MAX_BLOCKS ? MAX_BLOCKS : blocks;
    g.block = (dim + blocks - 1) / blocks;
    g.block = (g.block + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
    blocks = (dim + g.block - 1) / g.block;
    ik_cpu_parallel_for((size_t)blocks, 2 * (size_t)M * (size_t)N * (size_t)(K > 0 ? K : 1),
                        run_blocks, &g);
}
