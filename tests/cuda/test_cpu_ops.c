/* tests/cuda/test_cpu_ops.c - the CPU stand-in of the CUDA module's table
 * (tests/cuda/cpu_ops.h) against direct calls of the CPU references and a
 * double-precision GEMM: the table is complete, memory behaves as device
 * memory should, ->gemm keeps the row-major, transpose and BF16 semantics of
 * cuda_ops.h, ->to_bf16 rounds ties to even, ->softmax_xent_fwd_bwd
 * overwrites and the backward entries accumulate. A plain C program (like
 * test_cuda_kernels, which drives the real module): exit 0 when all pass, 1
 * otherwise. Needs no CUDA. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/prng.h"
#include "kernels/kernels.h"
#include "tests/cuda/cpu_ops.h"
#include "tests/cuda/ref_gemm.h"

static const struct ik_cuda_ops *ops;
static struct ik_prng rng;
static int fails;

#define EXPECT(cond, ...)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("  %s:%d: FAIL: ", __FILE__, __LINE__);                  \
            printf(__VA_ARGS__);                                            \
            printf("\n");                                                   \
            fails++;                                                        \
        }                                                                   \
    } while (0)

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "test_cpu_ops: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static float *rand_floats(size_t n, float lo, float hi)
{
    float *p = xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * (float)ik_prng_double(&rng);
    return p;
}

static float *copy_floats(const float *src, size_t n)
{
    float *p = xmalloc(n * sizeof *p);
    memcpy(p, src, n * sizeof *p);
    return p;
}

/* "Device" memory from the table, holding a copy of src. */
static void *dev_copy(const void *src, size_t bytes)
{
    void *d;
    if (ops->alloc(&d, bytes) != 0) {
        fprintf(stderr, "test_cpu_ops: alloc: %s\n", ops->last_error());
        exit(1);
    }
    ops->memcpy_htod(d, src, bytes);
    return d;
}

