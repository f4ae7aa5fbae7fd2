/* kernels/cuda/cuda_ops.h - the C ABI of the CUDA module, libikada-cuda.so.
 *
 * ikada links no CUDA library: a node that computes on a GPU dlopen()s the
 * module (which links libcudart) and makes one dlsym, for ik_cuda_ops_get,
 * whose table holds everything else. This header is plain C (no CUDA types),
 * so the caller compiles with gcc alone; kernels/cuda/<op>.cu implement it.
 *
 * Conventions of every entry:
 * - Tensor arguments are DEVICE pointers (from ->alloc), fp32, row-major and
 *   contiguous; shapes, aliasing and accumulate-versus-overwrite are exactly
 *   those of the ik_cpu_<op> of the same name in kernels/kernels.h, the
 *   reference each kernel is tested against (tests/cuda/check_<kernel>.c).
 * - Work goes to the calling thread's current device, on the legacy default
 *   stream, so it runs in call order; a kernel returns once it is launched.
 * - Each returns 0, or -1 with ->last_error() naming the failed call and the
 *   kernel, e.g. "cudaLaunchKernel for rmsnorm_fwd: invalid configuration
 *   argument" (or a bad argument: "rmsnorm_fwd: N = -1"). An error of a
 *   kernel's execution surfaces at the next call that waits for the device
 *   (->memcpy_htod, ->memcpy_dtoh, ->synchronize; not ->memcpy_dtod), whose
 *   text names the last kernel launched; with IKADA_CUDA_SYNC=1 in the
 *   environment every kernel is waited for at once, so its own call
 *   reports it.
 * - Sizes of 0 (N, n, V, ...) are valid and launch nothing. */
#ifndef IK_KERNELS_CUDA_CUDA_OPS_H
#define IK_KERNELS_CUDA_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Raised whenever a member of the table changes meaning or place; new members
 * are added at the end, where ->size tells an older caller they exist. */
#define IK_CUDA_ABI 1

/* Element types of ->gemm's operands. */
/* IK_CUDA_TF32 (a GEMM's A and B only): fp32 in memory, products in TF32 on
 * the tensor cores (inputs rounded to 10 mantissa bits), fp32 accumulation. */
enum ik_cuda_dtype { IK_CUDA_F32 = 0, IK_CUDA_BF16 = 1, IK_CUDA_TF32 = 2 };

/* The symbol to dlsym, and its type. */
#define IK_CUDA_OPS_SYMBOL "ik_cuda_ops_get"

struct ik_cuda_ops {
    int abi;     /* IK_CUDA_ABI of the module */
    size_t size; /* sizeof(struct ik_cuda_ops) in the module */

    /* The text of the last failure on the calling thread ("" if none). Never
     * NULL; valid until the thread's next call into the module. */
    const char *(*last_error)(void);

    /* ---- devices and memory ---- */

    /* Number of CUDA devices: 0 when there is no driver or no device, with the
     * reason in ->last_error() (e.g. "cudaGetDeviceCount: no CUDA-capable
     * device is detected"). Cannot fail otherwise. */
    int (*device_count)(void);
    /* One line naming device id: "NVIDIA H100 80GB HBM3 (sm_90, 81079 MiB)". */
    int (*device_name)(int device, char *buf, size_t cap);
    int (*set_device)(int device);
    /* *p = bytes of device memory (not initialised); bytes 0 gives NULL. */
    int (*alloc)(void **p, size_t bytes);
    /* Frees a pointer from ->alloc; NULL is allowed. */
    int (*free)(void *p);
    int (*memcpy_htod)(void *dst, const void *src, size_t bytes);
    int (*memcpy_dtoh)(void *dst, const void *src, size_t bytes);
    int (*memcpy_dtod)(void *dst, const void *src, size_t bytes);
    /* Every byte of [p, p + bytes) set to byte. */
    int (*memset)(void *p, int byte, size_t bytes);
    /* Waits for all queued work; reports the first execution error. */
    int (*synchronize)(void);

    /* ---- kernels (fp32; as ik_cpu_<name>, kernels/kernels.h) ---- */

