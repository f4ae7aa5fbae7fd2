/* bench/gemm_shapes.c - every GEMM of one LoRA training step on the
 * Qwen2.5-0.5B shape (lm/train.c's calls: seq 512, so 511 rows; D 896, 14 q
 * heads and 2 KV heads of 64, F 4864, V 151,936, r 8 on all seven targets,
 * 24 layers), each timed through ik_cpu_sgemm and through one plain
 * multi-threaded cblas_sgemm (OpenBLAS on as many threads as ikada's pool),
 * the two in alternation over many rounds so that both meet the same load on
 * a shared machine. Prints per shape the medians, ikada's share of OpenBLAS's
 * rate and the shape's share of the step's GEMM time (median time x calls per
 * step). The lm_head products run with V/2 columns (or rows of the reduction)
 * and count twice: a full one takes about a second; half of it has the same
 * rate and, like the full one, a shared operand too large for any cache
 * (gemm.c's partition rule tells the two cases apart).
 *
 * OpenBLAS's threads spin for about 2^28 cycles (~0.1 s) after each of its
 * threaded calls before they sleep, and on a small machine they take a core
 * from whatever runs next: measured, ikada's forward products ran at half
 * their rate when each followed a baseline call. So the program re-executes
 * itself with OPENBLAS_THREAD_TIMEOUT=4 (2^4 cycles), unless it is set.
 *
 * Not run by `make check` or `make bench`: `make bench/gemm_shapes &&
 * ./bench/gemm_shapes [ROUNDS]` (default 9). IKADA_THREADS as for ikada. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/clock.h"
#include "kernels/cpu/blas_core.h"
#include "kernels/cpu/blas_lib.h"
#include "kernels/cpu/gemm.h"

enum { T = 511, D = 896, KW = 128, F = 4864, R = 8, L = 24, VB = 151936 / 2 };

struct shape {
    const char *what;
    bool ta, tb;
    int M, N, K, calls; /* calls per training step */
    double t_ik[64], t_blas[64];
};

/* lm/train.c's GEMMs, forward then backward; calls counted over the 24
 * layers (layer 0 forms no input gradient of q, k, v). Shapes that occur
 * under several names are listed once, their counts summed. */
static struct shape shapes[] = {
    {"fwd q,o: x W^T", false, true, T, D, D, 2 * L, {0}, {0}},
    {"fwd k,v: x W^T", false, true, T, KW, D, 2 * L, {0}, {0}},
    {"fwd gate,up: x W^T", false, true, T, F, D, 2 * L, {0}, {0}},
    {"fwd down: x W^T", false, true, T, D, F, L, {0}, {0}},
    {"fwd lm_head/2: x E^T", false, true, T, VB, D, 2, {0}, {0}},
    {"lora h = x A^T (In 896)", false, true, T, R, D, 6 * L, {0}, {0}},
    {"lora h = x A^T (In 4864)", false, true, T, R, F, L, {0}, {0}},
    {"lora out += h B^T (Out 896)", false, true, T, D, R, 3 * L, {0}, {0}},
    {"lora out += h B^T (Out 128)", false, true, T, KW, R, 2 * L, {0}, {0}},
    {"lora out += h B^T (Out 4864)", false, true, T, F, R, 2 * L, {0}, {0}},
    {"bwd lm_head/2: dl E", false, false, T, D, VB, 2, {0}, {0}},
    {"bwd down dx: dy W", false, false, T, F, D, L, {0}, {0}},
    {"bwd gate,up dx: dy W", false, false, T, D, F, 2 * L, {0}, {0}},
    {"bwd o,q dx: dy W", false, false, T, D, D, 2 * L - 1, {0}, {0}},
    {"bwd k,v dx: dy W", false, false, T, D, KW, 2 * (L - 1), {0}, {0}},
    {"lora dB += dy^T h (Out 896)", true, false, D, R, T, 3 * L, {0}, {0}},
    {"lora dB += dy^T h (Out 128)", true, false, KW, R, T, 2 * L, {0}, {0}},
    {"lora dB += dy^T h (Out 4864)", true, false, F, R, T, 2 * L, {0}, {0}},
    {"lora dh = dy B (Out 896)", false, false, T, R, D, 3 * L, {0}, {0}},
    {"lora dh = dy B (Out 128)", false, false, T, R, KW, 2 * L, {0}, {0}},
    {"lora dh = dy B (Out 4864)", false, false, T, R, F, 2 * L, {0}, {0}},
    {"lora dA += dh^T x (In 896)", true, false, R, D, T, 6 * L, {0}, {0}},
    {"lora dA += dh^T x (In 4864)", true, false, R, F, T, L, {0}, {0}},
    {"lora dx += dh A (In 896)", false, false, T, D, R, 3 * L + 3 * (L - 1), {0}, {0}},
    {"lora dx += dh A (In 4864)", false, false, T, F, R, L, {0}, {0}},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[64];
    for (int i = 0; i < n; i++)
        s[i] = v[i];
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static float *zero_mean(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((float)(seed >> 8) / 8388608.0f - 1.0f) * 0.05f;
    }
    return x;
}

