/* tests/cuda/cpu_ops.c - the CPU stand-in of the CUDA module's table
 * (cpu_ops.h): host memory for device memory, the kernels.h references for
 * the kernels, each entry with the argument checks and the error text of its
 * kernels/cuda/<op>.cu. Correctness over speed: the BF16 GEMM widens its
 * operands into fp32 temporaries and calls ik_cpu_sgemm. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cuda/scratch.h"
#include "kernels/kernels.h"
#include "tests/cuda/cpu_ops.h"
#include "tests/cuda/cpu_ops_int.h"
#include "tests/cuda/ref_fill.h"
#include "tests/cuda/ref_gemm.h"

static _Thread_local char err_text[512];

int ik_test_cpu_fail(const char *what, const char *fmt, ...)
{
    int n = snprintf(err_text, sizeof err_text, "%s: ", what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_text + n, sizeof err_text - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

uint16_t ik_test_bf16_from_float(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return 0x7fffu;
    /* Adding 0x7fff plus the kept part's lowest bit rounds to nearest, ties
     * to even; a carry out of the mantissa moves the exponent (up to
     * infinity, 0x7f80, for values past the largest BF16). */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float ik_test_bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* ---- devices and memory ---- */

static const char *last_error(void) { return err_text; }

static int device_count(void) { return 1; }

static int device_name(int device, char *buf, size_t cap)
{
    if (device != 0)
        return ik_test_cpu_fail("device_name", "device %d (the CPU stand-in has device 0 only)", device);
    snprintf(buf, cap, "CPU stand-in");
    return 0;
}

static int set_device(int device)
{
    if (device != 0)
        return ik_test_cpu_fail("set_device", "device %d (the CPU stand-in has device 0 only)", device);
    return 0;
}

/* 256-byte aligned, as cudaMalloc's pointers; filled with 0xff bytes. */
static int dev_alloc(void **p, size_t bytes)
{
    *p = NULL;
    if (bytes == 0)
        return 0;
    size_t rounded = (bytes + 255) & ~(size_t)255;
    if (rounded < bytes || (*p = aligned_alloc(256, rounded)) == NULL)
        return ik_test_cpu_fail("alloc", "out of memory (%zu bytes)", bytes);
    memset(*p, 0xff, bytes);
    return 0;
}

static int dev_free(void *p)
{
    free(p);
    return 0;
}

static int copy(void *dst, const void *src, size_t bytes)
{
    if (bytes != 0)
        memcpy(dst, src, bytes);
    return 0;
}

static int dev_memset(void *p, int byte, size_t bytes)
{
    if (bytes != 0)
        memset(p, byte, bytes);
    return 0;
}

static int synchronize(void) { return 0; }

/* ---- kernels: the references, behind the module's argument checks ---- */

static int rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, int N, int C,
                       float eps)
{
    if (N < 0 || C <= 0)
        return ik_test_cpu_fail("rmsnorm_fwd", "N = %d, C = %d (N >= 0, C > 0)", N, C);
    if (N > 0)
        ik_cpu_rmsnorm_fwd(out, rstd, x, w, N, C, eps);
    return 0;
}

static int rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x, const float *rstd,
                       const float *w, int N, int C)
{
    if (N < 0 || C <= 0)
        return ik_test_cpu_fail("rmsnorm_bwd", "N = %d, C = %d (N >= 0, C > 0)", N, C);
    if (N > 0)
        ik_cpu_rmsnorm_bwd(dx, dw, dout, x, rstd, w, N, C);
    return 0;
}

/* The two references in turn: the bits the module's fused kernel matches. */
static int add_rmsnorm_fwd(float *sum, float *out, float *rstd, const float *a, const float *b,
                           const float *w, int N, int C, float eps)
{
    if (N < 0 || C <= 0)
        return ik_test_cpu_fail("add_rmsnorm_fwd", "N = %d, C = %d (N >= 0, C > 0)", N, C);
    for (size_t i = 0; i < (size_t)N * C; i++)
        sum[i] = a[i] + b[i];
    if (N > 0)
        ik_cpu_rmsnorm_fwd(out, rstd, sum, w, N, C, eps);
    return 0;
}