    /* out, x: (N,C); w: (C); rstd: (N) or NULL. out may equal x. */
    int (*rmsnorm_fwd)(float *out, float *rstd, const float *x, const float *w, int N, int C,
                       float eps);
    /* dx: (N,C) +=; dw: (C) += (or NULL). dx must not alias dout. The rows'
     * dw terms are summed in a fixed order: the result does not vary from
     * run to run. */
    int (*rmsnorm_bwd)(float *dx, float *dw, const float *dout, const float *x, const float *rstd,
                       const float *w, int N, int C);
    /* out = silu(gate) * up, (N,F); out may equal gate. */
    int (*swiglu_fwd)(float *out, const float *gate, const float *up, int N, int F);
    /* dgate, dup: (N,F) += . */
    int (*swiglu_bwd)(float *dgate, float *dup, const float *dout, const float *gate,
                      const float *up, int N, int F);
    /* In place; x: (N, nh, hd), hd even; pos: (N) and inv_freq: (hd/2) on the
     * device too. The angle pos * inv_freq and its sine and cosine are formed
     * in double, as the CPU's. */
    int (*rope_fwd)(float *x, const int *pos, const float *inv_freq, int N, int nh, int hd);
    int (*rope_bwd)(float *d, const int *pos, const float *inv_freq, int N, int nh, int hd);
    /* nll: (N) written; dlogits: (N,V) OVERWRITTEN with dnll[n] * (softmax -
     * onehot), possibly equal to logits; dnll[n] = 0 gives a zero row (the
     * row's nll is still written). targets: (N), each in [0,V). One block per
     * row walks the vocabulary in chunks of its threads twice (an online
     * max/sum, then the gradient): no scratch the size of V. */
    int (*softmax_xent_fwd_bwd)(float *nll, float *dlogits, const float *logits, const int *targets,
                                const float *dnll, int N, int V);
    /* Inverted dropout with ik_cpu_dropout's counter-based draw: the same key
     * drops the same elements, and the kept values are the same bits. out may
     * equal x; 0 < p < 1. */
    int (*dropout)(float *out, const float *x, size_t n, float p, uint64_t key);
    /* One AdamW step, t >= 1 (ik_cpu_adamw's formula and rounding order). */
    int (*adamw)(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                 float b2, float eps, float wd, int t);

    /* ---- GEMM (cuBLASLt) and BF16 ---- */

    /* Row-major C (M,N) = alpha op(A) op(B) + beta C, op(X) X or, with ta/tb
     * nonzero, X^T (A is then (K,M), B (N,K)); leading dimensions in
     * elements. A and B of ab_type, C of c_type (enum ik_cuda_dtype: C
     * IK_CUDA_F32 or IK_CUDA_BF16), fp32 accumulation (CUBLAS_COMPUTE_32F:
     * no TF32 unless ab_type is IK_CUDA_TF32). The algorithm is chosen
     * once per shape and pointer alignment, and kept; pointers need only the
     * alignment of their element type (the plan tells cuBLASLt how far each
     * is aligned; 16 bytes or more gets the fast kernels). K = 0 gives
     * C = beta C (zeros with beta 0). */
    int (*gemm)(int ta, int tb, int M, int N, int K, float alpha, const void *A, int lda,
                const void *B, int ldb, float beta, void *C, int ldc, int ab_type, int c_type);
    /* n values to BF16 (round to nearest even) and back. */
    int (*to_bf16)(uint16_t *out, const float *x, size_t n);
    int (*from_bf16)(float *out, const uint16_t *x, size_t n);

    /* ---- attention over a whole sequence (fp32 values; cuBLAS plus softmax,
     * the products in TF32: attention.cu says why) ---- */

