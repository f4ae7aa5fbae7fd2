/* tests/cuda/check_swiglu.c - test_cuda_kernels' checks of SwiGLU forward
 * and backward (swiglu.cu) against the CPU references
 * (kernels/kernels.h); each returns the number of comparisons that
 * failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

/* SwiGLU forward on N*F values not a multiple of the block, gates in [-12, 12)
 * (the sigmoid saturated both ways). CUDA's expf (<= 2 ulps) against the
 * CPU's polynomial exp (~1 ulp), then a division and a product: a few ulps,
 * hence rtol 1e-5; atol 1e-7 for silu(g) near zero at very negative g. */
int check_swiglu_fwd(void)
{
    int N = 33, F = 4867;
    size_t n = (size_t)N * F;
    float *g = rand_floats(n, -12, 12), *u = rand_floats(n, -3, 3), *out = host_floats(n);
    ik_cpu_swiglu_fwd(out, g, u, N, F);
    float *dg = to_dev(g, n * 4), *du = to_dev(u, n * 4), *dout;
    CK(ops->alloc((void **)&dout, n * 4));
    CK(ops->swiglu_fwd(dout, dg, du, N, F));
    float *gout = from_dev(dout, n);
    int fails = compare("swiglu_fwd N=33 F=4867", gout, out, n, 1e-7, 1e-5);
    /* In place (out = gate), as the contract allows. */
    CK(ops->swiglu_fwd(dg, dg, du, N, F));
    free(gout);
    gout = from_dev(dg, n);
    fails += compare("swiglu_fwd in place", gout, out, n, 1e-7, 1e-5);
    CK(ops->free(dg));
    CK(ops->free(du));
    CK(ops->free(dout));
    free(g), free(u), free(out), free(gout);
    return fails;
}

/* SwiGLU backward, accumulated onto random gradients. Each new term is a
 * product of up to five factors (|d u| <= 3, the derivative of silu <= 1.1,
 * so terms up to ~4) added to a value ~1: a few ulps of ~4, hence atol 1e-5,
 * rtol 1e-5 (nvcc may fuse the final multiply-add, the CPU does not). */
int check_swiglu_bwd(void)
{
    int N = 29, F = 1031;
    size_t n = (size_t)N * F;
    float *g = rand_floats(n, -12, 12), *u = rand_floats(n, -3, 3), *d = rand_floats(n, -1, 1);
    float *dg0 = rand_floats(n, -1, 1), *du0 = rand_floats(n, -1, 1);
    float *dgc = copy_floats(dg0, n), *duc = copy_floats(du0, n);
    ik_cpu_swiglu_bwd(dgc, duc, d, g, u, N, F);
    float *d_g = to_dev(g, n * 4), *d_u = to_dev(u, n * 4), *d_d = to_dev(d, n * 4);
    float *d_dg = to_dev(dg0, n * 4), *d_du = to_dev(du0, n * 4);
    CK(ops->swiglu_bwd(d_dg, d_du, d_d, d_g, d_u, N, F));
    float *gdg = from_dev(d_dg, n), *gdu = from_dev(d_du, n);
    int fails = compare("swiglu_bwd dgate += N=29 F=1031", gdg, dgc, n, 1e-5, 1e-5);
    fails += compare("swiglu_bwd dup +=", gdu, duc, n, 1e-5, 1e-5);
    float *devs[] = {d_g, d_u, d_d, d_dg, d_du};
    for (int i = 0; i < 5; i++)
        CK(ops->free(devs[i]));
    free(g), free(u), free(d), free(dg0), free(du0), free(dgc), free(duc), free(gdg), free(gdu);
    return fails;
}

/* The training step's SwiGLU backward: its fp32 gradients within
 * check_swiglu_bwd's tolerances of the CPU's (onto zeros here), and the
 * same values as the module's ->swiglu_bwd onto zeros then ->to_bf16 of
 * them, which it promises (compared as values, atol 0: a -0 would equal
 * +0); then with only the BF16 copies asked for (the fp32 ones NULL). */