static int swiglu_fwd(float *out, const float *gate, const float *up, int N, int F)
{
    if (N < 0 || F < 0)
        return ik_test_cpu_fail("swiglu_fwd", "N = %d, F = %d (both >= 0)", N, F);
    if ((size_t)N * F > 0)
        ik_cpu_swiglu_fwd(out, gate, up, N, F);
    return 0;
}

static int swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate,
                      const float *up, int N, int F)
{
    if (N < 0 || F < 0)
        return ik_test_cpu_fail("swiglu_bwd", "N = %d, F = %d (both >= 0)", N, F);
    if ((size_t)N * F > 0)
        ik_cpu_swiglu_bwd(dgate, dup, dout, gate, up, N, F);
    return 0;
}

/* The reference onto zeros, then the BF16 copies, as the module writes them. */
static int swiglu_bwd_bf16(float *dgate, float *dup, uint16_t *dgate_b, uint16_t *dup_b,
                           const float *dout, const float *gate, const float *up, int N, int F)
{
    if (N < 0 || F < 0)
        return ik_test_cpu_fail("swiglu_bwd_bf16", "N = %d, F = %d (both >= 0)", N, F);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    float *dg = calloc(n, sizeof *dg), *du = calloc(n, sizeof *du);
    if (dg == NULL || du == NULL) {
        free(dg), free(du);
        return ik_test_cpu_fail("swiglu_bwd_bf16", "out of host memory (%zu bytes)", 2 * n * sizeof *dg);
    }
    ik_cpu_swiglu_bwd(dg, du, dout, gate, up, N, F);
    for (size_t i = 0; i < n; i++) {
        if (dgate)
            dgate[i] = dg[i];
        if (dup)
            dup[i] = du[i];
        if (dgate_b)
            dgate_b[i] = ik_test_bf16_from_float(dg[i]);
        if (dup_b)
            dup_b[i] = ik_test_bf16_from_float(du[i]);
    }
    free(dg), free(du);
    return 0;
}

static float *widen(const void *src, int type, int rows, int cols, int ld);

static int swiglu_fwd_bf16(float *act, uint16_t *act_b, int ld_b, const uint16_t *gate,
                           const uint16_t *up, int N, int F)
{
    if (N < 0 || F < 0 || (act_b != NULL && ld_b < F))
        return ik_test_cpu_fail("swiglu_fwd_bf16", "N = %d, F = %d, ld_b = %d (N, F >= 0, ld_b >= F)", N, F,
                    ld_b);
    size_t n = (size_t)N * F;
    float *g = widen(gate, IK_CUDA_BF16, N, F, F), *u = widen(up, IK_CUDA_BF16, N, F, F);
    float *v = malloc((n ? n : 1) * sizeof *v);
    int rc = g && u && v ? 0 : ik_test_cpu_fail("swiglu_fwd_bf16", "out of host memory (%zu values)", n);
    if (rc == 0) {
        ik_cpu_swiglu_fwd(v, g, u, N, F);
        for (size_t i = 0; i < n; i++) {
            if (act)
                act[i] = v[i];
            if (act_b)
                act_b[i / (size_t)F * (size_t)ld_b + i % (size_t)F] = ik_test_bf16_from_float(v[i]);
        }
    }
    free(g), free(u), free(v);
    return rc;
}

static int swiglu_bwd_bf16_in(uint16_t *dgate_b, uint16_t *dup_b, const float *dout,
                              const uint16_t *gate, const uint16_t *up, int N, int F)
{
    if (N < 0 || F < 0)
        return ik_test_cpu_fail("swiglu_bwd_bf16_in", "N = %d, F = %d (both >= 0)", N, F);
    size_t n = (size_t)N * F;
    float *g = widen(gate, IK_CUDA_BF16, N, F, F), *u = widen(up, IK_CUDA_BF16, N, F, F);
    int rc = g && u ? swiglu_bwd_bf16(NULL, NULL, dgate_b, dup_b, dout, g, u, N, F)
                    : ik_test_cpu_fail("swiglu_bwd_bf16_in", "out of host memory (%zu values)", n);
    free(g), free(u);
    return rc;
}

