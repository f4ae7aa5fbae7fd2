/* kernels/cpu/ssm_scan_bwd.c - the backward pass of Mamba-2's selective scan
 * (see kernels.h): a reverse scan whose states are recomputed chunk by chunk
 * from checkpoints, so memory grows with T/Q + Q states per head instead of
 * T. A forward sweep keeps the state before every chunk of Q rows; then, from
 * the last chunk to the first, the chunk's Q states are recomputed from its
 * checkpoint and the gradient of the state is carried back through them.
 * With S_t = S_{t-1} dA_t + dt_t x_t B_t^T and y_t = S_t C_t + D x_t
 * (per head, S of shape (P,N), dA_t = exp(dt_t A)):
 *   dS_t  = dy_t C_t^T + dA_{t+1} dS_{t+1}
 *   dx_t  = dt_t dS_t B_t + D dy_t,   dB_t = dt_t dS_t^T x_t,   dC_t = S_t^T dy_t
 *   ddt_t = x_t^T dS_t B_t + A dA_t <dS_t, S_{t-1}>.
 * Heads of one group add into the same dB and dC rows, so a group is one
 * task on the thread pool and its heads run one after another: no two
 * threads write the same gradient, and the sums do not depend on the thread
 * count. The loops over the N states run 8 lanes at a time (simd.h). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

struct scan_bwd {
    float *dx, *dB, *dC, *ddt, *scratch;
    const float *dy, *x, *B, *C, *dt, *A, *Dskip;
    int lddx, ld, T, nh, P, G, N, Q;
};

static int n_chunks(int T, int Q) { return (T + Q - 1) / Q; }

/* Per group task: the checkpoints, the states of one chunk and dS. */
static size_t group_scratch(int T, int P, int N, int Q)
{
    return ((size_t)n_chunks(T, Q) + (size_t)Q + 1) * P * N;
}

size_t ik_cpu_ssm_scan_bwd_scratch(int T, int G, int P, int N, int Q)
{
    return (size_t)G * group_scratch(T, P, N, Q);
}

/* ik_vstore with a constant-width store for a full vector (a store of
 * variable width compiles to a byte loop, most of the time here). */
IK_VINLINE void store(float *p, const ik_vf *v, int k)
{
    if (k == IK_VL)
        memcpy(p, v, sizeof *v);
    else
        ik_vstore(p, v, k);
}

/* S = S * dA + (dt x) B^T for row t of head h (group g): one forward step,
 * 16 states at a time. */
IK_VINLINE void step(const struct scan_bwd *a, float *S, int t, int h, int g)
{
    int P = a->P, N = a->N;
    size_t row = (size_t)t * a->ld;
    float d = a->dt[(size_t)t * a->nh + h], dA = expf(d * a->A[h]);
    const float *x = a->x + row + (size_t)h * P, *B = a->B + row + (size_t)g * N;
    for (int p = 0; p < P; p++) {
        float xd = d * x[p], *s = S + (size_t)p * N;
        for (int n = 0; n < N; n += IK_VL) {
            int k = N - n < IK_VL ? N - n : IK_VL;
            ik_vf v, b;
            ik_vload(&v, s + n, k, 0.0f);
            ik_vload(&b, B + n, k, 0.0f);
            v = v * dA + b * xd;
            store(s + n, &v, k);
        }
    }
}

/* Row t of head h: dS becomes dS_t (adding dy_t C_t^T), the row's gradients
 * are added, then dS is decayed by dA_t, ready for row t-1. S is S_t and
 * Sp is S_{t-1}. 16 states at a time, the sums over n in lanes (one fixed
 * order); padded lanes load zeros and are not stored. */
