/* tests/cuda/check_rmsnorm_gated.c - test_cuda_kernels' check of Mamba-2's
 * gated RMSNorm, forward and backward (rmsnorm_gated.cu), against the CPU
 * references (kernels/kernels.h); returns the number of comparisons that
 * failed. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

struct gated_shape {
    int N, C, G, ldz, lddz; /* z, dz: the first C columns of rows ldz, lddz wide */
    int in_place;           /* the forward writes over y */
};

/* y in [-2, 2), z in [-4, 4) (silu's both sides), w in [0.5, 1.5), eps
 * 1e-5. The forward: the group's sum of squares in fp32 on the device (per
 * thread, then a tree), in double on the CPU, a relative error of a few
 * ulps that rstd halves; silu's expf a few ulps more, and two products:
 * rtol 1e-5, atol 1e-6 for outputs near zero (as check_rmsnorm_fwd). The
 * backward, dy and dz accumulated onto random values (an overwrite fails):
 * dv = r w dout - v k cancels, so its error is a few ulps of terms up to
 * ~|r w dout| ~ 2, times y silu' (< 2.2) for dz: atol 1e-5, rtol 1e-5 (as
 * check_rmsnorm_bwd). The whole dz buffer is compared: columns past C (the
 * rest of the in_proj gradient's row) must be untouched. */
static int gated_case(const struct gated_shape *s)
{
    int N = s->N, C = s->C, G = s->G;
    size_t n = (size_t)N * C, nz = (size_t)N * s->ldz, ndz = (size_t)N * s->lddz;
    float *y = rand_floats(n, -2, 2), *z = rand_floats(nz, -4, 4), *w = rand_floats(C, 0.5f, 1.5f);
    float *dout = rand_floats(n, -1, 1), *out = host_floats(n);
    float *dy0 = rand_floats(n, -1, 1), *dz0 = rand_floats(ndz, -1, 1);
    float *dy = copy_floats(dy0, n), *dz = copy_floats(dz0, ndz);
    ik_cpu_rmsnorm_gated_fwd(out, y, z, s->ldz, w, N, C, G, 1e-5f);
    ik_cpu_rmsnorm_gated_bwd(dy, dz, s->lddz, dout, y, z, s->ldz, w, N, C, G, 1e-5f);
    float *d_y = to_dev(y, n * 4), *d_z = to_dev(z, nz * 4), *d_w = to_dev(w, C * 4);
    float *d_do = to_dev(dout, n * 4), *d_dy = to_dev(dy0, n * 4), *d_dz = to_dev(dz0, ndz * 4);
    float *d_o;
    CK(ops->alloc((void **)&d_o, n * 4));
    CK(ops->rmsnorm_gated_bwd(d_dy, d_dz, s->lddz, d_do, d_y, d_z, s->ldz, d_w, N, C, G, 1e-5f));
    float *into = s->in_place ? d_y : d_o;
    CK(ops->rmsnorm_gated_fwd(into, d_y, d_z, s->ldz, d_w, N, C, G, 1e-5f));
    float *g_o = from_dev(into, n), *g_dy = from_dev(d_dy, n), *g_dz = from_dev(d_dz, ndz);
    char what[96];
    snprintf(what, sizeof what, "rmsnorm_gated_fwd N=%d C=%d G=%d ldz=%d%s", N, C, G, s->ldz,
             s->in_place ? " in place" : "");
    int fails = compare(what, g_o, out, n, 1e-6, 1e-5);
    fails += compare("rmsnorm_gated_bwd dy +=", g_dy, dy, n, 1e-5, 1e-5);
    snprintf(what, sizeof what, "rmsnorm_gated_bwd dz += lddz=%d", s->lddz);
    fails += compare(what, g_dz, dz, ndz, 1e-5, 1e-5);
    float *dev[] = {d_y, d_z, d_w, d_do, d_dy, d_dz, d_o};
    for (int i = 0; i < 7; i++)
        CK(ops->free(dev[i]));
    float *host[] = {y, z, w, dout, out, dy0, dz0, dy, dz, g_o, g_dy, g_dz};
    for (int i = 0; i < 12; i++)
        free(host[i]);
    return fails;
}

/* Groups of 50 channels in rows of a wider z and dz (dz's rows wider
 * still), 16 channels written over y, one group of 64, NemotronH's 1280
 * (5 channels a thread), more groups than the grid's blocks (the kernels
 * loop); then refused and empty shapes. */
int check_rmsnorm_gated(void)
{
    static const struct gated_shape shapes[] = {
        {37, 200, 4, 437, 440, 0}, {5, 192, 12, 192, 192, 1}, {7, 64, 1, 100, 100, 0},
        {3, 2560, 2, 2600, 2600, 0}, {8193, 128, 8, 128, 128, 0},
    };
    int fails = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        fails += gated_case(&shapes[i]);
    fails += refused("rmsnorm_gated_fwd(C % G != 0)",
                     ops->rmsnorm_gated_fwd(NULL, NULL, NULL, 10, NULL, 2, 10, 3, 1e-5f),
                     "rmsnorm_gated_fwd: N = 2, C = 10, G = 3, ldz = 10 (N, C >= 0, G >= 1 "
                     "dividing C, ldz >= C)");
    fails += refused("rmsnorm_gated_bwd(lddz < C)",
                     ops->rmsnorm_gated_bwd(NULL, NULL, 9, NULL, NULL, NULL, 10, NULL, 2, 10, 2,
                                            1e-5f),
                     "rmsnorm_gated_bwd: N = 2, C = 10, G = 2, lddz = 9");
    if (ops->rmsnorm_gated_fwd(NULL, NULL, NULL, 8, NULL, 0, 8, 2, 1e-5f) != 0 ||
        ops->rmsnorm_gated_bwd(NULL, NULL, 8, NULL, NULL, NULL, 8, NULL, 0, 8, 2, 1e-5f) != 0) {
        printf("  rmsnorm_gated of 0 rows failed: %s  FAIL\n", ops->last_error());
        fails++;
    }
    return fails;
}