int check_swiglu_bwd_bf16(void)
{
    int N = 29, F = 1031;
    size_t n = (size_t)N * F;
    float *g = rand_floats(n, -12, 12), *u = rand_floats(n, -3, 3), *d = rand_floats(n, -1, 1);
    float *dgc = host_floats(n), *duc = host_floats(n);
    memset(dgc, 0, n * 4);
    memset(duc, 0, n * 4);
    ik_cpu_swiglu_bwd(dgc, duc, d, g, u, N, F);
    float *d_g = to_dev(g, n * 4), *d_u = to_dev(u, n * 4), *d_d = to_dev(d, n * 4);
    float *d_dg, *d_du, *d_dg2, *d_du2;
    uint16_t *d_gb, *d_ub, *d_gb2, *d_ub2;
    float **f32[] = {&d_dg, &d_du, &d_dg2, &d_du2};
    uint16_t **b16[] = {&d_gb, &d_ub, &d_gb2, &d_ub2};
    for (int i = 0; i < 4; i++) {
        CK(ops->alloc((void **)f32[i], n * 4));
        CK(ops->alloc((void **)b16[i], n * 2));
    }
    CK(ops->swiglu_bwd_bf16(d_dg, d_du, d_gb, d_ub, d_d, d_g, d_u, N, F));
    CK(ops->memset(d_dg2, 0, n * 4));
    CK(ops->memset(d_du2, 0, n * 4));
    CK(ops->swiglu_bwd(d_dg2, d_du2, d_d, d_g, d_u, N, F));
    CK(ops->to_bf16(d_gb2, d_dg2, n));
    CK(ops->to_bf16(d_ub2, d_du2, n));
    float *gdg = from_dev(d_dg, n), *gdu = from_dev(d_du, n), *gdg2 = from_dev(d_dg2, n);
    float *gdu2 = from_dev(d_du2, n);
    int fails = compare("swiglu_bwd_bf16 dgate N=29 F=1031", gdg, dgc, n, 1e-5, 1e-5);
    fails += compare("swiglu_bwd_bf16 dup", gdu, duc, n, 1e-5, 1e-5);
    fails += compare("  dgate = swiglu_bwd's onto zeros", gdg, gdg2, n, 0, 0);
    fails += compare("  dup = swiglu_bwd's onto zeros", gdu, gdu2, n, 0, 0);
    /* The BF16 copies, widened (exact), against to_bf16 of the module's own. */
    CK(ops->memset(d_gb, 0, n * 2));
    CK(ops->memset(d_ub, 0, n * 2));
    CK(ops->swiglu_bwd_bf16(NULL, NULL, d_gb, d_ub, d_d, d_g, d_u, N, F));
    CK(ops->from_bf16(d_dg, d_gb, n));
    CK(ops->from_bf16(d_du, d_ub, n));
    CK(ops->from_bf16(d_dg2, d_gb2, n));
    CK(ops->from_bf16(d_du2, d_ub2, n));
    float *w[4];
    float *srcs[] = {d_dg, d_du, d_dg2, d_du2};
    for (int i = 0; i < 4; i++)
        w[i] = from_dev(srcs[i], n);
    fails += compare("  BF16 dgate (fp32 NULL) = to_bf16's", w[0], w[2], n, 0, 0);
    fails += compare("  BF16 dup (fp32 NULL) = to_bf16's", w[1], w[3], n, 0, 0);
    float *devs[] = {d_g, d_u, d_d};
    for (int i = 0; i < 3; i++)
        CK(ops->free(devs[i]));
    for (int i = 0; i < 4; i++) {
        CK(ops->free(*f32[i]));
        CK(ops->free(*b16[i]));
        free(w[i]);
    }
    free(g), free(u), free(d), free(dgc), free(duc), free(gdg), free(gdu), free(gdg2), free(gdu2);
    return fails;
}