static int rope_args(const char *what, int N, int nh, int hd)
{
    if (N < 0 || nh < 0 || hd <= 0 || hd % 2 != 0)
        return ik_test_cpu_fail(what, "N = %d, nh = %d, hd = %d (N, nh >= 0; hd even, > 0)", N, nh, hd);
    return 0;
}

static int rope_fwd(float *x, const int *pos, const float *inv_freq, int N, int nh, int hd)
{
    if (rope_args("rope_fwd", N, nh, hd))
        return -1;
    if (N > 0 && nh > 0)
        ik_cpu_rope_fwd(x, pos, inv_freq, N, nh, hd);
    return 0;
}

static int rope_bwd(float *d, const int *pos, const float *inv_freq, int N, int nh, int hd)
{
    if (rope_args("rope_bwd", N, nh, hd))
        return -1;
    if (N > 0 && nh > 0)
        ik_cpu_rope_bwd(d, pos, inv_freq, N, nh, hd);
    return 0;
}

static int xent_args(const char *what, const int *targets, int N, int V)
{
    if (N < 0 || V <= 0)
        return ik_test_cpu_fail(what, "N = %d, V = %d (N >= 0, V > 0)", N, V);
    for (int n = 0; n < N; n++)
        if (targets[n] < 0 || targets[n] >= V)
            return ik_test_cpu_fail(what, "targets[%d] = %d (each in [0, %d))", n, targets[n], V);
    return 0;
}

static int softmax_xent_fwd_bwd(float *nll, float *dlogits, const float *logits, const int *targets,
                                const float *dnll, int N, int V)
{
    if (xent_args("softmax_xent_fwd_bwd", targets, N, V))
        return -1;
    if (N > 0)
        ik_cpu_softmax_xent_fwd_bwd(nll, dlogits, logits, targets, dnll, N, V);
    return 0;
}

static int dropout(float *out, const float *x, size_t n, float p, uint64_t key)
{
    if (!(p > 0.0f && p < 1.0f))
        return ik_test_cpu_fail("dropout", "p = %g (0 < p < 1)", (double)p);
    if (n > 0)
        ik_cpu_dropout(out, x, n, p, key);
    return 0;
}

static int dropout_add(float *out, const float *g, size_t n, float p, uint64_t key)
{
    if (!(p > 0.0f && p < 1.0f))
        return ik_test_cpu_fail("dropout_add", "p = %g (0 < p < 1)", (double)p);
    float *t = malloc(n * sizeof *t + 1);
    if (t == NULL)
        return ik_test_cpu_fail("dropout_add", "out of memory (%zu floats)", n);
    if (n > 0)
        ik_cpu_dropout(t, g, n, p, key);
    for (size_t i = 0; i < n; i++)
        out[i] += t[i];
    free(t);
    return 0;
}

static int adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                 float b2, float eps, float wd, int t)
{
    if (t < 1)
        return ik_test_cpu_fail("adamw", "t = %d (t >= 1)", t);
    if (n > 0)
        ik_cpu_adamw(p, g, m, v, n, lr, b1, b2, eps, wd, t);
    return 0;
}

/* ---- GEMM and BF16 ---- */

/* The rows x cols matrix at src (leading dimension ld) as compact fp32
 * (TF32 operands rounded as the tensor cores round them). */
static float *widen(const void *src, int type, int rows, int cols, int ld)
{
    float *out = malloc((size_t)rows * cols * sizeof *out + 1);
    if (out == NULL)
        return NULL;
    for (int r = 0; r < rows; r++) {
        float *o = out + (size_t)r * cols;
        if (type == IK_CUDA_F32)
            memcpy(o, (const float *)src + (size_t)r * ld, (size_t)cols * sizeof *o);
        else if (type == IK_CUDA_TF32)
            for (int c = 0; c < cols; c++)
                o[c] = ref_tf32_round(((const float *)src)[(size_t)r * ld + c]);
        else
            for (int c = 0; c < cols; c++)
                o[c] = ik_test_bf16_to_float(((const uint16_t *)src)[(size_t)r * ld + c]);
    }
    return out;
}

