/* kernels/cuda/softmax_xent.cu - per-row softmax cross-entropy and its
 * gradient at once on the device, as ik_cpu_softmax_xent_fwd_bwd
 * (kernels/kernels.h): nll[n] = log sum exp(l - max) + (max - l[target]) and
 * dlogits = dnll[n] * (softmax - onehot), overwritten, possibly in place.
 *
 * One block per row walks the vocabulary twice in chunks of its threads:
 * first an online max and sum (each thread keeps a running (max, sum),
 * rescaling the sum when the max grows; the block then merges the pairs),
 * then the gradient. So a 151,936-word row needs no buffer of V terms, only
 * the logits themselves, read twice. The target's logit is read before the
 * first barrier, hence before any thread overwrites it. */
#include <math.h>

#include "kernels/cuda/cuda_util.h"

enum { XENT_THREADS = 512 };

/* (m, s) += (m2, s2): two partial sums of exp(l - m) under their own maxima.
 * Rounded without contraction, so the merge is commutative and both lanes of
 * a butterfly step get the same bits: every thread ends with the same max and
 * sum. */
__device__ __forceinline__ void ms_merge(float &m, float &s, float m2, float s2)
{
    if (m2 == -INFINITY)
        return;
    if (m == -INFINITY) {
        m = m2;
        s = s2;
        return;
    }
    float M = fmaxf(m, m2);
    s = __fadd_rn(__fmul_rn(s, expf(m - M)), __fmul_rn(s2, expf(m2 - M)));
    m = M;
}

__global__ void softmax_xent_kernel(float *nll, float *dlogits, const float *logits,
                                    const int *targets, const float *dnll, int V)
{
    __shared__ float sm[32], ss[32];
    size_t n = blockIdx.x;
    const float *l = logits + n * V;
    float *g = dlogits + n * V;
    int target = targets[n];
    float lt = threadIdx.x == 0 ? l[target] : 0.0f;

    float m = -INFINITY, s = 0.0f;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float x = l[v];
        if (x > m) {
            s = (m == -INFINITY ? 0.0f : s * expf(m - x)) + 1.0f;
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        ms_merge(m, s, m2, s2);
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) {
        sm[warp] = m;
        ss[warp] = s;
    }
    __syncthreads();
    m = lane < nw ? sm[lane] : -INFINITY;
    s = lane < nw ? ss[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        ms_merge(m, s, m2, s2);
    }

    float dn = dnll[n], w = dn / s;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float d = dn == 0.0f ? 0.0f : expf(l[v] - m) * w;
        if (v == target)
            d -= dn;
        g[v] = d;
    }
    if (threadIdx.x == 0)
        nll[n] = logf(s) + (m - lt);
}

extern "C" int ik_cuda_softmax_xent_fwd_bwd(float *nll, float *dlogits, const float *logits,
                                            const int *targets, const float *dnll, int N, int V)
{
    if (N < 0 || V <= 0)
        return ik_cuda__bad_arg("softmax_xent_fwd_bwd", "N = %d, V = %d (N >= 0, V > 0)", N, V);
    if (N == 0)
        return 0;
    softmax_xent_kernel<<<N, XENT_THREADS>>>(nll, dlogits, logits, targets, dnll, V);
    return ik_cuda__launched("softmax_xent_fwd_bwd");
}
