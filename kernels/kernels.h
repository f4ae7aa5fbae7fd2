/* kernels/kernels.h - the compute ops of the language model, one contract per op.
 *
 * kernels/cpu/<op>.c is the reference: fp32, plain loops, OpenBLAS for GEMMs
 * (attention included), written to be read; row and elementwise loops run on
 * a small thread pool (kernels/cpu/parallel.h). Callers outside kernels/
 * (lm/) reach them through kernels/dispatch.h, whose ik_<op> keeps each
 * contract written here and is where a CUDA implementation of the same
 * contract would be chosen. Dimension letters, used in every shape comment:
 *   B batch, T sequence, D model width, H query heads, K key/value heads,
 *   F MLP width, V vocabulary, R LoRA rank; N = B*T rows; hd = width of one head.
 * All tensors are row-major and contiguous; outputs never alias inputs unless
 * the comment says "in place". These functions cannot fail: callers check
 * shapes and token ranges before calling. */
#ifndef IK_KERNELS_KERNELS_H
#define IK_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out = x @ w^T (+ bias): a PyTorch nn.Linear. out: (N,Out); x: (N,In); w: (Out,In);
 * bias: (Out) or NULL. Uses cblas_sgemm, or ik_cpu_gemv for N <= IK_CPU_GEMV_ROWS
 * where the CPU has FMA. */
void ik_cpu_matmul_fwd(float *out, const float *x, const float *w, const float *bias, int N, int In,
                       int Out);

/* The projections of a few rows, bound by the weight reads: for each n < N,
 * o < Out: out[n][o] = (accumulate ? out[n][o] : 0) + (alpha * dot(x[n], w[o])
 * + (bias ? bias[o] : 0)). out: (N,Out); x: (N,In); w: (Out,In); bias: (Out)
 * or NULL. Each dot product is formed in one fixed order (8-lane fused
 * multiply-adds over the full vectors, a fixed tree, then the tail), whatever
 * N and the thread count: a row gets the same bits alone as in a batch.
 * Threaded over blocks of 4 outputs. Needs FMA (AVX2+FMA or AVX-512):
 * ik_cpu_gemv_available() says whether this CPU runs it; callers fall back to
 * sgemm otherwise. ik_cpu_matmul_fwd and ik_cpu_lora_fwd use it for N <=
 * IK_CPU_GEMV_ROWS, so a generated token, or a batch of up to 16 (one per
 * sequence), gives the same bits either way. */
enum { IK_CPU_GEMV_ROWS = 16 };
void ik_cpu_gemv(float *out, const float *x, const float *w, const float *bias, float alpha,
                 int accumulate, int N, int In, int Out);
int ik_cpu_gemv_available(void);

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
 * out: (T, H*hd); q: (T, H*hd); kc, vc: (pos0+T, K*hd);
 * scratch: (min(T, IK_CPU_ATT_ROWS) * (pos0+T)) floats. Heads up to 256 wide
 * with at least 8 query slots (T * H/K) per KV head run as 8-lane tiles
 * with an online softmax; others IK_CPU_ATT_ROWS queries at a time, each
 * block as two sgemms around a row softmax (kernels/cpu/attention.c). */
enum { IK_CPU_ATT_ROWS = 128 };
void ik_cpu_attention_fwd(float *out, const float *q, const float *kc, const float *vc, int T,
                          int pos0, int H, int K, int hd, int window, float *scratch);

/* Softmax cross-entropy without reduction: nll[n] = -log softmax(logits[n])[targets[n]],
 * in fp32 with a max-subtracted log-sum-exp whose sum is formed in blocks (see
 * softmax_xent.c). logits: (N,V); targets: (N), each in [0,V); nll: (N). */
void ik_cpu_softmax_xent_fwd(float *nll, const float *logits, const int *targets, int N, int V);

/* ---- the Mamba-2 mixer and the squared-ReLU MLP (NemotronH) ----
 * Letters: nh Mamba heads of P channels (d_inner = nh*P), G groups of N
 * states (head h reads group h / (nh/G)), Kc conv taps, C conv channels. */

/* Elementwise: out = x * sigmoid(x) (SiLU), n values; out may equal x. */
void ik_cpu_silu_fwd(float *out, const float *x, size_t n);

/* Elementwise: out = max(x, 0)^2 (NemotronH's relu2 MLP), n values; out may equal x. */
void ik_cpu_relu2_fwd(float *out, const float *x, size_t n);