static int gemm(int ta, int tb, int M, int N, int K, float alpha, const void *A, int lda,
                const void *B, int ldb, float beta, void *C, int ldc, int ab_type, int c_type)
{
    if (M < 0 || N < 0 || K < 0)
        return ik_test_cpu_fail("gemm", "M %d, N %d, K %d", M, N, K);
    if (M == 0 || N == 0)
        return 0;
    if ((ab_type != IK_CUDA_F32 && ab_type != IK_CUDA_BF16 && ab_type != IK_CUDA_TF32) ||
        (c_type != IK_CUDA_F32 && c_type != IK_CUDA_BF16))
        return ik_test_cpu_fail("gemm", "types %d and %d (expected A and B IK_CUDA_F32, IK_CUDA_BF16 or "
                    "IK_CUDA_TF32, C IK_CUDA_F32 or IK_CUDA_BF16)", ab_type, c_type);
    if (lda < (ta ? M : K) || ldb < (tb ? K : N) || ldc < N)
        return ik_test_cpu_fail("gemm", "leading dimensions %d, %d, %d too small for M %d N %d K %d", lda, ldb,
                    ldc, M, N, K);
    /* fp32 operands are used in place; BF16 and TF32 ones widened (rounded)
     * to compact copies. */
    const float *a = A, *b = B;
    float *wa = NULL, *wb = NULL, *wc = NULL, *c = C;
    int la = lda, lb = ldb, lc = ldc, rc = 0;
    if (ab_type != IK_CUDA_F32 && K > 0) {
        wa = widen(A, ab_type, ta ? K : M, ta ? M : K, lda);
        wb = widen(B, ab_type, tb ? N : K, tb ? K : N, ldb);
        a = wa, b = wb, la = ta ? M : K, lb = tb ? K : N;
        if (wa == NULL || wb == NULL) {
            rc = ik_test_cpu_fail("gemm", "out of memory widening the operands");
            goto out;
        }
    }
    if (c_type == IK_CUDA_BF16) {
        if ((wc = widen(C, IK_CUDA_BF16, M, N, ldc)) == NULL) {
            rc = ik_test_cpu_fail("gemm", "out of memory widening the BF16 C");
            goto out;
        }
        c = wc, lc = N;
    }
    if (K == 0) {
        /* No products: C = beta C (beta 0 writes zeros, reading nothing). */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                c[(size_t)i * lc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * lc + j];
    } else {
        ik_cpu_sgemm(ta != 0, tb != 0, M, N, K, alpha, a, la, b, lb, beta, c, lc);
    }
    if (c_type == IK_CUDA_BF16)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                ((uint16_t *)C)[(size_t)i * ldc + j] = ik_test_bf16_from_float(wc[(size_t)i * N + j]);
out:
    free(wa), free(wb), free(wc);
    return rc;
}

static int to_bf16(uint16_t *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ik_test_bf16_from_float(x[i]);
    return 0;
}

static int to_bf16_2d(uint16_t *out, int ld_out, const float *x, int ld_x, int rows, int cols,
                      int out_cols, float scale)
{
    if (rows < 0 || cols < 0 || out_cols < cols || ld_out < out_cols || (rows > 0 && cols > 0 && ld_x < cols))
        return ik_test_cpu_fail("to_bf16_2d", "rows %d, cols %d, out_cols %d, ld_out %d, ld_x %d", rows, cols,
                    out_cols, ld_out, ld_x);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < out_cols; c++)
            out[(size_t)r * ld_out + c] =
                c < cols ? ik_test_bf16_from_float(scale * x[(size_t)r * ld_x + c]) : 0;
    return 0;
}

