/* tests/cuda/test_cuda_kernels.c - every kernel of the CUDA module
 * (kernels/cuda/cuda_ops.h) against its CPU reference (kernels/kernels.h) on
 * the same random inputs.
 *
 * The module is dlopen()ed from IK_CUDA_MODULE_PATH (the build folder's
 * kernels/cuda/libikada-cuda.so), or from $IKADA_CUDA_MODULE; this program
 * links no CUDA library. First the checks that need no device (the ABI
 * handshake, a refused argument's text, and, where there is no device, the
 * text of a failed CUDA call). Then, with no device, it prints one line
 * saying why and how many kernel checks it skips and exits 77 (automake's
 * SKIP), or 1 under IKADA_REQUIRE_GPU=1 (`make check-cuda`); with one, each
 * check prints its largest error and passes when, for every element,
 * |gpu - cpu| <= atol + rtol * |cpu| (llm.c's validate_result form). The
 * tolerance of each check, and why, is in its entry of the table `checks`.
 * Exit status: 0 all passed, 1 a failure, 77 skipped. */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/prng.h"
#include "kernels/cuda/cuda_ops.h"
#include "tests/cuda/ref_gemm.h"
#include "kernels/kernels.h"
#include "lm/safetensors.h"

#ifndef IK_CUDA_MODULE_PATH
#error "IK_CUDA_MODULE_PATH: the build defines it (tests/cuda/Makefile.inc)"
#endif

static const struct ik_cuda_ops *ops;
static struct ik_prng rng;

/* ---- helpers: host data, device copies, comparison ---- */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "test_cuda_kernels: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* A failed module call ends the program: it names the call and the kernel. */
#define CK(call)                                                                    \
    do {                                                                            \
        if ((call) != 0)                                                            \
            die("%s:%d: %s failed: %s", __FILE__, __LINE__, #call, ops->last_error()); \
    } while (0)

static float *host_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (p == NULL)
        die("out of memory (%zu floats)", n);
    return p;
}

/* n uniform values in [lo, hi). */
static float *rand_floats(size_t n, float lo, float hi)
{
    float *p = host_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * (float)ik_prng_double(&rng);
    return p;
}

static float *copy_floats(const float *src, size_t n)
{
    float *p = host_floats(n);
    memcpy(p, src, n * sizeof *p);
    return p;
}

static void *to_dev(const void *src, size_t bytes)
{
    void *d;
    CK(ops->alloc(&d, bytes));
    CK(ops->memcpy_htod(d, src, bytes));
    return d;
}

static float *from_dev(const void *d, size_t n)
{
    float *p = host_floats(n);
    CK(ops->memcpy_dtoh(p, d, n * sizeof *p));
    return p;
}

/* Compares gpu to cpu elementwise; prints one line; 0 when within tolerance. */
static int compare(const char *what, const float *gpu, const float *cpu, size_t n, double atol,
                   double rtol)
{
    double max_abs = 0, worst = 0;
    size_t at = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = gpu[i], c = cpu[i], d = fabs(g - c), r;
        if (isnan(g) || isnan(c)) {
            r = isnan(g) && isnan(c) ? 0 : INFINITY;
            d = 0;
        } else
            r = d == 0 ? 0 : d / (atol + rtol * fabs(c));
        if (d > max_abs)
            max_abs = d;
        if (r > worst) {
            worst = r;
            at = i;
        }
        if (!(r <= 1.0))
            bad++;
    }
    printf("  %-34s %9zu values: max |gpu-cpu| %.3g, worst err/tol %.3g at [%zu] (atol %.1g, rtol %.1g)%s\n",
           what, n, max_abs, worst, at, atol, rtol, bad ? "  FAIL" : "");
    if (bad)
        printf("    %zu values out of tolerance; at [%zu]: gpu %.9g, cpu %.9g\n", bad, at,
               (double)gpu[at], (double)cpu[at]);
    return bad != 0;
}

/* Bit-for-bit equality; prints one line; 0 when equal. */
static int compare_bits(const char *what, const float *gpu, const float *cpu, size_t n)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&gpu[i], &cpu[i], sizeof(float)) != 0 && bad++ == 0)
            first = i;
    printf("  %-34s %9zu values: %zu differ in their bits (tolerance: none)%s\n", what, n, bad,
           bad ? "  FAIL" : "");
    if (bad)
        printf("    first at [%zu]: gpu %.9g, cpu %.9g\n", first, (double)gpu[first],
               (double)cpu[first]);
    return bad != 0;
}

/* ---- the checks: each returns the number of comparisons that failed ---- */

/* RMSNorm forward, out-of-place with rstd (a Qwen2.5 width, rows not a
 * multiple of anything) and in place without (a head-norm width). The GPU
 * sums the squares in fp32 (per thread, then a tree), the CPU in double: the
 * sum's relative error is a few fp32 ulps, rstd's half that, and out adds
 * two roundings, hence rtol 1e-5; atol 1e-6 for outputs near zero. */
