/* tests/kernels/test_ssm_bwd.c - the backward kernels of NemotronH's Mamba-2
 * mixer and relu2 MLP against central differences of double-precision
 * forwards written here (independent of kernels/cpu/): each test takes the
 * scalar loss sum(wout * out) of one op and compares the kernel's input
 * gradients, given dout = wout, with (L(u+h) - L(u-h)) / 2h for every input
 * u. Rows are strided as the training pass lays them out (column ranges of
 * the in_proj output), and the scan's result must not depend on its
 * checkpoint interval Q. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/prng.h"
#include "kernels/kernels.h"

static double *drnd(size_t n, unsigned seed, double lo, double hi)
{
    struct ik_prng r;
    ik_prng_seed(&r, seed);
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * ik_prng_double(&r);
    return x;
}

static float *to_float(const double *x, size_t n)
{
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}

static void grad_close(float got, double want, double tol, const char *what, size_t i)
{
    cr_assert(fabs(got - want) <= tol * (1 + fabs(want)), "d%s[%zu] = %.8g, central difference %.8g",
              what, i, (double)got, want);
}

/* The gradient of loss(ctx) with respect to u[i] by central differences. */
typedef double loss_fn(void *ctx);
static double central(loss_fn *f, void *ctx, double *u)
{
    const double h = 1e-5;
    double keep = *u;
    *u = keep + h;
    double lp = f(ctx);
    *u = keep - h;
    double lm = f(ctx);
    *u = keep;
    return (lp - lm) / (2 * h);
}

/* ---- the selective scan ---- */

enum { ST = 13, NH = 4, SP = 3, SG = 2, SN = 5, LD = NH * SP + 2 * SG * SN + 3, LDD = LD + 2 };

struct scan_case {
    double *xbc; /* (ST, LD): x | B | C | 3 unused */
    double *dt, *A, *D, *wout; /* (ST,NH), (NH) x2, (ST, NH*SP) */
};

/* The recurrence as kernels.h writes it, in double, from the zero state. */
static double scan_loss(void *ctx)
{
    const struct scan_case *s = ctx;
    double S[NH][SP][SN] = {{{0}}}, L = 0;
    for (int t = 0; t < ST; t++) {
        const double *row = s->xbc + t * LD, *x = row, *B = row + NH * SP, *C = B + SG * SN;
        for (int h = 0; h < NH; h++) {
            int g = h / (NH / SG);
            double d = s->dt[t * NH + h], dA = exp(d * s->A[h]);
            for (int p = 0; p < SP; p++) {
                double y = s->D[h] * x[h * SP + p];
                for (int n = 0; n < SN; n++) {
                    S[h][p][n] = S[h][p][n] * dA + d * x[h * SP + p] * B[g * SN + n];
                    y += S[h][p][n] * C[g * SN + n];
                }
                L += s->wout[t * NH * SP + h * SP + p] * y;
            }
        }
    }
    return L;
}

static void scan_grads(const struct scan_case *s, int Q, float *dxbc, float *ddt)
{
    float *xbc = to_float(s->xbc, ST * LD), *dt = to_float(s->dt, ST * NH);
    float *A = to_float(s->A, NH), *D = to_float(s->D, NH), *dy = to_float(s->wout, ST * NH * SP);
    float *scr = malloc(ik_cpu_ssm_scan_bwd_scratch(ST, SG, SP, SN, Q) * sizeof *scr);
    memset(dxbc, 0, ST * LDD * sizeof *dxbc);
    memset(ddt, 0, ST * NH * sizeof *ddt);
    ik_cpu_ssm_scan_bwd(dxbc, dxbc + NH * SP, dxbc + NH * SP + SG * SN, LDD, ddt, dy, xbc,
                        xbc + NH * SP, xbc + NH * SP + SG * SN, LD, dt, A, D, ST, NH, SP, SG, SN, Q,
                        scr);
    free(xbc), free(dt), free(A), free(D), free(dy), free(scr);
}

