/* tests/cuda/cpu_ops_mamba.c - the CPU stand-in's entries for NemotronH's
 * kernels (cuda_ops.h: the selective scan, the Mamba-2 mixer's dt softplus,
 * conv1d with SiLU and gated RMSNorm, relu^2): the kernels.h references,
 * with the module's argument checks and error text. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/scratch.h"
#include "kernels/kernels.h"
#include "tests/cuda/cpu_ops_int.h"

/* ---- Mamba-2's selective scan ---- */

static int scan_args(const char *what, int T, int nh, int P, int G, int N, int ld)
{
    if (T < 0 || nh <= 0 || P <= 0 || G <= 0 || nh % G != 0 || N <= 0 || N > 256 ||
        ld < nh * P || ld < G * N)
        return ik_test_cpu_fail(what, "T %d, nh %d, P %d, G %d, N %d, ld %d (T >= 0, nh a multiple of G, "
                    "0 < N <= 256, ld >= nh P and G N)", T, nh, P, G, N, ld);
    return 0;
}

int ik_test_cpu_ssm_scan_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                        int ld, const float *dt, const float *A, const float *Dskip, int T, int nh,
                        int P, int G, int N)
{
    if (scan_args("ssm_scan_fwd", T, nh, P, G, N, ld))
        return -1;
    ik_cpu_ssm_scan_fwd(y, state, x, B, C, ld, dt, A, Dskip, T, nh, P, G, N);
    return 0;
}

/* The module's figure (scratch.h's, ssm_scan.cu's carve), so that a
 * trainer's arena is the module's; the stand-in's own scratch is its own. */
size_t ik_test_cpu_ssm_scan_bwd_scratch(int T, int nh, int P, int N)
{
    return ik_ssm_bwd_scratch_bytes(T, nh, P, N);
}

int ik_test_cpu_ssm_scan_bwd(float *dx, float *dB, float *dC, int lddx, float *ddt, const float *dy,
                        const float *x, const float *B, const float *C, int ld, const float *dt,
                        const float *A, const float *Dskip, int T, int nh, int P, int G, int N,
                        void *scratch)
{
    (void)scratch;
    if (scan_args("ssm_scan_bwd", T, nh, P, G, N, ld))
        return -1;
    if (lddx < nh * P || lddx < G * N)
        return ik_test_cpu_fail("ssm_scan_bwd", "lddx %d (>= nh P = %d and G N = %d)", lddx, nh * P, G * N);
    int Q = T < 64 ? (T > 0 ? T : 1) : 64;
    float *wk = malloc(ik_cpu_ssm_scan_bwd_scratch(T, G, P, N, Q) * sizeof *wk);
    if (wk == NULL)
        return ik_test_cpu_fail("ssm_scan_bwd", "out of host memory");
    if (T > 0)
        ik_cpu_ssm_scan_bwd(dx, dB, dC, lddx, ddt, dy, x, B, C, ld, dt, A, Dskip, T, nh, P, G, N,
                            Q, wk);
    free(wk);
    return 0;
}

/* ---- NemotronH's Mamba-2 mixer and relu^2 MLP: the references (the dt
 * softplus is lm/train_mamba.c's loops, having none), the conv's state a
 * zeroed temporary, the SiLU's gradient a stored one ---- */

int ik_test_cpu_relu2_fwd(float *out, const float *x, size_t n)
{
    ik_cpu_relu2_fwd(out, x, n);
    return 0;
}

int ik_test_cpu_relu2_bwd(float *dx, const float *dout, const float *x, size_t n)
{
    ik_cpu_relu2_bwd(dx, dout, x, n);
    return 0;
}

/* llama.cpp's softplus, as lm/train_mamba.c's. */
static float softplus(float u) { return u > 20.0f ? u : log1pf(expf(u)); }

int ik_test_cpu_softplus_bias_fwd(float *out, const float *x, int ldx, const float *bias, int T, int n)
{
    if (T < 0 || n < 0 || ldx < n)
        return ik_test_cpu_fail("softplus_bias_fwd", "T = %d, n = %d, ldx = %d (T, n >= 0, ldx >= n)", T, n,
                    ldx);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++)
            out[(size_t)t * n + i] = softplus(x[(size_t)t * ldx + i] + bias[i]);
    return 0;
}