static int check_rmsnorm_fwd(void)
{
    int fails = 0;
    static const int shapes[][2] = {{37, 896}, {5, 64}, {3, 1000}};
    for (int k = 0; k < 3; k++) {
        int N = shapes[k][0], C = shapes[k][1], in_place = k == 1;
        size_t nc = (size_t)N * C;
        float *x = rand_floats(nc, -2, 2), *w = rand_floats(C, 0.5f, 1.5f);
        float *out = host_floats(nc), *rstd = host_floats(N);
        ik_cpu_rmsnorm_fwd(out, rstd, x, w, N, C, 1e-6f);
        float *dx = to_dev(x, nc * 4), *dw = to_dev(w, C * 4), *dout = dx, *drstd = NULL;
        if (!in_place)
            CK(ops->alloc((void **)&dout, nc * 4));
        if (!in_place)
            CK(ops->alloc((void **)&drstd, N * 4));
        CK(ops->rmsnorm_fwd(dout, drstd, dx, dw, N, C, 1e-6f));
        float *gout = from_dev(dout, nc);
        char what[64];
        snprintf(what, sizeof what, "rmsnorm_fwd out N=%d C=%d%s", N, C, in_place ? " in place" : "");
        fails += compare(what, gout, out, nc, 1e-6, 1e-5);
        if (!in_place) {
            float *grstd = from_dev(drstd, N);
            snprintf(what, sizeof what, "rmsnorm_fwd rstd N=%d C=%d", N, C);
            fails += compare(what, grstd, rstd, N, 0, 1e-5);
            free(grstd);
            CK(ops->free(dout));
            CK(ops->free(drstd));
        }
        CK(ops->free(dx));
        CK(ops->free(dw));
        free(x), free(w), free(out), free(rstd), free(gout);
    }
    return fails;
}

/* RMSNorm backward, dx and dw both accumulated onto random values (so an
 * overwrite fails), rstd from the CPU forward for both. dx = r*w*dy - x*k
 * cancels: its error is fp32 rounding of terms up to ~|r w dy| ~ 4, hence
 * atol 1e-5 with rtol 1e-5 (the CPU forms the row dot in double, the GPU in
 * fp32 over 896 terms). dw sums 64 rows of terms ~1 in a different order
 * (the CPU row by row in fp32, the GPU in 8 phases): 64 roundings of a sum
 * ~10, so atol 1e-4 (~70 ulps of the sum's size), rtol 1e-5. */
static int check_rmsnorm_bwd(void)
{
    int N = 64, C = 896;
    size_t nc = (size_t)N * C;
    float *x = rand_floats(nc, -2, 2), *w = rand_floats(C, 0.5f, 1.5f), *dy = rand_floats(nc, -1, 1);
    float *dx0 = rand_floats(nc, -1, 1), *dw0 = rand_floats(C, -1, 1);
    float *out = host_floats(nc), *rstd = host_floats(N);
    ik_cpu_rmsnorm_fwd(out, rstd, x, w, N, C, 1e-6f);
    float *dx = copy_floats(dx0, nc), *dwc = copy_floats(dw0, C);
    ik_cpu_rmsnorm_bwd(dx, dwc, dy, x, rstd, w, N, C);
    float *d_x = to_dev(x, nc * 4), *d_w = to_dev(w, C * 4), *d_dy = to_dev(dy, nc * 4);
    float *d_r = to_dev(rstd, N * 4), *d_dx = to_dev(dx0, nc * 4), *d_dw = to_dev(dw0, C * 4);
    CK(ops->rmsnorm_bwd(d_dx, d_dw, d_dy, d_x, d_r, d_w, N, C));
    float *gdx = from_dev(d_dx, nc), *gdw = from_dev(d_dw, C);
    int fails = compare("rmsnorm_bwd dx += N=64 C=896", gdx, dx, nc, 1e-5, 1e-5);
    fails += compare("rmsnorm_bwd dw += N=64 C=896", gdw, dwc, C, 1e-4, 1e-5);
    /* dw NULL: dx alone, accumulated a second time. */
    ik_cpu_rmsnorm_bwd(dx, NULL, dy, x, rstd, w, N, C);
    CK(ops->rmsnorm_bwd(d_dx, NULL, d_dy, d_x, d_r, d_w, N, C));
    free(gdx);
    gdx = from_dev(d_dx, nc);
    fails += compare("rmsnorm_bwd dx += twice, dw NULL", gdx, dx, nc, 2e-5, 1e-5);
    float *devs[] = {d_x, d_w, d_dy, d_r, d_dx, d_dw};
    for (int i = 0; i < 6; i++)
        CK(ops->free(devs[i]));
    free(x), free(w), free(dy), free(dx0), free(dw0), free(out), free(rstd), free(dx), free(dwc);
    free(gdx), free(gdw);
    return fails;
}

/* SwiGLU forward on N*F values not a multiple of the block, gates in [-12, 12)
 * (the sigmoid saturated both ways). CUDA's expf (<= 2 ulps) against the
 * CPU's polynomial exp (~1 ulp), then a division and a product: a few ulps,
 * hence rtol 1e-5; atol 1e-7 for silu(g) near zero at very negative g. */
static int check_swiglu_fwd(void)
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
static int check_swiglu_bwd(void)
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

