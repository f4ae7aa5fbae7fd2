/* tests/kernels/test_gemm.c - ik_cpu_sgemm's partition (gemm.h): the rule's
 * blocks for the shapes of a training step and its invariants over a sweep;
 * products cut into 1, 2, 4 and 8 ragged blocks of rows or columns, every
 * transpose, strided operands, against double precision; and the same bits
 * on a pool of 3 threads as on one. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/prng.h"
#include "kernels/cpu/gemm.h"

struct split {
    int M, N, K;
    bool by_rows;
    int block, blocks;
};

/* Qwen2.5-0.5B's step (511 rows, D 896, KV 128, F 4864, V 151,936, r 8). */
Test(cpu_sgemm, split_of_training_shapes)
{
    static const struct split want[] = {
        {511, 896, 896, false, 224, 4},    /* q, o; and their input gradients */
        {511, 128, 896, true, 256, 2},     /* k, v */
        {511, 4864, 896, false, 608, 8},   /* gate, up */
        {511, 896, 4864, false, 224, 4},   /* down: its 10 MB input repacked per block */
        {511, 151936, 896, false, 18992, 8}, /* lm_head */
        {511, 896, 151936, false, 448, 2}, /* lm_head's input gradient: 310 MB shared */
        {511, 8, 896, true, 64, 8},        /* LoRA bottleneck: A (8 x 896) shared, in L2 */
        {511, 896, 8, false, 112, 8},      /* LoRA up-projection: h (511 x 8) shared */
        {8, 4864, 511, false, 608, 8},     /* LoRA dA */
        {128, 8, 511, true, 64, 2},        /* LoRA dB of k, v */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool by_rows;
        int block, blocks = ik_cpu_sgemm_split(want[i].M, want[i].N, want[i].K, &by_rows, &block);
        cr_assert(by_rows == want[i].by_rows && block == want[i].block && blocks == want[i].blocks,
                  "%dx%dx%d: %s, %d blocks of %d; expected %s, %d of %d", want[i].M, want[i].N,
                  want[i].K, by_rows ? "rows" : "columns", blocks, block,
                  want[i].by_rows ? "rows" : "columns", want[i].blocks, want[i].block);
    }
}

Test(cpu_sgemm, split_invariants)
{
    for (int M = 1; M < 4000; M += 37)
        for (int N = 1; N < 4000; N += 53) {
            bool by_rows;
            int block, blocks = ik_cpu_sgemm_split(M, N, 64, &by_rows, &block);
            int dim = by_rows ? M : N;
            cr_assert_eq(by_rows, M >= N);
            cr_assert(blocks >= 1 && blocks <= 8, "%dx%d: %d blocks", M, N, blocks);
            cr_assert_eq(block % 16, 0, "%dx%d: block %d", M, N, block);
            cr_assert(blocks * block >= dim && (blocks - 1) * block < dim,
                      "%dx%d: %d blocks of %d do not tile %d", M, N, blocks, block, dim);
            cr_assert(blocks == 1 || block >= 64, "%dx%d: %d blocks of %d", M, N, blocks, block);
        }
}

static float *rnd(size_t n, unsigned seed)
{
    struct ik_prng r;
    ik_prng_seed(&r, seed);
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2 * ik_prng_double(&r) - 1);
    return x;
}

/* One product of each case: its shape, transposes, extra leading-dimension
 * padding, and the blocks ik_cpu_sgemm_split gives it (checked, so the cases
 * keep covering what they claim). */
struct product {
    int M, N, K;
    bool ta, tb;
    int pad, blocks;
};

static const struct product products[] = {
    {100, 20, 30, false, false, 0, 1},  /* one call */
    {630, 64, 33, true, false, 3, 8},   /* rows, 80 each (the shared 64 x 33 in L2), the last 70 */
    {460, 300, 250, false, true, 0, 2}, /* rows, 240 each (the shared 300 x 250 is not), the last 220 */
    {300, 1000, 250, true, true, 5, 4}, /* columns, 256 each, the last 232 */
    {40, 1800, 50, false, true, 1, 8},  /* columns, 240 each, the last 120 */
    {37, 700, 9, true, false, 0, 8},    /* columns, 96 each, the last 28 */
};
enum { NPRODUCTS = sizeof products / sizeof products[0] };