static int from_bf16(float *out, const uint16_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ik_test_bf16_to_float(x[i]);
    return 0;
}

/* ---- the LoRA branch through its dropout: ->dropout's mask on a copy,
 * then the reference GEMMs ---- */

static int lora_args(const char *what, int T, int In, int r, float p)
{
    if (T < 0 || In < 0 || r <= 0 || !(p > 0.0f && p < 1.0f))
        return ik_test_cpu_fail(what, "T %d, In %d, r %d, p %g (T, In >= 0, r > 0, 0 < p < 1)", T, In, r,
                    (double)p);
    return 0;
}

/* dropout(x) (n values) in a new buffer, or NULL. */
static float *dropped(const float *x, size_t n, float p, uint64_t key)
{
    float *y = malloc((n ? n : 1) * sizeof *y);
    if (y != NULL && n > 0)
        ik_cpu_dropout(y, x, n, p, key);
    return y;
}

static int lora_down_dropout(float *h, const float *x, const float *A, int T, int In, int r,
                             float p, uint64_t key)
{
    if (lora_args("lora_down_dropout", T, In, r, p))
        return -1;
    float *xd = dropped(x, (size_t)T * In, p, key);
    if (xd == NULL)
        return ik_test_cpu_fail("lora_down_dropout", "out of host memory");
    if (T > 0)
        ik_cpu_sgemm(false, true, T, r, In, 1.0f, xd, In, A, In, 0.0f, h, r);
    free(xd);
    return 0;
}

/* The module's figure (lora_dropout.cu: a partial sum per 128 tokens), so
 * that a trainer's arena is the module's; the stand-in uses none of it. */
static size_t lora_dA_dropout_scratch(int T, int In, int r)
{
    return ik_lora_dA_scratch_bytes(T, In, r);
}

static int lora_dA_dropout(float *dA, const float *dh, const float *x, int T, int In, int r,
                           float p, uint64_t key, void *scratch)
{
    (void)scratch;
    if (lora_args("lora_dA_dropout", T, In, r, p))
        return -1;
    float *xd = dropped(x, (size_t)T * In, p, key);
    if (xd == NULL)
        return ik_test_cpu_fail("lora_dA_dropout", "out of host memory");
    if (T > 0 && In > 0)
        ik_cpu_sgemm(true, false, r, In, T, 1.0f, dh, r, xd, In, 1.0f, dA, In);
    free(xd);
    return 0;
}

static int lora_dx_dropout(float *dx, const float *dh, const float *A, int T, int In, int r,
                           float p, uint64_t key)
{
    if (lora_args("lora_dx_dropout", T, In, r, p))
        return -1;
    size_t n = (size_t)T * In;
    float *g = malloc((n ? n : 1) * sizeof *g);
    if (g == NULL)
        return ik_test_cpu_fail("lora_dx_dropout", "out of host memory");
    if (n > 0) {
        ik_cpu_sgemm(false, false, T, In, r, 1.0f, dh, r, A, In, 0.0f, g, In);
        ik_cpu_dropout(g, g, n, p, key);
        for (size_t i = 0; i < n; i++)
            dx[i] += g[i];
    }
    free(g);
    return 0;
}

/* dout + the branch's gradient (through the dropout when p > 0), then the
 * BF16 SwiGLU gradients of it. */
static int lora_down_swiglu_bwd(uint16_t *dgate_b, uint16_t *dup_b, const float *dout,
                                const uint16_t *gate, const uint16_t *up, int T, int F,
                                const float *dh, const float *A, int r, float p, uint64_t key)
{
    if (T < 0 || F < 0 || r <= 0 || !(p >= 0.0f && p < 1.0f))
        return ik_test_cpu_fail("lora_down_swiglu_bwd", "T %d, F %d, r %d, p %g (T, F >= 0, r > 0, 0 <= p < 1)",
                    T, F, r, (double)p);
    size_t n = (size_t)T * F;
    float *g = malloc((n ? n : 1) * sizeof *g);
    if (g == NULL)
        return ik_test_cpu_fail("lora_down_swiglu_bwd", "out of host memory");
    memcpy(g, dout, n * sizeof *g);
    int rc = p > 0.0f ? lora_dx_dropout(g, dh, A, T, F, r, p, key) : 0;
    if (rc == 0 && p == 0.0f && n > 0)
        ik_cpu_sgemm(false, false, T, F, r, 1.0f, dh, r, A, F, 1.0f, g, F);
    if (rc == 0)
        rc = swiglu_bwd_bf16_in(dgate_b, dup_b, g, gate, up, T, F);
    free(g);
    return rc;
}

