/* kernels/cpu/gemv.c - the projections of a few rows (see kernels.h,
 * ik_cpu_gemv): generated tokens, one per sequence, where every weight is
 * read once per step and the product is bound by memory bandwidth, not by
 * arithmetic. OpenBLAS's sgemm at M = 1 packs the weight panel first and ran
 * well below the bandwidth (measured: 3.5-7 tokens/s on Qwen2.5-0.5B's shape
 * against llama.cpp's 8.6).
 *
 * The weight rows are taken 4 at a time (independent accumulators, so the
 * FMA latency does not bind at one input row) against the input rows 2 at a
 * time; each (row, output) pair is one 8-lane FMA accumulator over the
 * input's full vectors, summed as simd.h's fixed tree, then the tail fused
 * one element at a time. That order is the same whatever N, the block an
 * output falls in, and the thread that runs it, so a row's result has the
 * same bits alone or beside others (batched decoding equals one-at-a-time
 * decoding bit for bit) and on any number of threads. Missing weight rows of
 * a last block are computed on a duplicate pointer and not stored; an odd
 * last input row takes tile1, the same order for one row. */
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

enum { WROWS = 4, XROWS = 2 }; /* tile() is written for these */

struct gemv {
    float *out;
    const float *x, *w, *bias;
    float alpha;
    int accumulate, N, In, Out;
};

/* The dot products of input rows x0, x1 with weight rows w[0..3], into
 * r[a][b]. Written out by hand, not as loops over arrays: GCC kept arrays of
 * accumulators in memory (measured: a store per FMA). */
IK_VINLINE void tile(int In, const float *x0, const float *x1, const float *const *w,
                     float r[XROWS][WROWS])
{
    int full = In / IK_VL * IK_VL;
    const float *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3];
    ik_vf a00 = {0}, a01 = {0}, a02 = {0}, a03 = {0}, a10 = {0}, a11 = {0}, a12 = {0}, a13 = {0};
    for (int i = 0; i < full; i += IK_VL) {
        ik_vf u, v, p0, p1, p2, p3;
        memcpy(&u, x0 + i, sizeof u);
        memcpy(&v, x1 + i, sizeof v);
        memcpy(&p0, w0 + i, sizeof p0);
        memcpy(&p1, w1 + i, sizeof p1);
        memcpy(&p2, w2 + i, sizeof p2);
        memcpy(&p3, w3 + i, sizeof p3);
        ik_vfma(&a00, &u, &p0);
        ik_vfma(&a01, &u, &p1);
        ik_vfma(&a02, &u, &p2);
        ik_vfma(&a03, &u, &p3);
        ik_vfma(&a10, &v, &p0);
        ik_vfma(&a11, &v, &p1);
        ik_vfma(&a12, &v, &p2);
        ik_vfma(&a13, &v, &p3);
    }
    r[0][0] = ik_vsum(&a00), r[0][1] = ik_vsum(&a01), r[0][2] = ik_vsum(&a02), r[0][3] = ik_vsum(&a03);
    r[1][0] = ik_vsum(&a10), r[1][1] = ik_vsum(&a11), r[1][2] = ik_vsum(&a12), r[1][3] = ik_vsum(&a13);
    for (int b = 0; b < WROWS; b++)
        for (int i = full; i < In; i++) {
            r[0][b] = fmaf(x0[i], w[b][i], r[0][b]);
            r[1][b] = fmaf(x1[i], w[b][i], r[1][b]);
        }
}

/* tile() for one input row (the last of an odd count, or a single generated
 * token), in the same order, so its results have the same bits. */
IK_VINLINE void tile1(int In, const float *x0, const float *const *w, float r[WROWS])
{
    int full = In / IK_VL * IK_VL;
    const float *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3];
    ik_vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int i = 0; i < full; i += IK_VL) {
        ik_vf u, p0, p1, p2, p3;
        memcpy(&u, x0 + i, sizeof u);
        memcpy(&p0, w0 + i, sizeof p0);
        memcpy(&p1, w1 + i, sizeof p1);
        memcpy(&p2, w2 + i, sizeof p2);
        memcpy(&p3, w3 + i, sizeof p3);
        ik_vfma(&a0, &u, &p0);
        ik_vfma(&a1, &u, &p1);
        ik_vfma(&a2, &u, &p2);
        ik_vfma(&a3, &u, &p3);
    }
    r[0] = ik_vsum(&a0), r[1] = ik_vsum(&a1), r[2] = ik_vsum(&a2), r[3] = ik_vsum(&a3);
    for (int b = 0; b < WROWS; b++)
        for (int i = full; i < In; i++)
            r[b] = fmaf(x0[i], w[b][i], r[b]);
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
            const float *x0 = g->x + (size_t)n0 * g->In;
            float r[XROWS][WROWS];
            if (nn == 2)
                tile(g->In, x0, x0 + g->In, wr, r);
            else
                tile1(g->In, x0, wr, r[0]);
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
