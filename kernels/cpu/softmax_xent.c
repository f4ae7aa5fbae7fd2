/* kernels/cpu/softmax_xent.c - per-row softmax cross-entropy (no reduction)
 * and its backward, in fp32 with a max-subtracted (stable) log-sum-exp. Every
 * exp(l - max) lies in (0, 1] and one of them is 1, so fp32 is enough for the
 * terms; the sum over a 151,936-word vocabulary is formed in blocks of
 * SUM_BLOCK (8 lanes of 16 terms each, summed as a tree, then added to a
 * float total), which keeps its rounding error near (16 + V/SUM_BLOCK) ulps
 * instead of V ulps. Rows run on the kernels' thread pool (parallel.h), each
 * in 8-lane vectors (simd.h; the last, partial one padded). */
#include <math.h>
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/kernels.h"

enum { SUM_BLOCK = 16 * IK_VL };

IK_VINLINE float row_max(const float *l, int V)
{
    ik_vf mx = (ik_vf){0} - __builtin_inff(), x;
    for (int v = 0; v < V; v += IK_VL) {
        ik_vload(&x, l + v, V - v < IK_VL ? V - v : IK_VL, -__builtin_inff());
        mx = IK_VSEL(x > mx, x, mx);
    }
    return ik_vmax(&mx);
}

/* sum_v exp(l[v] - mx); e (optional, may equal l) receives the terms. */
IK_VINLINE float sum_exp(float *e, const float *l, int V, float mx)
{
    float total = 0;
    for (int v0 = 0; v0 < V; v0 += SUM_BLOCK) {
        int v1 = V - v0 < SUM_BLOCK ? V : v0 + SUM_BLOCK;
        ik_vf part = {0}, x;
        for (int v = v0; v < v1; v += IK_VL) {
            int n = v1 - v < IK_VL ? v1 - v : IK_VL;
            ik_vload(&x, l + v, n, -__builtin_inff()); /* padding: exp(-inf) = 0 */
            x = x - mx;
            ik_vexp(&x);
            if (e)
                ik_vstore(e + v, &x, n);
            part = part + x;
        }
        total += ik_vsum(&part);
    }
    return total;
}

struct xent {
    float *out;  /* nll, or NULL */
    float *grad; /* dlogits, or NULL */
    const float *logits, *dnll;
    const int *targets;
    int V;
};

IK_VINLINE void fwd_rows_body(void *ctx, size_t lo, size_t hi)
{
    const struct xent *a = ctx;
    for (size_t n = lo; n < hi; n++) {
        const float *l = a->logits + n * a->V;
        float mx = row_max(l, a->V);
        a->out[n] = logf(sum_exp(NULL, l, a->V, mx)) + (mx - l[a->targets[n]]);
    }
}
IK_SIMD_RANGE_FN(fwd_rows)

void ik_cpu_softmax_xent_fwd(float *nll, const float *logits, const int *targets, int N, int V)
{
    struct xent a = {nll, NULL, logits, NULL, targets, V};
    ik_cpu_parallel_for((size_t)N, (size_t)N * V * 8, fwd_rows, &a);
}

/* One row's gradient dn * (softmax - onehot) into g (which may be l itself:
 * each logit is read before it is overwritten); returns the row's nll. */
IK_VINLINE float grad_row(float *g, const float *l, int target, float dn, int V)
{
    float mx = row_max(l, V), lt = l[target];
    float sum = sum_exp(g, l, V, mx), w = dn / sum;
    for (int v = 0; v < V; v += IK_VL) {
        int n = V - v < IK_VL ? V - v : IK_VL;
        ik_vf x;
        ik_vload(&x, g + v, n, 0.0f);
        x = dn == 0.0f ? (ik_vf){0} : x * w;
        ik_vstore(g + v, &x, n);
    }
    g[target] -= dn;
    return logf(sum) + (mx - lt);
}

IK_VINLINE void bwd_rows_body(void *ctx, size_t lo, size_t hi)
{
    const struct xent *a = ctx;
    for (size_t n = lo; n < hi; n++) {
        float nll = grad_row(a->grad + n * a->V, a->logits + n * a->V, a->targets[n], a->dnll[n], a->V);
        if (a->out)
            a->out[n] = nll;
    }
}
IK_SIMD_RANGE_FN(bwd_rows)

void ik_cpu_softmax_xent_bwd(float *dlogits, const float *logits, const int *targets,
                             const float *dnll, int N, int V)
{
    struct xent a = {NULL, dlogits, logits, dnll, targets, V};
    ik_cpu_parallel_for((size_t)N, (size_t)N * V * 8, bwd_rows, &a);
}

void ik_cpu_softmax_xent_fwd_bwd(float *nll, float *dlogits, const float *logits, const int *targets,
                                 const float *dnll, int N, int V)
{
    struct xent a = {nll, dlogits, logits, dnll, targets, V};
    ik_cpu_parallel_for((size_t)N, (size_t)N * V * 8, bwd_rows, &a);
}
