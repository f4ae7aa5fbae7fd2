/* kernels/cpu/attention_gemm.c - the sgemm-block attention forward and
 * backward of attention_gemm.h. Scratch, per KV head of a pass: P and G (dP, then dS),
 * each (slots, T) with row stride T, and the head's slots of q, dout and dQ
 * packed into (slots, hd) matrices. A row of P or G holds its block's
 * computed columns; those its slot cannot see are zeros, as are the columns
 * of the key block below them that pass 2 reads (with a sliding window). The
 * row loops use 8-lane vectors without fused multiply-adds (simd.h), so
 * every CPU runs them with the same bits. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels/cpu/attention_gemm.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

enum { RB = IK_ATT_GEMM_BLOCK };

struct att {
    const float *q, *k, *v, *dout;
    float *dq, *dk, *dv, *scratch;
    int T, H, K, hd, window, group, kh0; /* kh0: the first KV head of this pass */
    size_t slots, per_head, nblocks;      /* slots per KV head, scratch floats per KV head */
    float scale;
    float *out; /* the forward's */
};

static size_t per_head(int T, int H, int K, int hd)
{
    size_t slots = (size_t)T * (size_t)(H / K);
    return slots * (2 * (size_t)T + 3 * (size_t)hd);
}

size_t ik__att_gemm_bwd_floats(int T, int H, int K, int hd)
{
    size_t ph = per_head(T, H, K, hd);
    if (ph > IK_ATT_GEMM_MAX_FLOATS)
        return 0;
    size_t heads = IK_ATT_GEMM_MAX_FLOATS / ph;
    return (heads < (size_t)K ? heads : (size_t)K) * ph;
}

size_t ik__att_gemm_bwd_floats_upto(int T, int H, int K, int hd)
{
    size_t all = (size_t)K * per_head(T, H, K, hd);
    if (hd < IK_ATT_GEMM_MIN_HD)
        return 0;
    return all < IK_ATT_GEMM_MAX_FLOATS ? all : IK_ATT_GEMM_MAX_FLOATS;
}

/* Item i of a pass: the head within the pass and its block, zig-zag (cheap
 * and dear blocks of the causal triangle alternate). */
static void item(const struct att *a, size_t i, int *head, int *block)
{
    size_t n = a->nblocks, j = i % n;
    *head = (int)(i / n);
    *block = (int)(j % 2 ? n - 1 - j / 2 : j / 2);
}

struct bufs {
    float *P, *G, *Q, *dO, *dQ;
};

static struct bufs bufs_of(const struct att *a, int head)
{
    float *b = a->scratch + (size_t)head * a->per_head;
    size_t st = a->slots * (size_t)a->T, sh = a->slots * (size_t)a->hd;
    struct bufs u = {b, b + st, b + 2 * st, b + 2 * st + sh, b + 2 * st + 2 * sh};
    return u;
}

/* Row p of scores (columns lo..hi visible) becomes its softmax over those columns. */
IK_VINLINE void softmax_row(float *p, int lo, int hi)
{
    int n = hi - lo + 1;
    float *pr = p + lo;
    ik_vf mx = (ik_vf){0} - __builtin_inff(), sum = {0}, x;
    for (int j = 0; j < n; j += IK_VL) {
        ik_vload(&x, pr + j, n - j < IK_VL ? n - j : IK_VL, -__builtin_inff());
        mx = IK_VSEL(x > mx, x, mx);
    }
    float m = ik_vmax(&mx);
    for (int j = 0; j < n; j += IK_VL) {
        int w = n - j < IK_VL ? n - j : IK_VL;
        ik_vload(&x, pr + j, w, -__builtin_inff()); /* padding: exp(-inf) = 0 */
        x = x - m;
        ik_vexp(&x);
        ik_vstore(pr + j, &x, w);
        sum = sum + x;
    }
    float inv = 1.0f / ik_vsum(&sum);
    for (int j = 0; j < n; j += IK_VL) {
        int w = n - j < IK_VL ? n - j : IK_VL;
        ik_vload(&x, pr + j, w, 0.0f);
        x = x * inv;
        ik_vstore(pr + j, &x, w);
    }
}

/* Row p of scores (columns lo..hi visible) becomes its softmax, and row g of
 * dP becomes dS = P (dP - sum(P dP)), over those columns only. */
IK_VINLINE void softmax_grad_row(float *p, float *g, int lo, int hi)
{
    softmax_row(p, lo, hi);
    int n = hi - lo + 1;
    const float *pr = p + lo;
    float *gr = g + lo;
    ik_vf dot = {0}, x, d;
    for (int j = 0; j < n; j += IK_VL) {
        int w = n - j < IK_VL ? n - j : IK_VL;
        ik_vload(&x, pr + j, w, 0.0f);
        ik_vload(&d, gr + j, w, 0.0f);
        dot = dot + x * d;
    }
    float D = ik_vsum(&dot);
    for (int j = 0; j < n; j += IK_VL) {
        int w = n - j < IK_VL ? n - j : IK_VL;
        ik_vload(&x, pr + j, w, 0.0f);
        ik_vload(&d, gr + j, w, 0.0f);
        d = x * (d - D);
        ik_vstore(gr + j, &d, w);
    }
}

