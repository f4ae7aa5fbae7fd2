/* kernels/cuda/swiglu.cu - SwiGLU forward and backward on the device, as
 * ik_cpu_swiglu_fwd/bwd (kernels/kernels.h): elementwise over N*F values,
 * the same expressions in the same order (expf where the CPU has its 8-lane
 * polynomial exp). The backward accumulates into dgate and dup.
 *
 * swiglu_bwd_bf16 is the backward the training step runs: the same terms
 * written, not added (it saves zeroing two (N,F) buffers and reading them
 * back), each also rounded to BF16, the operand of the gate and up
 * projections' backward GEMMs (which saves reading them again to convert);
 * the fp32 values are written only where the adapter's branch needs them.
 *
 * swiglu_fwd_bf16 and swiglu_bwd_bf16_in take gate and up in BF16, as the
 * training step stores them (its gate and up GEMMs write BF16: half the
 * bytes written, kept and read back of its largest activations); the
 * forward also writes the down projection's BF16 operand as it goes, which
 * saves converting the product in another pass. */
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_util.h"
#include "kernels/cuda/swiglu_terms.h"

__global__ void swiglu_fwd_kernel(float *out, const float *gate, const float *up, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

__device__ __forceinline__ float as_float(float x) { return x; }
__device__ __forceinline__ float as_float(__nv_bfloat16 x) { return __bfloat162float(x); }

/* swiglu_fwd_kernel's value of BF16 gate and up, into act (fp32) and act_b
 * (BF16, rows ld apart) where not NULL. */
__global__ void swiglu_fwd_bf16_kernel(float *act, __nv_bfloat16 *act_b, size_t ld,
                                       const __nv_bfloat16 *gate, const __nv_bfloat16 *up,
                                       size_t n, unsigned F)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = __bfloat162float(gate[i]);
        float v = g / (1.0f + expf(-g)) * __bfloat162float(up[i]);
        if (act != NULL)
            act[i] = v;
        if (act_b != NULL)
            act_b[i / F * ld + i % F] = __float2bfloat16_rn(v);
    }
}

/* d silu(g)/dg = sig(g) * (1 + g * (1 - sig(g))). */
__global__ void swiglu_bwd_kernel(float *dgate, float *dup, const float *dout, const float *gate,
                                  const float *up, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = gate[i], u = up[i], d = dout[i];
        float sg = 1.0f / (1.0f + expf(-g));
        dup[i] += d * g * sg;
        dgate[i] += d * u * sg * (1.0f + g * (1.0f - sg));
    }
}

/* The terms of swiglu_bwd_kernel, written; a NULL output is skipped. Gate
 * and up fp32 or BF16 (T). */
template <typename T>
__global__ void swiglu_bwd_bf16_kernel(float *dgate, float *dup, __nv_bfloat16 *dgate_b,
                                       __nv_bfloat16 *dup_b, const float *dout, const T *gate,
                                       const T *up, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float vg, vu;
        ik_cuda__swiglu_terms(as_float(gate[i]), as_float(up[i]), dout[i], &vg, &vu);
        if (dup != NULL)
            dup[i] = vu;
        if (dgate != NULL)
            dgate[i] = vg;
        if (dup_b != NULL)
            dup_b[i] = __float2bfloat16_rn(vu);
        if (dgate_b != NULL)
            dgate_b[i] = __float2bfloat16_rn(vg);
    }
}

extern "C" int ik_cuda_swiglu_fwd(float *out, const float *gate, const float *up, int N, int F)
{
    if (N < 0 || F < 0)
        return ik_cuda__bad_arg("swiglu_fwd", "N = %d, F = %d (both >= 0)", N, F);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    swiglu_fwd_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, gate, up, n);
    return ik_cuda__launched("swiglu_fwd");
}

extern "C" int ik_cuda_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate,
                                  const float *up, int N, int F)
{
    if (N < 0 || F < 0)
        return ik_cuda__bad_arg("swiglu_bwd", "N = %d, F = %d (both >= 0)", N, F);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    swiglu_bwd_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(dgate, dup, dout, gate, up, n);
    return ik_cuda__launched("swiglu_bwd");
}

extern "C" int ik_cuda_swiglu_bwd_bf16(float *dgate, float *dup, uint16_t *dgate_b, uint16_t *dup_b,
                                       const float *dout, const float *gate, const float *up, int N,
                                       int F)
{
    if (N < 0 || F < 0)
        return ik_cuda__bad_arg("swiglu_bwd_bf16", "N = %d, F = %d (both >= 0)", N, F);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    swiglu_bwd_bf16_kernel<float><<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(
        dgate, dup, (__nv_bfloat16 *)dgate_b, (__nv_bfloat16 *)dup_b, dout, gate, up, n);
    return ik_cuda__launched("swiglu_bwd_bf16");
}

extern "C" int ik_cuda_swiglu_fwd_bf16(float *act, uint16_t *act_b, int ld_b, const uint16_t *gate,
                                       const uint16_t *up, int N, int F)
{
    if (N < 0 || F < 0 || (act_b != NULL && ld_b < F))
        return ik_cuda__bad_arg("swiglu_fwd_bf16", "N = %d, F = %d, ld_b = %d (N, F >= 0, "
                                "ld_b >= F)", N, F, ld_b);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    swiglu_fwd_bf16_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(
        act, (__nv_bfloat16 *)act_b, (size_t)ld_b, (const __nv_bfloat16 *)gate,
        (const __nv_bfloat16 *)up, n, (unsigned)F);
    return ik_cuda__launched("swiglu_fwd_bf16");
}

extern "C" int ik_cuda_swiglu_bwd_bf16_in(uint16_t *dgate_b, uint16_t *dup_b, const float *dout,
                                          const uint16_t *gate, const uint16_t *up, int N, int F)
{
    if (N < 0 || F < 0)
        return ik_cuda__bad_arg("swiglu_bwd_bf16_in", "N = %d, F = %d (both >= 0)", N, F);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    swiglu_bwd_bf16_kernel<__nv_bfloat16><<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(
        NULL, NULL, (__nv_bfloat16 *)dgate_b, (__nv_bfloat16 *)dup_b, dout,
        (const __nv_bfloat16 *)gate, (const __nv_bfloat16 *)up, n);
    return ik_cuda__launched("swiglu_bwd_bf16_in");
}