Test(ssm_bwd, scan_matches_central_differences_for_x_B_C_and_dt)
{
    struct scan_case s = {drnd(ST * LD, 1, -1, 1), drnd(ST * NH, 2, 0.05, 0.9),
                          drnd(NH, 3, -1.5, -0.2), drnd(NH, 4, -1, 1), drnd(ST * NH * SP, 5, -1, 1)};
    float dxbc[ST * LDD], ddt[ST * NH];
    scan_grads(&s, 4, dxbc, ddt);
    for (int t = 0; t < ST; t++) {
        for (int i = 0; i < NH * SP + 2 * SG * SN; i++)
            grad_close(dxbc[t * LDD + i], central(scan_loss, &s, &s.xbc[t * LD + i]), 1e-4,
                       i < NH * SP ? "x" : i < NH * SP + SG * SN ? "B" : "C", (size_t)(t * LD + i));
        for (int i = LD - 3; i < LDD; i++)
            cr_assert_eq(dxbc[t * LDD + i], 0.0f, "the scan wrote column %d outside x|B|C", i);
        for (int h = 0; h < NH; h++)
            grad_close(ddt[t * NH + h], central(scan_loss, &s, &s.dt[t * NH + h]), 1e-4, "dt",
                       (size_t)(t * NH + h));
    }
    free(s.xbc), free(s.dt), free(s.A), free(s.D), free(s.wout);
}

Test(ssm_bwd, scan_gradients_do_not_depend_on_the_checkpoint_interval)
{
    struct scan_case s = {drnd(ST * LD, 11, -1, 1), drnd(ST * NH, 12, 0.05, 0.9),
                          drnd(NH, 13, -1.5, -0.2), drnd(NH, 14, -1, 1), drnd(ST * NH * SP, 15, -1, 1)};
    float ref[ST * LDD], rdt[ST * NH], got[ST * LDD], gdt[ST * NH];
    scan_grads(&s, ST, ref, rdt); /* one chunk: every state kept */
    int Qs[] = {1, 3, 5, ST - 1, ST + 7};
    for (size_t k = 0; k < sizeof Qs / sizeof *Qs; k++) {
        scan_grads(&s, Qs[k], got, gdt);
        for (int i = 0; i < ST * LDD; i++)
            cr_assert(fabsf(got[i] - ref[i]) <= 1e-5f * (1 + fabsf(ref[i])), "Q=%d: [%d] %g vs %g",
                      Qs[k], i, (double)got[i], (double)ref[i]);
        for (int i = 0; i < ST * NH; i++)
            cr_assert(fabsf(gdt[i] - rdt[i]) <= 1e-5f * (1 + fabsf(rdt[i])), "Q=%d: ddt[%d]", Qs[k], i);
    }
    free(s.xbc), free(s.dt), free(s.A), free(s.D), free(s.wout);
}

/* ---- the causal depthwise conv1d ---- */

enum { CT = 9, CC = 5, CK = 4, CLD = 7 };

struct conv_case {
    double *x, *w, *b, *wout; /* (CT,CC), (CC,CK), (CC), (CT,CC) */
};

static double conv_loss(void *ctx)
{
    const struct conv_case *s = ctx;
    double L = 0;
    for (int t = 0; t < CT; t++)
        for (int c = 0; c < CC; c++) {
            double o = s->b[c];
            for (int k = 0; k < CK; k++) {
                int j = t + k - (CK - 1);
                o += j >= 0 ? s->w[c * CK + k] * s->x[j * CC + c] : 0;
            }
            L += s->wout[t * CC + c] * o;
        }
    return L;
}

Test(ssm_bwd, conv1d_matches_central_differences)
{
    struct conv_case s = {drnd(CT * CC, 21, -1, 1), drnd(CC * CK, 22, -1, 1), drnd(CC, 23, -1, 1),
                          drnd(CT * CC, 24, -1, 1)};
    float *w = to_float(s.w, CC * CK), *dout = to_float(s.wout, CT * CC), dx[CT * CLD];
    for (int i = 0; i < CT * CLD; i++)
        dx[i] = 0.5f; /* accumulated into */
    ik_cpu_conv1d_bwd(dx, CLD, dout, w, CT, CC, CK);
    for (int t = 0; t < CT; t++) {
        for (int c = 0; c < CC; c++)
            grad_close(dx[t * CLD + c] - 0.5f, central(conv_loss, &s, &s.x[t * CC + c]), 1e-5, "x",
                       (size_t)(t * CC + c));
        for (int c = CC; c < CLD; c++)
            cr_assert_eq(dx[t * CLD + c], 0.5f, "column %d outside the conv's channels changed", c);
    }
    free(s.x), free(s.w), free(s.b), free(s.wout), free(w), free(dout);
}