IK_VINLINE void back_step(const struct scan_bwd *a, float *dS, const float *S, const float *Sp, int t,
                          int h, int g)
{
    int P = a->P, N = a->N;
    size_t row = (size_t)t * a->ld, drow = (size_t)t * a->lddx;
    float d = a->dt[(size_t)t * a->nh + h], dA = expf(d * a->A[h]);
    const float *x = a->x + row + (size_t)h * P, *B = a->B + row + (size_t)g * N;
    const float *C = a->C + row + (size_t)g * N, *dy = a->dy + (size_t)t * a->nh * P + (size_t)h * P;
    float *dx = a->dx + drow + (size_t)h * P, *dB = a->dB + drow + (size_t)g * N;
    float *dC = a->dC + drow + (size_t)g * N;
    double ddt = 0;
    ik_vf dec = {0}; /* <dS_t, S_{t-1}>, in lanes over the whole row */
    for (int p = 0; p < P; p++) {
        float *ds = dS + (size_t)p * N, dyp = dy[p], xd = d * x[p];
        const float *s = S + (size_t)p * N, *sp = Sp + (size_t)p * N;
        ik_vf sb = {0};
        for (int n = 0; n < N; n += IK_VL) {
            int k = N - n < IK_VL ? N - n : IK_VL;
            ik_vf vds, vc, vs, vsp, vb, vdc, vdb;
            ik_vload(&vds, ds + n, k, 0.0f);
            ik_vload(&vc, C + n, k, 0.0f);
            ik_vload(&vs, s + n, k, 0.0f);
            ik_vload(&vsp, sp + n, k, 0.0f);
            ik_vload(&vb, B + n, k, 0.0f);
            ik_vload(&vdc, dC + n, k, 0.0f);
            ik_vload(&vdb, dB + n, k, 0.0f);
            vds = vds + vc * dyp;
            vdc = vdc + vs * dyp;
            vdb = vdb + vds * xd;
            sb = sb + vds * vb;
            dec = dec + vds * vsp;
            vds = vds * dA;
            store(ds + n, &vds, k);
            store(dC + n, &vdc, k);
            store(dB + n, &vdb, k);
        }
        float sbs = ik_vsum(&sb);
        dx[p] += d * sbs + a->Dskip[h] * dyp;
        ddt += (double)x[p] * sbs;
    }
    a->ddt[(size_t)t * a->nh + h] += (float)(ddt + (double)a->A[h] * dA * ik_vsum(&dec));
}

IK_VINLINE void head_bwd(const struct scan_bwd *a, int h, int g, float *wk)
{
    int P = a->P, N = a->N, Q = a->Q, T = a->T, nc = n_chunks(T, Q);
    size_t PN = (size_t)P * N;
    float *ck = wk, *st = ck + (size_t)nc * PN, *dS = st + (size_t)Q * PN;
    /* The state before each chunk; the first is the zero state. */
    memset(ck, 0, PN * sizeof *ck);
    for (int c = 0; c + 1 < nc; c++) {
        memcpy(ck + (c + 1) * PN, ck + c * PN, PN * sizeof *ck);
        for (int t = c * Q; t < (c + 1) * Q; t++)
            step(a, ck + (c + 1) * PN, t, h, g);
    }
    memset(dS, 0, PN * sizeof *dS);
    for (int c = nc - 1; c >= 0; c--) {
        int t0 = c * Q, q = T - t0 < Q ? T - t0 : Q;
        for (int i = 0; i < q; i++) {
            memcpy(st + i * PN, i ? st + (i - 1) * PN : ck + c * PN, PN * sizeof *st);
            step(a, st + i * PN, t0 + i, h, g);
        }
        for (int i = q - 1; i >= 0; i--)
            back_step(a, dS, st + i * PN, i ? st + (i - 1) * PN : ck + c * PN, t0 + i, h, g);
    }
}

IK_VINLINE void groups_bwd_body(void *ctx, size_t lo, size_t hi)
{
    const struct scan_bwd *a = ctx;
    int hpg = a->nh / a->G;
    for (size_t g = lo; g < hi; g++) {
        float *wk = a->scratch + g * group_scratch(a->T, a->P, a->N, a->Q);
        for (int h = (int)g * hpg; h < ((int)g + 1) * hpg; h++)
            head_bwd(a, h, (int)g, wk);
    }
}
IK_SIMD_RANGE_FN(groups_bwd)

void ik_cpu_ssm_scan_bwd(float *dx, float *dB, float *dC, int lddx, float *ddt, const float *dy,
                         const float *x, const float *B, const float *C, int ld, const float *dt,
                         const float *A, const float *Dskip, int T, int nh, int P, int G, int N,
                         int Q, float *scratch)
{
    struct scan_bwd a = {dx, dB, dC, ddt, scratch, dy, x, B, C, dt, A, Dskip,
                         lddx, ld, T, nh, P, G, N, Q};
    ik_cpu_parallel_for((size_t)G, (size_t)nh * P * N * T * 12, groups_bwd, &a);
}
