/* kernels/cpu/ssm_scan.c - Mamba-2's selective scan (see kernels.h), in its
 * two forms: one step per row (the recurrence as written, what decoding
 * runs and what the tests hold the rest to) and the chunked SSD form, where
 * a chunk of rows becomes a few GEMMs and the state is read and written once
 * per chunk instead of once per row. Both run one head per task on the
 * thread pool; a head's numbers do not depend on the thread count. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

struct scan {
    float *y, *state, *scratch;
    const float *x, *B, *C, *dt, *A, *Dskip;
    int ld, T, nh, P, G, N, Q;
};

/* ---- one step per row ---- */

/* One row of the state, S = S*dA + xv*B, and its read-out sum_n S*C, 16
 * states at a time with the partial sums in lanes (one fixed order). */
IK_VINLINE float step_row(float *S, const float *B, const float *C, float dA, float xv, int N)
{
    ik_vf acc = {0};
    for (int n = 0; n < N; n += IK_VL) {
        int k = N - n < IK_VL ? N - n : IK_VL;
        ik_vf s, b, c;
        ik_vload(&s, S + n, k, 0.0f);
        ik_vload(&b, B + n, k, 0.0f);
        ik_vload(&c, C + n, k, 0.0f);
        s = s * dA + b * xv;
        ik_vstore(S + n, &s, k);
        acc += s * c;
    }
    return ik_vsum(&acc);
}

IK_VINLINE void scan_heads_body(void *ctx, size_t lo, size_t hi)
{
    const struct scan *a = ctx;
    int P = a->P, N = a->N, hpg = a->nh / a->G;
    size_t yw = (size_t)a->nh * P;
    for (size_t h = lo; h < hi; h++) {
        int g = (int)h / hpg;
        float *S = a->state + h * (size_t)P * N;
        for (int t = 0; t < a->T; t++) {
            size_t row = (size_t)t * a->ld;
            float d = a->dt[(size_t)t * a->nh + h], dA = expf(d * a->A[h]);
            const float *x = a->x + row + h * P, *B = a->B + row + (size_t)g * N;
            const float *C = a->C + row + (size_t)g * N;
            float *y = a->y + t * yw + h * P;
            for (int p = 0; p < P; p++)
                y[p] = step_row(S + (size_t)p * N, B, C, dA, d * x[p], N) + a->Dskip[h] * x[p];
        }
    }
}
IK_SIMD_RANGE_FN(scan_heads)

void ik_cpu_ssm_scan_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                         int ld, const float *dt, const float *A, const float *Dskip, int T, int nh,
                         int P, int G, int N)
{
    struct scan a = {y, state, NULL, x, B, C, dt, A, Dskip, ld, T, nh, P, G, N, 0};
    ik_cpu_parallel_for((size_t)nh, (size_t)nh * P * N * T * 5, scan_heads, &a);
}

/* ---- the chunked (SSD) form ---- */

/* Per head: the (Q,Q) decayed C B^T, x*dt and a (Q,P) product, and the
 * running sums of dt*A. */
static size_t head_scratch(int P, int Q) { return (size_t)Q * Q + 2 * (size_t)Q * P + (size_t)Q; }

size_t ik_cpu_ssm_chunked_scratch(int nh, int P, int Q) { return (size_t)nh * head_scratch(P, Q); }

/* Rows t0..t0+q of head h (group g), from S (P,N) and updating it. */
static void chunk_head(const struct scan *a, int h, int g, int t0, int q, float *S, float *wk)
{
    int P = a->P, N = a->N, ld = a->ld, yld = a->nh * a->P;
    float *M = wk, *xdt = M + (size_t)a->Q * a->Q, *tmp = xdt + (size_t)a->Q * P;
    float *cum = tmp + (size_t)a->Q * P;
    const float *Bg = a->B + (size_t)t0 * ld + (size_t)g * N, *Cg = a->C + (size_t)t0 * ld + (size_t)g * N;
    const float *x = a->x + (size_t)t0 * ld + (size_t)h * P;
    float *y = a->y + (size_t)t0 * yld + (size_t)h * P;
    float run = 0;
    for (int t = 0; t < q; t++) {
        float d = a->dt[(size_t)(t0 + t) * a->nh + h];
        run += d * a->A[h];
        cum[t] = run;
        for (int p = 0; p < P; p++)
            xdt[(size_t)t * P + p] = x[(size_t)t * ld + p] * d;
    }
    /* Within the chunk: y = (C B^T masked and decayed) @ (x dt). */
    ik_cpu_sgemm(false, true, q, q, N, 1.0f, Cg, ld, Bg, ld, 0.0f, M, q);
    for (int t = 0; t < q; t++)
        for (int s = 0; s < q; s++)
            M[(size_t)t * q + s] = s <= t ? M[(size_t)t * q + s] * expf(cum[t] - cum[s]) : 0.0f;
    ik_cpu_sgemm(false, false, q, P, q, 1.0f, M, q, xdt, P, 0.0f, y, yld);
    /* From the chunks before: y += exp(cum_t) C S^T, and the skip. */
    ik_cpu_sgemm(false, true, q, P, N, 1.0f, Cg, ld, S, N, 0.0f, tmp, P);
    for (int t = 0; t < q; t++) {
        float e = expf(cum[t]);
        for (int p = 0; p < P; p++)
            y[(size_t)t * yld + p] += e * tmp[(size_t)t * P + p] + a->Dskip[h] * x[(size_t)t * ld + p];
    }
    /* The state after the chunk: S = exp(cum_last) S + sum_s exp(cum_last - cum_s) (x dt)_s B_s. */
    for (int t = 0; t < q; t++) {
        float e = expf(cum[q - 1] - cum[t]);
        for (int p = 0; p < P; p++)
            xdt[(size_t)t * P + p] *= e;
    }
    ik_cpu_sgemm(true, false, P, N, q, 1.0f, xdt, P, Bg, ld, expf(cum[q - 1]), S, N);
}

static void chunk_heads(void *ctx, size_t lo, size_t hi)
{
    const struct scan *a = ctx;
    int hpg = a->nh / a->G;
    for (size_t h = lo; h < hi; h++) {
        float *S = a->state + h * (size_t)a->P * a->N;
        float *wk = a->scratch + h * head_scratch(a->P, a->Q);
        for (int t0 = 0; t0 < a->T; t0 += a->Q)
            chunk_head(a, (int)h, (int)h / hpg, t0, a->T - t0 < a->Q ? a->T - t0 : a->Q, S, wk);
    }
}

void ik_cpu_ssm_chunked_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                            int ld, const float *dt, const float *A, const float *Dskip, int T,
                            int nh, int P, int G, int N, int Q, float *scratch)
{
    struct scan a = {y, state, scratch, x, B, C, dt, A, Dskip, ld, T, nh, P, G, N, Q};
    size_t work = (size_t)nh * T * ((size_t)Q * (N + P) + 4 * (size_t)P * N);
    ik_cpu_parallel_for((size_t)nh, work, chunk_heads, &a);
}