/* ---- timing: the stand-in times nothing (its reports are empty) ---- */

static int profile_set(int on)
{
    (void)on;
    return 0;
}

static int profile_report(char *buf, size_t cap)
{
    if (cap > 0)
        buf[0] = '\0';
    return 0;
}

/* ---- the training step's other entries ---- */

static int add(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
    return 0;
}

static int bias_add(float *x, const float *bias, int N, int C)
{
    if (N < 0 || C < 0)
        return ik_test_cpu_fail("bias_add", "N = %d, C = %d (both >= 0)", N, C);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            x[(size_t)n * C + c] += bias[c];
    return 0;
}

/* The table's V is not passed, so only negative tokens can be refused. */
static int embed_rows_bf16(float *out, const uint16_t *table, const int *tokens, int T, int D)
{
    if (T < 0 || D < 0)
        return ik_test_cpu_fail("embed_rows_bf16", "T = %d, D = %d (both >= 0)", T, D);
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0)
            return ik_test_cpu_fail("embed_rows_bf16", "tokens[%d] = %d (each in [0, V))", t, tokens[t]);
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++)
            out[(size_t)t * D + d] = ik_test_bf16_to_float(table[(size_t)tokens[t] * D + d]);
    return 0;
}

static int argmax_rows(int *out, const float *x, int N, int V)
{
    if (N < 0 || V < 0)
        return ik_test_cpu_fail("argmax_rows", "N = %d, V = %d (both >= 0)", N, V);
    if (N > 0)
        ik_cpu_argmax_rows(out, x, N, V);
    return 0;
}

/* kernels/cuda/fill.cu's draw, element for element. */
static int fill_uniform_bf16(uint16_t *x, size_t n, float lo, float hi, uint64_t seed)
{
    if (!(lo <= hi))
        return ik_test_cpu_fail("fill_uniform_bf16", "lo = %g, hi = %g (lo <= hi)", (double)lo, (double)hi);
    for (size_t i = 0; i < n; i++)
        x[i] = ik_test_bf16_from_float(lo + (hi - lo) * ref_fill_uniform(i, seed));
    return 0;
}

static int clip_grad_norm(float *g, size_t n, double max_norm, double *norm)
{
    if (!(max_norm >= 0))
        return ik_test_cpu_fail("clip_grad_norm", "max_norm = %g (>= 0)", max_norm);
    *norm = ik_cpu_clip_grad_norm(g, n, max_norm);
    return 0;
}

/* ->softmax_xent_fwd_bwd and ->argmax_rows in turn, the gradient rounded
 * to BF16 when asked: the bits the module's fused kernel gives. */