    /* Bytes of scratch ->attention_fwd and ->attention_bwd need: one chunk of
     * query rows' probabilities and their gradient, 2 K T^2/8 floats
     * (attention_chunks.h's ik_att_scratch_floats); H is not needed. */
    size_t (*attention_scratch)(int T, int H, int K);
    /* As ik_cpu_attention_seq_fwd: out (T, H*hd) = causal GQA attention of
     * q (T, H*hd) over k, v (T, K*hd); window 0 or the sliding window. */
    int (*attention_fwd)(float *out, const float *q, const float *k, const float *v, int T, int H,
                         int K, int hd, int window, void *scratch);
    /* As ik_cpu_attention_bwd: dq, dk, dv += (the probabilities recomputed). */
    int (*attention_bwd)(float *dq, float *dk, float *dv, const float *dout, const float *q,
                         const float *k, const float *v, int T, int H, int K, int hd, int window,
                         void *scratch);

    /* ---- what the training step needs besides the ops above ---- */

    /* out = a + b, n values; out may equal a or b. */
    int (*add)(float *out, const float *a, const float *b, size_t n);
    /* Each of the N rows of x (N,C) += bias (C). */
    int (*bias_add)(float *x, const float *bias, int N, int C);
    /* out (T,D) row t = table row tokens[t], the BF16 table (V,D) widened to
     * fp32; tokens on the device, each in [0,V) (not checked). */
    int (*embed_rows_bf16)(float *out, const uint16_t *table, const int *tokens, int T, int D);
    /* As ik_cpu_argmax_rows: out[n] = index of row n's largest value, the
     * first on ties, NaNs passed over (0 for a row of NaNs). */
    int (*argmax_rows)(int *out, const float *x, int N, int V);

    /* Free and total bytes of the current device (cudaMemGetInfo), for the
     * memory check before training. */
    int (*mem_info)(size_t *free_bytes, size_t *total_bytes);

    /* ---- for benchmarks ---- */

    /* n BF16 values lo + (hi - lo) u, u in [0, 1) from the counter-based hash
     * of dropout (fill.cu has the formula): the same seed gives the same
     * bits. For random models too large to draw on the host. */
    int (*fill_uniform_bf16)(uint16_t *x, size_t n, float lo, float hi, uint64_t seed);

    /* ---- the optimizer step on the device (with ->adamw) ---- */

    /* As ik_cpu_clip_grad_norm: *norm (host) = |g|, and g scaled by
     * max_norm / (norm + 1e-6) when larger (max_norm 0: never). Waits for
     * the device (the norm comes back). */
    int (*clip_grad_norm)(float *g, size_t n, double max_norm, double *norm);

    /* ---- fused ---- */

    /* sum = a + b, then out = RMSNorm(sum) with rstd (N) or NULL: ->add and
     * ->rmsnorm_fwd in one pass over the rows, with the same bits (the
     * residual add before each of a layer's norms). All (N,C); sum may equal
     * a or b; out must not alias a, b or sum. */
    int (*add_rmsnorm_fwd)(float *sum, float *out, float *rstd, const float *a, const float *b,
                           const float *w, int N, int C, float eps);

    /* ---- attention through cuDNN's fused SDPA (attention_cudnn.cu) ----
     *
     * The same attention as ->attention_fwd/->attention_bwd (causal, GQA
     * with H a multiple of K, window 0 or the sliding window), computed by
     * cuDNN's flash-attention engines on BF16 copies of the inputs (rounded
     * to nearest even here, in the scratch) with fp32 softmax statistics and
     * accumulation; outputs come back as fp32 at the table's boundary, so
     * results differ from the fp32 path by BF16 rounding (relative ~1e-2),
     * not by bits. libcudnn (9.x, 9.10.0/9.10.1 refused) is dlopen()ed on
     * first use: $IKADA_CUDNN_LIB when set (only that path), else
     * "libcudnn.so.9" from the loader's path; the module never links it. hd must be a multiple of 8.
     * The graph and execution plan of each (T's bucket, H, K, hd, window)
     * are built once, on first use, and kept: T is padded with zero rows to
     * a bucket (a multiple of 128, or of a larger power of two within T/8),
     * which changes no result, so varying sequence lengths share a few dozen
     * plans (128 at most). Building takes long enough that a caller should
     * ask ->sdpa_available before its first step. cuDNN's own workspace is
     * one device buffer the module grows on demand and keeps. */