/* ---- the gated RMSNorm ---- */

enum { GN = 3, GC = 8, GG = 2, GLZ = 11, GLDZ = 12 };

struct gnorm_case {
    double *y, *z, *w, *wout; /* (GN,GC), (GN,GLZ), (GC), (GN,GC) */
};

static double gnorm_loss(void *ctx)
{
    const struct gnorm_case *s = ctx;
    int Cg = GC / GG;
    double L = 0;
    for (int n = 0; n < GN; n++)
        for (int g = 0; g < GG; g++) {
            double v[GC], ss = 0;
            for (int c = g * Cg; c < (g + 1) * Cg; c++) {
                double z = s->z[n * GLZ + c];
                v[c] = s->y[n * GC + c] * z / (1 + exp(-z));
                ss += v[c] * v[c];
            }
            double r = 1 / sqrt(ss / Cg + 1e-5);
            for (int c = g * Cg; c < (g + 1) * Cg; c++)
                L += s->wout[n * GC + c] * v[c] * r * s->w[c];
        }
    return L;
}

Test(ssm_bwd, gated_rmsnorm_matches_central_differences)
{
    struct gnorm_case s = {drnd(GN * GC, 31, -1, 1), drnd(GN * GLZ, 32, -3, 3), drnd(GC, 33, 0.5, 1.5),
                           drnd(GN * GC, 34, -1, 1)};
    float *y = to_float(s.y, GN * GC), *z = to_float(s.z, GN * GLZ), *w = to_float(s.w, GC);
    float *dout = to_float(s.wout, GN * GC), dy[GN * GC] = {0}, dz[GN * GLDZ] = {0};
    ik_cpu_rmsnorm_gated_bwd(dy, dz, GLDZ, dout, y, z, GLZ, w, GN, GC, GG, 1e-5f);
    for (int n = 0; n < GN; n++) {
        for (int c = 0; c < GC; c++) {
            grad_close(dy[n * GC + c], central(gnorm_loss, &s, &s.y[n * GC + c]), 1e-4, "y",
                       (size_t)(n * GC + c));
            grad_close(dz[n * GLDZ + c], central(gnorm_loss, &s, &s.z[n * GLZ + c]), 1e-4, "z",
                       (size_t)(n * GC + c));
        }
        for (int c = GC; c < GLDZ; c++)
            cr_assert_eq(dz[n * GLDZ + c], 0.0f, "dz column %d outside the channels", c);
    }
    free(s.y), free(s.z), free(s.w), free(s.wout), free(y), free(z), free(w), free(dout);
}

/* ---- the activations ---- */

enum { AN = 37 };

struct act_case {
    double *x, *wout;
    int relu2;
};

static double act_loss(void *ctx)
{
    const struct act_case *s = ctx;
    double L = 0;
    for (int i = 0; i < AN; i++) {
        double x = s->x[i];
        L += s->wout[i] * (s->relu2 ? (x > 0 ? x * x : 0) : x / (1 + exp(-x)));
    }
    return L;
}

static void act_case(int relu2)
{
    struct act_case s = {drnd(AN, 41, -4, 4), drnd(AN, 42, -1, 1), relu2};
    float *x = to_float(s.x, AN), *dout = to_float(s.wout, AN), dx[AN];
    for (int i = 0; i < AN; i++)
        dx[i] = 0.25f;
    (relu2 ? ik_cpu_relu2_bwd : ik_cpu_silu_bwd)(dx, dout, x, AN);
    for (int i = 0; i < AN; i++)
        grad_close(dx[i] - 0.25f, central(act_loss, &s, &s.x[i]), 1e-5, relu2 ? "relu2" : "silu",
                   (size_t)i);
    free(s.x), free(s.wout), free(x), free(dout);
}

Test(ssm_bwd, silu_matches_central_differences) { act_case(0); }

Test(ssm_bwd, relu2_matches_central_differences) { act_case(1); }