static int softmax_xent_argmax(float *nll, int *amax, void *dlogits, int dlogits_type,
                               const float *logits, const int *targets, const float *dnll, int N,
                               int V)
{
    const char *what = "softmax_xent_argmax";
    if (xent_args(what, targets, N, V))
        return -1;
    if (dlogits_type != IK_CUDA_F32 && dlogits_type != IK_CUDA_BF16)
        return ik_test_cpu_fail(what, "dlogits_type = %d (IK_CUDA_F32 or IK_CUDA_BF16)", dlogits_type);
    size_t n = (size_t)N * V;
    const char *l = (const char *)logits, *g = dlogits;
    if (dlogits_type == IK_CUDA_BF16 && g < l + n * 4 && l < g + n * 2)
        return ik_test_cpu_fail(what, "BF16 dlogits overlap the logits (a separate buffer is needed)");
    if (N == 0)
        return 0;
    if (amax != NULL)
        ik_cpu_argmax_rows(amax, logits, N, V);
    if (dlogits_type == IK_CUDA_F32) {
        ik_cpu_softmax_xent_fwd_bwd(nll, dlogits, logits, targets, dnll, N, V);
        return 0;
    }
    float *tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL)
        return ik_test_cpu_fail(what, "out of host memory (%zu bytes)", n * sizeof *tmp);
    ik_cpu_softmax_xent_fwd_bwd(nll, tmp, logits, targets, dnll, N, V);
    to_bf16(dlogits, tmp, n);
    free(tmp);
    return 0;
}

/* In row order, in double: the sums the host formed before the module had
 * this entry. */
static int loss_sums(double *sums, const float *nll, const int *amax, const int *targets,
                     const unsigned char *mask, int N)
{
    if (N < 0)
        return ik_test_cpu_fail("loss_sums", "N = %d (>= 0)", N);
    double s = 0, hits = 0;
    for (int n = 0; n < N; n++)
        if (mask == NULL || mask[n]) {
            s += nll[n];
            hits += amax[n] == targets[n];
        }
    sums[0] = s;
    sums[1] = hits;
    return 0;
}

static int qk_norm_rope_args(const char *what, int N, int nh, int hd, const float *inv_freq)
{
    if (N < 0 || nh < 0 || hd <= 0 || hd > 4096 || (inv_freq != NULL && hd % 2 != 0))
        return ik_test_cpu_fail(what, "N = %d, nh = %d, hd = %d (N, nh >= 0; 0 < hd <= 4096, even with RoPE)",
                    N, nh, hd);
    return 0;
}

/* The norm's reference, then RoPE's, on the normed rows. */
static int qk_norm_rope_fwd(float *out, float *rstd, const float *x, const float *w, const int *pos,
                            const float *inv_freq, int N, int nh, int hd, float eps)
{
    if (qk_norm_rope_args("qk_norm_rope_fwd", N, nh, hd, inv_freq))
        return -1;
    if ((size_t)N * nh == 0)
        return 0;
    ik_cpu_rmsnorm_fwd(out, rstd, x, w, N * nh, hd, eps);
    if (inv_freq != NULL)
        ik_cpu_rope_fwd(out, pos, inv_freq, N, nh, hd);
    return 0;
}

/* RoPE's backward on a copy of dout, then the norm's onto zeros. */
static int qk_norm_rope_bwd(float *dx, const float *dout, const float *x, const float *rstd,
                            const float *w, const int *pos, const float *inv_freq, int N, int nh,
                            int hd)
{
    const char *what = "qk_norm_rope_bwd";
    if (qk_norm_rope_args(what, N, nh, hd, inv_freq))
        return -1;
    size_t n = (size_t)N * nh * hd;
    if (n == 0)
        return 0;
    float *d = malloc(n * sizeof *d);
    if (d == NULL)
        return ik_test_cpu_fail(what, "out of host memory (%zu bytes)", n * sizeof *d);
    memcpy(d, dout, n * sizeof *d);
    if (inv_freq != NULL)
        ik_cpu_rope_bwd(d, pos, inv_freq, N, nh, hd);
    memset(dx, 0, n * sizeof *dx);
    ik_cpu_rmsnorm_bwd(dx, NULL, d, x, rstd, w, N * nh, hd);
    free(d);
    return 0;
}

/* The stand-in's "device" is the host: a fixed 64 GiB, all of it free. */
static int mem_info(size_t *free_bytes, size_t *total_bytes)
{
    *free_bytes = *total_bytes = (size_t)64 << 30;
    return 0;
}