    /* 1 when cuDNN loaded and the forward and the backward plans of this
     * shape finalize (building and caching them); else 0 with the reason in
     * ->last_error() (e.g. "sdpa_available: cuDNN: libcudnn.so.9 not found
     * (...)", or "...: cuDNN 9.19.0: no engine for the SDPA backward graph
     * (T=..., H=..., K=..., hd=..., window=...)"). */
    int (*sdpa_available)(int T, int H, int K, int hd, int window);
    /* Bytes of device scratch ->sdpa_fwd and ->sdpa_bwd need (the padded
     * BF16 copies, the stats, the backward's fp32 row sums and dq
     * accumulator), besides the workspace the module keeps; O(T (H + K) hd),
     * not T^2. */
    size_t (*sdpa_scratch)(int T, int H, int K, int hd);
    /* out (T, H*hd) overwritten with the attention of q (T, H*hd) over
     * k, v (T, K*hd); stats (H, T) fp32 overwritten with each head's and
     * row's logsumexp of the scaled, masked scores: what ->sdpa_bwd reads. */
    int (*sdpa_fwd)(float *out, float *stats, const float *q, const float *k, const float *v,
                    int T, int H, int K, int hd, int window, void *scratch);
    /* dq (T, H*hd), dk, dv (T, K*hd) += the gradients, given dout, and out
     * and stats from ->sdpa_fwd of the same q, k, v (nothing recomputed but
     * the probabilities, from stats). cuDNN accumulates dq in no fixed
     * order: unlike ->attention_bwd, the bits may vary from run to run. */
    int (*sdpa_bwd)(float *dq, float *dk, float *dv, const float *dout, const float *out,
                    const float *stats, const float *q, const float *k, const float *v, int T,
                    int H, int K, int hd, int window, void *scratch);

    /* ---- the training head and the q/k norm, fused ---- */

    /* ->softmax_xent_fwd_bwd and ->argmax_rows of the same logits in one
     * kernel: nll (N) and, with amax not NULL, amax (N) as ->argmax_rows
     * (exact); dlogits (N,V) of dlogits_type: IK_CUDA_F32 (it may equal
     * logits) or IK_CUDA_BF16 (->to_bf16's rounding of the fp32 gradient;
     * a buffer apart from the logits), the operand of the head's backward
     * GEMM as it is written. */
    int (*softmax_xent_argmax)(float *nll, int *amax, void *dlogits, int dlogits_type,
                               const float *logits, const int *targets, const float *dnll, int N,
                               int V);
    /* sums (2 doubles, device) = the sum of nll[n], and how many n have
     * amax[n] == targets[n], over the n with mask[n] nonzero (mask NULL: all
     * N): a step's loss and token accuracy, summed in double in a fixed
     * order. */
    int (*loss_sums)(double *sums, const float *nll, const int *amax, const int *targets,
                     const unsigned char *mask, int N);
    /* Qwen3's q/k norm and RoPE of x (N, nh, hd): out = rope(rmsnorm(row))
     * for each of the N*nh rows of hd values, rstd (N*nh) or NULL; as
     * ->rmsnorm_fwd with C = hd followed by ->rope_fwd, the same bits. out
     * may equal x. inv_freq NULL: the norm alone (a model without RoPE). */
    int (*qk_norm_rope_fwd)(float *out, float *rstd, const float *x, const float *w, const int *pos,
                            const float *inv_freq, int N, int nh, int hd, float eps);
    /* Its backward: dx OVERWRITTEN with the input gradient (->rope_bwd of
     * dout, then ->rmsnorm_bwd onto zeros, without the weight's gradient);
     * dx may equal dout. */
    int (*qk_norm_rope_bwd)(float *dx, const float *dout, const float *x, const float *rstd,
                            const float *w, const int *pos, const float *inv_freq, int N, int nh,
                            int hd);
    /* ->swiglu_bwd's gradients OVERWRITTEN (its terms onto zeros, the same
     * values) into dgate, dup (N,F) fp32, and rounded as ->to_bf16 into
     * dgate_b, dup_b (N,F) BF16; any of the four NULL is not written. */
    int (*swiglu_bwd_bf16)(float *dgate, float *dup, uint16_t *dgate_b, uint16_t *dup_b,
                           const float *dout, const float *gate, const float *up, int N, int F);
    /* Rows of a row-major fp32 matrix into a wider BF16 one: for each of
     * rows rows, out[r * ld_out + c] = ->to_bf16's rounding of
     * scale * x[r * ld_x + c] for c < cols, and 0 for cols <= c < out_cols;
     * columns past out_cols are not written. scale 1 rounds x itself. The
     * operands of a GEMM whose K joins two matrices side by side (the
     * trainer's LoRA branch inside the frozen projection). */
    int (*to_bf16_2d)(uint16_t *out, int ld_out, const float *x, int ld_x, int rows, int cols,
                      int out_cols, float scale);
    /* out (n) += ->dropout's output for g (the same mask and scale, the
     * same bits as ->dropout into a buffer then ->add): a LoRA input's
     * gradient through its dropout, added in one pass. out may not overlap
     * g. */
    int (*dropout_add)(float *out, const float *g, size_t n, float p, uint64_t key);

