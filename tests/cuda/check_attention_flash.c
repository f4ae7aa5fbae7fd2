/* tests/cuda/check_attention_flash.c - test_cuda_kernels' checks of the
 * module's flash attention (attention_flash.cu: ->flash_fwd, ->flash_bwd)
 * against the CPU references (kernels/kernels.h); each returns the number
 * of comparisons that failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"
#include "tests/cuda/ref_attention.h"

/* n values in [-1, 1), rounded to BF16: the kernels round q, k, v and dout
 * so as they load them, and the reference gets the same values. */
static float *bf16_inputs(size_t n)
{
    float *x = rand_floats(n, -1, 1);
    for (size_t i = 0; i < n; i++)
        x[i] = bf16_round(x[i]);
    return x;
}

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* One shape. What differs from the reference is the kernels' BF16
 * rounding of the probabilities (before P V and P^T dO) and of their
 * gradient dS (before dS K and dS^T Q), 2^-9 relative each, summed over up
 * to T keys with cancellation in dS = P (dP - D): judged against the size of
 * each result, every element within 1e-2 of its tensor's largest value (a
 * wrong fragment layout, mask, head or stride gives errors of the order of
 * the values themselves). The logsumexps come from fp32 sums of the same
 * BF16 products: within 1e-4. The gradients are added onto random values,
 * so an overwrite fails; a second backward must give the same bits (every
 * sum in a fixed order). */
static int flash_case(int T, int H, int K, int hd, int window)
{
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd, ns = (size_t)H * T;
    float *q = bf16_inputs(nq), *k = bf16_inputs(nk), *v = bf16_inputs(nk), *dout = bf16_inputs(nq);
    float *init[3] = {rand_floats(nq, -1, 1), rand_floats(nk, -1, 1), rand_floats(nk, -1, 1)};
    float *out = host_floats(nq), *stats = host_floats(ns);
    float *ref[3] = {calloc(nq, 4), calloc(nk, 4), calloc(nk, 4)};
    float *scr = host_floats(ik_cpu_attention_bwd_scratch(T, H, K, hd));
    if (ref[0] == NULL || ref[1] == NULL || ref[2] == NULL)
        die("out of memory");
    ik_cpu_attention_seq_fwd(out, q, k, v, T, H, K, hd, window, scr);
    ik_cpu_attention_bwd(ref[0], ref[1], ref[2], dout, q, k, v, T, H, K, hd, window, scr);
    ref_attention_lse(stats, q, k, T, H, K, hd, window);

    float *d_q = to_dev(q, nq * 4), *d_k = to_dev(k, nk * 4), *d_v = to_dev(v, nk * 4);
    float *d_do = to_dev(dout, nq * 4), *d_out, *d_stats;
    float *d_g[3] = {to_dev(init[0], nq * 4), to_dev(init[1], nk * 4), to_dev(init[2], nk * 4)};
    float *d_again = to_dev(init[0], nq * 4), *d_k2 = to_dev(init[1], nk * 4), *d_v2 = to_dev(init[2], nk * 4);
    void *d_scr;
    CK(ops->alloc((void **)&d_out, nq * 4));
    CK(ops->alloc((void **)&d_stats, ns * 4));
    CK(ops->alloc(&d_scr, ops->flash_scratch(T, H)));
    CK(ops->flash_fwd(d_out, d_stats, d_q, d_k, d_v, T, H, K, hd, window, NULL));
    CK(ops->flash_bwd(d_g[0], d_g[1], d_g[2], d_do, d_out, d_stats, d_q, d_k, d_v, T, H, K, hd,
                      window, d_scr));
    CK(ops->flash_bwd(d_again, d_k2, d_v2, d_do, d_out, d_stats, d_q, d_k, d_v, T, H, K, hd, window,
                      d_scr));
    char what[96];
    snprintf(what, sizeof what, "T %d H %d K %d hd %d w %d", T, H, K, hd, window);
    float *g_out = from_dev(d_out, nq), *g_stats = from_dev(d_stats, ns);
    int fails = 0;
    char line[128];
    snprintf(line, sizeof line, "flash out %s", what);
    fails += compare(line, g_out, out, nq, 1e-2 * max_abs(out, nq), 0);
    snprintf(line, sizeof line, "flash stats %s", what);
    fails += compare(line, g_stats, stats, ns, 1e-4, 0);
    const char *names[3] = {"dq", "dk", "dv"};
    size_t gn[3] = {nq, nk, nk};
    float *first_dq = NULL;
    for (int i = 0; i < 3; i++) {
        float *g = from_dev(d_g[i], gn[i]);
        for (size_t j = 0; j < gn[i]; j++)
            g[j] -= init[i][j];
        snprintf(line, sizeof line, "flash %s (+=) %s", names[i], what);
        fails += compare(line, g, ref[i], gn[i], 1e-2 * max_abs(ref[i], gn[i]), 0);
        free(g);
        free(ref[i]);
    }
    first_dq = from_dev(d_g[0], nq);
    float *again = from_dev(d_again, nq);
    snprintf(line, sizeof line, "flash dq twice %s", what);
    fails += compare_bits(line, again, first_dq, nq);
    float *dev[] = {d_q, d_k, d_v, d_do, d_out, d_stats, d_g[0], d_g[1], d_g[2], d_again, d_k2, d_v2};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        CK(ops->free(dev[i]));
    CK(ops->free(d_scr));
    float *host[] = {q, k, v, dout, out, stats, scr, g_out, g_stats, first_dq, again,
                     init[0], init[1], init[2]};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
        free(host[i]);
    return fails;
}

/* The two kernel widths (hd up to 64, up to 128), a head_dim of 8 (the
 * products over it padded to 16), T past the tiles' edges, GQA and MHA, and
 * a sliding window shorter than a tile; the refused head shapes and
 * pointers. */
int check_attention_flash(void)
{
    int fails = flash_case(150, 14, 2, 64, 0) + flash_case(97, 4, 4, 128, 0) +
                flash_case(70, 4, 2, 8, 0) + flash_case(130, 6, 3, 32, 37);
    if (ops->flash_supports(4, 2, 136) || ops->flash_supports(4, 2, 12) || ops->flash_supports(6, 4, 64) ||
        !ops->flash_supports(32, 8, 128)) {
        printf("  flash_supports: hd 136 or 12, or H 6 on K 4, taken, or Llama's heads refused  FAIL\n");
        fails++;
    }
    if (ops->flash_fwd(NULL, NULL, NULL, NULL, NULL, 16, 4, 2, 12, 0, NULL) != -1 ||
        strstr(ops->last_error(), "flash_fwd: T 16, H 4, K 2, hd 12") == NULL) {
        printf("  flash_fwd(hd 12): error \"%s\"  FAIL\n", ops->last_error());
        fails++;
    }
    float *d_x;
    CK(ops->alloc((void **)&d_x, 4096));
    if (ops->flash_fwd(d_x, d_x, d_x + 1, d_x, d_x, 4, 2, 2, 8, 0, NULL) != -1 ||
        strstr(ops->last_error(), "is not 16-byte aligned") == NULL) {
        printf("  flash_fwd(q 4-byte aligned): error \"%s\"  FAIL\n", ops->last_error());
        fails++;
    }
    CK(ops->free(d_x));
    return fails;
}
