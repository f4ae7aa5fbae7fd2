/* tests/cuda/check_adamw.c - test_cuda_kernels' checks of the optimizer:
 * AdamW (adamw.cu) and gradient clipping (clip_grad_norm.cu) against the
 * CPU references (kernels/kernels.h); each returns the number of
 * comparisons that failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

/* AdamW, three steps (t = 1, 2, 3: the bias corrections) with fresh
 * gradients each, weight decay on. The kernel rounds every operation on its
 * own in the CPU's order and takes the CPU's host-side scalars, so the bits
 * should match; the tolerance allows 4 ulps (rtol 5e-7) in case the CPU
 * build contracts a multiply-add, atol 1e-30 only for exact zeros. */
int check_adamw(void)
{
    size_t n = 10007;
    float *p = rand_floats(n, -1, 1), *m = host_floats(n), *v = host_floats(n);
    memset(m, 0, n * 4);
    memset(v, 0, n * 4);
    float *d_p = to_dev(p, n * 4), *d_m = to_dev(m, n * 4), *d_v = to_dev(v, n * 4), *d_g;
    CK(ops->alloc((void **)&d_g, n * 4));
    for (int t = 1; t <= 3; t++) {
        float *g = rand_floats(n, -0.1f, 0.1f);
        ik_cpu_adamw(p, g, m, v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, t);
        CK(ops->memcpy_htod(d_g, g, n * 4));
        CK(ops->adamw(d_p, d_g, d_m, d_v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, t));
        free(g);
    }
    float *gp = from_dev(d_p, n), *gm = from_dev(d_m, n), *gv = from_dev(d_v, n);
    int fails = compare("adamw p after 3 steps", gp, p, n, 1e-30, 5e-7);
    fails += compare("adamw m", gm, m, n, 1e-30, 5e-7);
    fails += compare("adamw v", gv, v, n, 1e-30, 5e-7);
    CK(ops->free(d_p));
    CK(ops->free(d_m));
    CK(ops->free(d_v));
    CK(ops->free(d_g));
    free(p), free(m), free(v), free(gp), free(gm), free(gv);
    return fails;
}

/* Random values in [-1, 1): norms of about 0.58 sqrt(n); max 1 clips, 1e6 and 0 do not. */
static int clip_case(size_t n, double max_norm)
{
    float *g = rand_floats(n, -1.0f, 1.0f), *want = copy_floats(g, n);
    float *d_g = to_dev(g, n * 4);
    double norm, want_norm = ik_cpu_clip_grad_norm(want, n, max_norm);
    CK(ops->clip_grad_norm(d_g, n, max_norm, &norm));
    float *got = from_dev(d_g, n);
    /* The norm's sum of squares runs in another order, in double: its last
     * bits may differ, and with them the scale factor's float by an ulp. */
    int bad = fabs(norm - want_norm) > 1e-9 * want_norm;
    printf("  clip_grad_norm n=%-7zu max %-4g norm %.9g, cpu %.9g (tolerance 1e-9)%s\n", n,
           max_norm, norm, want_norm, bad ? "  FAIL" : "");
    bad += compare("clip_grad_norm g", got, want, n, 0.0, 1.2e-7);
    CK(ops->free(d_g));
    free(g), free(want), free(got);
    return bad != 0;
}

/* Past 256 blocks' worth (4M values) the blocks take more values each, not
 * more blocks; whichever block ends first, the norm's bits repeat. */
static int clip_repeats(size_t n)
{
    float *g = rand_floats(n, -1.0f, 1.0f);
    float *d_g = to_dev(g, n * 4);
    double a, b, want = ik_cpu_clip_grad_norm(g, n, 0.0);
    CK(ops->clip_grad_norm(d_g, n, 0.0, &a));
    CK(ops->clip_grad_norm(d_g, n, 0.0, &b));
    int bad = a != b || fabs(a - want) > 1e-9 * want;
    printf("  clip_grad_norm n=%-7zu twice: %.17g, %.17g, cpu %.9g (the same bits expected)%s\n", n,
           a, b, want, bad ? "  FAIL" : "");
    CK(ops->free(d_g));
    free(g);
    return bad;
}

int check_clip(void)
{
    return clip_case(300007, 1.0) + clip_case(1000, 1e6) + clip_case(1000, 0.0) +
           clip_repeats(4 * 1048576 + 12345);
}
