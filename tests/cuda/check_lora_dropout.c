/* tests/cuda/check_lora_dropout.c - test_cuda_kernels' checks of the LoRA
 * branch's products through its dropout (lora_dropout.cu) against the CPU's
 * dropout and a double-precision GEMM, and of the down projection's
 * backward fused with SwiGLU's; each returns the number of comparisons
 * that failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/ref_gemm.h"
#include "tests/cuda/kernel_check.h"

/* One shape: h = dropout(x) A^T, dA += dh^T dropout(x) onto random values,
 * dx += dropout's gradient of dh A onto random values. The device sums in
 * fp32 in its own fixed order (over In for h, over T in chunks for dA, over
 * r for dx) against sums in double rounded once: a few ulps of sums of
 * terms under 1, up to ~10 for dA over 300 tokens: 1e-4 absolute and
 * relative. A wrong mask (another key, another element's draw) moves about
 * p of the terms by their whole size. */
static int lora_case(int T, int In, int r, float p, uint64_t key)
{
    size_t nx = (size_t)T * In, na = (size_t)r * In, nh = (size_t)T * r;
    float *x = rand_floats(nx, -1, 1), *A = rand_floats(na, -1, 1), *dh = rand_floats(nh, -1, 1);
    float *dA = rand_floats(na, -1, 1), *dx = rand_floats(nx, -1, 1);
    float *xd = host_floats(nx), *h = host_floats(nh), *g = host_floats(nx);
    float *wdA = copy_floats(dA, na), *wdx = copy_floats(dx, nx);
    ik_cpu_dropout(xd, x, nx, p, key);
    ref_gemm(0, 1, T, r, In, 1.0f, xd, In, A, In, 0.0f, h, r);
    ref_gemm(1, 0, r, In, T, 1.0f, dh, r, xd, In, 1.0f, wdA, In);
    ref_gemm(0, 0, T, In, r, 1.0f, dh, r, A, In, 0.0f, g, In);
    ik_cpu_dropout(g, g, nx, p, key);
    for (size_t i = 0; i < nx; i++)
        wdx[i] += g[i];

    float *d_x = to_dev(x, nx * 4), *d_A = to_dev(A, na * 4), *d_dh = to_dev(dh, nh * 4);
    float *d_dA = to_dev(dA, na * 4), *d_dx = to_dev(dx, nx * 4), *d_h;
    void *d_s;
    CK(ops->alloc((void **)&d_h, nh * 4));
    CK(ops->alloc(&d_s, ops->lora_dA_dropout_scratch(T, In, r)));
    CK(ops->lora_down_dropout(d_h, d_x, d_A, T, In, r, p, key));
    CK(ops->lora_dA_dropout(d_dA, d_dh, d_x, T, In, r, p, key, d_s));
    CK(ops->lora_dx_dropout(d_dx, d_dh, d_A, T, In, r, p, key));
    float *gh = from_dev(d_h, nh), *gdA = from_dev(d_dA, na), *gdx = from_dev(d_dx, nx);
    char what[96];
    snprintf(what, sizeof what, "lora_down_dropout T %d In %d r %d", T, In, r);
    int fails = compare(what, gh, h, nh, 1e-4, 1e-4);
    fails += compare("  lora_dA_dropout (+=)", gdA, wdA, na, 1e-4, 1e-4);
    fails += compare("  lora_dx_dropout (+=)", gdx, wdx, nx, 1e-4, 1e-4);
    float *dev[] = {d_x, d_A, d_dh, d_dA, d_dx, d_h};
    for (int i = 0; i < 6; i++)
        CK(ops->free(dev[i]));
    CK(ops->free(d_s));
    float *host[] = {x, A, dh, dA, dx, xd, h, g, wdA, wdx, gh, gdA, gdx};
    for (int i = 0; i < 13; i++)
        free(host[i]);
    return fails;
}

/* The down projection's fused backward (->lora_down_swiglu_bwd): with
 * dropout, the bits of ->lora_dx_dropout into a copy of dout then
 * ->swiglu_bwd_bf16_in; without, against dout + dh A in double and the
 * CPU's SwiGLU backward, both sides' gradients rounded to BF16 (a BF16 ulp
 * apart at most where the sums round across a midpoint: 8e-3 relative). */
