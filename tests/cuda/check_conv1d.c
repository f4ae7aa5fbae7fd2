/* tests/cuda/check_conv1d.c - test_cuda_kernels' check of Mamba-2's causal
 * conv1d with its SiLU, forward and backward (conv1d.cu), against the CPU
 * references (kernels/kernels.h: ik_cpu_conv1d_fwd from a zeroed state then
 * ik_cpu_silu_fwd; ik_cpu_silu_bwd onto zeros then ik_cpu_conv1d_bwd);
 * returns the number of comparisons that failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

struct conv_shape {
    int T, C, Kc, ld, off; /* x and dx: the C columns at off of rows ld wide */
    int bias, act;         /* with a bias; act asked for */
};

/* The forward's reference: conv and act (T, C) from a zero state. */
static void ref_fwd(float *conv, float *act, const float *x, const float *w, const float *bias,
                    const struct conv_shape *s)
{
    float *state = host_floats((size_t)(s->Kc - 1) * s->C);
    memset(state, 0, (size_t)(s->Kc - 1) * s->C * sizeof *state);
    ik_cpu_conv1d_fwd(conv, state, x, s->ld, w, bias, s->T, s->C, s->Kc);
    ik_cpu_silu_fwd(act, conv, (size_t)s->T * s->C);
    free(state);
}

/* The backward's reference: dx (rows ld apart) += through SiLU and conv. */
static void ref_bwd(float *dx, const float *dact, const float *conv, const float *w,
                    const struct conv_shape *s)
{
    size_t n = (size_t)s->T * s->C;
    float *g = host_floats(n);
    memset(g, 0, n * sizeof *g);
    ik_cpu_silu_bwd(g, dact, conv, n);
    ik_cpu_conv1d_bwd(dx, s->ld, g, w, s->T, s->C, s->Kc);
    free(g);
}

/* x in [-2, 2), taps and bias in [-0.5, 0.5): |conv| < 4.5. conv must be
 * the CPU's bits (the same products and sums in the same order). act =
 * silu(conv) differs by the device's expf (<= 2 ulps) against the CPU's
 * polynomial (~1 ulp), then 1 + e and a division: a few ulps, hence rtol
 * 1e-6 (~8 ulps), atol 0 (silu is relative to its input near 0). The
 * backward's sigmoid has those few ulps (<= ~4e-7 of s); silu'(x) moves by
 * at most |1 + x - 2 x s| < 3.5 times that, each of Kc <= 4 taps is
 * weighted by |w| < 0.5 and |dact| < 1: <= ~3e-6 absolute, added onto dx
 * ~1 (so that an overwrite fails), hence atol 1e-5, rtol 1e-5. The whole
 * dx buffer is compared: columns outside the range must be untouched. */
static int conv_case(const struct conv_shape *s)
{
    int T = s->T, C = s->C, Kc = s->Kc, ld = s->ld;
    size_t n = (size_t)T * C, nx = (size_t)T * ld;
    float *xb = rand_floats(nx, -2, 2), *w = rand_floats((size_t)C * Kc, -0.5f, 0.5f);
    float *bias = s->bias ? rand_floats(C, -0.5f, 0.5f) : NULL;
    float *conv = host_floats(n), *act = host_floats(n), *dact = rand_floats(n, -1, 1);
    float *dx0 = rand_floats(nx, -1, 1), *dx = copy_floats(dx0, nx);
    ref_fwd(conv, act, xb + s->off, w, bias, s);
    ref_bwd(dx + s->off, dact, conv, w, s);
    float *d_x = to_dev(xb, nx * 4), *d_w = to_dev(w, (size_t)C * Kc * 4);
    float *d_b = bias ? to_dev(bias, C * 4) : NULL, *d_da = to_dev(dact, n * 4);
    float *d_dx = to_dev(dx0, nx * 4), *d_c, *d_a = NULL;
    CK(ops->alloc((void **)&d_c, n * 4));
    if (s->act)
        CK(ops->alloc((void **)&d_a, n * 4));
    CK(ops->conv1d_silu_fwd(d_c, d_a, d_x + s->off, ld, d_w, d_b, T, C, Kc));
    CK(ops->conv1d_silu_bwd(d_dx + s->off, ld, d_da, d_c, d_w, T, C, Kc));
    float *g_c = from_dev(d_c, n), *g_dx = from_dev(d_dx, nx);
    char what[96];
    snprintf(what, sizeof what, "conv1d_silu_fwd conv T=%d C=%d Kc=%d ld=%d%s", T, C, Kc, ld,
             s->bias ? "" : " no bias");
    int fails = compare_bits(what, g_c, conv, n);
    if (s->act) {
        float *g_a = from_dev(d_a, n);
        fails += compare("  act = silu(conv)", g_a, act, n, 0, 1e-6);
        free(g_a);
        CK(ops->free(d_a));
    }
    snprintf(what, sizeof what, "conv1d_silu_bwd dx += lddx=%d", ld);
    fails += compare(what, g_dx, dx, nx, 1e-5, 1e-5);
    float *dev[] = {d_x, d_w, d_b, d_da, d_dx, d_c};
    for (int i = 0; i < 6; i++)
        CK(ops->free(dev[i]));
    float *host[] = {xb, w, bias, conv, act, dact, dx0, dx, g_c, g_dx};
    for (int i = 0; i < 10; i++)
        free(host[i]);
    return fails;
}

/* NemotronH's Kc = 4 on channels not a multiple of the warp in wider rows,
 * Kc = 3 without a bias or act, fewer rows than taps, a single tap; then
 * refused and empty shapes. */
int check_conv1d(void)
{
    static const struct conv_shape shapes[] = {
        {37, 200, 4, 300, 77, 1, 1}, {37, 77, 3, 100, 0, 0, 0}, {2, 45, 4, 50, 5, 1, 1},
        {5, 33, 1, 33, 0, 1, 1},
    };
    int fails = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        fails += conv_case(&shapes[i]);
    fails += refused("conv1d_silu_fwd(Kc = 0)",
                     ops->conv1d_silu_fwd(NULL, NULL, NULL, 8, NULL, NULL, 4, 8, 0),
                     "conv1d_silu_fwd: T = 4, C = 8, Kc = 0, ldx = 8 (T, C >= 0, Kc >= 1, ldx >= C)");
    fails += refused("conv1d_silu_bwd(lddx < C)",
                     ops->conv1d_silu_bwd(NULL, 7, NULL, NULL, NULL, 4, 8, 4),
                     "conv1d_silu_bwd: T = 4, C = 8, Kc = 4, lddx = 7");
    if (ops->conv1d_silu_fwd(NULL, NULL, NULL, 8, NULL, NULL, 0, 8, 4) != 0 ||
        ops->conv1d_silu_bwd(NULL, 0, NULL, NULL, NULL, 3, 0, 4) != 0) {
        printf("  conv1d_silu of 0 rows or channels failed: %s  FAIL\n", ops->last_error());
        fails++;
    }
    return fails;
}