static int same_bits(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

static void check_table(void)
{
    printf("table:\n");
    EXPECT(ops->abi == IK_CUDA_ABI, "abi %d", ops->abi);
    EXPECT(ops->size == sizeof(struct ik_cuda_ops), "size %zu", ops->size);
#define NONNULL(m) EXPECT(ops->m != NULL, "->" #m " is NULL")
    NONNULL(last_error); NONNULL(device_count); NONNULL(device_name); NONNULL(set_device);
    NONNULL(alloc); NONNULL(free); NONNULL(memcpy_htod); NONNULL(memcpy_dtoh); NONNULL(memcpy_dtod);
    NONNULL(memset); NONNULL(synchronize); NONNULL(rmsnorm_fwd); NONNULL(rmsnorm_bwd);
    NONNULL(swiglu_fwd); NONNULL(swiglu_bwd); NONNULL(rope_fwd); NONNULL(rope_bwd);
    NONNULL(softmax_xent_fwd_bwd); NONNULL(dropout); NONNULL(adamw); NONNULL(gemm);
    NONNULL(to_bf16); NONNULL(from_bf16); NONNULL(attention_scratch); NONNULL(attention_fwd);
    NONNULL(attention_bwd); NONNULL(add); NONNULL(bias_add); NONNULL(embed_rows_bf16);
    NONNULL(argmax_rows); NONNULL(mem_info); NONNULL(fill_uniform_bf16); NONNULL(clip_grad_norm);
    NONNULL(add_rmsnorm_fwd); NONNULL(sdpa_available); NONNULL(sdpa_scratch); NONNULL(sdpa_fwd);
    NONNULL(sdpa_bwd); NONNULL(softmax_xent_argmax); NONNULL(loss_sums); NONNULL(qk_norm_rope_fwd);
    NONNULL(qk_norm_rope_bwd); NONNULL(swiglu_bwd_bf16); NONNULL(to_bf16_2d); NONNULL(dropout_add);
    NONNULL(flash_supports); NONNULL(flash_scratch); NONNULL(flash_fwd); NONNULL(flash_bwd);
    NONNULL(swiglu_fwd_bf16); NONNULL(swiglu_bwd_bf16_in); NONNULL(lora_down_dropout);
    NONNULL(lora_dA_dropout_scratch); NONNULL(lora_dA_dropout); NONNULL(lora_dx_dropout);
    NONNULL(profile_set); NONNULL(profile_report); NONNULL(lora_down_swiglu_bwd);
    NONNULL(ssm_scan_fwd); NONNULL(ssm_scan_bwd_scratch); NONNULL(ssm_scan_bwd);
    NONNULL(relu2_fwd); NONNULL(relu2_bwd); NONNULL(softplus_bias_fwd); NONNULL(softplus_bias_bwd);
    NONNULL(conv1d_silu_fwd); NONNULL(conv1d_silu_bwd); NONNULL(rmsnorm_gated_fwd);
    NONNULL(rmsnorm_gated_bwd);
#undef NONNULL
    EXPECT(ops->device_count() == 1, "device_count %d", ops->device_count());
    char name[64];
    EXPECT(ops->device_name(0, name, sizeof name) == 0 && strcmp(name, "CPU stand-in") == 0,
           "device_name \"%s\"", name);
    EXPECT(ops->set_device(0) == 0, "set_device(0)");
    EXPECT(ops->set_device(1) == -1 &&
               strcmp(ops->last_error(),
                      "set_device: device 1 (the CPU stand-in has device 0 only)") == 0,
           "set_device(1): \"%s\"", ops->last_error());
    /* The module's texts for refused shapes. */
    EXPECT(ops->rmsnorm_fwd(NULL, NULL, NULL, NULL, -1, 8, 1e-6f) == -1 &&
               strcmp(ops->last_error(), "rmsnorm_fwd: N = -1, C = 8 (N >= 0, C > 0)") == 0,
           "rmsnorm_fwd(N = -1): \"%s\"", ops->last_error());
    EXPECT(ops->gemm(0, 0, 4, 4, 4, 1, NULL, 3, NULL, 4, 0, NULL, 4, IK_CUDA_F32, IK_CUDA_F32) == -1 &&
               strcmp(ops->last_error(),
                      "gemm: leading dimensions 3, 4, 4 too small for M 4 N 4 K 4") == 0,
           "gemm(lda 3): \"%s\"", ops->last_error());
    EXPECT(ops->add(NULL, NULL, NULL, 0) == 0 && ops->argmax_rows(NULL, NULL, 0, 5) == 0 &&
               ops->synchronize() == 0,
           "size-0 calls");
}

static void check_memory(void)
{
    printf("memory:\n");
    void *p = (void *)1;
    EXPECT(ops->alloc(&p, 0) == 0 && p == NULL, "alloc(0) gives NULL");
    EXPECT(ops->free(NULL) == 0, "free(NULL)");
    unsigned char *d, *e, host[1000], back[1000];
    for (int i = 0; i < 1000; i++)
        host[i] = (unsigned char)(i * 7);
    EXPECT(ops->alloc((void **)&d, 1000) == 0 && ((uintptr_t)d & 255) == 0, "alloc aligned");
    EXPECT(ops->alloc((void **)&e, 1000) == 0, "alloc");
    EXPECT(d[0] == 0xff && d[999] == 0xff, "new memory is poisoned with 0xff");
    ops->memcpy_htod(d, host, 1000);
    ops->memcpy_dtod(e, d, 1000);
    ops->memset(e + 10, 0x5a, 20);
    ops->memcpy_dtoh(back, e, 1000);
    memset(host + 10, 0x5a, 20);
    EXPECT(same_bits(back, host, 1000), "htod, dtod, memset, dtoh round trip");
    ops->free(d);
    ops->free(e);
}

/* One ->gemm against ref_gemm, leading dimensions 3 wider than needed (the
 * padding must be left alone). BF16 operands: the reference reads the same
 * rounded values; a BF16 C: beta 1 reads the BF16 C, the result is the
 * double product rounded once to fp32 and once to BF16, so it may be one
 * BF16 ulp away where the fp32 sums' rounding crosses a tie. */
static void gemm_case(int ta, int tb, int M, int N, int K, int ab, int ct, float beta)
{
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 3, ldc = N + 3;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *a = rand_floats(na, -1, 1), *b = rand_floats(nb, -1, 1), *c = rand_floats(nc, -1, 1);
    float alpha = 0.75f;
    uint16_t *ha = xmalloc(na * 2), *hb = xmalloc(nb * 2), *hc = xmalloc(nc * 2);
    if (ab == IK_CUDA_BF16) {
        ops->to_bf16(ha, a, na);
        ops->to_bf16(hb, b, nb);
        ops->from_bf16(a, ha, na);
        ops->from_bf16(b, hb, nb);
    }
    if (ct == IK_CUDA_BF16) {
        ops->to_bf16(hc, c, nc);
        ops->from_bf16(c, hc, nc);
    }
    void *da = dev_copy(ab == IK_CUDA_BF16 ? (void *)ha : (void *)a, na * (ab == IK_CUDA_BF16 ? 2 : 4));
    void *db = dev_copy(ab == IK_CUDA_BF16 ? (void *)hb : (void *)b, nb * (ab == IK_CUDA_BF16 ? 2 : 4));
    void *dc = NULL;
    if (beta != 0.0f)
        dc = dev_copy(ct == IK_CUDA_BF16 ? (void *)hc : (void *)c, nc * (ct == IK_CUDA_BF16 ? 2 : 4));
    else /* left poisoned (NaN): beta 0 must not read C */
        EXPECT(ops->alloc(&dc, nc * (ct == IK_CUDA_BF16 ? 2 : 4)) == 0, "alloc C");
    float *got = xmalloc(nc * 4), *want = copy_floats(c, nc);
    EXPECT(ops->gemm(ta, tb, M, N, K, alpha, da, lda, db, ldb, beta, dc, ldc, ab, ct) == 0, "gemm: %s",
           ops->last_error());
    if (ct == IK_CUDA_BF16) {
        ops->memcpy_dtoh(hc, dc, nc * 2);
        ops->from_bf16(got, hc, nc);
    } else {
        ops->memcpy_dtoh(got, dc, nc * 4);
    }
    ref_gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, want, ldc);
    double worst = 0;
    size_t bad = 0, at = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            size_t x = (size_t)i * ldc + j;
            double d = fabs((double)got[x] - want[x]);
            /* fp32 sums of K products under 1: sqrt(K) ulps of the sum; a BF16
             * C: one BF16 ulp (2^-7 relative) at most. */
            double tol = ct == IK_CUDA_BF16 ? 1e-4 + 8e-3 * fabs(want[x]) : 1e-5 + 1e-5 * fabs(want[x]);
            if (!(d <= tol) && bad++ == 0)
                at = x;
            if (d / tol > worst || isnan(d))
                worst = isnan(d) ? INFINITY : d / tol;
        }
    /* The padding between rows must be untouched. */
    size_t pad_bad = 0;
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++) {
            size_t x = (size_t)i * ldc + j;
            pad_bad += beta != 0.0f && ct == IK_CUDA_F32 && !same_bits(&got[x], &c[x], 4);
        }
    printf("  gemm %s%s %dx%dx%d %s->%s beta %g: worst err/tol %.3g%s\n", ta ? "T" : "N",
           tb ? "T" : "N", M, N, K, ab == IK_CUDA_BF16 ? "bf16" : "f32",
           ct == IK_CUDA_BF16 ? "bf16" : "f32", (double)beta, worst, bad || pad_bad ? "  FAIL" : "");
    EXPECT(bad == 0, "%zu values out of tolerance, first [%zu]: got %.9g want %.9g", bad, at,
           (double)got[at], (double)want[at]);
    EXPECT(pad_bad == 0, "%zu padding values changed", pad_bad);
    ops->free(da), ops->free(db), ops->free(dc);
    free(a), free(b), free(c), free(ha), free(hb), free(hc), free(got), free(want);
}

