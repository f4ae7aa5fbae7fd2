/* tests/cuda/check_gemm.c - test_cuda_kernels' checks of cuBLASLt GEMMs
 * and the BF16 conversions (gemm.cu) against the CPU references
 * (kernels/kernels.h); each returns the number of comparisons that
 * failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/ref_gemm.h"
#include "tests/cuda/kernel_check.h"

/* One GEMM of ->gemm against ref_gemm: A and B fp32, TF32 (fp32 the
 * tensor cores round; the reference reads them rounded so) or BF16
 * (converted on the device by ->to_bf16, the reference reading the same
 * rounded values), C fp32 (beta 1: the accumulation the backward uses) or
 * BF16 (beta 0). */
static int gemm_case_at(int ta, int tb, int M, int N, int K, int ab_type, int c_type, int off);

static int gemm_case(int ta, int tb, int M, int N, int K, int ab_type, int c_type)
{
    return gemm_case_at(ta, tb, M, N, K, ab_type, c_type, 0);
}

/* As gemm_case with fp32 A, B and C starting off floats into their buffers
 * (a LoRA tensor inside the adapter's one array is aligned to 4 bytes only,
 * and the backward accumulates into its dA and dB: C). */
static int gemm_case_at(int ta, int tb, int M, int N, int K, int ab_type, int c_type, int off)
{
    int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *a = rand_floats(na, -1, 1), *b = rand_floats(nb, -1, 1), *c = rand_floats(nc, -1, 1);
    float beta = c_type == IK_CUDA_F32 ? 1.0f : 0.0f, alpha = 0.5f;
    float *d_a0, *d_b0, *d_c0;
    CK(ops->alloc((void **)&d_a0, (na + (size_t)off) * 4));
    CK(ops->alloc((void **)&d_b0, (nb + (size_t)off) * 4));
    CK(ops->alloc((void **)&d_c0, (nc + (size_t)off) * 4));
    float *d_a = d_a0 + off, *d_b = d_b0 + off, *d_c = d_c0 + off;
    CK(ops->memcpy_htod(d_a, a, na * 4));
    CK(ops->memcpy_htod(d_b, b, nb * 4));
    CK(ops->memcpy_htod(d_c, c, nc * 4));
    void *ga = d_a, *gb = d_b, *gc = d_c;
    uint16_t *h_a = NULL, *h_b = NULL, *h_c = NULL;
    if (ab_type == IK_CUDA_BF16) {
        CK(ops->alloc((void **)&h_a, na * 2));
        CK(ops->alloc((void **)&h_b, nb * 2));
        CK(ops->to_bf16(h_a, d_a, na));
        CK(ops->to_bf16(h_b, d_b, nb));
        ga = h_a, gb = h_b;
        for (size_t i = 0; i < na; i++)
            a[i] = bf16_round(a[i]);
        for (size_t i = 0; i < nb; i++)
            b[i] = bf16_round(b[i]);
    }
    if (ab_type == IK_CUDA_TF32) {
        for (size_t i = 0; i < na; i++)
            a[i] = ref_tf32_round(a[i]);
        for (size_t i = 0; i < nb; i++)
            b[i] = ref_tf32_round(b[i]);
    }
    if (c_type == IK_CUDA_BF16) {
        CK(ops->alloc((void **)&h_c, nc * 2));
        gc = h_c;
    }
    CK(ops->gemm(ta, tb, M, N, K, alpha, ga, lda, gb, ldb, beta, gc, ldc, ab_type, c_type));
    if (c_type == IK_CUDA_BF16)
        CK(ops->from_bf16(d_c, h_c, nc));
    float *got = from_dev(d_c, nc);
    ref_gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    char what[96];
    snprintf(what, sizeof what, "gemm %s%s %dx%dx%d %s->%s%s", ta ? "T" : "N", tb ? "T" : "N", M, N, K,
             ab_type == IK_CUDA_BF16 ? "bf16" : ab_type == IK_CUDA_TF32 ? "tf32" : "f32",
             c_type == IK_CUDA_BF16 ? "bf16" : "f32",
             off ? " (4-byte aligned)" : "");
    /* fp32 products of terms under 1 summed over K: the error grows like
     * sqrt(K) ulps of the sum, under 1e-4 absolute at K = 896; a BF16 C adds
     * its own rounding: half a BF16 ulp, up to 2^-8 relative at the bottom
     * of a binade (the CPU stand-in reached 0.97 of that), and a whole ulp
     * (2^-7) where the device's accumulation order moves a value across a
     * rounding midpoint: rtol 8e-3. */
    /* TF32: the reference's inputs are rounded to nearest, ties to even;
     * where the library breaks an exact tie the other way (about one input
     * in 8192) a product moves by up to 2^-10 of it: 1e-3 absolute, against
     * errors around 1e-2 had the products been fp32 (or the inputs not
     * rounded). */
    int fails = c_type == IK_CUDA_BF16   ? compare(what, got, c, nc, 1e-4, 8e-3)
                : ab_type == IK_CUDA_TF32 ? compare(what, got, c, nc, 1e-3, 0)
                                          : compare(what, got, c, nc, 1e-4, 1e-5);
    CK(ops->free(d_a0));
    CK(ops->free(d_b0));
    CK(ops->free(d_c0));
    CK(ops->free(h_a));
    CK(ops->free(h_b));
    CK(ops->free(h_c));
    free(a), free(b), free(c), free(got);
    return fails;
}