/* The first key a query at position p sees. */
static int first_key(int p, int window) { return window > 0 && p - window + 1 > 0 ? p - window + 1 : 0; }

/* Item i of a position pass: KV head kh's positions p0..p1, their rows slots
 * s0 .. s0 + rows - 1 of the head's buffers u, and their slots of q packed
 * into u.Q. */
struct block {
    struct bufs u;
    int kh, p0, p1, rows;
    size_t s0;
};

static struct block block_of(const struct att *a, size_t i)
{
    int head, b, gw = a->group * a->hd, qw = a->H * a->hd;
    item(a, i, &head, &b);
    struct block k = {.u = bufs_of(a, head), .kh = a->kh0 + head, .p0 = b * RB};
    k.p1 = (k.p0 + RB < a->T ? k.p0 + RB : a->T) - 1;
    k.s0 = (size_t)k.p0 * a->group;
    k.rows = (k.p1 - k.p0 + 1) * a->group;
    for (int t = k.p0; t <= k.p1; t++)
        memcpy(k.u.Q + (size_t)t * gw, a->q + (size_t)t * qw + (size_t)k.kh * gw, sizeof(float) * gw);
    return k;
}

/* Pass 1 for a block of positions p0..p1 of KV head kh: pack its slots of q
 * and dout, S and dP against keys lo..p1, P and dS row by row, dQ. */
IK_VINLINE void rows_body(void *ctx, size_t i0, size_t i1)
{
    const struct att *a = ctx;
    int hd = a->hd, T = a->T, gw = a->group * hd, qw = a->H * hd, kw = a->K * hd;
    for (size_t i = i0; i < i1; i++) {
        struct block k = block_of(a, i);
        struct bufs u = k.u;
        int kh = k.kh, p0 = k.p0, p1 = k.p1, rows = k.rows;
        size_t s0 = k.s0;
        for (int t = p0; t <= p1; t++)
            memcpy(u.dO + (size_t)t * gw, a->dout + (size_t)t * qw + (size_t)kh * gw, sizeof(float) * gw);
        int lo = first_key(p0, a->window), n = p1 - lo + 1;
        const float *kb = a->k + (size_t)lo * kw + (size_t)kh * hd;
        const float *vb = a->v + (size_t)lo * kw + (size_t)kh * hd;
        float *P = u.P + s0 * T, *G = u.G + s0 * T;
        ik_cpu_sgemm_serial(false, true, rows, n, hd, a->scale, u.Q + s0 * hd, hd, kb, kw, 0.0f, P + lo, T);
        ik_cpu_sgemm_serial(false, true, rows, n, hd, 1.0f, u.dO + s0 * hd, hd, vb, kw, 0.0f, G + lo, T);
        int zero_from = lo / RB * RB; /* pass 2 reads whole key blocks */
        for (int r = 0; r < rows; r++) {
            int t = p0 + r / a->group, first = first_key(t, a->window);
            float *pr = P + (size_t)r * T, *gr = G + (size_t)r * T;
            softmax_grad_row(pr, gr, first, t);
            memset(pr + zero_from, 0, sizeof(float) * (size_t)(first - zero_from));
            memset(gr + zero_from, 0, sizeof(float) * (size_t)(first - zero_from));
            memset(pr + t + 1, 0, sizeof(float) * (size_t)(p1 - t));
            memset(gr + t + 1, 0, sizeof(float) * (size_t)(p1 - t));
        }
        ik_cpu_sgemm_serial(false, false, rows, hd, n, a->scale, G + lo, T, kb, kw, 0.0f, u.dQ + s0 * hd, hd);
        for (int t = p0; t <= p1; t++) {
            float *dst = a->dq + (size_t)t * qw + (size_t)kh * gw;
            const float *src = u.dQ + (size_t)t * gw;
            for (int e = 0; e < gw; e++)
                dst[e] += src[e];
        }
    }
}
IK_SIMD_RANGE_FN(rows)

/* The forward for a block of positions p0..p1 of KV head kh: pack its slots
 * of q, S against keys lo..p1, P row by row (the columns a slot cannot see
 * zeroed), O = P V, unpacked into out. P, Q and O take the places of P, Q
 * and dQ in the backward's scratch. */