static size_t c_size(const struct product *p) { return (size_t)p->M * (p->N + p->pad); }

/* C of product p from fixed operands and a fixed C, into c. */
static void run_product(const struct product *p, unsigned seed, float *c)
{
    int lda = (p->ta ? p->M : p->K) + p->pad, ldb = (p->tb ? p->K : p->N) + p->pad;
    int ldc = p->N + p->pad;
    float *a = rnd((size_t)(p->ta ? p->K : p->M) * lda, seed);
    float *b = rnd((size_t)(p->tb ? p->N : p->K) * ldb, seed + 1);
    float *c0 = rnd(c_size(p), seed + 2);
    memcpy(c, c0, c_size(p) * sizeof *c);
    ik_cpu_sgemm(p->ta, p->tb, p->M, p->N, p->K, 0.75f, a, lda, b, ldb, 0.5f, c, ldc);
    free(a), free(b), free(c0);
}

Test(cpu_sgemm, blocks_match_double_precision)
{
    for (int i = 0; i < NPRODUCTS; i++) {
        const struct product *p = &products[i];
        bool by_rows;
        int block;
        cr_assert_eq(ik_cpu_sgemm_split(p->M, p->N, p->K, &by_rows, &block), p->blocks,
                     "product %d: %dx%dx%d", i, p->M, p->N, p->K);
        int lda = (p->ta ? p->M : p->K) + p->pad, ldb = (p->tb ? p->K : p->N) + p->pad;
        int ldc = p->N + p->pad;
        float *a = rnd((size_t)(p->ta ? p->K : p->M) * lda, 10 * i);
        float *b = rnd((size_t)(p->tb ? p->N : p->K) * ldb, 10 * i + 1);
        float *c0 = rnd(c_size(p), 10 * i + 2), *c = malloc(c_size(p) * sizeof *c);
        run_product(p, 10 * i, c);
        for (int m = 0; m < p->M; m++)
            for (int n = 0; n < ldc; n++) {
                double want = c0[(size_t)m * ldc + n];
                if (n < p->N) { /* the padding columns of C stay as they were */
                    double s = 0;
                    for (int k = 0; k < p->K; k++)
                        s += (double)(p->ta ? a[(size_t)k * lda + m] : a[(size_t)m * lda + k]) *
                             (p->tb ? b[(size_t)n * ldb + k] : b[(size_t)k * ldb + n]);
                    want = 0.75 * s + 0.5 * want;
                }
                float got = c[(size_t)m * ldc + n];
                cr_assert(fabs(got - want) <= 1e-5 * (p->K + 1), "product %d: C[%d][%d] = %.8g, expected %.8g",
                          i, m, n, (double)got, want);
            }
        free(a), free(b), free(c0), free(c);
    }
}

/* Every product, appended to out; returns the number of floats. */
static size_t all_products(float *out)
{
    size_t at = 0;
    for (int i = 0; i < NPRODUCTS; i++) {
        run_product(&products[i], 100 + i, out + at);
        at += c_size(&products[i]);
    }
    return at;
}

/* On a pool of 3 threads, and in a forked child where every loop runs on its
 * one thread (parallel.h): the same bits. */
Test(cpu_sgemm, thread_count_independent)
{
    setenv("IKADA_THREADS", "3", 1); /* read when this test process first uses the pool */
    size_t cap = 0;
    for (int i = 0; i < NPRODUCTS; i++)
        cap += c_size(&products[i]);
    float *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
    cr_assert_eq(all_products(a), cap);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(all_products(b) == cap && memcmp(a, b, cap * sizeof *a) == 0 ? 0 : 1);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the single-threaded child's products differ from the pool's");
    free(a), free(b);
}
