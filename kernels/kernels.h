/* kernels/kernels.h - the compute ops of the language model, one contract per op.
 *
 * kernels/cpu/<op>.c is the reference: fp32, plain loops, OpenBLAS only for
 * GEMM, written to be read. A CUDA file implementing the same contract would be
 * declared beside it here. Dimension letters, used in every shape comment:
 *   B batch, T sequence, D model width, H query heads, K key/value heads,
 *   F MLP width, V vocabulary, R LoRA rank; N = B*T rows; hd = width of one head.
 * All tensors are row-major and contiguous; outputs never alias inputs unless
 * the comment says "in place". These functions cannot fail: callers check
 * shapes and token ranges before calling. */
#ifndef IK_KERNELS_KERNELS_H
#define IK_KERNELS_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* out = x @ w^T (+ bias): a PyTorch nn.Linear. out: (N,Out); x: (N,In); w: (Out,In);
 * bias: (Out) or NULL. Uses cblas_sgemm. */
void ik_cpu_matmul_fwd(float *out, const float *x, const float *w, const float *bias, int N, int In,
                       int Out);

/* RMSNorm: out[n] = x[n] / sqrt(mean(x[n]^2) + eps) * w. out, x: (N,C) where C
 * is D (layer norms) or hd (Qwen3 q/k norms); w: (C); rstd: (N) receives the
 * reciprocal RMS for the backward pass, or NULL. out may equal x (in place). */
void ik_cpu_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, int N, int C,
                        float eps);

/* Rotary embedding in the Hugging Face "rotate_half" layout, in place: within
 * each head, the pair (x[j], x[j+hd/2]) is rotated by pos[n]*inv_freq[j].
 * x: (N, nh, hd) with nh = H for q or K for k; pos: (N); inv_freq: (hd/2). */
void ik_cpu_rope_fwd(float *x, const int *pos, const float *inv_freq, int N, int nh, int hd);

/* SwiGLU: out = silu(gate) * up. out, gate, up: (N,F). */
void ik_cpu_swiglu_fwd(float *out, const float *gate, const float *up, int N, int F);

/* Causal grouped-query attention of T new queries at positions pos0..pos0+T-1
 * against a cache holding positions 0..pos0+T-1. Query head h reads KV head
 * h / (H/K). A key at position j is visible to the query at position p when
 * j <= p and (window == 0 or p - j < window). Scores are scaled by 1/sqrt(hd).
 * out: (T, H*hd); q: (T, H*hd); kc, vc: (pos0+T, K*hd); scratch: (pos0+T). */
void ik_cpu_attention_fwd(float *out, const float *q, const float *kc, const float *vc, int T,
                          int pos0, int H, int K, int hd, int window, float *scratch);

/* Softmax cross-entropy without reduction: nll[n] = -log softmax(logits[n])[targets[n]],
 * accumulated in double. logits: (N,V); targets: (N), each in [0,V); nll: (N). */
void ik_cpu_softmax_xent_fwd(float *nll, const float *logits, const int *targets, int N, int V);

#ifdef __cplusplus
}
#endif

#endif