/* Causal depthwise conv1d over T new rows, continuing from state: with
 * in(j) = x[j] for j >= 0 and state[Kc-1+j] for j < 0,
 * out[t][c] = (bias ? bias[c] : 0) + sum_{k<Kc} w[c][k] * in(t+k-(Kc-1))[c];
 * then state holds the last Kc-1 rows of in (the next call's past). x: (T,C)
 * rows ldx apart (ldx >= C); w: (C,Kc); bias: (C) or NULL; state:
 * (Kc-1, C), zeros before a sequence's first call, updated in place;
 * out: (T,C) contiguous. */
void ik_cpu_conv1d_fwd(float *out, float *state, const float *x, int ldx, const float *w,
                       const float *bias, int T, int C, int Kc);

/* The selective scan of Mamba-2, one step per row (the reference form), from
 * state and updating it in place: for t < T, head h, channel p, state n,
 *   S[h][n][p] = S[h][n][p] * exp(dt[t][h] * A[h]) + dt[t][h] * x[t][h*P+p] * B[t][g*N+n]
 *   y[t][h*P+p] = sum_n S[h][n][p] * C[t][g*N+n] + Dskip[h] * x[t][h*P+p].
 * x, B, C: (T, .) rows ld apart (the activated x | B | C of one conv row);
 * dt: (T,nh) after softplus; A, Dskip: (nh), A < 0; state: (nh,N,P), each
 * head's the transpose of transformers' (P,N), so that a step runs along P
 * in vector lanes; y: (T, nh*P). Threaded over heads; each sum in order of n. */
void ik_cpu_ssm_scan_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                         int ld, const float *dt, const float *A, const float *Dskip, int T, int nh,
                         int P, int G, int N);

/* The same numbers by the chunked (SSD) form, Q rows per chunk: within a
 * chunk, with a_t = dt_t*A and cum its running sum, the intra-chunk part is
 * (C B^T * exp(cum_t - cum_s), s <= t) @ (x*dt), the inter-chunk part
 * exp(cum_t) * C S_prev, the state S = exp(cum_last) S_prev + sum_s
 * exp(cum_last - cum_s) (x_s dt_s) B_s^T: GEMMs instead of a step per row.
 * Agrees with ik_cpu_ssm_scan_fwd to fp32 rounding (another summation order).
 * scratch: ik_cpu_ssm_chunked_scratch(nh, P, Q) floats. Arguments otherwise
 * as ik_cpu_ssm_scan_fwd. */
void ik_cpu_ssm_chunked_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                            int ld, const float *dt, const float *A, const float *Dskip, int T,
                            int nh, int P, int G, int N, int Q, float *scratch);
size_t ik_cpu_ssm_chunked_scratch(int nh, int P, int Q);

/* Mamba-2's gated RMSNorm (norm_before_gate = False): per row n and group g
 * of C/G channels, v = y * silu(z), out = v / sqrt(mean_group(v^2) + eps) * w.
 * y, out: (N,C), out may equal y; z: (N,C) rows ldz apart; w: (C). */
void ik_cpu_rmsnorm_gated_fwd(float *out, const float *y, const float *z, int ldz, const float *w,
                              int N, int C, int G, float eps);

/* Row-wise argmax: out[n] = the first column of row n's largest entry (as
 * torch.argmax, but NaN entries are passed over; a row with no entry above
 * -inf gives 0). x: (N,V); out: (N). Rows run on the thread pool: the token
 * accuracy of a training step scans 512 rows of a 151,936-word vocabulary. */
void ik_cpu_argmax_rows(int *out, const float *x, int N, int V);

/* ---- backward passes (training LoRA adapters; the base weights stay frozen) ----
 * Convention for every _bwd below: gradients ACCUMULATE (+=) into their
 * outputs, so callers zero them once per step; any gradient output documented
 * as optional may be NULL to skip it. Inputs are the forward's inputs. */

/* nn.Linear backward. dout: (N,Out); x: (N,In); w: (Out,In).
 * dx: (N,In) += dout @ w; dw: (Out,In) += dout^T @ x; db: (Out) += sum_n dout[n].
 * Each of dx, dw, db is optional. Uses cblas_sgemm. */
void ik_cpu_matmul_bwd(float *dx, float *dw, float *db, const float *dout, const float *x,
                       const float *w, int N, int In, int Out);

