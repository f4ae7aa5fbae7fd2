/* kernels/cpu/attention.c - causal grouped-query attention over a KV cache and
 * its backward (see kernels.h), by one of two implementations. The tiled one
 * (attention_tiled.c: 8 query slots per tile, no BLAS, one parallel loop per
 * pass) serves heads up to IK_ATT_TILE_HD wide, in the forward only when a
 * KV head has at least a full tile of query slots: a single generated token
 * (T = 1) would fill one lane per KV head. Otherwise, per query head, the
 * queries are taken IK_CPU_ATT_ROWS at a time: the block's scores against the
 * keys it can see are one sgemm, the masked max-subtracted softmax runs row
 * by row, and the weighted sum of values is a second sgemm; the backward
 * forms the same probabilities and four more sgemms. Row loops run on the
 * kernels' thread pool (parallel.h). */
#include <math.h>
#include <stddef.h>

#include "kernels/cpu/attention_gemm.h"
#include "kernels/cpu/attention_tiled.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

/* The keys a block of queries needs: positions lo..hi of the cache. */
struct span {
    int lo, hi;
};

static struct span block_keys(int p0, int p1, int window)
{
    struct span s = {window > 0 && p0 - window + 1 > 0 ? p0 - window + 1 : 0, p1};
    return s;
}

/* The row loops of a block, one struct for both. */
struct rows {
    float *P, *dP;
    int nk, p0, lo, window;
    float scale;
};

/* Row i (position p0 + i) of scores P becomes its softmax over the visible keys. */
static void softmax_rows(void *ctx, size_t i0, size_t i1)
{
    const struct rows *a = ctx;
    for (size_t i = i0; i < i1; i++) {
        int p = a->p0 + (int)i, nk = a->nk;
        int lo = a->window > 0 && p - a->window + 1 > a->lo ? p - a->window + 1 - a->lo : 0;
        int hi = p - a->lo;
        float *r = a->P + i * nk, mx = -INFINITY, sum = 0;
        for (int j = lo; j <= hi; j++)
            mx = r[j] > mx ? r[j] : mx;
        for (int j = lo; j <= hi; j++) {
            r[j] = expf(r[j] - mx);
            sum += r[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < nk; j++)
            r[j] = j >= lo && j <= hi ? r[j] * inv : 0.0f;
    }
}

/* P (Bq, nk) = softmax rows of scale * Q_h K_h^T over the keys ks, where row i
 * (position p0 + i) sees keys j <= p0 + i within the window; the keys it
 * cannot see get probability 0. q: the block's first query row of head h, ld
 * qld; k: key ks.lo of KV head kh, ld kld. */
static void probs(float *P, const float *q, int qld, const float *k, int kld, int Bq, int p0,
                  struct span ks, int hd, int window)
{
    int nk = ks.hi - ks.lo + 1;
    float scale = 1.0f / sqrtf((float)hd);
    ik_cpu_sgemm(false, true, Bq, nk, hd, scale, q, qld, k, kld, 0.0f, P, nk);
    struct rows a = {P, NULL, nk, p0, ks.lo, window, scale};
    ik_cpu_parallel_for((size_t)Bq, (size_t)Bq * nk * 12, softmax_rows, &a);
}

/* dS = P * (dP - rowsum(P * dP)) * scale, in place in dP. */
static void dscore_rows(void *ctx, size_t i0, size_t i1)
{
    const struct rows *a = ctx;
    for (size_t i = i0; i < i1; i++) {
        const float *p = a->P + i * a->nk;
        float *g = a->dP + i * a->nk, dot = 0;
        for (int j = 0; j < a->nk; j++)
            dot += p[j] * g[j];
        for (int j = 0; j < a->nk; j++)
            g[j] = p[j] * (g[j] - dot) * a->scale; /* masked keys: p = 0, so 0 */
    }
}

static int rows_of(int T) { return T < IK_CPU_ATT_ROWS ? T : IK_CPU_ATT_ROWS; }

static void blas_fwd(float *out, const float *q, const float *kc, const float *vc, int T, int pos0,
                     int H, int K, int hd, int window, float *scratch)
{
    int group = H / K, qw = H * hd, kw = K * hd;
    for (int h = 0; h < H; h++) {
        int kh = h / group;
        for (int t0 = 0; t0 < T; t0 += IK_CPU_ATT_ROWS) {
            int Bq = T - t0 < IK_CPU_ATT_ROWS ? T - t0 : IK_CPU_ATT_ROWS, p0 = pos0 + t0;
            struct span ks = block_keys(p0, p0 + Bq - 1, window);
            int nk = ks.hi - ks.lo + 1;
            const float *qb = q + (size_t)t0 * qw + (size_t)h * hd;
            probs(scratch, qb, qw, kc + (size_t)ks.lo * kw + (size_t)kh * hd, kw, Bq, p0, ks, hd, window);
            /* out block (Bq, hd) = P (Bq, nk) @ V (nk, hd) */
            ik_cpu_sgemm(false, false, Bq, hd, nk, 1.0f, scratch, nk,
                         vc + (size_t)ks.lo * kw + (size_t)kh * hd, kw, 0.0f,
                         out + (size_t)t0 * qw + (size_t)h * hd, qw);
        }
    }
}

/* With P = softmax(S), S = scale * Q K^T and O = P V:
 * dV += P^T dO; dP = dO V^T; dS = P * (dP - rowsum(P * dP));
 * dQ += scale * dS K; dK += scale * dS^T Q. Blocks and heads run one after
 * another, so the accumulations into dk and dv never race. */
static void blas_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                     const float *k, const float *v, int T, int H, int K, int hd, int window,
                     float *scratch)
{
    int group = H / K, qw = H * hd, kw = K * hd;
    float scale = 1.0f / sqrtf((float)hd);
    float *P = scratch, *dP = scratch + (size_t)rows_of(T) * T;
    for (int h = 0; h < H; h++) {
        int kh = h / group;
        for (int t0 = 0; t0 < T; t0 += IK_CPU_ATT_ROWS) {
            int Bq = T - t0 < IK_CPU_ATT_ROWS ? T - t0 : IK_CPU_ATT_ROWS;
            struct span ks = block_keys(t0, t0 + Bq - 1, window);
            int nk = ks.hi - ks.lo + 1;
            size_t qo = (size_t)t0 * qw + (size_t)h * hd, ko = (size_t)ks.lo * kw + (size_t)kh * hd;
            probs(P, q + qo, qw, k + ko, kw, Bq, t0, ks, hd, window);
            ik_cpu_sgemm(true, false, nk, hd, Bq, 1.0f, P, nk, dout + qo, qw, 1.0f, dv + ko, kw);
            ik_cpu_sgemm(false, true, Bq, nk, hd, 1.0f, dout + qo, qw, v + ko, kw, 0.0f, dP, nk);
            struct rows a = {P, dP, nk, t0, ks.lo, window, scale};
            ik_cpu_parallel_for((size_t)Bq, (size_t)Bq * nk * 4, dscore_rows, &a);
            ik_cpu_sgemm(false, false, Bq, hd, nk, 1.0f, dP, nk, k + ko, kw, 1.0f, dq + qo, qw);
            ik_cpu_sgemm(true, false, nk, hd, Bq, 1.0f, dP, nk, q + qo, qw, 1.0f, dk + ko, kw);
        }
    }
}

