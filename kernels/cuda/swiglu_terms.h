/* kernels/cuda/swiglu_terms.h - SwiGLU's backward terms for one element, as
 * ik_cpu_swiglu_bwd computes them (kernels/kernels.h): shared by swiglu.cu's
 * kernels and the down projection's fused backward in lora_dropout.cu, so
 * that both give the same bits. d silu(g)/dg = sig(g) (1 + g (1 - sig(g))). */
#ifndef IK_KERNELS_CUDA_SWIGLU_TERMS_H
#define IK_KERNELS_CUDA_SWIGLU_TERMS_H

/* dgate and dup of out = silu(g) u, given its gradient d. */
__device__ __forceinline__ void ik_cuda__swiglu_terms(float g, float u, float d, float *dgate, float *dup)
{
    float sg = 1.0f / (1.0f + expf(-g));
    *dup = d * g * sg;
    *dgate = d * u * sg * (1.0f + g * (1.0f - sg));
}

#endif
