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

/* Qwen3's fused q/k norm and RoPE (with hd 128, and hd 64 without RoPE):
 * the forward bit for bit against the module's ->rmsnorm_fwd then
 * ->rope_fwd, which it promises, and within check_rmsnorm_fwd's tolerances
 * plus the rotation's ulp (atol 2e-6, rtol 2e-5) of the CPU's; the backward
 * (in place) against the CPU's ->rope_bwd then ->rmsnorm_bwd onto zeros
 * within check_rmsnorm_bwd's dx tolerances (1e-5, 1e-5). */
int check_qk_norm_rope(void)
{
    int fails = 0;
    for (int k = 0; k < 2; k++) {
        int N = 19, nh = k ? 2 : 4, hd = k ? 64 : 128, rows = N * nh, use_rope = k == 0;
        size_t n = (size_t)rows * hd;
        int pos[19];
        float inv_freq[64];
        for (int i = 0; i < N; i++)
            pos[i] = i < 3 ? i : (int)ik_prng_below(&rng, 40960);
        for (int j = 0; j < hd / 2; j++)
            inv_freq[j] = (float)pow(1e6, -2.0 * j / hd);
        float *x = rand_floats(n, -2, 2), *w = rand_floats(hd, 0.5f, 1.5f);
        float *dout = rand_floats(n, -1, 1), *out = host_floats(n), *rstd = host_floats(rows);
        ik_cpu_rmsnorm_fwd(out, rstd, x, w, rows, hd, 1e-6f);
        float *d = copy_floats(dout, n), *dx = host_floats(n);
        if (use_rope) {
            ik_cpu_rope_fwd(out, pos, inv_freq, N, nh, hd);
            ik_cpu_rope_bwd(d, pos, inv_freq, N, nh, hd);
        }
        memset(dx, 0, n * 4);
        ik_cpu_rmsnorm_bwd(dx, NULL, d, x, rstd, w, rows, hd);
        float *d_x = to_dev(x, n * 4), *d_w = to_dev(w, hd * 4), *d_f = to_dev(inv_freq, sizeof inv_freq);
        float *d_o, *d_o2, *d_r, *d_r2, *d_d = to_dev(dout, n * 4);
        int *d_p = to_dev(pos, sizeof pos);
        const float *f = use_rope ? d_f : NULL;
        CK(ops->alloc((void **)&d_o, n * 4));
        CK(ops->alloc((void **)&d_o2, n * 4));
        CK(ops->alloc((void **)&d_r, rows * 4));
        CK(ops->alloc((void **)&d_r2, rows * 4));
        CK(ops->qk_norm_rope_fwd(d_o, d_r, d_x, d_w, d_p, f, N, nh, hd, 1e-6f));
        CK(ops->rmsnorm_fwd(d_o2, d_r2, d_x, d_w, rows, hd, 1e-6f));
        if (use_rope)
            CK(ops->rope_fwd(d_o2, d_p, d_f, N, nh, hd));
        float *go = from_dev(d_o, n), *go2 = from_dev(d_o2, n), *gr = from_dev(d_r, rows);
        char what[80];
        snprintf(what, sizeof what, "qk_norm_rope_fwd N=%d nh=%d hd=%d%s", N, nh, hd,
                 use_rope ? "" : " (no RoPE)");
        fails += compare(what, go, out, n, 2e-6, 2e-5);
        fails += compare_bits("  = rmsnorm_fwd then rope_fwd", go, go2, n);
        fails += compare("  rstd", gr, rstd, rows, 0, 1e-5);
        /* The backward from the CPU's rstd, so only its own rounding differs. */
        CK(ops->memcpy_htod(d_r, rstd, rows * 4));
        CK(ops->qk_norm_rope_bwd(d_d, d_d, d_x, d_r, d_w, d_p, f, N, nh, hd));
        float *gd = from_dev(d_d, n);
        fails += compare("qk_norm_rope_bwd dx (in place)", gd, dx, n, 1e-5, 1e-5);
        void *devs[] = {d_x, d_w, d_f, d_o, d_o2, d_r, d_r2, d_d, d_p};
        for (int i = 0; i < 9; i++)
            CK(ops->free(devs[i]));
        free(x), free(w), free(dout), free(out), free(rstd), free(d), free(dx), free(go), free(go2);
        free(gr), free(gd);
    }
    return fails;
}