int ik_test_cpu_softplus_bias_bwd(float *dx, int lddx, const float *dout, const float *x, int ldx,
                             const float *bias, int T, int n)
{
    if (T < 0 || n < 0 || ldx < n || lddx < n)
        return ik_test_cpu_fail("softplus_bias_bwd", "T = %d, n = %d, ldx = %d, lddx = %d (T, n >= 0, ldx, "
                    "lddx >= n)", T, n, ldx, lddx);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++) {
            float u = x[(size_t)t * ldx + i] + bias[i];
            dx[(size_t)t * lddx + i] += dout[(size_t)t * n + i] *
                                        (u > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-u)));
        }
    return 0;
}

static int conv_args(const char *what, int T, int C, int Kc, int ld, const char *ld_name)
{
    if (T < 0 || C < 0 || Kc < 1 || ld < C)
        return ik_test_cpu_fail(what, "T = %d, C = %d, Kc = %d, %s = %d (T, C >= 0, Kc >= 1, %s >= C)", T, C,
                    Kc, ld_name, ld, ld_name);
    return 0;
}

int ik_test_cpu_conv1d_silu_fwd(float *conv, float *act, const float *x, int ldx, const float *w,
                           const float *bias, int T, int C, int Kc)
{
    if (conv_args("conv1d_silu_fwd", T, C, Kc, ldx, "ldx"))
        return -1;
    size_t n = (size_t)T * C;
    if (n == 0)
        return 0;
    float *state = calloc((size_t)(Kc - 1) * C + 1, sizeof *state);
    if (state == NULL)
        return ik_test_cpu_fail("conv1d_silu_fwd", "out of host memory");
    ik_cpu_conv1d_fwd(conv, state, x, ldx, w, bias, T, C, Kc);
    if (act != NULL)
        ik_cpu_silu_fwd(act, conv, n);
    free(state);
    return 0;
}

int ik_test_cpu_conv1d_silu_bwd(float *dx, int lddx, const float *dact, const float *conv,
                           const float *w, int T, int C, int Kc)
{
    if (conv_args("conv1d_silu_bwd", T, C, Kc, lddx, "lddx"))
        return -1;
    size_t n = (size_t)T * C;
    if (n == 0)
        return 0;
    float *g = calloc(n, sizeof *g);
    if (g == NULL)
        return ik_test_cpu_fail("conv1d_silu_bwd", "out of host memory");
    ik_cpu_silu_bwd(g, dact, conv, n);
    ik_cpu_conv1d_bwd(dx, lddx, g, w, T, C, Kc);
    free(g);
    return 0;
}

static int gated_args(const char *what, int N, int C, int G, int ld, const char *ld_name)
{
    if (N < 0 || C < 0 || G < 1 || C % G != 0 || ld < C)
        return ik_test_cpu_fail(what, "N = %d, C = %d, G = %d, %s = %d (N, C >= 0, G >= 1 dividing C, %s >= C)",
                    N, C, G, ld_name, ld, ld_name);
    return 0;
}

int ik_test_cpu_rmsnorm_gated_fwd(float *out, const float *y, const float *z, int ldz, const float *w,
                             int N, int C, int G, float eps)
{
    if (gated_args("rmsnorm_gated_fwd", N, C, G, ldz, "ldz"))
        return -1;
    if (N > 0 && C > 0)
        ik_cpu_rmsnorm_gated_fwd(out, y, z, ldz, w, N, C, G, eps);
    return 0;
}

int ik_test_cpu_rmsnorm_gated_bwd(float *dy, float *dz, int lddz, const float *dout, const float *y,
                             const float *z, int ldz, const float *w, int N, int C, int G,
                             float eps)
{
    if (gated_args("rmsnorm_gated_bwd", N, C, G, ldz, "ldz") ||
        gated_args("rmsnorm_gated_bwd", N, C, G, lddz, "lddz"))
        return -1;
    if (N > 0 && C > 0)
        ik_cpu_rmsnorm_gated_bwd(dy, dz, lddz, dout, y, z, ldz, w, N, C, G, eps);
    return 0;
}