static const struct ik_cuda_ops ops = {
    .abi = IK_CUDA_ABI,
    .size = sizeof(struct ik_cuda_ops),
    .last_error = last_error,
    .device_count = device_count,
    .device_name = device_name,
    .set_device = set_device,
    .alloc = dev_alloc,
    .free = dev_free,
    .memcpy_htod = copy,
    .memcpy_dtoh = copy,
    .memcpy_dtod = copy,
    .memset = dev_memset,
    .synchronize = synchronize,
    .rmsnorm_fwd = rmsnorm_fwd,
    .rmsnorm_bwd = rmsnorm_bwd,
    .swiglu_fwd = swiglu_fwd,
    .swiglu_bwd = swiglu_bwd,
    .rope_fwd = rope_fwd,
    .rope_bwd = rope_bwd,
    .softmax_xent_fwd_bwd = softmax_xent_fwd_bwd,
    .dropout = dropout,
    .adamw = adamw,
    .gemm = gemm,
    .to_bf16 = to_bf16,
    .from_bf16 = from_bf16,
    .attention_scratch = ik_test_cpu_attention_scratch,
    .attention_fwd = ik_test_cpu_attention_fwd,
    .attention_bwd = ik_test_cpu_attention_bwd,
    .add = add,
    .bias_add = bias_add,
    .embed_rows_bf16 = embed_rows_bf16,
    .argmax_rows = argmax_rows,
    .mem_info = mem_info,
    .fill_uniform_bf16 = fill_uniform_bf16,
    .clip_grad_norm = clip_grad_norm,
    .add_rmsnorm_fwd = add_rmsnorm_fwd,
    .sdpa_available = ik_test_cpu_sdpa_available,
    .sdpa_scratch = ik_test_cpu_sdpa_scratch,
    .sdpa_fwd = ik_test_cpu_sdpa_fwd,
    .sdpa_bwd = ik_test_cpu_sdpa_bwd,
    .softmax_xent_argmax = softmax_xent_argmax,
    .loss_sums = loss_sums,
    .qk_norm_rope_fwd = qk_norm_rope_fwd,
    .qk_norm_rope_bwd = qk_norm_rope_bwd,
    .swiglu_bwd_bf16 = swiglu_bwd_bf16,
    .to_bf16_2d = to_bf16_2d,
    .dropout_add = dropout_add,
    .flash_supports = ik_test_cpu_flash_supports,
    .flash_scratch = ik_test_cpu_flash_scratch,
    .flash_fwd = ik_test_cpu_flash_fwd,
    .flash_bwd = ik_test_cpu_flash_bwd,
    .swiglu_fwd_bf16 = swiglu_fwd_bf16,
    .swiglu_bwd_bf16_in = swiglu_bwd_bf16_in,
    .lora_down_dropout = lora_down_dropout,
    .lora_dA_dropout_scratch = lora_dA_dropout_scratch,
    .lora_dA_dropout = lora_dA_dropout,
    .lora_dx_dropout = lora_dx_dropout,
    .profile_set = profile_set,
    .profile_report = profile_report,
    .lora_down_swiglu_bwd = lora_down_swiglu_bwd,
    .ssm_scan_fwd = ik_test_cpu_ssm_scan_fwd,
    .ssm_scan_bwd_scratch = ik_test_cpu_ssm_scan_bwd_scratch,
    .ssm_scan_bwd = ik_test_cpu_ssm_scan_bwd,
    .relu2_fwd = ik_test_cpu_relu2_fwd,
    .relu2_bwd = ik_test_cpu_relu2_bwd,
    .softplus_bias_fwd = ik_test_cpu_softplus_bias_fwd,
    .softplus_bias_bwd = ik_test_cpu_softplus_bias_bwd,
    .conv1d_silu_fwd = ik_test_cpu_conv1d_silu_fwd,
    .conv1d_silu_bwd = ik_test_cpu_conv1d_silu_bwd,
    .rmsnorm_gated_fwd = ik_test_cpu_rmsnorm_gated_fwd,
    .rmsnorm_gated_bwd = ik_test_cpu_rmsnorm_gated_bwd,
};

const struct ik_cuda_ops *ik_test_cpu_cuda_ops(void) { return &ops; }
