/* tests/cuda/check_rope.c - test_cuda_kernels' checks of RoPE forward and
 * backward (rope.cu) against the CPU references (kernels/kernels.h); each
 * returns the number of comparisons that failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

/* RoPE forward then backward (each against the CPU's), Qwen-like: 3 heads of
 * 64, theta 1e6, positions up to 131071. Both form the angle and its cosine
 * and sine in double and round each product on its own in the same order,
 * so only a last-bit difference between CUDA's and glibc's double cos/sin
 * surviving the cast to fp32 can differ: one ulp of values <= 2, hence atol
 * 1e-6, rtol 1e-6. */
int check_rope(void)
{
    int N = 19, nh = 3, hd = 64, half = hd / 2;
    size_t n = (size_t)N * nh * hd;
    int pos[19];
    float inv_freq[32];
    for (int i = 0; i < N; i++)
        pos[i] = i < 3 ? i : (int)ik_prng_below(&rng, 131072);
    for (int j = 0; j < half; j++)
        inv_freq[j] = (float)pow(1e6, -2.0 * j / hd);
    float *x = rand_floats(n, -1, 1), *cpu = copy_floats(x, n);
    ik_cpu_rope_fwd(cpu, pos, inv_freq, N, nh, hd);
    float *d_x = to_dev(x, n * 4), *d_f = to_dev(inv_freq, sizeof inv_freq);
    int *d_p = to_dev(pos, sizeof pos);
    CK(ops->rope_fwd(d_x, d_p, d_f, N, nh, hd));
    float *gx = from_dev(d_x, n);
    int fails = compare("rope_fwd N=19 nh=3 hd=64", gx, cpu, n, 1e-6, 1e-6);
    ik_cpu_rope_bwd(cpu, pos, inv_freq, N, nh, hd);
    CK(ops->rope_bwd(d_x, d_p, d_f, N, nh, hd));
    free(gx);
    gx = from_dev(d_x, n);
    fails += compare("rope_bwd (of the forward's output)", gx, cpu, n, 1e-6, 1e-6);
    CK(ops->free(d_x));
    CK(ops->free(d_f));
    CK(ops->free(d_p));
    free(x), free(cpu), free(gx);
    return fails;
}