static void check_gemm(void)
{
    printf("gemm:\n");
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case(ta, tb, 37, 129, 200, IK_CUDA_F32, IK_CUDA_F32, 1.0f);
            gemm_case(ta, tb, 37, 129, 200, IK_CUDA_F32, IK_CUDA_F32, 0.0f);
            gemm_case(ta, tb, 64, 96, 300, IK_CUDA_BF16, IK_CUDA_F32, 1.0f);
            gemm_case(ta, tb, 64, 96, 300, IK_CUDA_BF16, IK_CUDA_BF16, 0.0f);
        }
    gemm_case(0, 1, 33, 17, 64, IK_CUDA_BF16, IK_CUDA_BF16, 1.0f);
    gemm_case(0, 0, 5, 7, 0, IK_CUDA_F32, IK_CUDA_F32, 0.5f); /* K = 0: C = beta C */
}

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* ->to_bf16 on exact ties (both ways to even), just off them, the edges
 * (the largest BF16, overflow to infinity, denormals, signed zeros) and NaN. */
static void check_bf16(void)
{
    int before = fails;
    printf("to_bf16 / from_bf16:\n");
    static const struct {
        uint32_t in;
        uint16_t out;
    } cases[] = {
        {0x3f808000u, 0x3f80u}, /* 1 + 2^-8: a tie, down to even 1.0 */
        {0x3f818000u, 0x3f82u}, /* 1 + 3*2^-8: a tie, up to even */
        {0x3f808001u, 0x3f81u}, /* just above the tie: up */
        {0x3f817fffu, 0x3f81u}, /* just below the tie: down */
        {0xbf808000u, 0xbf80u}, /* negative tie, to even */
        {0xbf818000u, 0xbf82u},
        {0x7f7f0000u, 0x7f7fu}, /* the largest BF16 */
        {0x7f7f7fffu, 0x7f7fu}, /* below the tie with infinity */
        {0x7f7f8000u, 0x7f80u}, /* the tie: the even neighbour is infinity */
        {0x7f7fffffu, 0x7f80u}, /* FLT_MAX overflows to infinity */
        {0x7f800000u, 0x7f80u}, /* +inf */
        {0xff800000u, 0xff80u}, /* -inf */
        {0x00008000u, 0x0000u}, /* a denormal tie, to even zero */
        {0x00018000u, 0x0002u}, /* a denormal tie, up to even */
        {0x80000000u, 0x8000u}, /* -0 */
        {0x7fc00000u, 0x7fffu}, /* quiet NaN: canonical */
        {0xff800001u, 0x7fffu}, /* signalling negative NaN: canonical */
        {0x7f80ffffu, 0x7fffu}, /* a NaN whose rounding would carry into infinity */
    };
    size_t n = sizeof cases / sizeof cases[0];
    float in[32];
    uint16_t *d_h, out[32];
    float *d_x, back[32];
    for (size_t i = 0; i < n; i++)
        in[i] = from_bits(cases[i].in);
    d_x = dev_copy(in, n * 4);
    ops->alloc((void **)&d_h, n * 2);
    ops->to_bf16(d_h, d_x, n);
    ops->memcpy_dtoh(out, d_h, n * 2);
    for (size_t i = 0; i < n; i++)
        EXPECT(out[i] == cases[i].out, "to_bf16(0x%08x) = 0x%04x, want 0x%04x", cases[i].in, out[i],
               cases[i].out);
    ops->from_bf16(d_x, d_h, n);
    ops->memcpy_dtoh(back, d_x, n * 4);
    for (size_t i = 0; i < n; i++)
        EXPECT(bits(back[i]) == (uint32_t)cases[i].out << 16, "from_bf16(0x%04x) = 0x%08x",
               cases[i].out, bits(back[i]));
    ops->free(d_x), ops->free(d_h);
    printf("  %zu cases: %s\n", n, fails > before ? "FAIL" : "ok");
}