/* Seconds of one product of s, by ikada's sgemm or by OpenBLAS on threads;
 * beta 1 as most calls of the step have (C is not rescaled: its growth over
 * the rounds stays far from overflow). */
static double time_one(const struct shape *s, const float *A, const float *B, float *C, int ik,
                       int threads)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    double t0 = ik_clock_monotonic_s();
    if (ik) {
        ik_cpu_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 1.0f, C, s->N);
    } else {
        ik_cpu_blas()->set_num_threads(threads);
        ik_cpu_blas()->sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                    s->tb ? CblasTrans : CblasNoTrans, s->M, s->N, s->K, 1.0f, A, lda, B, ldb,
                    1.0f, C, s->N);
        ik_cpu_blas()->set_num_threads(1); /* as ik_cpu_sgemm left it */
    }
    return ik_clock_monotonic_s() - t0;
}

static int pool_threads(void)
{
    const char *env = getenv("IKADA_THREADS");
    long n = env ? strtol(env, NULL, 10) : 0;
    return n > 0 ? (int)n : (int)sysconf(_SC_NPROCESSORS_ONLN);
}

int main(int argc, char **argv)
{
    if (getenv("OPENBLAS_THREAD_TIMEOUT") == NULL) { /* read when OpenBLAS loads */
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
        execv("/proc/self/exe", argv);
        perror("gemm_shapes: re-executing with OPENBLAS_THREAD_TIMEOUT=4");
    }
    ik_cpu_blas_fix_core("gemm_shapes", argv);
    int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 9, threads = pool_threads();
    rounds = rounds < 1 ? 1 : rounds > 64 ? 64 : rounds;
    size_t most = 0; /* the largest operand */
    for (int i = 0; i < NSHAPES; i++) {
        size_t m = (size_t)shapes[i].M, n = (size_t)shapes[i].N, k = (size_t)shapes[i].K;
        size_t big = m * k > k * n ? m * k : k * n;
        most = big > most ? big : most;
        most = m * n > most ? m * n : most;
    }
    float *A = zero_mean(most, 1), *B = zero_mean(most, 2), *C = zero_mean(most, 3);
    printf("gemm_shapes: OpenBLAS %s kernels; ikada's pool and OpenBLAS's baseline on %d threads; "
           "%d rounds, ikada and OpenBLAS alternating; OPENBLAS_THREAD_TIMEOUT=%s\n",
           ik_cpu_blas()->get_corename(), threads, rounds, getenv("OPENBLAS_THREAD_TIMEOUT"));
    for (int i = 0; i < NSHAPES; i++) { /* warm-up: pages, threads */
        time_one(&shapes[i], A, B, C, 1, threads);
        time_one(&shapes[i], A, B, C, 0, threads);
    }
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < NSHAPES; i++) {
            int ik_first = (r + i) % 2; /* neither side always runs on warm caches */
            shapes[i].t_ik[r] = time_one(&shapes[i], A, B, C, ik_first, threads);
            shapes[i].t_blas[r] = time_one(&shapes[i], A, B, C, !ik_first, threads);
            if (!ik_first) {
                double t = shapes[i].t_ik[r];
                shapes[i].t_ik[r] = shapes[i].t_blas[r];
                shapes[i].t_blas[r] = t;
            }
        }
    double tot_ik = 0, tot_blas = 0, flops = 0, m_ik[NSHAPES], m_blas[NSHAPES];
    for (int i = 0; i < NSHAPES; i++) {
        m_ik[i] = median(shapes[i].t_ik, rounds);
        m_blas[i] = median(shapes[i].t_blas, rounds);
        tot_ik += m_ik[i] * shapes[i].calls;
        tot_blas += m_blas[i] * shapes[i].calls;
        flops += 2.0 * shapes[i].M * shapes[i].N * shapes[i].K * shapes[i].calls;
    }
    printf("%-30s %2s %5s %6s %6s %5s %9s %9s %6s %6s\n", "product", "op", "M", "N", "K", "calls",
           "ikada GF", "BLAS GF", "ratio", "share");
    for (int i = 0; i < NSHAPES; i++) {
        const struct shape *s = &shapes[i];
        double f = 2.0 * s->M * s->N * s->K * 1e-9;
        printf("%-30s %c%c %5d %6d %6d %5d %9.1f %9.1f %5.0f%% %5.1f%%\n", s->what, s->ta ? 'T' : 'N',
               s->tb ? 'T' : 'N', s->M, s->N, s->K, s->calls, f / m_ik[i], f / m_blas[i],
               100 * m_blas[i] / m_ik[i], 100 * m_ik[i] * s->calls / tot_ik);
    }
    printf("gemm_shapes: one step's GEMMs (%.0f GFLOP): ikada %.2f s (%.1f GFLOP/s), OpenBLAS on %d "
           "threads %.2f s (%.1f GFLOP/s): ikada at %.0f%% of OpenBLAS\n", flops * 1e-9, tot_ik,
           flops / tot_ik * 1e-9, threads, tot_blas, flops / tot_blas * 1e-9, 100 * tot_blas / tot_ik);
    free(A), free(B), free(C);
    return 0;
}