    /* ---- the module's own flash attention (attention_flash.cu) ----
     *
     * The same attention as ->sdpa_fwd/->sdpa_bwd, with the same arguments
     * and the same stats (each head's and row's natural-log logsumexp of
     * the scaled, masked scores), computed by the module's kernels on BF16
     * tensor cores: q, k, v, dout rounded to BF16 as they are loaded, the
     * probabilities and their gradient rounded to BF16 before their
     * products, sums and softmax in fp32; no T x T scratch. Unlike cuDNN's,
     * every sum runs in a fixed order: the same inputs give the same bits. */

    /* 1 when the kernels take these heads (H a multiple of K, hd a multiple
     * of 8 up to 128), else 0. q, k, v and dout must be 16-byte aligned
     * (cudaMalloc's are; a call with one that is not is refused). */
    int (*flash_supports)(int H, int K, int hd);
    /* Bytes of device scratch ->flash_bwd needs (one float per row and
     * head); ->flash_fwd needs none. */
    size_t (*flash_scratch)(int T, int H);
    int (*flash_fwd)(float *out, float *stats, const float *q, const float *k, const float *v,
                     int T, int H, int K, int hd, int window, void *scratch);
    /* dq, dk, dv += the gradients (as ->sdpa_bwd), from ->flash_fwd's out
     * and stats of the same q, k, v. */
    int (*flash_bwd)(float *dq, float *dk, float *dv, const float *dout, const float *out,
                     const float *stats, const float *q, const float *k, const float *v, int T,
                     int H, int K, int hd, int window, void *scratch);

    /* ---- SwiGLU of BF16 gate and up (the training step stores them so) ---- */

    /* ->swiglu_fwd of gate, up (N, F) BF16, widened: into act (N, F) fp32
     * when not NULL, and rounded to BF16 into act_b, rows ld_b >= F apart
     * (the down projection's operand, plain or widened; the columns past F
     * are not written), when not NULL. */
    int (*swiglu_fwd_bf16)(float *act, uint16_t *act_b, int ld_b, const uint16_t *gate,
                           const uint16_t *up, int N, int F);
    /* ->swiglu_bwd_bf16's BF16 gradients (written) of BF16 gate and up. */
    int (*swiglu_bwd_bf16_in)(uint16_t *dgate_b, uint16_t *dup_b, const float *dout,
                              const uint16_t *gate, const uint16_t *up, int N, int F);

    /* ---- the LoRA branch through its dropout (lora_dropout.cu) ----
     * dropout(x) is ->dropout's of x (T, In) with p and key (the same mask
     * and scale), applied on the fly and never stored; fp32 sums in a fixed
     * order. A (r, In), dh (T, r), row-major; 0 < p < 1, r > 0. */

