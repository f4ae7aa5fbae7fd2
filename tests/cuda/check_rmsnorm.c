/* tests/cuda/check_rmsnorm.c - test_cuda_kernels' checks of RMSNorm
 * forward and backward, and the forward fused with the residual add
 * (rmsnorm.cu) against the CPU references (kernels/kernels.h); each
 * returns the number of comparisons that failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

/* RMSNorm forward, out-of-place with rstd (a Qwen2.5 width, rows not a
 * multiple of anything) and in place without (a head-norm width). The GPU
 * sums the squares in fp32 (per thread, then a tree), the CPU in double: the
 * sum's relative error is a few fp32 ulps, rstd's half that, and out adds
 * two roundings, hence rtol 1e-5; atol 1e-6 for outputs near zero. */
int check_rmsnorm_fwd(void)
{
    int fails = 0;
    static const int shapes[][2] = {{37, 896}, {5, 64}, {3, 1000}};
    for (int k = 0; k < 3; k++) {
        int N = shapes[k][0], C = shapes[k][1], in_place = k == 1;
        size_t nc = (size_t)N * C;
        float *x = rand_floats(nc, -2, 2), *w = rand_floats(C, 0.5f, 1.5f);
        float *out = host_floats(nc), *rstd = host_floats(N);
        ik_cpu_rmsnorm_fwd(out, rstd, x, w, N, C, 1e-6f);
        float *dx = to_dev(x, nc * 4), *dw = to_dev(w, C * 4), *dout = dx, *drstd = NULL;
        if (!in_place)
            CK(ops->alloc((void **)&dout, nc * 4));
        if (!in_place)
            CK(ops->alloc((void **)&drstd, N * 4));
        CK(ops->rmsnorm_fwd(dout, drstd, dx, dw, N, C, 1e-6f));
        float *gout = from_dev(dout, nc);
        char what[64];
        snprintf(what, sizeof what, "rmsnorm_fwd out N=%d C=%d%s", N, C, in_place ? " in place" : "");
        fails += compare(what, gout, out, nc, 1e-6, 1e-5);
        if (!in_place) {
            float *grstd = from_dev(drstd, N);
            snprintf(what, sizeof what, "rmsnorm_fwd rstd N=%d C=%d", N, C);
            fails += compare(what, grstd, rstd, N, 0, 1e-5);
            free(grstd);
            CK(ops->free(dout));
            CK(ops->free(drstd));
        }
        CK(ops->free(dx));
        CK(ops->free(dw));
        free(x), free(w), free(out), free(rstd), free(gout);
    }
    return fails;
}

/* The fused residual add and norm: against the CPU's add then norm with
 * check_rmsnorm_fwd's tolerances (the same sums), and bit for bit against
 * the module's own ->add then ->rmsnorm_fwd, which it promises to equal;
 * the second shape writes the sum over a (sum = a, as cuda_ops.h allows). */
int check_add_rmsnorm_fwd(void)
{
    int fails = 0;
    static const int shapes[][2] = {{37, 896}, {3, 1000}};
    for (int k = 0; k < 2; k++) {
        int N = shapes[k][0], C = shapes[k][1], over_a = k == 1;
        size_t nc = (size_t)N * C;
        float *a = rand_floats(nc, -2, 2), *b = rand_floats(nc, -1, 1), *w = rand_floats(C, 0.5f, 1.5f);
        float *sum = host_floats(nc), *out = host_floats(nc), *rstd = host_floats(N);
        for (size_t i = 0; i < nc; i++)
            sum[i] = a[i] + b[i];
        ik_cpu_rmsnorm_fwd(out, rstd, sum, w, N, C, 1e-6f);
        float *d_a = to_dev(a, nc * 4), *d_b = to_dev(b, nc * 4), *d_w = to_dev(w, C * 4);
        float *d_sum, *d_out, *d_rstd, *d_sum2, *d_out2, *d_rstd2;
        void **bufs[] = {(void **)&d_sum, (void **)&d_out, (void **)&d_sum2, (void **)&d_out2};
        for (int i = 0; i < 4; i++)
            CK(ops->alloc(bufs[i], nc * 4));
        CK(ops->alloc((void **)&d_rstd, N * 4));
        CK(ops->alloc((void **)&d_rstd2, N * 4));
        /* the unfused pair first, while a is intact */
        CK(ops->add(d_sum2, d_a, d_b, nc));
        CK(ops->rmsnorm_fwd(d_out2, d_rstd2, d_sum2, d_w, N, C, 1e-6f));
        float *into = over_a ? d_a : d_sum;
        CK(ops->add_rmsnorm_fwd(into, d_out, d_rstd, d_a, d_b, d_w, N, C, 1e-6f));
        float *g_sum = from_dev(into, nc), *g_out = from_dev(d_out, nc), *g_rstd = from_dev(d_rstd, N);
        float *u_out = from_dev(d_out2, nc), *u_rstd = from_dev(d_rstd2, N);
        char what[64];
        snprintf(what, sizeof what, "add_rmsnorm_fwd sum N=%d C=%d%s", N, C, over_a ? " (= a)" : "");
        fails += compare_bits(what, g_sum, sum, nc);
        snprintf(what, sizeof what, "add_rmsnorm_fwd out N=%d C=%d", N, C);
        fails += compare(what, g_out, out, nc, 1e-6, 1e-5);
        snprintf(what, sizeof what, "add_rmsnorm_fwd rstd N=%d C=%d", N, C);
        fails += compare(what, g_rstd, rstd, N, 0, 1e-5);
        fails += compare_bits("add_rmsnorm_fwd out (vs unfused)", g_out, u_out, nc);
        fails += compare_bits("add_rmsnorm_fwd rstd (vs unfused)", g_rstd, u_rstd, N);
        float *dev[] = {d_a, d_b, d_w, d_sum, d_out, d_rstd, d_sum2, d_out2, d_rstd2};
        for (int i = 0; i < 9; i++)
            CK(ops->free(dev[i]));
        float *host[] = {a, b, w, sum, out, rstd, g_sum, g_out, g_rstd, u_out, u_rstd};
        for (int i = 0; i < 11; i++)
            free(host[i]);
    }
    return fails;
}

