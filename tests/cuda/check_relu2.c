/* tests/cuda/check_relu2.c - test_cuda_kernels' check of NemotronH's
 * squared ReLU, forward and backward (relu2.cu), against the CPU references
 * (kernels/kernels.h); returns the number of comparisons that failed. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

/* n values not a multiple of the block, half of them negative, with exact
 * zeros of both signs among them. The forward is one comparison and one
 * product, the backward a doubling (exact), a product and a sum, each
 * rounded once on both sides (relu2.cu keeps nvcc from fusing them): bits. */
int check_relu2(void)
{
    size_t n = 100003;
    float *x = rand_floats(n, -3, 3), *d = rand_floats(n, -1, 1), *dx0 = rand_floats(n, -1, 1);
    for (size_t i = 0; i < n; i += 1000)
        x[i] = i % 2000 ? -0.0f : 0.0f;
    float *out = host_floats(n), *dx = copy_floats(dx0, n);
    ik_cpu_relu2_fwd(out, x, n);
    ik_cpu_relu2_bwd(dx, d, x, n);
    float *d_x = to_dev(x, n * 4), *d_d = to_dev(d, n * 4), *d_dx = to_dev(dx0, n * 4), *d_o;
    CK(ops->alloc((void **)&d_o, n * 4));
    CK(ops->relu2_fwd(d_o, d_x, n));
    CK(ops->relu2_bwd(d_dx, d_d, d_x, n));
    float *g_o = from_dev(d_o, n), *g_dx = from_dev(d_dx, n);
    int fails = compare_bits("relu2_fwd n=100003", g_o, out, n);
    fails += compare_bits("relu2_bwd dx += n=100003", g_dx, dx, n);
    free(g_o);
    CK(ops->relu2_fwd(d_x, d_x, n)); /* in place, as the contract allows */
    g_o = from_dev(d_x, n);
    fails += compare_bits("relu2_fwd in place", g_o, out, n);
    if (ops->relu2_fwd(NULL, NULL, 0) != 0 || ops->relu2_bwd(NULL, NULL, NULL, 0) != 0) {
        printf("  relu2 of 0 values failed: %s  FAIL\n", ops->last_error());
        fails++;
    }
    float *dev[] = {d_x, d_d, d_dx, d_o};
    for (int i = 0; i < 4; i++)
        CK(ops->free(dev[i]));
    free(x), free(d), free(dx0), free(out), free(dx), free(g_o), free(g_dx);
    return fails;
}