/* RoPE forward then backward (each against the CPU's), Qwen-like: 3 heads of
 * 64, theta 1e6, positions up to 131071. Both form the angle and its cosine
 * and sine in double and round each product on its own in the same order,
 * so only a last-bit difference between CUDA's and glibc's double cos/sin
 * surviving the cast to fp32 can differ: one ulp of values <= 2, hence atol
 * 1e-6, rtol 1e-6. */
static int check_rope(void)
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

/* Softmax cross-entropy, forward and backward at once, at Qwen2.5's
 * vocabulary (151,936: rows far longer than a block) out of place, and at an
 * odd V in place (dlogits = logits). Logits in [-8, 8); one row with dnll 0
 * (masked: a zero gradient row, its nll still formed), one row whose target
 * logit is 200 (exp(200) overflows fp32 without the max subtracted). nll:
 * the sum of 151,936 terms in another order (the CPU in blocks of 128, the
 * GPU online per thread, merged in a tree), a relative error of a few 1e-7
 * on the sum, so atol 1e-5 on nll values ~10 (~1e-6 relative), rtol 1e-5.
 * dlogits: each softmax term exp(l - max) / sum, a few ulps apart (expf
 * against the CPU's polynomial, the sum's error), hence rtol 1e-4; atol
 * 1e-9 for the terms that underflow on one side (the CPU flushes exp below
 * e^-87 to 0, CUDA returns a denormal). */
static int check_softmax_xent(void)
{
    int fails = 0;
    static const int shapes[][2] = {{6, 151936}, {5, 1007}};
    for (int k = 0; k < 2; k++) {
        int N = shapes[k][0], V = shapes[k][1], in_place = k == 1;
        size_t nv = (size_t)N * V;
        float *l = rand_floats(nv, -8, 8), *dnll = rand_floats(N, 0.1f, 1.0f);
        int targets[6];
        for (int i = 0; i < N; i++)
            targets[i] = (int)ik_prng_below(&rng, (uint64_t)V);
        targets[N - 1] = V - 1;
        dnll[1] = 0.0f;
        l[(size_t)2 * V + targets[2]] = 200.0f;
        float *nll = host_floats(N), *dl = host_floats(nv);
        ik_cpu_softmax_xent_fwd_bwd(nll, dl, l, targets, dnll, N, V);
        float *d_l = to_dev(l, nv * 4), *d_dn = to_dev(dnll, N * 4), *d_nll, *d_dl = d_l;
        int *d_t = to_dev(targets, N * sizeof(int));
        CK(ops->alloc((void **)&d_nll, N * 4));
        if (!in_place)
            CK(ops->alloc((void **)&d_dl, nv * 4));
        CK(ops->softmax_xent_fwd_bwd(d_nll, d_dl, d_l, d_t, d_dn, N, V));
        float *gnll = from_dev(d_nll, N), *gdl = from_dev(d_dl, nv);
        char what[64];
        snprintf(what, sizeof what, "softmax_xent nll N=%d V=%d%s", N, V, in_place ? " in place" : "");
        fails += compare(what, gnll, nll, N, 1e-5, 1e-5);
        snprintf(what, sizeof what, "softmax_xent dlogits N=%d V=%d", N, V);
        fails += compare(what, gdl, dl, nv, 1e-9, 1e-4);
        /* The masked row must be exactly zero. */
        size_t nonzero = 0;
        for (int v = 0; v < V; v++)
            nonzero += gdl[(size_t)V + v] != 0.0f;
        if (nonzero) {
            printf("    masked row (dnll 0): %zu nonzero gradients  FAIL\n", nonzero);
            fails++;
        }
        CK(ops->free(d_l));
        CK(ops->free(d_dn));
        CK(ops->free(d_t));
        CK(ops->free(d_nll));
        if (!in_place)
            CK(ops->free(d_dl));
        free(l), free(dnll), free(nll), free(dl), free(gnll), free(gdl);
    }
    return fails;
}

/* Dropout: the GPU must drop exactly the CPU's elements and scale the kept
 * ones to the same bits (the same hash of (key, i), the same fp32 scale), so
 * the tolerance is none: out of place at p = 0.1, in place at p = 0.5 and a
 * second key, and at p = 0.9, n odd (not a multiple of any vector width). */
static int check_dropout(void)
{
    int fails = 0;
    static const float ps[] = {0.1f, 0.5f, 0.9f};
    static const uint64_t keys[] = {0x0123456789abcdefull, 0xfedcba9876543210ull, 7};
    size_t n = 300007;
    for (int k = 0; k < 3; k++) {
        int in_place = k == 1;
        float *x = rand_floats(n, -2, 2), *out = host_floats(n);
        ik_cpu_dropout(out, x, n, ps[k], keys[k]);
        float *d_x = to_dev(x, n * 4), *d_o = d_x;
        if (!in_place)
            CK(ops->alloc((void **)&d_o, n * 4));
        CK(ops->dropout(d_o, d_x, n, ps[k], keys[k]));
        float *g = from_dev(d_o, n);
        size_t dropped = 0;
        for (size_t i = 0; i < n; i++)
            dropped += out[i] == 0.0f;
        char what[64];
        snprintf(what, sizeof what, "dropout p=%.1f%s (%.3f dropped)", (double)ps[k],
                 in_place ? " in place" : "", (double)dropped / n);
        fails += compare_bits(what, g, out, n);
        CK(ops->free(d_x));
        if (!in_place)
            CK(ops->free(d_o));
        free(x), free(out), free(g);
    }
    return fails;
}