/* ->softmax_xent_fwd_bwd OVERWRITES dlogits (filled with garbage first), out
 * of place and in place, with a masked row; the bits are the reference's. */
static void check_softmax_xent(void)
{
    int before = fails;
    printf("softmax_xent_fwd_bwd:\n");
    int N = 5, V = 1003, targets[5] = {0, 7, 1002, 500, 3};
    size_t nv = (size_t)N * V;
    float *l = rand_floats(nv, -8, 8), *dnll = rand_floats(N, 0.1f, 1.0f);
    dnll[2] = 0.0f;
    float *nll = xmalloc(N * 4), *dl = xmalloc(nv * 4);
    ik_cpu_softmax_xent_fwd_bwd(nll, dl, l, targets, dnll, N, V);
    float *d_l = dev_copy(l, nv * 4), *d_dn = dev_copy(dnll, N * 4), *d_nll, *d_dl;
    int *d_t = dev_copy(targets, sizeof targets);
    ops->alloc((void **)&d_nll, N * 4);
    float *junk = rand_floats(nv, 100, 200);
    d_dl = dev_copy(junk, nv * 4);
    EXPECT(ops->softmax_xent_fwd_bwd(d_nll, d_dl, d_l, d_t, d_dn, N, V) == 0, "%s", ops->last_error());
    float *g = xmalloc(nv * 4), gnll[5];
    ops->memcpy_dtoh(g, d_dl, nv * 4);
    ops->memcpy_dtoh(gnll, d_nll, N * 4);
    EXPECT(same_bits(g, dl, nv * 4), "dlogits overwritten with the reference's bits");
    EXPECT(same_bits(gnll, nll, N * 4), "nll the reference's bits");
    size_t nonzero = 0;
    for (int v = 0; v < V; v++)
        nonzero += g[(size_t)2 * V + v] != 0.0f;
    EXPECT(nonzero == 0, "masked row: %zu nonzero", nonzero);
    /* In place: dlogits = logits. */
    EXPECT(ops->softmax_xent_fwd_bwd(d_nll, d_l, d_l, d_t, d_dn, N, V) == 0, "%s", ops->last_error());
    ops->memcpy_dtoh(g, d_l, nv * 4);
    EXPECT(same_bits(g, dl, nv * 4), "in place: the same bits");
    /* A target out of range is refused (the module would read past the row). */
    targets[1] = V;
    ops->memcpy_htod(d_t, targets, sizeof targets);
    EXPECT(ops->softmax_xent_fwd_bwd(d_nll, d_dl, d_l, d_t, d_dn, N, V) == -1 &&
               strcmp(ops->last_error(), "softmax_xent_fwd_bwd: targets[1] = 1003 (each in [0, 1003))") == 0,
           "bad target: \"%s\"", ops->last_error());
    ops->free(d_l), ops->free(d_dn), ops->free(d_t), ops->free(d_nll), ops->free(d_dl);
    free(l), free(dnll), free(nll), free(dl), free(junk), free(g);
    printf("  N=%d V=%d: %s\n", N, V, fails > before ? "FAIL" : "ok");
}

/* ->softmax_xent_argmax: nll, argmax and the gradient of the references,
 * the gradient in place (F32) or rounded to BF16 in a buffer of its own
 * (one overlapping the logits is refused); ->loss_sums over a mask. */
