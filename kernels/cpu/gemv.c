/* kernels/cpu/gemv.c - the projections of a few rows (see kernels.h,
 * ik_cpu_gemv): generated tokens, one per sequence, where every weight is
 * read once per step and the product is bound by memory bandwidth, not by
 * arithmetic. OpenBLAS's sgemm at M = 1 packs the weight panel first and ran
 * well below the bandwidth (measured: 3.5-7 tokens/s on Qwen2.5-0.5B's shape
 * against llama.cpp's 8.6).
 *
 * The weight rows are taken 4 at a time (independent accumulators, so the
 * FMA latency does not bind at one input row) against the input rows 2 at a
 * time; each (row, output) pair is one 16-lane FMA accumulator over the
 * input's full vectors, summed as simd.h's fixed tree, then the tail fused
 * one element at a time. That order is the same whatever N, the block an
 * output falls in, and the thread that runs it, so a row's result has the
 * same bits alone or beside others (batched decoding equals one-at-a-time
 * decoding bit for bit) and on any number of threads. Missing rows of a last
 * block are computed on a duplicate pointer and not stored. */
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

enum { WROWS = 4, XROWS = 2 };

struct gemv {
    float *out;
    const float *x, *w, *bias;
    float alpha;
    int accumulate, N, In, Out;
};

/* out[n][o] for the XROWS input rows x0.., the WROWS weight rows w0.. */
IK_VINLINE void tile(const struct gemv *g, const float *const *xr, const float *const *wr,
                     float acc_out[XROWS][WROWS])
{
    int In = g->In, full = In / IK_VL * IK_VL;
    ik_vf acc[XROWS][WROWS];
    for (int a = 0; a < XROWS; a++)
        for (int b = 0; b < WROWS; b++)
            acc[a][b] = (ik_vf){0};
    for (int i = 0; i < full; i += IK_VL) {
        ik_vf xv[XROWS], wv[WROWS];
        for (int a = 0; a < XROWS; a++)
            memcpy(&xv[a], xr[a] + i, sizeof xv[a]);
        for (int b = 0; b < WROWS; b++)
            memcpy(&wv[b], wr[b] + i, sizeof wv[b]);
        for (int a = 0; a < XROWS; a++)
            for (int b = 0; b < WROWS; b++)
                ik_vfma(&acc[a][b], &xv[a], &wv[b]);
    }
    for (int a = 0; a < XROWS; a++)
        for (int b = 0; b < WROWS; b++) {
            float s = ik_vsum(&acc[a][b]);
            for (int i = full; i < In; i++)
                s = fmaf(xr[a][i], wr[b][i], s);
            acc_out[a][b] = s;
        }
}

/* Blocks lo..hi-1 of WROWS outputs, for every input row. */
IK_VINLINE void blocks_body(void *ctx, size_t lo, size_t hi)
{
    const struct gemv *g = ctx;
    for (size_t blk = lo; blk < hi; blk++) {
        int o0 = (int)blk * WROWS, no = g->Out - o0 < WROWS ? g->Out - o0 : WROWS;
        const float *wr[WROWS];
        for (int b = 0; b < WROWS; b++)
            wr[b] = g->w + (size_t)(o0 + (b < no ? b : no - 1)) * g->In;
        for (int n0 = 0; n0 < g->N; n0 += XROWS) {
            int nn = g->N - n0 < XROWS ? g->N - n0 : XROWS;
            const float *xr[XROWS];
            for (int a = 0; a < XROWS; a++)
                xr[a] = g->x + (size_t)(n0 + (a < nn ? a : nn - 1)) * g->In;
            float r[XROWS][WROWS];
            tile(g, xr, wr, r);
            for (int a = 0; a < nn; a++) {
                float *o = g->out + (size_t)(n0 + a) * g->Out + o0;
                for (int b = 0; b < no; b++) {
                    float v = g->alpha * r[a][b];
                    if (g->bias)
                        v = v + g->bias[o0 + b];
                    o[b] = g->accumulate ? o[b] + v : v;
                }
            }
        }
    }
}
IK_SIMD_FMA_RANGE_FN(blocks)

int ik_cpu_gemv_available(void) { return ik_simd_fma(); }

void ik_cpu_gemv(float *out, const float *x, const float *w, const float *bias, float alpha,
                 int accumulate, int N, int In, int Out)
{
    if (N <= 0 || Out <= 0)
        return;
    struct gemv g = {out, x, w, bias, alpha, accumulate, N, In, Out};
    size_t nblk = ((size_t)Out + WROWS - 1) / WROWS;
    ik_cpu_parallel_for(nblk, 2 * (size_t)N * In * Out, blocks, &g);
}