/* AdamW, three steps (t = 1, 2, 3: the bias corrections) with fresh
 * gradients each, weight decay on. The kernel rounds every operation on its
 * own in the CPU's order and takes the CPU's host-side scalars, so the bits
 * should match; the tolerance allows 4 ulps (rtol 5e-7) in case the CPU
 * build contracts a multiply-add, atol 1e-30 only for exact zeros. */
static int check_adamw(void)
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

/* x rounded to BF16 as __float2bfloat16_rn does (nearest, ties to even) for
 * the finite values these checks use: lm/safetensors.h's conversions. */
static float bf16_round(float x) { return ik_bf16_to_f32(ik_f32_to_bf16(x)); }

/* One GEMM of ->gemm against ref_gemm: A and B fp32 or BF16 (converted on
 * the device by ->to_bf16, the reference reading the same rounded values),
 * C fp32 (beta 1: the accumulation the backward uses) or BF16 (beta 0). */
static int gemm_case_at(int ta, int tb, int M, int N, int K, int ab_type, int c_type, int off);

static int gemm_case(int ta, int tb, int M, int N, int K, int ab_type, int c_type)
{
    return gemm_case_at(ta, tb, M, N, K, ab_type, c_type, 0);
}

/* As gemm_case with fp32 A and B starting off floats into their buffers
 * (a LoRA tensor inside the adapter's one array is aligned to 4 bytes only). */
static int gemm_case_at(int ta, int tb, int M, int N, int K, int ab_type, int c_type, int off)
{
    int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *a = rand_floats(na, -1, 1), *b = rand_floats(nb, -1, 1), *c = rand_floats(nc, -1, 1);
    float beta = c_type == IK_CUDA_F32 ? 1.0f : 0.0f, alpha = 0.5f;
    float *d_a0, *d_b0, *d_c = to_dev(c, nc * 4);
    CK(ops->alloc((void **)&d_a0, (na + (size_t)off) * 4));
    CK(ops->alloc((void **)&d_b0, (nb + (size_t)off) * 4));
    float *d_a = d_a0 + off, *d_b = d_b0 + off;
    CK(ops->memcpy_htod(d_a, a, na * 4));
    CK(ops->memcpy_htod(d_b, b, nb * 4));
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
             ab_type == IK_CUDA_BF16 ? "bf16" : "f32", c_type == IK_CUDA_BF16 ? "bf16" : "f32",
             off ? " (4-byte aligned)" : "");
    /* fp32 products of terms under 1 summed over K: the error grows like
     * sqrt(K) ulps of the sum, under 1e-4 absolute at K = 896; a BF16 C adds
     * its own rounding: half a BF16 ulp, up to 2^-8 relative at the bottom
     * of a binade (the CPU stand-in reached 0.97 of that), and a whole ulp
     * (2^-7) where the device's accumulation order moves a value across a
     * rounding midpoint: rtol 8e-3. */
    int fails = c_type == IK_CUDA_BF16 ? compare(what, got, c, nc, 1e-4, 8e-3)
                                       : compare(what, got, c, nc, 1e-4, 1e-5);
    CK(ops->free(d_a0));
    CK(ops->free(d_b0));
    CK(ops->free(d_c));
    CK(ops->free(h_a));
    CK(ops->free(h_b));
    CK(ops->free(h_c));
    free(a), free(b), free(c), free(got);
    return fails;
}

/* ->gemm in the four transpose cases the training step uses (x W^T forward,
 * dout W backward, dout^T x for LoRA's weight gradients), at Qwen2.5-0.5B's
 * widths with a row count that is not a multiple of 8; BF16 inputs with fp32
 * and BF16 outputs; and ->to_bf16 / ->from_bf16 against the host's rounding,
 * bit for bit. */
static int check_gemm(void)
{
    int fails = gemm_case(0, 1, 37, 896, 896, IK_CUDA_F32, IK_CUDA_F32);
    fails += gemm_case(0, 0, 37, 896, 128, IK_CUDA_F32, IK_CUDA_F32);
    fails += gemm_case(1, 0, 16, 896, 37, IK_CUDA_F32, IK_CUDA_F32);
    fails += gemm_case(1, 1, 24, 40, 56, IK_CUDA_F32, IK_CUDA_F32);
    fails += gemm_case_at(0, 1, 37, 16, 896, IK_CUDA_F32, IK_CUDA_F32, 1);
    fails += gemm_case_at(1, 0, 16, 896, 37, IK_CUDA_F32, IK_CUDA_F32, 3);
    fails += gemm_case(0, 1, 37, 4864, 896, IK_CUDA_BF16, IK_CUDA_F32);
    fails += gemm_case(0, 0, 64, 896, 4864, IK_CUDA_BF16, IK_CUDA_BF16);
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
    return fails;
}