static void check_head(void)
{
    int before = fails;
    printf("softmax_xent_argmax, loss_sums:\n");
    int N = 4, V = 517, targets[4] = {3, 0, 516, 9};
    size_t nv = (size_t)N * V;
    float *l = rand_floats(nv, -4, 4), *dnll = rand_floats(N, 0.1f, 1.0f);
    l[3] = 9.0f; /* row 0's argmax is its target */
    float *nll = xmalloc(N * 4), *dl = xmalloc(nv * 4);
    int amax[4], gamax[4];
    ik_cpu_softmax_xent_fwd_bwd(nll, dl, l, targets, dnll, N, V);
    ik_cpu_argmax_rows(amax, l, N, V);
    float *d_l = dev_copy(l, nv * 4), *gnll = xmalloc(N * 4);
    uint16_t *gb = xmalloc(nv * 2);
    EXPECT(ops->softmax_xent_argmax(gnll, gamax, gb, IK_CUDA_BF16, d_l, targets, dnll, N, V) == 0,
           "%s", ops->last_error());
    EXPECT(same_bits(gnll, nll, N * 4) && memcmp(gamax, amax, sizeof amax) == 0 && gamax[0] == 3,
           "BF16: nll and argmax the references'");
    size_t off = 0;
    for (size_t i = 0; i < nv; i++)
        off += gb[i] != ik_test_bf16_from_float(dl[i]);
    EXPECT(off == 0, "BF16 dlogits: %zu values not the fp32 gradient rounded", off);
    EXPECT(ops->softmax_xent_argmax(gnll, NULL, d_l, IK_CUDA_F32, d_l, targets, dnll, N, V) == 0 &&
               same_bits(d_l, dl, nv * 4),
           "F32 in place, no argmax: the reference's bits");
    EXPECT(ops->softmax_xent_argmax(gnll, NULL, (char *)d_l + 8, IK_CUDA_BF16, d_l, targets, dnll,
                                    N, V) == -1 &&
               strcmp(ops->last_error(), "softmax_xent_argmax: BF16 dlogits overlap the logits (a "
                                         "separate buffer is needed)") == 0,
           "overlap: \"%s\"", ops->last_error());
    double sums[2];
    unsigned char mask[4] = {1, 0, 1, 1};
    EXPECT(ops->loss_sums(sums, nll, amax, targets, mask, N) == 0 &&
               sums[0] == (double)nll[0] + nll[2] + nll[3] &&
               sums[1] == (amax[0] == 3) + (amax[2] == 516) + (amax[3] == 9),
           "loss_sums over the mask: %g %g", sums[0], sums[1]);
    EXPECT(ops->loss_sums(sums, nll, amax, targets, NULL, N) == 0 &&
               sums[0] == (double)nll[0] + nll[1] + nll[2] + nll[3],
           "loss_sums, every row: %g", sums[0]);
    ops->free(d_l);
    free(l), free(dnll), free(nll), free(dl), free(gnll), free(gb);
    printf("  %s\n", fails > before ? "FAIL" : "ok");
}

/* ->qk_norm_rope_fwd/bwd against the norm's and RoPE's references in turn
 * (and without RoPE: inv_freq NULL); the backward overwrites, in place. */
static void check_qk_norm_rope(void)
{
    int before = fails;
    printf("qk_norm_rope_fwd/bwd:\n");
    int N = 5, nh = 3, hd = 16, pos[5] = {0, 1, 7, 100, 4000};
    size_t n = (size_t)N * nh * hd;
    float inv_freq[8], *x = rand_floats(n, -2, 2), *w = rand_floats(hd, 0.5f, 1.5f);
    float *dout = rand_floats(n, -1, 1);
    for (int j = 0; j < hd / 2; j++)
        inv_freq[j] = (float)pow(1e6, -2.0 * j / hd);
    for (int rope = 0; rope < 2; rope++) {
        const float *f = rope ? inv_freq : NULL;
        float *want = xmalloc(n * 4), *rstd = xmalloc(N * nh * 4), *got = xmalloc(n * 4);
        float *grstd = xmalloc(N * nh * 4), *d = copy_floats(dout, n), *dx = xmalloc(n * 4);
        ik_cpu_rmsnorm_fwd(want, rstd, x, w, N * nh, hd, 1e-6f);
        if (rope)
            ik_cpu_rope_fwd(want, pos, inv_freq, N, nh, hd);
        EXPECT(ops->qk_norm_rope_fwd(got, grstd, x, w, pos, f, N, nh, hd, 1e-6f) == 0 &&
                   same_bits(got, want, n * 4) && same_bits(grstd, rstd, N * nh * 4),
               "forward%s: the references' bits", rope ? "" : " without RoPE");
        if (rope)
            ik_cpu_rope_bwd(d, pos, inv_freq, N, nh, hd);
        memset(dx, 0, n * 4);
        ik_cpu_rmsnorm_bwd(dx, NULL, d, x, rstd, w, N * nh, hd);
        memcpy(d, dout, n * 4);
        EXPECT(ops->qk_norm_rope_bwd(d, d, x, rstd, w, pos, f, N, nh, hd) == 0 &&
                   same_bits(d, dx, n * 4),
               "backward%s in place: the references' bits", rope ? "" : " without RoPE");
        free(want), free(rstd), free(got), free(grstd), free(d), free(dx);
    }
    EXPECT(ops->qk_norm_rope_fwd(x, NULL, x, w, pos, inv_freq, N, nh, 15, 1e-6f) == -1 &&
               strcmp(ops->last_error(), "qk_norm_rope_fwd: N = 5, nh = 3, hd = 15 (N, nh >= 0; "
                                         "0 < hd <= 4096, even with RoPE)") == 0,
           "odd hd: \"%s\"", ops->last_error());
    free(x), free(w), free(dout);
    printf("  %s\n", fails > before ? "FAIL" : "ok");
}