IK_VINLINE void fwd_rows_body(void *ctx, size_t i0, size_t i1)
{
    const struct att *a = ctx;
    int hd = a->hd, T = a->T, gw = a->group * hd, qw = a->H * hd, kw = a->K * hd;
    for (size_t i = i0; i < i1; i++) {
        struct block k = block_of(a, i);
        struct bufs u = k.u;
        int kh = k.kh, p0 = k.p0, p1 = k.p1, rows = k.rows;
        size_t s0 = k.s0;
        int lo = first_key(p0, a->window), n = p1 - lo + 1;
        const float *kb = a->k + (size_t)lo * kw + (size_t)kh * hd;
        const float *vb = a->v + (size_t)lo * kw + (size_t)kh * hd;
        float *P = u.P + s0 * T;
        ik_cpu_sgemm_serial(false, true, rows, n, hd, a->scale, u.Q + s0 * hd, hd, kb, kw, 0.0f, P + lo, T);
        for (int r = 0; r < rows; r++) {
            int t = p0 + r / a->group, first = first_key(t, a->window);
            float *pr = P + (size_t)r * T;
            softmax_row(pr, first, t);
            memset(pr + lo, 0, sizeof(float) * (size_t)(first - lo));
            memset(pr + t + 1, 0, sizeof(float) * (size_t)(p1 - t));
        }
        ik_cpu_sgemm_serial(false, false, rows, hd, n, 1.0f, P + lo, T, vb, kw, 0.0f, u.dQ + s0 * hd, hd);
        for (int t = p0; t <= p1; t++)
            memcpy(a->out + (size_t)t * qw + (size_t)kh * gw, u.dQ + (size_t)t * gw, sizeof(float) * gw);
    }
}
IK_SIMD_RANGE_FN(fwd_rows)

/* Pass 2 for a block of keys j0..j1 of KV head kh: dK += scale dS^T Q and
 * dV += P^T dO over the slots from position j0 to the last that sees j1. */
static void keys(void *ctx, size_t i0, size_t i1)
{
    const struct att *a = ctx;
    int hd = a->hd, T = a->T, kw = a->K * hd;
    for (size_t i = i0; i < i1; i++) {
        int head, b;
        item(a, i, &head, &b);
        struct bufs u = bufs_of(a, head);
        int kh = a->kh0 + head, j0 = b * RB, nj = (j0 + RB < T ? j0 + RB : T) - j0;
        int t_end = a->window > 0 && j0 + nj - 1 + a->window - 1 < T - 1 ? j0 + nj + a->window - 2 : T - 1;
        size_t s_lo = (size_t)j0 * a->group;
        int nr = (int)((size_t)(t_end + 1) * a->group - s_lo);
        size_t at = (size_t)j0 * kw + (size_t)kh * hd;
        ik_cpu_sgemm_serial(true, false, nj, hd, nr, a->scale, u.G + s_lo * T + j0, T, u.Q + s_lo * hd, hd,
                            1.0f, a->dk + at, kw);
        ik_cpu_sgemm_serial(true, false, nj, hd, nr, 1.0f, u.P + s_lo * T + j0, T, u.dO + s_lo * hd, hd,
                            1.0f, a->dv + at, kw);
    }
}

/* Runs the position pass first (and the key pass second, when not NULL) over
 * as many KV heads at a time as the scratch holds. work: a head's scalar
 * operations. */
static void run_passes(struct att *a, size_t work, ik_cpu_range_fn *first, ik_cpu_range_fn *second)
{
    int per_pass = (int)(ik__att_gemm_bwd_floats(a->T, a->H, a->K, a->hd) / a->per_head);
    per_pass = per_pass > 0 ? per_pass : 1; /* past the limit: one head, if scratch holds it */
    for (a->kh0 = 0; a->kh0 < a->K; a->kh0 += per_pass) {
        int heads = a->K - a->kh0 < per_pass ? a->K - a->kh0 : per_pass;
        ik_cpu_parallel_for((size_t)heads * a->nblocks, work * heads, first, a);
        if (second)
            ik_cpu_parallel_for((size_t)heads * a->nblocks, work * heads, second, a);
    }
}

void ik__att_gemm_fwd(float *out, const float *q, const float *k, const float *v, int T, int H,
                      int K, int hd, int window, float *scratch)
{
    struct att a = {.q = q, .k = k, .v = v, .scratch = scratch, .T = T, .H = H, .K = K, .hd = hd,
                    .window = window, .group = H / K, .slots = (size_t)T * (size_t)(H / K),
                    .per_head = per_head(T, H, K, hd), .nblocks = ((size_t)T + RB - 1) / RB,
                    .scale = 1.0f / sqrtf((float)hd), .out = out};
    run_passes(&a, a.slots * (size_t)T * (size_t)hd * 2, fwd_rows, NULL); /* about half of each of 2 products */
}

void ik__att_gemm_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                      const float *k, const float *v, int T, int H, int K, int hd, int window,
                      float *scratch)
{
    struct att a = {q, k, v, dout, dq, dk, dv, scratch, T, H, K, hd, window, H / K, 0,
                    (size_t)T * (size_t)(H / K), per_head(T, H, K, hd), ((size_t)T + RB - 1) / RB,
                    1.0f / sqrtf((float)hd), NULL};
    run_passes(&a, a.slots * (size_t)T * (size_t)hd * 6, rows, keys); /* about half of each of 6 products */
}