/* One attention case: ->attention_fwd against ik_cpu_attention_seq_fwd and
 * ->attention_bwd against ik_cpu_attention_bwd (gradients accumulated onto
 * the same random values). Both sum T terms per output in different orders
 * (tree versus sgemm blocks) from probabilities formed by expf and by the
 * CPU's polynomial: within 1e-5 absolute, 1e-4 relative. */
static int attention_case(int T, int H, int K, int hd, int window)
{
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd;
    float *q = rand_floats(nq, -1, 1), *k = rand_floats(nk, -1, 1), *v = rand_floats(nk, -1, 1);
    float *dout = rand_floats(nq, -1, 1), *out = host_floats(nq);
    float *dq = rand_floats(nq, -1, 1), *dk = rand_floats(nk, -1, 1), *dv = rand_floats(nk, -1, 1);
    float *d_q = to_dev(q, nq * 4), *d_k = to_dev(k, nk * 4), *d_v = to_dev(v, nk * 4);
    float *d_dout = to_dev(dout, nq * 4), *d_dq = to_dev(dq, nq * 4), *d_dk = to_dev(dk, nk * 4);
    float *d_dv = to_dev(dv, nk * 4), *d_out;
    void *d_scr;
    CK(ops->alloc((void **)&d_out, nq * 4));
    CK(ops->alloc(&d_scr, ops->attention_scratch(T, H, K)));
    CK(ops->attention_fwd(d_out, d_q, d_k, d_v, T, H, K, hd, window, d_scr));
    CK(ops->attention_bwd(d_dq, d_dk, d_dv, d_dout, d_q, d_k, d_v, T, H, K, hd, window, d_scr));
    float *scr = host_floats(ik_cpu_attention_bwd_scratch(T, H, K, hd));
    ik_cpu_attention_seq_fwd(out, q, k, v, T, H, K, hd, window, scr);
    ik_cpu_attention_bwd(dq, dk, dv, dout, q, k, v, T, H, K, hd, window, scr);
    float *g_out = from_dev(d_out, nq), *g_dq = from_dev(d_dq, nq), *g_dk = from_dev(d_dk, nk);
    float *g_dv = from_dev(d_dv, nk);
    char what[96];
    int fails = 0;
    const char *names[] = {"out", "dq", "dk", "dv"};
    const float *gpu[] = {g_out, g_dq, g_dk, g_dv}, *cpu[] = {out, dq, dk, dv};
    size_t ns[] = {nq, nq, nk, nk};
    for (int i = 0; i < 4; i++) {
        snprintf(what, sizeof what, "attention %s T %d H %d K %d hd %d w %d", names[i], T, H, K, hd,
                 window);
        fails += compare(what, gpu[i], cpu[i], ns[i], 1e-5, 1e-4);
    }
    float *dev[] = {d_q, d_k, d_v, d_dout, d_dq, d_dk, d_dv, d_out};
    for (int i = 0; i < 8; i++)
        CK(ops->free(dev[i]));
    CK(ops->free(d_scr));
    float *host[] = {q, k, v, dout, out, dq, dk, dv, scr, g_out, g_dq, g_dk, g_dv};
    for (int i = 0; i < 13; i++)
        free(host[i]);
    return fails;
}

/* Qwen2.5-0.5B's heads (14 on 2 KV heads of 64) over several CPU blocks, and
 * 3 KV heads of 32 with a sliding window shorter than a block. */
static int check_attention(void)
{
    return attention_case(150, 14, 2, 64, 0) + attention_case(96, 9, 3, 32, 5);
}

/* ->add out of place and in place on both sides (out = a, out = b), and
 * ->bias_add on rows whose count and width are not multiples of the block:
 * one fp32 addition per element on both sides, so the bits must match. */
static int check_add(void)
{
    size_t n = 100003;
    float *a = rand_floats(n, -4, 4), *b = rand_floats(n, -4, 4), *want = host_floats(n);
    for (size_t i = 0; i < n; i++)
        want[i] = a[i] + b[i];
    float *d_a = to_dev(a, n * 4), *d_b = to_dev(b, n * 4), *d_o;
    CK(ops->alloc((void **)&d_o, n * 4));
    CK(ops->add(d_o, d_a, d_b, n));
    float *got = from_dev(d_o, n);
    int fails = compare_bits("add n=100003", got, want, n);
    free(got);
    CK(ops->add(d_a, d_a, d_b, n));
    got = from_dev(d_a, n);
    fails += compare_bits("add in place (out = a)", got, want, n);
    free(got);
    CK(ops->memcpy_htod(d_a, a, n * 4));
    CK(ops->add(d_b, d_a, d_b, n));
    got = from_dev(d_b, n);
    fails += compare_bits("add in place (out = b)", got, want, n);
    free(got);
    CK(ops->free(d_a));
    CK(ops->free(d_b));
    CK(ops->free(d_o));
    free(a), free(b), free(want);

    int N = 37, C = 4867;
    size_t nc = (size_t)N * C;
    float *x = rand_floats(nc, -4, 4), *bias = rand_floats(C, -1, 1), *wx = copy_floats(x, nc);
    for (int r = 0; r < N; r++)
        for (int c = 0; c < C; c++)
            wx[(size_t)r * C + c] += bias[c];
    float *d_x = to_dev(x, nc * 4), *d_bias = to_dev(bias, C * 4);
    CK(ops->bias_add(d_x, d_bias, N, C));
    got = from_dev(d_x, nc);
    fails += compare_bits("bias_add N=37 C=4867", got, wx, nc);
    CK(ops->free(d_x));
    CK(ops->free(d_bias));
    free(x), free(bias), free(wx), free(got);
    return fails;
}