static int down_swiglu_case(int T, int F, int r)
{
    size_t n = (size_t)T * F, na = (size_t)r * F, nh = (size_t)T * r;
    float *g = rand_floats(n, -6, 6), *u = rand_floats(n, -3, 3), *dout = rand_floats(n, -1, 1);
    float *A = rand_floats(na, -1, 1), *dh = rand_floats(nh, -1, 1);
    for (size_t i = 0; i < n; i++)
        g[i] = bf16_round(g[i]), u[i] = bf16_round(u[i]);
    float *d_g = to_dev(g, n * 4), *d_u = to_dev(u, n * 4), *d_do = to_dev(dout, n * 4);
    float *d_A = to_dev(A, na * 4), *d_dh = to_dev(dh, nh * 4), *d_sum = to_dev(dout, n * 4), *d_w;
    uint16_t *gb, *ub, *o[4];
    CK(ops->alloc((void **)&gb, n * 2));
    CK(ops->alloc((void **)&ub, n * 2));
    CK(ops->alloc((void **)&d_w, n * 4));
    for (int i = 0; i < 4; i++)
        CK(ops->alloc((void **)&o[i], n * 2));
    CK(ops->to_bf16(gb, d_g, n));
    CK(ops->to_bf16(ub, d_u, n));
    /* With dropout: fused against the two entries apart, bit for bit. */
    CK(ops->lora_down_swiglu_bwd(o[0], o[1], d_do, gb, ub, T, F, d_dh, d_A, r, 0.1f, 99));
    CK(ops->lora_dx_dropout(d_sum, d_dh, d_A, T, F, r, 0.1f, 99));
    CK(ops->swiglu_bwd_bf16_in(o[2], o[3], d_sum, gb, ub, T, F));
    int fails = 0;
    float *w[4];
    for (int i = 0; i < 4; i++) {
        CK(ops->from_bf16(d_w, o[i], n));
        w[i] = from_dev(d_w, n);
    }
    char what[96];
    snprintf(what, sizeof what, "lora_down_swiglu_bwd T %d F %d r %d p 0.1 dgate", T, F, r);
    fails += compare_bits(what, w[0], w[2], n);
    fails += compare_bits("  dup = lora_dx_dropout then swiglu_bwd_bf16_in", w[1], w[3], n);
    /* Without dropout: against the host. */
    CK(ops->lora_down_swiglu_bwd(o[0], o[1], d_do, gb, ub, T, F, d_dh, d_A, r, 0.0f, 0));
    float *sum = copy_floats(dout, n), *rg = host_floats(n), *ru = host_floats(n);
    ref_gemm(0, 0, T, F, r, 1.0f, dh, r, A, F, 1.0f, sum, F);
    memset(rg, 0, n * 4);
    memset(ru, 0, n * 4);
    ik_cpu_swiglu_bwd(rg, ru, sum, g, u, T, F);
    for (size_t i = 0; i < n; i++)
        rg[i] = bf16_round(rg[i]), ru[i] = bf16_round(ru[i]);
    float *h[2];
    for (int i = 0; i < 2; i++) {
        CK(ops->from_bf16(d_w, o[i], n));
        h[i] = from_dev(d_w, n);
    }
    fails += compare("  p 0: dgate against the host", h[0], rg, n, 1e-5, 8e-3);
    fails += compare("  p 0: dup against the host", h[1], ru, n, 1e-5, 8e-3);
    void *dev[] = {d_g, d_u, d_do, d_A, d_dh, d_sum, d_w, gb, ub, o[0], o[1], o[2], o[3]};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        CK(ops->free(dev[i]));
    float *host[] = {g, u, dout, A, dh, sum, rg, ru, w[0], w[1], w[2], w[3], h[0], h[1]};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
        free(host[i]);
    return fails;
}

/* Qwen2.5-0.5B's width with rank 16 (In not a multiple of the blocks), a
 * rank of 20 (a second, partial chunk of ranks) over 300 tokens (dA's
 * chunks, the last partial), and a high p; the down projection's fused
 * backward, cached and uncached ranks; refused arguments. */
int check_lora_dropout(void)
{
    int fails = lora_case(37, 896, 16, 0.05f, 0x1234567890abcdefull) +
                lora_case(300, 130, 20, 0.5f, 77) + down_swiglu_case(37, 1031, 16) +
                down_swiglu_case(21, 300, 20);
    if (ops->lora_down_dropout(NULL, NULL, NULL, 4, 8, 0, 0.1f, 1) != -1 ||
        strstr(ops->last_error(), "lora_down_dropout: T 4, In 8, r 0, p 0.1") == NULL) {
        printf("  lora_down_dropout(r 0): error \"%s\"  FAIL\n", ops->last_error());
        fails++;
    }
    return fails;
}
