/* tests/cuda/check_softplus.c - test_cuda_kernels' check of Mamba-2's time
 * step, softplus(x + dt_bias) and its backward (softplus.cu), against
 * lm/train_mamba.c's loops (there is no ik_cpu_ kernel: the loops are
 * written out here); returns the number of comparisons that failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/cuda/kernel_check.h"

/* llama.cpp's softplus, as lm/train_mamba.c's. */
static float softplus(float u) { return u > 20.0f ? u : log1pf(expf(u)); }

/* lm/train_mamba.c's dt loop in mamba_fwd: out (T, n). */
static void ref_fwd(float *out, const float *x, int ldx, const float *bias, int T, int n)
{
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++)
            out[(size_t)t * n + i] = softplus(x[(size_t)t * ldx + i] + bias[i]);
}

/* Its backward, the loop at the end of mamba_bwd. */
static void ref_bwd(float *dx, int lddx, const float *dout, const float *x, int ldx,
                    const float *bias, int T, int n)
{
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++) {
            float u = x[(size_t)t * ldx + i] + bias[i];
            dx[(size_t)t * lddx + i] += dout[(size_t)t * n + i] *
                                        (u > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-u)));
        }
}

/* x the n columns at OFF of rows LDX wide (the dt columns of the in_proj
 * output); u = x + bias in [-30, 30), both sides of the cut at 20. The
 * forward differs by the device's expf and log1pf (<= 2 ulps each, CUDA's
 * guide) from the host's: log1p passes exp's relative error on at most
 * unchanged, so a few ulps of the result, hence rtol 1e-6 (~8 ulps) and
 * atol 0 (no value is near 0: the smallest, exp(-30), are as exact). The
 * backward's sigmoid has the same few ulps, times dout (|dout| < 1), added
 * onto values ~1 (so that an overwrite fails): an error of a few ulps of
 * terms < 1, hence atol 1e-6 and rtol 1e-6. The whole (T, lddx) gradient
 * is compared: the columns outside dx's range must be untouched. */
static int softplus_case(int T, int n, int ldx, int off)
{
    size_t nx = (size_t)T * ldx, nd = (size_t)T * n;
    float *xb = rand_floats(nx, -25, 25), *bias = rand_floats(n, -5, 5);
    float *dout = rand_floats(nd, -1, 1), *out = host_floats(nd);
    float *gb = rand_floats(nx, -1, 1), *g = copy_floats(gb, nx);
    ref_fwd(out, xb + off, ldx, bias, T, n);
    ref_bwd(g + off, ldx, dout, xb + off, ldx, bias, T, n);
    float *d_x = to_dev(xb, nx * 4), *d_b = to_dev(bias, n * 4), *d_do = to_dev(dout, nd * 4);
    float *d_g = to_dev(gb, nx * 4), *d_o;
    CK(ops->alloc((void **)&d_o, nd * 4));
    CK(ops->softplus_bias_fwd(d_o, d_x + off, ldx, d_b, T, n));
    CK(ops->softplus_bias_bwd(d_g + off, ldx, d_do, d_x + off, ldx, d_b, T, n));
    float *g_o = from_dev(d_o, nd), *g_g = from_dev(d_g, nx);
    char what[80];
    snprintf(what, sizeof what, "softplus_bias_fwd T=%d n=%d ldx=%d", T, n, ldx);
    int fails = compare(what, g_o, out, nd, 0, 1e-6);
    snprintf(what, sizeof what, "softplus_bias_bwd dx += lddx=%d", ldx);
    fails += compare(what, g_g, g, nx, 1e-6, 1e-6);
    /* dx = x, as the contract allows: each element reads its x first. */
    float *xg = copy_floats(xb, nx);
    ref_bwd(xg + off, ldx, dout, xg + off, ldx, bias, T, n);
    CK(ops->softplus_bias_bwd(d_x + off, ldx, d_do, d_x + off, ldx, d_b, T, n));
    free(g_g);
    g_g = from_dev(d_x, nx);
    fails += compare("softplus_bias_bwd dx = x", g_g, xg, nx, 1e-6, 1e-6);
    float *dev[] = {d_x, d_b, d_do, d_g, d_o};
    for (int i = 0; i < 5; i++)
        CK(ops->free(dev[i]));
    free(xb), free(bias), free(dout), free(out), free(gb), free(g), free(g_o), free(g_g), free(xg);
    return fails;
}

/* NemotronH-shaped (a head count, columns at the end of wider rows), a
 * single row, and refused or empty shapes. */
int check_softplus(void)
{
    int fails = softplus_case(37, 51, 300, 237) + softplus_case(1, 200, 211, 5);
    fails += refused("softplus_bias_fwd(ldx < n)", ops->softplus_bias_fwd(NULL, NULL, 7, NULL, 4, 8),
                     "softplus_bias_fwd: T = 4, n = 8, ldx = 7 (T, n >= 0, ldx >= n)");
    fails += refused("softplus_bias_bwd(lddx < n)",
                     ops->softplus_bias_bwd(NULL, 7, NULL, NULL, 8, NULL, 4, 8),
                     "softplus_bias_bwd: T = 4, n = 8, ldx = 8, lddx = 7");
    fails += refused("softplus_bias_fwd(T = -1)", ops->softplus_bias_fwd(NULL, NULL, 8, NULL, -1, 8),
                     "softplus_bias_fwd: T = -1");
    if (ops->softplus_bias_fwd(NULL, NULL, 8, NULL, 0, 8) != 0 ||
        ops->softplus_bias_bwd(NULL, 0, NULL, NULL, 0, NULL, 5, 0) != 0) {
        printf("  softplus_bias of 0 rows or columns failed: %s  FAIL\n", ops->last_error());
        fails++;
    }
    return fails;
}