/* ->swiglu_bwd_bf16 OVERWRITES (garbage first) with the reference's terms
 * onto zeros, and their BF16 roundings; NULL outputs are left alone. */
static void check_swiglu_bwd_bf16(void)
{
    int before = fails;
    printf("swiglu_bwd_bf16:\n");
    int N = 3, F = 77;
    size_t n = (size_t)N * F;
    float *g = rand_floats(n, -8, 8), *u = rand_floats(n, -2, 2), *d = rand_floats(n, -1, 1);
    float *dg = xmalloc(n * 4), *du = xmalloc(n * 4), *gdg = rand_floats(n, 5, 6);
    float *gdu = rand_floats(n, 5, 6);
    memset(dg, 0, n * 4);
    memset(du, 0, n * 4);
    ik_cpu_swiglu_bwd(dg, du, d, g, u, N, F);
    uint16_t *gb = xmalloc(n * 2), *ub = xmalloc(n * 2);
    EXPECT(ops->swiglu_bwd_bf16(gdg, gdu, gb, ub, d, g, u, N, F) == 0, "%s", ops->last_error());
    EXPECT(same_bits(gdg, dg, n * 4) && same_bits(gdu, du, n * 4), "fp32: the reference's bits");
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += gb[i] != ik_test_bf16_from_float(dg[i]) || ub[i] != ik_test_bf16_from_float(du[i]);
    EXPECT(off == 0, "BF16: %zu values not the fp32 ones rounded", off);
    float *keep = copy_floats(gdg, n);
    EXPECT(ops->swiglu_bwd_bf16(NULL, gdu, NULL, ub, d, g, u, N, F) == 0 && same_bits(gdg, keep, n * 4),
           "NULL outputs untouched");
    free(g), free(u), free(d), free(dg), free(du), free(gdg), free(gdu), free(gb), free(ub), free(keep);
    printf("  %s\n", fails > before ? "FAIL" : "ok");
}

/* The backward entries ACCUMULATE: rmsnorm_bwd and attention_bwd onto random
 * gradients, twice, against the same calls of the references. */
