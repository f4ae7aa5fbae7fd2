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

/* SwiGLU of BF16 gate and up (the training step's storage). The forward's
 * fp32 values within check_swiglu_fwd's tolerances of the CPU's on the same
 * BF16 values, its BF16 copy (rows ld apart) the device's own fp32 values
 * rounded, bit for bit, with the columns past F untouched; the backward's
 * BF16 gradients the bits of ->swiglu_bwd_bf16 on the same values in fp32
 * (the same expressions; that one is checked against the CPU above). */
int check_swiglu_of_bf16(void)
{
    int N = 29, F = 1031, ld = F + 9;
    size_t n = (size_t)N * F, nb = (size_t)N * ld;
    float *g = rand_floats(n, -12, 12), *u = rand_floats(n, -3, 3), *d = rand_floats(n, -1, 1);
    for (size_t i = 0; i < n; i++)
        g[i] = bf16_round(g[i]), u[i] = bf16_round(u[i]);
    float *act = host_floats(n), *fill = host_floats(nb);
    ik_cpu_swiglu_fwd(act, g, u, N, F);
    for (size_t i = 0; i < nb; i++)
        fill[i] = 1.0f;
    float *d_g = to_dev(g, n * 4), *d_u = to_dev(u, n * 4), *d_d = to_dev(d, n * 4);
    float *d_fill = to_dev(fill, nb * 4), *d_act, *d_w;
    uint16_t *d_gb, *d_ub, *d_ab, *d_own, *gr[4];
    CK(ops->alloc((void **)&d_gb, n * 2));
    CK(ops->alloc((void **)&d_ub, n * 2));
    CK(ops->alloc((void **)&d_ab, nb * 2));
    CK(ops->alloc((void **)&d_own, nb * 2));
    CK(ops->alloc((void **)&d_act, n * 4));
    CK(ops->alloc((void **)&d_w, nb * 4));
    for (int i = 0; i < 4; i++)
        CK(ops->alloc((void **)&gr[i], n * 2));
    CK(ops->to_bf16(d_gb, d_g, n));
    CK(ops->to_bf16(d_ub, d_u, n));
    CK(ops->to_bf16(d_ab, d_fill, nb));
    CK(ops->to_bf16(d_own, d_fill, nb));
    CK(ops->swiglu_fwd_bf16(d_act, d_ab, ld, d_gb, d_ub, N, F));
    float *got = from_dev(d_act, n);
    int fails = compare("swiglu_fwd_bf16 act N=29 F=1031", got, act, n, 1e-7, 1e-5);
    CK(ops->to_bf16_2d(d_own, ld, d_act, F, N, F, F, 1.0f));
    CK(ops->from_bf16(d_w, d_ab, nb));
    float *wb = from_dev(d_w, nb);
    CK(ops->from_bf16(d_w, d_own, nb));
    float *wown = from_dev(d_w, nb);
    fails += compare_bits("  its BF16 rows (ld F + 9) = act rounded", wb, wown, nb);
    CK(ops->swiglu_bwd_bf16_in(gr[0], gr[1], d_d, d_gb, d_ub, N, F));
    CK(ops->swiglu_bwd_bf16(NULL, NULL, gr[2], gr[3], d_d, d_g, d_u, N, F));
    const char *what[2] = {"swiglu_bwd_bf16_in dgate = swiglu_bwd_bf16's", "swiglu_bwd_bf16_in dup = swiglu_bwd_bf16's"};
    for (int i = 0; i < 2; i++) {
        CK(ops->from_bf16(d_w, gr[i], n));
        float *a = from_dev(d_w, n);
        CK(ops->from_bf16(d_w, gr[i + 2], n));
        float *b = from_dev(d_w, n);
        fails += compare_bits(what[i], a, b, n);
        free(a), free(b);
    }
    void *devs[] = {d_g, d_u, d_d, d_fill, d_act, d_w, d_gb, d_ub, d_ab, d_own, gr[0], gr[1], gr[2], gr[3]};
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
        CK(ops->free(devs[i]));
    free(g), free(u), free(d), free(act), free(fill), free(got), free(wb), free(wown);
    return fails;
}