/* ->to_bf16_2d: rows of cols values (ld_x apart) scaled and rounded into
 * rows ld_out apart, zeros up to out_cols, the rest of each row untouched
 * (it keeps the fill below), bit for bit against the host's rounding. */
static int to_bf16_2d_case(int rows, int cols, int out_cols, int ld, float scale)
{
    int ld_x = cols + 3;
    size_t nx = (size_t)rows * ld_x, no = (size_t)rows * ld;
    float *x = rand_floats(nx, -100, 100), *want = host_floats(no);
    uint16_t *h = malloc(no * 2);
    for (size_t i = 0; i < no; i++)
        h[i] = 0x3f80; /* 1.0 */
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < ld; c++)
            want[(size_t)r * ld + c] = c < cols       ? bf16_round(scale * x[(size_t)r * ld_x + c])
                                       : c < out_cols ? 0.0f
                                                      : 1.0f;
    float *d_x = to_dev(x, nx * 4), *d_w;
    uint16_t *d_h = to_dev(h, no * 2);
    CK(ops->to_bf16_2d(d_h, ld, d_x, ld_x, rows, cols, out_cols, scale));
    CK(ops->alloc((void **)&d_w, no * 4));
    CK(ops->from_bf16(d_w, d_h, no));
    float *got = from_dev(d_w, no);
    char what[96];
    snprintf(what, sizeof what, "to_bf16_2d %dx%d into %d of ld %d, scale %g", rows, cols, out_cols, ld,
             (double)scale);
    int fails = compare_bits(what, got, want, no);
    CK(ops->free(d_x));
    CK(ops->free(d_h));
    CK(ops->free(d_w));
    free(x), free(want), free(got), free(h);
    return fails;
}

/* ->gemm in the four transpose cases the training step uses (x W^T forward,
 * dout W backward, dout^T x for LoRA's weight gradients), at Qwen2.5-0.5B's
 * widths with a row count that is not a multiple of 8; BF16 inputs with fp32
 * and BF16 outputs; TF32 products at the LoRA branch's shapes; K = 0 (C = beta C: kept with beta 1, zeros with beta 0
 * over whatever the BF16 C held); and ->to_bf16 / ->from_bf16 and
 * ->to_bf16_2d against the host's rounding, bit for bit. */
int check_gemm(void)
{
    int fails = gemm_case(0, 1, 37, 896, 896, IK_CUDA_F32, IK_CUDA_F32);
    fails += gemm_case(0, 0, 37, 896, 128, IK_CUDA_F32, IK_CUDA_F32);
    fails += gemm_case(1, 0, 16, 896, 37, IK_CUDA_F32, IK_CUDA_F32);
    fails += gemm_case(1, 1, 24, 40, 56, IK_CUDA_F32, IK_CUDA_F32);
    fails += gemm_case_at(0, 1, 37, 16, 896, IK_CUDA_F32, IK_CUDA_F32, 1);
    fails += gemm_case_at(1, 0, 16, 896, 37, IK_CUDA_F32, IK_CUDA_F32, 3);
    fails += gemm_case(0, 1, 37, 4864, 896, IK_CUDA_BF16, IK_CUDA_F32);
    fails += gemm_case(0, 0, 64, 896, 4864, IK_CUDA_BF16, IK_CUDA_BF16);
    fails += gemm_case_at(0, 1, 37, 16, 0, IK_CUDA_F32, IK_CUDA_F32, 1);
    fails += gemm_case(1, 0, 5, 7, 0, IK_CUDA_BF16, IK_CUDA_BF16);
    /* The LoRA branch's TF32 products: h = x A^T, dA += dh^T x, dx += dh A,
     * A and dA inside the adapter's array (4-byte aligned). */
    fails += gemm_case_at(0, 1, 37, 16, 896, IK_CUDA_TF32, IK_CUDA_F32, 1);
    fails += gemm_case_at(1, 0, 16, 896, 37, IK_CUDA_TF32, IK_CUDA_F32, 3);
    fails += gemm_case(0, 0, 37, 896, 16, IK_CUDA_TF32, IK_CUDA_F32);
    size_t n = 100003;
    float *x = rand_floats(n, -1000, 1000), *want = host_floats(n);
    for (size_t i = 0; i < n; i++)
        want[i] = bf16_round(x[i]);
    float *d_x = to_dev(x, n * 4);
    uint16_t *d_h;
    CK(ops->alloc((void **)&d_h, n * 2));
    CK(ops->to_bf16(d_h, d_x, n));
    CK(ops->from_bf16(d_x, d_h, n));
    float *got = from_dev(d_x, n);
    fails += compare_bits("to_bf16 then from_bf16", got, want, n);
    CK(ops->free(d_x));
    CK(ops->free(d_h));
    free(x), free(want), free(got);
    return fails + to_bf16_2d_case(37, 896, 913, 920, 0.25f) + to_bf16_2d_case(5, 16, 24, 1000, 1.0f);
}