static void check_accumulate(void)
{
    int before = fails;
    printf("accumulating backward entries:\n");
    int N = 9, C = 64;
    size_t nc = (size_t)N * C;
    float *x = rand_floats(nc, -2, 2), *w = rand_floats(C, 0.5f, 1.5f), *dy = rand_floats(nc, -1, 1);
    float *dx = rand_floats(nc, -1, 1), *dw = rand_floats(C, -1, 1), *rstd = xmalloc(N * 4);
    float *out = xmalloc(nc * 4);
    ik_cpu_rmsnorm_fwd(out, rstd, x, w, N, C, 1e-6f);
    float *d_x = dev_copy(x, nc * 4), *d_w = dev_copy(w, C * 4), *d_dy = dev_copy(dy, nc * 4);
    float *d_dx = dev_copy(dx, nc * 4), *d_dw = dev_copy(dw, C * 4), *d_r = dev_copy(rstd, N * 4);
    for (int rep = 0; rep < 2; rep++) {
        ik_cpu_rmsnorm_bwd(dx, dw, dy, x, rstd, w, N, C);
        ops->rmsnorm_bwd(d_dx, d_dw, d_dy, d_x, d_r, d_w, N, C);
    }
    float *g = xmalloc(nc * 4);
    ops->memcpy_dtoh(g, d_dx, nc * 4);
    EXPECT(same_bits(g, dx, nc * 4), "rmsnorm_bwd dx += twice");
    ops->memcpy_dtoh(g, d_dw, C * 4);
    EXPECT(same_bits(g, dw, C * 4), "rmsnorm_bwd dw += twice");
    float *devs[] = {d_x, d_w, d_dy, d_dx, d_dw, d_r};
    for (int i = 0; i < 6; i++)
        ops->free(devs[i]);
    free(x), free(w), free(dy), free(dx), free(dw), free(rstd), free(out), free(g);

    int T = 40, H = 6, K = 2, hd = 32;
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd;
    float *q = rand_floats(nq, -1, 1), *k = rand_floats(nk, -1, 1), *v = rand_floats(nk, -1, 1);
    float *dout = rand_floats(nq, -1, 1), *dq = rand_floats(nq, -1, 1), *dk = rand_floats(nk, -1, 1);
    float *dv = rand_floats(nk, -1, 1), *o = xmalloc(nq * 4);
    float *scr = xmalloc(ik_cpu_attention_bwd_scratch(T, H, K, hd) * 4);
    float *dq2 = copy_floats(dq, nq), *dk2 = copy_floats(dk, nk), *dv2 = copy_floats(dv, nk);
    float *go = xmalloc(nq * 4);
    ik_cpu_attention_seq_fwd(o, q, k, v, T, H, K, hd, 7, scr);
    ik_cpu_attention_bwd(dq, dk, dv, dout, q, k, v, T, H, K, hd, 7, scr);
    EXPECT(ops->attention_fwd(go, q, k, v, T, H, K, hd, 7, NULL) == 0, "%s", ops->last_error());
    EXPECT(ops->attention_bwd(dq2, dk2, dv2, dout, q, k, v, T, H, K, hd, 7, NULL) == 0, "%s",
           ops->last_error());
    EXPECT(same_bits(go, o, nq * 4), "attention_fwd out");
    EXPECT(same_bits(dq2, dq, nq * 4) && same_bits(dk2, dk, nk * 4) && same_bits(dv2, dv, nk * 4),
           "attention_bwd dq, dk, dv +=");
    EXPECT(ops->attention_fwd(go, q, k, v, T, 5, K, hd, 0, NULL) == -1 &&
               strcmp(ops->last_error(),
                      "attention_fwd: T 40, H 5, K 2, hd 32 (H a multiple of K expected)") == 0,
           "attention_fwd(H 5, K 2): \"%s\"", ops->last_error());
    float *host[] = {q, k, v, dout, dq, dk, dv, o, scr, dq2, dk2, dv2, go};
    for (int i = 0; i < 13; i++)
        free(host[i]);
    printf("  rmsnorm_bwd, attention_bwd: %s\n", fails > before ? "FAIL" : "ok");
}

/* The cuDNN attention entries: the references on BF16-rounded inputs, out
 * and the gradients rounded to BF16 (cuDNN's output type) before the +=;
 * stats against a double logsumexp of the rows' scaled scores (fp32 dots
 * of 32 terms and expf/logf: within 1e-5); hd not a multiple of 8 refused. */