void ik_cpu_attention_fwd(float *out, const float *q, const float *kc, const float *vc, int T,
                          int pos0, int H, int K, int hd, int window, float *scratch)
{
    if (hd <= IK_ATT_TILE_HD && T * (H / K) >= IK_VL && ik_simd_fma())
        ik__att_tiled_fwd(out, q, kc, vc, T, pos0, H, K, hd, window);
    else
        blas_fwd(out, q, kc, vc, T, pos0, H, K, hd, window, scratch);
}

void ik_cpu_attention_seq_fwd(float *out, const float *q, const float *k, const float *v, int T, int H,
                              int K, int hd, int window, float *scratch)
{
    if (hd >= IK_ATT_GEMM_MIN_HD && ik__att_gemm_bwd_floats(T, H, K, hd) > 0)
        ik__att_gemm_fwd(out, q, k, v, T, H, K, hd, window, scratch);
    else
        ik_cpu_attention_fwd(out, q, k, v, T, 0, H, K, hd, window, scratch);
}

size_t ik_cpu_attention_bwd_scratch(int T, int H, int K, int hd)
{
    size_t rows = (size_t)(T < IK_CPU_ATT_ROWS ? T : IK_CPU_ATT_ROWS);
    size_t other = 2 * (size_t)T * (rows > (size_t)H ? rows : (size_t)H); /* tiles, sgemm blocks */
    size_t blocks = ik__att_gemm_bwd_floats_upto(T, H, K, hd);
    return blocks > other ? blocks : other;
}

void ik_cpu_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const float *k, const float *v, int T, int H, int K, int hd, int window,
                          float *scratch)
{
    if (hd >= IK_ATT_GEMM_MIN_HD && ik__att_gemm_bwd_floats(T, H, K, hd) > 0)
        ik__att_gemm_bwd(dq, dk, dv, dout, q, k, v, T, H, K, hd, window, scratch);
    else if (hd <= IK_ATT_TILE_HD && ik_simd_fma())
        ik__att_tiled_bwd(dq, dk, dv, dout, q, k, v, T, H, K, hd, window, scratch);
    else
        blas_bwd(dq, dk, dv, dout, q, k, v, T, H, K, hd, window, scratch);
}