/* RMSNorm backward. dout, x: (N,C); w: (C); rstd: (N) from the forward.
 * dx: (N,C) += d/dx; dw: (C) += sum_n dout*x*rstd (optional). dx must not alias dout. */
void ik_cpu_rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x, const float *rstd,
                        const float *w, int N, int C);

/* RoPE backward, in place: d is (N, nh, hd) holding the gradient with respect
 * to the rotated values and receives the gradient with respect to the inputs
 * (the rotation by -angle). Overwrites, as the forward does. */
void ik_cpu_rope_bwd(float *d, const int *pos, const float *inv_freq, int N, int nh, int hd);

/* SwiGLU backward. dout, gate, up: (N,F). dgate, dup: (N,F) += . */
void ik_cpu_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate,
                       const float *up, int N, int F);

/* Backward of ik_cpu_attention_fwd over a whole sequence (pos0 = 0, the cache
 * is k and v themselves): the probabilities are recomputed from q and k.
 * dout, q: (T, H*hd); k, v: (T, K*hd); dq: (T, H*hd) +=; dk, dv: (T, K*hd) +=;
 * scratch: ik_cpu_attention_bwd_scratch(T, H, K, hd) floats, which also
 * serves any shorter sequence of the same heads. While a KV head's
 * probabilities and their gradient fit in 64 MiB (T = 1024 with 7 query heads
 * per KV head), they are formed and kept there, block by block of 64
 * positions, as single-threaded sgemm products run in parallel
 * (kernels/cpu/attention_gemm.c); longer sequences, and heads under 32
 * wide, take 8-lane tiles that keep only each query's log-sum-exp and
 * rowsum(dout * out), or, for heads over 256 wide or CPUs without FMA,
 * per-head sgemm blocks. */
size_t ik_cpu_attention_bwd_scratch(int T, int H, int K, int hd);
/* ik_cpu_attention_fwd over a whole sequence (pos0 = 0; k, v: (T, K*hd)) for
 * training, with the backward's scratch: where the backward keeps blocks of
 * probabilities, the forward forms them on the same blocks as sgemm products
 * (at Qwen2.5-0.5B's heads, T = 512, 24 layers: 0.17-0.21 s against the
 * tiles' 0.21-0.23 s, two threads); else it is ik_cpu_attention_fwd. */
void ik_cpu_attention_seq_fwd(float *out, const float *q, const float *k, const float *v, int T, int H,
                              int K, int hd, int window, float *scratch);
void ik_cpu_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const float *k, const float *v, int T, int H, int K, int hd, int window,
                          float *scratch);

/* Softmax cross-entropy backward: dlogits[n] = dnll[n] * (softmax(logits[n]) - onehot(targets[n])).
 * logits: (N,V); targets: (N); dnll: (N) the weight of each row's loss (0 skips the
 * row: its dlogits are zeros). OVERWRITES dlogits (N,V), which may equal logits
 * (in place); the exception to the accumulate convention, since logits are scratch. */
void ik_cpu_softmax_xent_bwd(float *dlogits, const float *logits, const int *targets,
                             const float *dnll, int N, int V);

/* Both at once, for training: nll (N) as ik_cpu_softmax_xent_fwd computes it
 * (the same numbers), and dlogits as ik_cpu_softmax_xent_bwd, OVERWRITTEN and
 * possibly equal to logits; one pass of exp per row instead of two. */
void ik_cpu_softmax_xent_fwd_bwd(float *nll, float *dlogits, const float *logits, const int *targets,
                                 const float *dnll, int N, int V);

/* The LoRA branch of a projection: h = x @ A^T; out += scale * h @ B^T
 * (ik_cpu_gemv for N <= IK_CPU_GEMV_ROWS, as ik_cpu_matmul_fwd).
 * x: (N,In) (the caller applies dropout first); A: (R,In); B: (Out,R);
 * h: (N,R) written (the backward needs it); out: (N,Out) accumulated. */
void ik_cpu_lora_fwd(float *out, float *h, const float *x, const float *A, const float *B,
                     float scale, int N, int In, int Out, int R);

/* Inverted dropout: out[i] = 0 where element i is dropped, else x[i] / (1 -
 * p). With f MurmurHash3's 32-bit finalizer and k0, k1 the low and high
 * halves of key, element i's draw is u = f(f((i mod 2^32) ^ k0) + k1) (32-bit
 * arithmetic), dropped where u < p * 2^32. Each element's draw depends on
 * (key, i) alone, so the backward pass redraws the mask exactly and it does
 * not depend on the thread count. x, out: (n); out may equal x; 0 < p < 1. */