static void check_sdpa(void)
{
    int before = fails;
    printf("sdpa_fwd, sdpa_bwd:\n");
    int T = 21, H = 4, K = 2, hd = 32, W = 6;
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * K * hd;
    float *q = rand_floats(nq, -1, 1), *k = rand_floats(nk, -1, 1), *v = rand_floats(nk, -1, 1);
    float *dout = rand_floats(nq, -1, 1), *dq = rand_floats(nq, -1, 1), *dk = rand_floats(nk, -1, 1);
    float *dv = rand_floats(nk, -1, 1), *o = xmalloc(nq * 4), *go = xmalloc(nq * 4);
    float *stats = xmalloc((size_t)H * T * 4), *g = xmalloc((nq + 2 * nk) * 4);
    float *scr = xmalloc(ik_cpu_attention_bwd_scratch(T, H, K, hd) * 4);
    float *dq2 = copy_floats(dq, nq), *dk2 = copy_floats(dk, nk), *dv2 = copy_floats(dv, nk);
    float *in[] = {q, k, v, dout};
    size_t ns[] = {nq, nk, nk, nq};
    for (int i = 0; i < 4; i++) /* BF16 values: rounding them again changes nothing */
        for (size_t j = 0; j < ns[i]; j++)
            in[i][j] = ik_test_bf16_to_float(ik_test_bf16_from_float(in[i][j]));
    EXPECT(ops->sdpa_available(T, H, K, hd, W) == 1, "%s", ops->last_error());
    EXPECT(ops->sdpa_fwd(go, stats, q, k, v, T, H, K, hd, W, NULL) == 0, "%s", ops->last_error());
    ik_cpu_attention_seq_fwd(o, q, k, v, T, H, K, hd, W, scr);
    for (size_t i = 0; i < nq; i++)
        o[i] = ik_test_bf16_to_float(ik_test_bf16_from_float(o[i]));
    EXPECT(same_bits(go, o, nq * 4), "sdpa_fwd out = the reference's, rounded to BF16");
    double worst = 0;
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++) {
            double m = -INFINITY, sum = 0, sc[64];
            int lo = t - W + 1 > 0 ? t - W + 1 : 0;
            for (int j = lo; j <= t; j++) {
                double dot = 0;
                for (int i = 0; i < hd; i++)
                    dot += (double)q[((size_t)t * H + h) * hd + i] * k[((size_t)j * K + h / 2) * hd + i];
                sc[j - lo] = dot / sqrt(hd);
                m = sc[j - lo] > m ? sc[j - lo] : m;
            }
            for (int j = lo; j <= t; j++)
                sum += exp(sc[j - lo] - m);
            double err = fabs(stats[(size_t)h * T + t] - (m + log(sum)));
            worst = err > worst ? err : worst;
        }
    EXPECT(worst < 1e-5, "sdpa_fwd stats: max error %g against double", worst);
    memset(g, 0, (nq + 2 * nk) * 4);
    ik_cpu_attention_bwd(g, g + nq, g + nq + nk, dout, q, k, v, T, H, K, hd, W, scr);
    for (size_t i = 0; i < nq + 2 * nk; i++) {
        float r = ik_test_bf16_to_float(ik_test_bf16_from_float(g[i]));
        float *dst = i < nq ? &dq[i] : i < nq + nk ? &dk[i - nq] : &dv[i - nq - nk];
        *dst += r;
    }
    EXPECT(ops->sdpa_bwd(dq2, dk2, dv2, dout, go, stats, q, k, v, T, H, K, hd, W, NULL) == 0, "%s",
           ops->last_error());
    EXPECT(same_bits(dq2, dq, nq * 4) && same_bits(dk2, dk, nk * 4) && same_bits(dv2, dv, nk * 4),
           "sdpa_bwd dq, dk, dv += the reference's, rounded to BF16");
    stats[5] += 1.0f;
    EXPECT(ops->sdpa_bwd(dq2, dk2, dv2, dout, go, stats, q, k, v, T, H, K, hd, W, NULL) == -1 &&
               strcmp(ops->last_error(), "sdpa_bwd: stats are not its forward's of these q, k (T 21)") == 0,
           "sdpa_bwd with other stats: \"%s\"", ops->last_error());
    EXPECT(ops->sdpa_available(T, H, K, 20, 0) == 0 &&
               strcmp(ops->last_error(),
                      "sdpa_available: cuDNN attention needs hd a multiple of 8, got 20") == 0,
           "sdpa_available(hd 20): \"%s\"", ops->last_error());
    EXPECT(ops->sdpa_scratch(T, H, K, hd) >= (2 * nq + 2 * nk) * 2, "sdpa_scratch holds the copies");
    float *host[] = {q, k, v, dout, dq, dk, dv, o, go, stats, g, scr, dq2, dk2, dv2};
    for (int i = 0; i < 15; i++)
        free(host[i]);
    printf("  %s\n", fails > before ? "FAIL" : "ok");
}

/* argmax_rows and embed_rows_bf16 against the references. */
static void check_rows(void)
{
    int before = fails;
    printf("argmax_rows, embed_rows_bf16:\n");
    int N = 4, V = 3001;
    float *x = rand_floats((size_t)N * V, -1, 1);
    x[10] = x[20] = 5.0f, x[3] = NAN;
    for (int v = 0; v < V; v++)
        x[(size_t)V + v] = NAN;
    int want[4], got[4];
    ik_cpu_argmax_rows(want, x, N, V);
    EXPECT(ops->argmax_rows(got, x, N, V) == 0 && memcmp(got, want, sizeof got) == 0 &&
               got[0] == 10 && got[1] == 0,
           "argmax_rows: %d %d %d %d", got[0], got[1], got[2], got[3]);
    free(x);
    uint16_t table[3 * 4] = {0x3f80, 0xbf80, 0x7fc0, 0x0001, 1, 2, 3, 4, 0x4000, 0x4040, 0, 0x8000};
    int tokens[3] = {2, 0, 2};
    float out[12];
    EXPECT(ops->embed_rows_bf16(out, table, tokens, 3, 4) == 0, "%s", ops->last_error());
    EXPECT(out[0] == 2.0f && out[1] == 3.0f && bits(out[3]) == 0x80000000u && out[4] == 1.0f &&
               bits(out[6]) == 0x7fc00000u && out[8] == 2.0f,
           "embed_rows_bf16 rows");
    tokens[1] = -1;
    EXPECT(ops->embed_rows_bf16(out, table, tokens, 3, 4) == -1, "negative token refused");
    printf("  %s\n", fails > before ? "FAIL" : "ok");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a crash keeps the lines before it */
    ops = ik_test_cpu_cuda_ops();
    ik_prng_seed(&rng, 20240611);
    check_table();
    check_memory();
    check_gemm();
    check_bf16();
    check_softmax_xent();
    check_head();
    check_qk_norm_rope();
    check_swiglu_bwd_bf16();
    check_accumulate();
    check_sdpa();
    check_rows();
    printf("test_cpu_ops: %s (%d failure%s)\n", fails ? "FAIL" : "ok", fails, fails == 1 ? "" : "s");
    return fails ? 1 : 0;
}
