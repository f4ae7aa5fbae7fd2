/* tests/cuda/test_attention_chunks.c - the CUDA module's own attention
 * algorithm (kernels/cuda/attention_chunks.h: the chunks of query rows,
 * the batches of query heads per KV head, every product's strides) run on
 * the CPU, with exact products (double sums, ref_gemm) in place of
 * cuBLAS and plain loops for the two row kernels, against the CPU's
 * attention (ik_cpu_attention_seq_fwd / ik_cpu_attention_bwd, gradients
 * accumulated onto random values) on GQA, MHA, windowed, one-token and
 * chunk-edge shapes. Both sides are fp32 with sums in different orders:
 * within 1e-4 absolute (the errors seen are under 5e-6; a wrong stride,
 * head or chunk bound gives errors of the values' size, ~0.1 to 1). It also
 * counts the products' multiply-adds at 4096 tokens: the chunks must skip
 * most of the masked half (at most 60% of the full square's). The device's
 * kernels and cuBLAS calls themselves are check_attention.c's (on a GPU).
 * A plain C program: exit 0 when all pass, 1 otherwise. Needs no CUDA. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/prng.h"
#include "kernels/cuda/attention_chunks.h"
#include "kernels/kernels.h"
#include "tests/cuda/ref_gemm.h"

static struct ik_prng rng;
static double macs; /* multiply-adds of the products so far */
static int count_only;

static int first_key(int t, int window)
{
    return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}

static int host_gemm(void *ctx, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                     int lda, long long sa, const float *B, int ldb, long long sb, float beta,
                     float *C, int ldc, long long sc, int batch)
{
    (void)ctx;
    macs += (double)batch * M * N * K;
    for (int b = 0; b < batch && !count_only; b++)
        ref_gemm(ta, tb, M, N, K, alpha, A + b * sa, lda, B + b * sb, ldb, beta, C + b * sc, ldc);
    return 0;
}

/* causal_softmax_kernel's rows, one after another */
static int host_softmax(void *ctx, float *P, int rows, int R, int r0, int Tk, int window)
{
    (void)ctx;
    for (int r = 0; r < rows && !count_only; r++) {
        int t = r0 + r % R, lo = first_key(t, window);
        float *row = P + (size_t)r * Tk, m = -INFINITY, s = 0.0f;
        for (int j = lo; j <= t; j++)
            m = fmaxf(m, row[j]);
        for (int j = lo; j <= t; j++)
            s += expf(row[j] - m);
        for (int j = 0; j < Tk; j++)
            row[j] = j >= lo && j <= t ? expf(row[j] - m) / s : 0.0f;
    }
    return 0;
}

/* softmax_grad_kernel's rows */
static int host_softmax_grad(void *ctx, float *G, const float *P, int rows, int R, int r0, int Tk,
                             int window)
{
    (void)ctx;
    for (int r = 0; r < rows && !count_only; r++) {
        int t = r0 + r % R, lo = first_key(t, window);
        const float *p = P + (size_t)r * Tk;
        float *g = G + (size_t)r * Tk, dot = 0.0f;
        for (int j = lo; j <= t; j++)
            dot += p[j] * g[j];
        for (int j = 0; j < Tk; j++)
            g[j] = j >= lo && j <= t ? p[j] * (g[j] - dot) : 0.0f;
    }
    return 0;
}

static const struct ik_att_ops host_ops = {host_gemm, host_softmax, host_softmax_grad, NULL};

static float *rand_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (p == NULL) {
        fprintf(stderr, "test_attention_chunks: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(2 * ik_prng_double(&rng) - 1);
    return p;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        m = isnan(d) || d > m ? (isnan(d) ? INFINITY : d) : m;
    }
    return m;
}

/* One shape: 1 when any output is off. */
static int check_shape(int T, int H, int K, int hd, int window)
{
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd;
    float *q = rand_floats(nq), *k = rand_floats(nk), *v = rand_floats(nk), *dout = rand_floats(nq);
    float *got[4] = {rand_floats(nq), rand_floats(nq), rand_floats(nk), rand_floats(nk)};
    float *want[4];
    size_t n[4] = {nq, nq, nk, nk};
    for (int i = 0; i < 4; i++) {
        want[i] = malloc(n[i] * sizeof(float));
        memcpy(want[i], got[i], n[i] * sizeof(float));
    }
    size_t ns = ik_att_scratch_floats(T, K), nc = ik_cpu_attention_bwd_scratch(T, H, K, hd);
    float *scratch = malloc((ns > nc ? ns : nc) * sizeof(float) + 1);
    int rc = ik_att_fwd(&host_ops, got[0], q, k, v, T, H, K, hd, window, scratch) ||
             ik_att_bwd(&host_ops, got[1], got[2], got[3], dout, q, k, v, T, H, K, hd, window,
                        scratch);
    ik_cpu_attention_seq_fwd(want[0], q, k, v, T, H, K, hd, window, scratch);
    ik_cpu_attention_bwd(want[1], want[2], want[3], dout, q, k, v, T, H, K, hd, window, scratch);
    static const char *const names[4] = {"out", "dq (+=)", "dk (+=)", "dv (+=)"};
    int bad = rc != 0;
    printf("  T %4d H %2d K %d hd %3d window %3d (%d-row chunks):", T, H, K, hd, window,
           ik_att_chunk_rows(T));
    for (int i = 0; i < 4; i++) {
        double d = max_diff(got[i], want[i], n[i]);
        printf(" %s %.2g", names[i], d);
        bad |= !(d <= 1e-4);
    }
    printf("%s\n", bad ? "  FAIL" : "");
    float *all[] = {q, k, v, dout, got[0], got[1], got[2], got[3], want[0], want[1], want[2],
                    want[3], scratch};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
    return bad;
}

/* The products' multiply-adds at T against those of the full T x T square. */
static int check_skipping(int T, int H, int K, int hd)
{
    count_only = 1;
    macs = 0;
    ik_att_fwd(&host_ops, NULL, NULL, NULL, NULL, T, H, K, hd, 0, NULL);
    double full = 2.0 * T * (double)T * hd * H; /* QK^T and PV over every key */
    count_only = 0;
    printf("  T %d: the chunks' products are %.1f%% of the full square's (at most 60%%)\n", T,
           100 * macs / full);
    return !(macs <= 0.6 * full);
}

int main(void)
{
    ik_prng_seed(&rng, 20261203);
    printf("test_attention_chunks: attention_chunks.h on the CPU against ik_cpu_attention:\n");
    int bad = check_shape(150, 14, 2, 64, 0) + check_shape(96, 9, 3, 32, 5) +
              check_shape(1, 4, 2, 8, 0) + check_shape(64, 4, 4, 16, 0) +
              check_shape(65, 4, 1, 16, 0) + check_shape(700, 4, 2, 16, 100) +
              check_skipping(4096, 32, 8, 128);
    printf("test_attention_chunks: %s\n", bad ? "FAIL" : "ok");
    return bad != 0;
}
