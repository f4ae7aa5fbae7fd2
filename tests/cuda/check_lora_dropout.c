/* tests/cuda/check_lora_dropout.c - test_cuda_kernels' checks of the LoRA
 * branch's products through its dropout (lora_dropout.cu) against the CPU's
 * dropout and a double-precision GEMM; each returns the number of
 * comparisons that failed. */
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

/* Qwen2.5-0.5B's width with rank 16 (In not a multiple of the blocks), a
 * rank of 20 (a second, partial chunk of ranks) over 300 tokens (dA's
 * chunks, the last partial), and a high p; refused arguments. */
int check_lora_dropout(void)
{
    int fails = lora_case(37, 896, 16, 0.05f, 0x1234567890abcdefull) +
                lora_case(300, 130, 20, 0.5f, 77);
    if (ops->lora_down_dropout(NULL, NULL, NULL, 4, 8, 0, 0.1f, 1) != -1 ||
        strstr(ops->last_error(), "lora_down_dropout: T 4, In 8, r 0, p 0.1") == NULL) {
        printf("  lora_down_dropout(r 0): error \"%s\"  FAIL\n", ops->last_error());
        fails++;
    }
    return fails;
}
