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

/* One row of head h's step: for the 16 (or, last, k) channels p0.. of P,
 * S[n][p] = S[n][p]*dA + xdt[p]*B[n] for each state n in order, and the
 * read-out y[p] = sum_n S[n][p]*C[n] + Dk*x[p], summed per lane in order of n. */
IK_VINLINE void step_block(float *S, const float *B, const float *C, const float *x, float *y,
                           float d, float dA, float Dk, int P, int N, int k)
{
    ik_vf xv, acc = {0};
    ik_vload(&xv, x, k, 0.0f);
    ik_vf xdt = xv * d;
    for (int n = 0; n < N; n++) {
        ik_vf st;
        float *row = S + (size_t)n * P;
        ik_vload(&st, row, k, 0.0f);
        st = st * dA + xdt * B[n];
        ik_vstore(row, &st, k);
        acc += st * C[n];
    }
    acc += xv * Dk;
    ik_vstore(y, &acc, k);
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
            int p = 0;
            /* Whole blocks with the width a constant, so loads and stores are single moves. */
            for (; p + IK_VL <= P; p += IK_VL)
                step_block(S + p, B, C, x + p, y + p, d, dA, a->Dskip[h], P, N, IK_VL);
            if (p < P)
                step_block(S + p, B, C, x + p, y + p, d, dA, a->Dskip[h], P, N, P - p);
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

/* Rows t0..t0+q of head h (group g), from S (N,P) and updating it. */
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
    /* From the chunks before: y += exp(cum_t) C S, and the skip. */
    ik_cpu_sgemm(false, false, q, P, N, 1.0f, Cg, ld, S, P, 0.0f, tmp, P);
    for (int t = 0; t < q; t++) {
        float e = expf(cum[t]);
        for (int p = 0; p < P; p++)
            y[(size_t)t * yld + p] += e * tmp[(size_t)t * P + p] + a->Dskip[h] * x[(size_t)t * ld + p];
    }
    /* The state after the chunk: S = exp(cum_last) S + sum_s exp(cum_last - cum_s) B_s (x dt)_s. */
    for (int t = 0; t < q; t++) {
        float e = expf(cum[q - 1] - cum[t]);
        for (int p = 0; p < P; p++)
            xdt[(size_t)t * P + p] *= e;
    }
    ik_cpu_sgemm(true, false, N, P, q, 1.0f, Bg, ld, xdt, P, expf(cum[q - 1]), S, P);
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