/* RMSNorm backward, dx and dw both accumulated onto random values (so an
 * overwrite fails), rstd from the CPU forward for both. dx = r*w*dy - x*k
 * cancels: its error is fp32 rounding of terms up to ~|r w dy| ~ 4, hence
 * atol 1e-5 with rtol 1e-5 (the CPU forms the row dot in double, the GPU in
 * fp32 over 896 terms). dw sums 64 rows of terms ~1 in a different order
 * (the CPU row by row in fp32, the GPU in 8 phases): 64 roundings of a sum
 * ~10, so atol 1e-4 (~70 ulps of the sum's size), rtol 1e-5. */
int check_rmsnorm_bwd(void)
{
    int N = 64, C = 896;
    size_t nc = (size_t)N * C;
    float *x = rand_floats(nc, -2, 2), *w = rand_floats(C, 0.5f, 1.5f), *dy = rand_floats(nc, -1, 1);
    float *dx0 = rand_floats(nc, -1, 1), *dw0 = rand_floats(C, -1, 1);
    float *out = host_floats(nc), *rstd = host_floats(N);
    ik_cpu_rmsnorm_fwd(out, rstd, x, w, N, C, 1e-6f);
    float *dx = copy_floats(dx0, nc), *dwc = copy_floats(dw0, C);
    ik_cpu_rmsnorm_bwd(dx, dwc, dy, x, rstd, w, N, C);
    float *d_x = to_dev(x, nc * 4), *d_w = to_dev(w, C * 4), *d_dy = to_dev(dy, nc * 4);
    float *d_r = to_dev(rstd, N * 4), *d_dx = to_dev(dx0, nc * 4), *d_dw = to_dev(dw0, C * 4);
    CK(ops->rmsnorm_bwd(d_dx, d_dw, d_dy, d_x, d_r, d_w, N, C));
    float *gdx = from_dev(d_dx, nc), *gdw = from_dev(d_dw, C);
    int fails = compare("rmsnorm_bwd dx += N=64 C=896", gdx, dx, nc, 1e-5, 1e-5);
    fails += compare("rmsnorm_bwd dw += N=64 C=896", gdw, dwc, C, 1e-4, 1e-5);
    /* dw NULL: dx alone, accumulated a second time. */
    ik_cpu_rmsnorm_bwd(dx, NULL, dy, x, rstd, w, N, C);
    CK(ops->rmsnorm_bwd(d_dx, NULL, d_dy, d_x, d_r, d_w, N, C));
    free(gdx);
    gdx = from_dev(d_dx, nc);
    fails += compare("rmsnorm_bwd dx += twice, dw NULL", gdx, dx, nc, 2e-5, 1e-5);
    float *devs[] = {d_x, d_w, d_dy, d_r, d_dx, d_dw};
    for (int i = 0; i < 6; i++)
        CK(ops->free(devs[i]));
    free(x), free(w), free(dy), free(dx0), free(dw0), free(out), free(rstd), free(dx), free(dwc);
    free(gdx), free(gdw);
    return fails;
}
