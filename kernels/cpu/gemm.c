/* kernels/cpu/gemm.c - sgemm with a thread-count-independent partition (gemm.h). */
#include <pthread.h>
#include <stddef.h>

#include "kernels/cpu/blas_lib.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

/* Blocks are a multiple of BLOCK_ALIGN (the widest OpenBLAS unroll, so edge
 * kernels only run at C's own edge), at most 8, and as many as a power of
 * two allows (an even share for 2, 4 or 8 threads; rounding the width up to
 * 16 may leave fewer, the last one shorter). Each block's call repacks the whole operand
 * the blocks share, and how wide a block must be to pay for that depends on
 * where that operand lives (bench/gemm_shapes, Qwen2.5-0.5B's step):
 * - in L2 (at most SMALL_BYTES: the LoRA factors, the rank-8 bottleneck):
 *   repacking is cheap and the thin products gain from more, smaller calls
 *   (OpenBLAS's small-matrix kernels), so blocks may be as narrow as 64;
 * - in L3 or memory: the 896-wide products cut in 8 blocks of 112 columns ran
 *   at 75-85 % of one multi-threaded OpenBLAS call, in 4 of 224 close to
 *   100 %: blocks are at least 224 wide;
 * - over STREAMED_BYTES, it streams from memory at every repack (the
 *   lm_head's input gradient repacks the 511 x 151,936 logits gradient,
 *   310 MB): at least 448 wide. */
enum { MAX_BLOCKS = 8, BLOCK_ALIGN = 16, MIN_SMALL = 64, MIN_CACHED = 224, MIN_STREAMED = 448 };
#define SMALL_BYTES (256.0 * 1024)
#define STREAMED_BYTES (64.0 * 1024 * 1024)

int ik_cpu_sgemm_split(int M, int N, int K, bool *by_rows, int *block)
{
    *by_rows = M >= N;
    int dim = *by_rows ? M : N, other = *by_rows ? N : M;
    double shared_bytes = (double)other * (K > 0 ? K : 1) * sizeof(float);
    int min = shared_bytes <= SMALL_BYTES       ? MIN_SMALL
              : shared_bytes <= STREAMED_BYTES ? MIN_CACHED
                                               : MIN_STREAMED;
    int blocks = MAX_BLOCKS;
    while (blocks > 1 && (dim + blocks - 1) / blocks < min)
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
        ik_cpu_blas()->sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                    g->tb ? CblasTrans : CblasNoTrans, M, N, g->K, g->alpha, A, g->lda, B, g->ldb,
                    g->beta, C, g->ldc);
    }
}

static pthread_once_t single_once = PTHREAD_ONCE_INIT;
static void openblas_single(void) { ik_cpu_blas()->set_num_threads(1); }

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

void ik_cpu_sgemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                         const float *A, int lda, const float *B, int ldb, float beta, float *C,
                         int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    pthread_once(&single_once, openblas_single);
    ik_cpu_blas()->sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