/* ->embed_rows_bf16: a table of random 16-bit patterns (NaNs, infinities and
 * denormals among them), tokens random with repeats and the first and last
 * rows; widening BF16 is exact, so the bits must equal the host's widening. */
static int check_embed(void)
{
    int V = 1031, D = 896, T = 67;
    size_t nt = (size_t)V * D, no = (size_t)T * D;
    uint16_t *table = malloc(nt * sizeof *table);
    int tokens[67];
    if (table == NULL)
        die("out of memory");
    for (size_t i = 0; i < nt; i++)
        table[i] = (uint16_t)ik_prng_next(&rng);
    for (int t = 0; t < T; t++)
        tokens[t] = (int)ik_prng_below(&rng, (uint64_t)V);
    tokens[0] = 0, tokens[1] = V - 1, tokens[2] = tokens[3];
    float *want = host_floats(no);
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++) {
            uint32_t u = (uint32_t)table[(size_t)tokens[t] * D + d] << 16;
            memcpy(&want[(size_t)t * D + d], &u, 4);
        }
    uint16_t *d_table = to_dev(table, nt * 2);
    int *d_tok = to_dev(tokens, sizeof tokens);
    float *d_out;
    CK(ops->alloc((void **)&d_out, no * 4));
    CK(ops->embed_rows_bf16(d_out, d_table, d_tok, T, D));
    float *got = from_dev(d_out, no);
    int fails = compare_bits("embed_rows_bf16 T=67 D=896 V=1031", got, want, no);
    CK(ops->free(d_table));
    CK(ops->free(d_tok));
    CK(ops->free(d_out));
    free(table), free(want), free(got);
    return fails;
}

/* ->argmax_rows against ik_cpu_argmax_rows, exactly: random rows 151,936
 * wide (Qwen2.5's vocabulary: far longer than a block) with planted cases
 * (the maximum repeated, the later copies first in some thread's stride;
 * NaNs before and at the maximum; a row of NaNs; a row of -inf; NaNs and
 * -inf only; +inf twice; equal zeros of both signs), and narrow rows (V = 1,
 * V = 33, V = 0). */
static int argmax_case(int N, int V, int plant)
{
    size_t nv = (size_t)N * V;
    float *x = rand_floats(nv, -8, 8);
    if (plant) {
        float *r;
        r = x + (size_t)0 * V; /* ties: the same maximum at four places */
        r[V - 1] = r[V / 2] = r[777] = r[778] = 9.0f;
        r = x + (size_t)1 * V; /* NaNs, one above the maximum's column */
        r[0] = r[5] = NAN;
        r[100] = 10.0f, r[99] = NAN, r[V - 3] = 10.0f;
        r = x + (size_t)2 * V; /* all NaN */
        for (int v = 0; v < V; v++)
            r[v] = NAN;
        r = x + (size_t)3 * V; /* all -inf */
        for (int v = 0; v < V; v++)
            r[v] = -INFINITY;
        r = x + (size_t)4 * V; /* NaN and -inf only, then one finite value late */
        for (int v = 0; v < V; v++)
            r[v] = v & 1 ? NAN : -INFINITY;
        r[V - 2] = -1e30f;
        r = x + (size_t)5 * V; /* +inf twice */
        r[60000] = r[3] = INFINITY;
        r = x + (size_t)6 * V; /* all zeros, -0 first: the first column */
        for (int v = 0; v < V; v++)
            r[v] = v < 10 ? -0.0f : 0.0f;
        r = x + (size_t)7 * V; /* the maximum in the first column */
        r[0] = 100.0f, r[512] = 100.0f;
    }
    int *want = malloc((N ? N : 1) * sizeof *want), *got = malloc((N ? N : 1) * sizeof *got);
    if (want == NULL || got == NULL)
        die("out of memory");
    ik_cpu_argmax_rows(want, x, N, V);
    float *d_x = to_dev(x, nv * 4);
    int *d_o;
    CK(ops->alloc((void **)&d_o, (N ? N : 1) * sizeof(int)));
    CK(ops->argmax_rows(d_o, d_x, N, V));
    CK(ops->memcpy_dtoh(got, d_o, N * sizeof(int)));
    int bad = 0, first = -1;
    for (int n = 0; n < N; n++)
        if (got[n] != want[n] && bad++ == 0)
            first = n;
    printf("  argmax_rows N=%-3d V=%-6d %s %3d rows: %d differ (tolerance: none)%s\n", N, V,
           plant ? "planted" : "random ", N, bad, bad ? "  FAIL" : "");
    if (bad)
        printf("    first at row %d: gpu %d, cpu %d\n", first, got[first], want[first]);
    CK(ops->free(d_x));
    CK(ops->free(d_o));
    free(x), free(want), free(got);
    return bad != 0;
}