void ik_cpu_dropout(float *out, const float *x, size_t n, float p, uint64_t key);

/* Its backward: dB += scale * dout^T @ h; dh = scale * dout @ B (written);
 * dA += dh^T @ x; dx += dh @ A (dx optional). dout: (N,Out); x: (N,In) as
 * given to the forward; h: (N,R) from the forward; dh: (N,R) scratch. */
void ik_cpu_lora_bwd(float *dx, float *dA, float *dB, float *dh, const float *dout, const float *x,
                     const float *h, const float *A, const float *B, float scale, int N, int In,
                     int Out, int R);

/* ---- backward of the Mamba-2 mixer and the squared-ReLU MLP (NemotronH) ----
 * Letters as the forward's: nh heads of P channels, G groups of N states
 * (head h reads group h / (nh/G)), Kc conv taps, C conv channels. Every
 * sequence starts from the zero state (training); the conv taps, dt_bias,
 * A, D and the norm weight are frozen, so only input gradients are formed. */

/* SiLU backward: dx += dout * silu'(x). dx, dout, x: n values. */
void ik_cpu_silu_bwd(float *dx, const float *dout, const float *x, size_t n);

/* Squared-ReLU backward: dx += dout * 2 max(x, 0). dx, dout, x: n values. */
void ik_cpu_relu2_bwd(float *dx, const float *dout, const float *x, size_t n);

/* Input gradient of ik_cpu_conv1d_fwd over T rows from a zero state:
 * dx[j][c] += sum_k w[c][k] * dout[j+Kc-1-k][c] (rows below T). dout: (T,C)
 * contiguous (the gradient of the conv's output before its SiLU); w: (C,Kc);
 * dx: (T,C) rows lddx apart (lddx >= C), so it may be a column range of the
 * in_proj output's gradient. */
void ik_cpu_conv1d_bwd(float *dx, int lddx, const float *dout, const float *w, int T, int C,
                       int Kc);

/* Backward of ik_cpu_ssm_scan_fwd over T rows from a zero state, as a reverse
 * scan: the states are recomputed chunk by chunk from one checkpoint per Q
 * rows (memory: (T/Q + Q + 1) states per group, not T), so the result does
 * not depend on Q beyond rounding. dy: (T, nh*P); x, B, C, dt, A, Dskip as
 * the forward's (x, B, C rows ld apart). dx, dB, dC: rows lddx apart (the
 * gradient of the activated x | B | C) +=; ddt: (T,nh) += (the gradient of
 * dt after softplus). scratch: ik_cpu_ssm_scan_bwd_scratch(T, G, P, N, Q)
 * floats. Threaded over groups (the heads of a group share dB and dC). */
void ik_cpu_ssm_scan_bwd(float *dx, float *dB, float *dC, int lddx, float *ddt, const float *dy,
                         const float *x, const float *B, const float *C, int ld, const float *dt,
                         const float *A, const float *Dskip, int T, int nh, int P, int G, int N,
                         int Q, float *scratch);
size_t ik_cpu_ssm_scan_bwd_scratch(int T, int G, int P, int N, int Q);

/* Backward of ik_cpu_rmsnorm_gated_fwd (v and the group statistics
 * recomputed from y and z). dout, y: (N,C); z: (N,C) rows ldz apart; w: (C).
 * dy: (N,C) +=; dz: (N,C) rows lddz apart +=. */
void ik_cpu_rmsnorm_gated_bwd(float *dy, float *dz, int lddz, const float *dout, const float *y,
                              const float *z, int ldz, const float *w, int N, int C, int G,
                              float eps);

/* ---- optimizer ---- */

/* One AdamW step (Loshchilov & Hutter; torch.optim.AdamW semantics): with
 * step t >= 1, for each i:
 *   p -= lr * wd * p                          (decoupled weight decay)
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 * p, g, m, v: (n); m and v start at zero and are updated in place. */
void ik_cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                  float b2, float eps, float wd, int t);

/* The L2 norm of g (n), accumulated in double; when max_norm > 0 and the norm
 * exceeds it, g is scaled in place by max_norm / (norm + 1e-6) (as
 * torch.nn.utils.clip_grad_norm_). Returns the norm before clipping. */
double ik_cpu_clip_grad_norm(float *g, size_t n, double max_norm);

#ifdef __cplusplus
}
#endif

#endif
