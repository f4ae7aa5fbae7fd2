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
 * first barrier, hence before any thread overwrites it.
 *
 * softmax_xent_argmax is the same kernel made to do what the training head
 * needs in that one pass: the first pass also keeps each row's argmax (as
 * argmax.cu: first column of the largest entry, NaNs and -inf passed over),
 * and the gradient may be written as BF16 (rounded to nearest even, as
 * ->to_bf16), the operand of the head's backward GEMM. That saves a third
 * read of the logits and the fp32 write and re-read of the gradient: with a
 * 151,936-word vocabulary, about 1 GB of traffic per 512 rows. */
#include <math.h>
#include <cuda_bf16.h>

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

__device__ __forceinline__ void store(float *g, float d) { *g = d; }
__device__ __forceinline__ void store(__nv_bfloat16 *g, float d) { *g = __float2bfloat16_rn(d); }

/* G: float (dlogits may be the logits) or __nv_bfloat16 (a separate
 * buffer); amax NULL: no argmax. */
template <typename G>
__global__ void softmax_xent_kernel(float *nll, int *amax, G *dlogits, const float *logits,
                                    const int *targets, const float *dnll, int V)
{
    __shared__ float sm[32], ss[32];
    __shared__ int sj[32];
    size_t n = blockIdx.x;
    const float *l = logits + n * V;
    G *g = dlogits + n * V;
    int target = targets[n];
    float lt = threadIdx.x == 0 ? l[target] : 0.0f;

    float m = -INFINITY, s = 0.0f, b = -INFINITY;
    int j = -1;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float x = l[v];
        if (x > b) { /* argmax.cu's test: false for NaN, and for -inf at first */
            b = x;
            j = v;
        }
        if (x > m) {
            s = (m == -INFINITY ? 0.0f : s * expf(m - x)) + 1.0f;
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    if (amax != NULL) { /* the same for the whole block: no thread skips a barrier */
        j = ik_cuda__block_argmax(b, j, sm, sj);
        if (threadIdx.x == 0)
            amax[n] = j;
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
        store(&g[v], d);
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
    softmax_xent_kernel<float><<<N, XENT_THREADS>>>(nll, NULL, dlogits, logits, targets, dnll, V);
    return ik_cuda__launched("softmax_xent_fwd_bwd");
}

extern "C" int ik_cuda_softmax_xent_argmax(float *nll, int *amax, void *dlogits, int dlogits_type,
                                           const float *logits, const int *targets,
                                           const float *dnll, int N, int V)
{
    const char *what = "softmax_xent_argmax";
    if (N < 0 || V <= 0)
        return ik_cuda__bad_arg(what, "N = %d, V = %d (N >= 0, V > 0)", N, V);
    if (dlogits_type != IK_CUDA_F32 && dlogits_type != IK_CUDA_BF16)
        return ik_cuda__bad_arg(what, "dlogits_type = %d (IK_CUDA_F32 or IK_CUDA_BF16)",
                                dlogits_type);
    if (dlogits_type == IK_CUDA_BF16 && (const char *)dlogits < (const char *)(logits + (size_t)N * V) &&
        (const char *)logits < (const char *)dlogits + (size_t)N * V * 2)
        return ik_cuda__bad_arg(what, "BF16 dlogits overlap the logits (a separate buffer is needed)");
    if (N == 0)
        return 0;
    if (dlogits_type == IK_CUDA_F32)
        softmax_xent_kernel<float><<<N, XENT_THREADS>>>(nll, amax, (float *)dlogits, logits,
                                                        targets, dnll, V);
    else
        softmax_xent_kernel<__nv_bfloat16><<<N, XENT_THREADS>>>(
            nll, amax, (__nv_bfloat16 *)dlogits, logits, targets, dnll, V);
    return ik_cuda__launched(what);
}