static int check_argmax(void)
{
    return argmax_case(8, 151936, 1) + argmax_case(40, 151936, 0) + argmax_case(300, 33, 0) +
           argmax_case(5, 1, 0) + argmax_case(3, 0, 0);
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

static int check_clip(void)
{
    return clip_case(300007, 1.0) + clip_case(1000, 1e6) + clip_case(1000, 0.0);
}

/* fill.cu's formula on the host: MurmurHash3's finalizer twice per index. */
static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

static int check_fill(void)
{
    enum { N = 100003 }; /* odd: the grid-stride loop's tail */
    uint64_t seed = 0x1234567890abcdefull;
    uint16_t *got = malloc(N * sizeof *got);
    if (got == NULL)
        die("out of memory");
    uint16_t *d_x;
    CK(ops->alloc((void **)&d_x, N * sizeof *d_x));
    CK(ops->fill_uniform_bf16(d_x, N, -0.02f, 0.02f, seed));
    CK(ops->memcpy_dtoh(got, d_x, N * sizeof *got));
    int bad = 0, first = -1;
    for (uint32_t i = 0; i < N; i++) {
        float u = (float)(fmix32(fmix32(i ^ (uint32_t)seed) + (uint32_t)(seed >> 32)) >> 8) *
                  (1.0f / 16777216.0f);
        if (got[i] != ik_f32_to_bf16(-0.02f + 0.04f * u) && bad++ == 0)
            first = (int)i;
    }
    printf("  fill_uniform_bf16 n=%d: %d values differ from the host's draw (tolerance: none)%s\n",
           N, bad, bad ? "  FAIL" : "");
    if (bad)
        printf("    first at %d: gpu 0x%04x\n", first, got[first]);
    CK(ops->free(d_x));
    free(got);
    return bad != 0;
}

static const struct check {
    const char *name;
    int (*run)(void);
} checks[] = {
    {"rmsnorm_fwd", check_rmsnorm_fwd},   {"rmsnorm_bwd", check_rmsnorm_bwd},
    {"swiglu_fwd", check_swiglu_fwd},     {"swiglu_bwd", check_swiglu_bwd},
    {"rope_fwd/bwd", check_rope},         {"softmax_xent_fwd_bwd", check_softmax_xent},
    {"dropout", check_dropout},           {"adamw", check_adamw},
    {"gemm", check_gemm},                 {"attention", check_attention},
    {"add/bias_add", check_add},          {"embed_rows_bf16", check_embed},
    {"argmax_rows", check_argmax},        {"fill_uniform_bf16", check_fill},
    {"clip_grad_norm", check_clip},
};
enum { N_CHECKS = sizeof checks / sizeof checks[0] };

/* ---- the checks that need no device ---- */

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int check_without_device(ik_cuda_ops_get_fn get, int have_device)
{
    int fails = 0;
    if (get(IK_CUDA_ABI + 1) != NULL) {
        printf("  ik_cuda_ops_get(IK_CUDA_ABI + 1) returned a table  FAIL\n");
        fails++;
    }
    if (ops->size != sizeof(struct ik_cuda_ops)) {
        printf("  the module's table is %zu bytes, this header's %zu  FAIL\n", ops->size,
               sizeof(struct ik_cuda_ops));
        fails++;
    }
    /* Every entry is set (a NULL is a member the table forgot). */
#define NULL_ENTRY(m) (ops->m == NULL ? printf("  the table's ->" #m " is NULL  FAIL\n"), 1 : 0)
    fails += NULL_ENTRY(last_error) + NULL_ENTRY(device_count) + NULL_ENTRY(device_name) +
             NULL_ENTRY(set_device) + NULL_ENTRY(alloc) + NULL_ENTRY(free) +
             NULL_ENTRY(memcpy_htod) + NULL_ENTRY(memcpy_dtoh) + NULL_ENTRY(memcpy_dtod) +
             NULL_ENTRY(memset) + NULL_ENTRY(synchronize) + NULL_ENTRY(rmsnorm_fwd) +
             NULL_ENTRY(rmsnorm_bwd) + NULL_ENTRY(swiglu_fwd) + NULL_ENTRY(swiglu_bwd) +
             NULL_ENTRY(rope_fwd) + NULL_ENTRY(rope_bwd) + NULL_ENTRY(softmax_xent_fwd_bwd) +
             NULL_ENTRY(dropout) + NULL_ENTRY(adamw) + NULL_ENTRY(gemm) + NULL_ENTRY(to_bf16) +
             NULL_ENTRY(from_bf16) + NULL_ENTRY(attention_scratch) + NULL_ENTRY(attention_fwd) +
             NULL_ENTRY(attention_bwd) + NULL_ENTRY(add) + NULL_ENTRY(bias_add) +
             NULL_ENTRY(embed_rows_bf16) + NULL_ENTRY(argmax_rows) + NULL_ENTRY(mem_info) +
             NULL_ENTRY(fill_uniform_bf16) + NULL_ENTRY(clip_grad_norm) +
             NULL_ENTRY(sdpa_available) + NULL_ENTRY(sdpa_scratch) + NULL_ENTRY(sdpa_fwd) +
             NULL_ENTRY(sdpa_bwd);
#undef NULL_ENTRY
    /* A refused shape is reported before any CUDA call, naming the kernel. */
    const char *want = "rmsnorm_fwd: N = -1, C = 8 (N >= 0, C > 0)";
    if (ops->rmsnorm_fwd(NULL, NULL, NULL, NULL, -1, 8, 1e-6f) != -1 ||
        strcmp(ops->last_error(), want) != 0) {
        printf("  rmsnorm_fwd(N = -1): error \"%s\", want \"%s\"  FAIL\n", ops->last_error(), want);
        fails++;
    }
    if (ops->dropout(NULL, NULL, 4, 1.0f, 0) != -1 || !starts_with(ops->last_error(), "dropout: p = 1")) {
        printf("  dropout(p = 1): error \"%s\"  FAIL\n", ops->last_error());
        fails++;
    }
    want = "argmax_rows: N = 2, V = -1 (both >= 0)";
    if (ops->argmax_rows(NULL, NULL, 2, -1) != -1 || strcmp(ops->last_error(), want) != 0) {
        printf("  argmax_rows(V = -1): error \"%s\", want \"%s\"  FAIL\n", ops->last_error(), want);
        fails++;
    }
    /* Sizes of 0 launch nothing and succeed, device or not. */
    if (ops->swiglu_fwd(NULL, NULL, NULL, 0, 16) != 0 || ops->adamw(NULL, NULL, NULL, NULL, 0, 1, 0.9f, 0.9f, 0, 0, 1) != 0 ||
        ops->add(NULL, NULL, NULL, 0) != 0 || ops->bias_add(NULL, NULL, 0, 8) != 0 ||
        ops->embed_rows_bf16(NULL, NULL, NULL, 0, 8) != 0 || ops->argmax_rows(NULL, NULL, 0, 8) != 0) {
        printf("  a size-0 kernel call failed: %s  FAIL\n", ops->last_error());
        fails++;
    }
    /* Without a device a CUDA call fails, and its text names the call and the entry. */
    if (!have_device) {
        void *p = (void *)1;
        if (ops->alloc(&p, 256) != -1 || p != NULL ||
            !starts_with(ops->last_error(), "cudaMalloc for alloc: ")) {
            printf("  alloc without a device: error \"%s\"  FAIL\n", ops->last_error());
            fails++;
        }
    }
    printf("  module checks without a device: %s\n", fails ? "FAIL" : "ok");
    return fails;
}

int main(void)
{
    const char *path = getenv("IKADA_CUDA_MODULE");
    if (path == NULL || *path == '\0')
        path = IK_CUDA_MODULE_PATH;
    const char *req = getenv("IKADA_REQUIRE_GPU");
    int require_gpu = req != NULL && strcmp(req, "1") == 0;

    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        die("cannot load the CUDA module: %s", dlerror());
    ik_cuda_ops_get_fn get = (ik_cuda_ops_get_fn)dlsym(lib, IK_CUDA_OPS_SYMBOL);
    if (get == NULL)
        die("%s: no symbol %s: %s", path, IK_CUDA_OPS_SYMBOL, dlerror());
    ops = get(IK_CUDA_ABI);
    if (ops == NULL)
        die("%s: ik_cuda_ops_get(%d) refused: the module is from another build", path, IK_CUDA_ABI);
    printf("test_cuda_kernels: module %s (ABI %d)\n", path, ops->abi);

    int ndev = ops->device_count();
    char reason[512];
    snprintf(reason, sizeof reason, "%s", ops->last_error());
    int fails = check_without_device(get, ndev > 0);
    if (ndev == 0) {
        printf("test_cuda_kernels: no CUDA device (%s): %d kernel checks skipped\n", reason,
               (int)N_CHECKS);
        if (require_gpu) {
            printf("test_cuda_kernels: IKADA_REQUIRE_GPU=1: FAIL\n");
            return 1;
        }
        return fails ? 1 : 77;
    }
    char name[256];
    CK(ops->device_name(0, name, sizeof name));
    CK(ops->set_device(0));
    printf("test_cuda_kernels: device 0: %s (%d device%s)\n", name, ndev, ndev == 1 ? "" : "s");

    ik_prng_seed(&rng, 20240515);
    int failed_checks = 0;
    for (int i = 0; i < N_CHECKS; i++) {
        printf("%s:\n", checks[i].name);
        int f = checks[i].run();
        CK(ops->synchronize());
        failed_checks += f != 0;
    }
    printf("test_cuda_kernels: %d of %d kernel checks passed%s\n", N_CHECKS - failed_checks,
           (int)N_CHECKS, fails ? "; module checks FAILED" : "");
    return failed_checks || fails ? 1 : 0;
}