    /* h (T, r) = dropout(x) A^T. */
    int (*lora_down_dropout)(float *h, const float *x, const float *A, int T, int In, int r,
                             float p, uint64_t key);
    /* Bytes of device scratch ->lora_dA_dropout needs. */
    size_t (*lora_dA_dropout_scratch)(int T, int In, int r);
    /* dA (r, In) += dh^T dropout(x). */
    int (*lora_dA_dropout)(float *dA, const float *dh, const float *x, int T, int In, int r,
                           float p, uint64_t key, void *scratch);
    /* dx (T, In) += the input gradient of dropout(x) given dh A: that
     * product with dropout's mask and scale applied (->dropout_add of it). */
    int (*lora_dx_dropout)(float *dx, const float *dh, const float *A, int T, int In, int r,
                           float p, uint64_t key);

    /* ---- where the time goes (profile.cu) ---- */

    /* On (1): every later entry waits for the device after its work and
     * adds the wall time since the previous wait to its kernel's or call's
     * total (work runs one call at a time: slower, a breakdown); off (0)
     * stops counting. */
    int (*profile_set)(int on);
    /* The totals since the last report, largest first, one line each (name,
     * calls, milliseconds, share), into buf (cap bytes, NUL-terminated,
     * lines that do not fit left out); then cleared. "" when nothing was
     * counted (a module that does not time itself). */
    int (*profile_report)(char *buf, size_t cap);

    /* ---- the down projection's LoRA input gradient fused with SwiGLU's
     * backward (lora_dropout.cu) ---- */

    /* ->swiglu_bwd_bf16_in of dout + the branch's input gradient: dh A (dh
     * (T, r), A (r, F)) through the dropout (->lora_dx_dropout's, p and
     * key; p = 0: none), added to dout (T, F) as that entry adds it (for
     * p > 0 the bits of ->lora_dx_dropout then ->swiglu_bwd_bf16_in),
     * without the (T, F) sum stored.
     * gate, up, dgate_b, dup_b (T, F) BF16; 0 <= p < 1, r > 0. */
    int (*lora_down_swiglu_bwd)(uint16_t *dgate_b, uint16_t *dup_b, const float *dout,
                                const uint16_t *gate, const uint16_t *up, int T, int F,
                                const float *dh, const float *A, int r, float p, uint64_t key);

    /* ---- Mamba-2's selective scan (ssm_scan.cu) ----
     * As ik_cpu_ssm_scan_fwd/bwd: nh heads of P channels, G groups of N
     * states (head h reads group h / (nh/G)); x, B, C (T, .) rows ld apart
     * (ld >= nh P and G N: in the trainer, the activated x | B | C of one
     * conv row); dt (T, nh) after softplus; A (nh) < 0 and Dskip (nh) on the
     * device too; N <= 256. A warp walks each (head, channel) row's
     * recurrence over time; sums run in a fixed order, so the same inputs
     * give the same bits, equal to the CPU's within rounding. */

    /* y (T, nh P) written; state (nh, N, P) read and left after the T steps. */
    int (*ssm_scan_fwd)(float *y, float *state, const float *x, const float *B, const float *C,
                        int ld, const float *dt, const float *A, const float *Dskip, int T, int nh,
                        int P, int G, int N);
    /* Bytes of device scratch ->ssm_scan_bwd needs: a state per 64 steps of
     * every row (T nh P N / 16 bytes) and 64 steps' partial sums. */
    size_t (*ssm_scan_bwd_scratch)(int T, int nh, int P, int N);
    /* The backward from the zero state: dx, dB, dC (rows lddx apart) and
     * ddt (T, nh) += the gradients given dy (T, nh P); the states are
     * recomputed from the scratch's, not stored. */
    int (*ssm_scan_bwd)(float *dx, float *dB, float *dC, int lddx, float *ddt, const float *dy,
                        const float *x, const float *B, const float *C, int ld, const float *dt,
                        const float *A, const float *Dskip, int T, int nh, int P, int G, int N,
                        void *scratch);
    /* ---- NemotronH's Mamba-2 mixer and relu^2 MLP ----
     * As the ik_cpu_ kernels of kernels/kernels.h named in each, within
     * rounding (expf where the CPU has its polynomial exp; the tolerances,
     * and why: tests/cuda/check_<file>.c). Training runs whole sequences:
     * the conv starts from a zero state and keeps none. */

    /* out = max(x, 0)^2, n values (ik_cpu_relu2_fwd, the same bits); out
     * may equal x. */
    int (*relu2_fwd)(float *out, const float *x, size_t n);
    /* dx += dout * 2 max(x, 0), n values (ik_cpu_relu2_bwd, the same bits). */
    int (*relu2_bwd)(float *dx, const float *dout, const float *x, size_t n);
    /* Mamba-2's dt: out (T, n) = softplus(x[t * ldx + i] + bias[i]) with
     * llama.cpp's softplus (u > 20 ? u : log1pf(expf(u))); x (T, n) rows
     * ldx >= n apart (a column range of the in_proj output), bias (n). */
    int (*softplus_bias_fwd)(float *out, const float *x, int ldx, const float *bias, int T, int n);
    /* Its backward: dx[t * lddx + i] += dout[t * n + i] * softplus'(u), u as
     * above (sigmoid(u), 1 where u > 20); dout (T, n). dx may be x itself
     * (the same pointer and lddx = ldx: each element reads its x before it
     * writes); no other overlap with x, and none with dout. */
    int (*softplus_bias_bwd)(float *dx, int lddx, const float *dout, const float *x, int ldx,
                             const float *bias, int T, int n);
    /* ik_cpu_conv1d_fwd from a zero state (the same bits: bias, then the
     * taps oldest first, the state's zeros multiplied in too) into conv (T,
     * C), and act (T, C) = silu(conv) (ik_cpu_silu_fwd) in the same pass,
     * or not written when NULL. x (T, C) rows ldx >= C apart, w (C, Kc),
     * bias (C) or NULL; Kc >= 1. conv and act overlap neither x nor each
     * other. */
    int (*conv1d_silu_fwd)(float *conv, float *act, const float *x, int ldx, const float *w,
                           const float *bias, int T, int C, int Kc);
    /* The input gradient through the SiLU and the conv: with g = dact *
     * silu'(conv) (ik_cpu_silu_bwd onto zeros, never stored), dx[j * lddx +
     * c] += sum_k w[c][k] g[j + Kc - 1 - k][c] over rows below T
     * (ik_cpu_conv1d_bwd). dact, conv (T, C); dx rows lddx >= C apart (a
     * column range of the in_proj output's gradient), overlapping neither. */
    int (*conv1d_silu_bwd)(float *dx, int lddx, const float *dact, const float *conv,
                           const float *w, int T, int C, int Kc);
    /* ik_cpu_rmsnorm_gated_fwd: per row and group of C/G channels, v = y
     * silu(z), out = v / sqrt(mean(v^2) + eps) w; y, out (N, C), out may
     * equal y; z (N, C) rows ldz >= C apart; w (C); C a multiple of G. The
     * group's sum of squares in fp32 (the CPU's in double), 1/sqrt in double
     * as the CPU's. */
    int (*rmsnorm_gated_fwd)(float *out, const float *y, const float *z, int ldz, const float *w,
                             int N, int C, int G, float eps);
    /* ik_cpu_rmsnorm_gated_bwd: dy (N, C) +=, dz (N, C) rows lddz >= C apart
     * += (v and the group statistics recomputed from y and z); dout, y (N,
     * C), z as the forward's. dy and dz overlap none of the inputs nor each
     * other. */
    int (*rmsnorm_gated_bwd)(float *dy, float *dz, int lddz, const float *dout, const float *y,
                             const float *z, int ldz, const float *w, int N, int C, int G,
                             float eps);
};

/* The module's table when abi_version is the IK_CUDA_ABI it was built with,
 * else NULL (a module from another build: the caller reports and falls back).
 * Static storage; loads nothing and touches no device. */
typedef const struct ik_cuda_ops *(*ik_cuda_ops_get_fn)(int abi_version);
const struct ik_cuda_ops *ik_cuda_ops_get(int abi_version);

#ifdef __cplusplus
}
#endif

#endif
