/* kernels/cuda/cuda_util.h - what the module's .cu files share: the error text
 * (every CUDA call is checked and a failure names the call and the kernel),
 * the checked launch, launch shapes and block reductions. Private to
 * kernels/cuda/: the callers' contract is cuda_ops.h. */
#ifndef IK_KERNELS_CUDA_CUDA_UTIL_H
#define IK_KERNELS_CUDA_CUDA_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_ops.h"

/* Records "CALL for WHAT: <cudaGetErrorString(err)>" as the thread's last
 * error and returns -1. WHAT is the kernel or the table entry. */
int ik_cuda__fail(const char *call, const char *what, cudaError_t err);
/* Records "WHAT: <printf text>" (a refused argument) and returns -1. */
int ik_cuda__bad_arg(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* To be called right after a <<<>>> launch of KERNEL: reports a refused
 * launch as "cudaLaunchKernel for KERNEL: ...", remembers KERNEL as the last
 * one launched (named by later waiting calls) and, with IKADA_CUDA_SYNC=1,
 * waits for it ("cudaDeviceSynchronize for KERNEL: ..."). 0 or -1. */
int ik_cuda__launched(const char *kernel);
/* As ik_cuda__launched, after a library call (cuBLAS, cuDNN) that reported
 * success for WHAT: an error the runtime still holds is the library's own,
 * handled, and is cleared rather than blamed on WHAT or on the next kernel;
 * WHAT becomes the last work queued, and IKADA_CUDA_SYNC=1 waits for it. */
int ik_cuda__queued(const char *what);
/* The module's one cuBLAS handle (attention.cu's batched products,
 * gemm.cu's fallback), made on first use: 0, or -1 with the failure
 * recorded under WHAT (cublasHandle_t is struct cublasContext *). */
struct cublasContext;
int ik_cuda__cublas(struct cublasContext **handle, const char *what);
/* With ->profile_set on, waits for the device and counts the time since the
 * last mark as WHAT's (profile.cu); the two above call it. */
void ik_cuda__profile_mark(const char *what);

/* Threads per block of the elementwise kernels, and their grid: enough blocks
 * to cover n, at most IK_CUDA_MAX_BLOCKS (the kernels loop over the rest). */
enum { IK_CUDA_THREADS = 256, IK_CUDA_MAX_BLOCKS = 65536 };
static inline unsigned ik_cuda__blocks(size_t n)
{
    size_t b = (n + IK_CUDA_THREADS - 1) / IK_CUDA_THREADS;
    return b > IK_CUDA_MAX_BLOCKS ? (unsigned)IK_CUDA_MAX_BLOCKS : (unsigned)b;
}

/* Threads for one block per row of C values: C rounded up to a warp, 32..limit. */
static inline unsigned ik_cuda__row_threads(int C, unsigned limit)
{
    unsigned t = ((unsigned)C + 31u) & ~31u;
    return t < 32u ? 32u : t > limit ? limit : t;
}

/* Sum over a warp; every lane gets it. */
__device__ __forceinline__ float ik_cuda__warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every
 * thread gets the same bits. shared: 32 floats; free again on return. */
__device__ __forceinline__ float ik_cuda__block_sum(float v, float *shared)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = ik_cuda__warp_sum(v);
    if (lane == 0)
        shared[warp] = v;
    __syncthreads();
    v = lane < nw ? shared[lane] : 0.0f;
    v = ik_cuda__warp_sum(v);
    __syncthreads();
    return v;
}

/* The reciprocal RMS of C values from each thread's part ss of their sum
 * of squares: the block's sum, then 1/sqrt in double as the CPU's RMSNorms
 * (kernels/cpu/rmsnorm.c, rmsnorm_gated.c). Every thread gets it. */
__device__ __forceinline__ float ik_cuda__rstd_of(float ss, int C, float eps, float *shared)
{
    ss = ik_cuda__block_sum(ss, shared);
    return (float)(1.0 / sqrt((double)ss / C + eps));
}

/* The reciprocal RMS of a row's C values, as every RMSNorm kernel forms it
 * (rmsnorm.cu, rope.cu's fused q/k norm), so they agree bit for bit: each
 * thread's strided sum of squares, then ik_cuda__rstd_of. Every thread gets
 * it; all reads of x are done on return. */
__device__ __forceinline__ float ik_cuda__row_rstd(const float *x, int C, float eps, float *shared)
{
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        ss += x[c] * x[c];
    return ik_cuda__rstd_of(ss, C, eps, shared);
}

/* RMSNorm backward's row term k = sum_c(w dy x) r^3 / C, for
 * dx[c] = r w[c] dy[c] - x[c] k (rmsnorm.cu, rope.cu's fused q/k norm, so
 * both sum the same way). Every thread gets it. */
__device__ __forceinline__ float ik_cuda__rmsnorm_bwd_k(const float *dy, const float *x,
                                                        const float *w, float r, int C,
                                                        float *shared)
{
    float dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        dot += w[c] * dy[c] * x[c];
    dot = ik_cuda__block_sum(dot, shared);
    return dot * r * r * r / C;
}

/* Row argmax's merge (argmax.cu, softmax_xent.cu): (b, j) becomes the better
 * of (b, j) and (b2, j2), the larger value, the smaller column on a tie;
 * j < 0 means "none yet" and never wins. */
__device__ __forceinline__ void ik_cuda__best_merge(float &b, int &j, float b2, int j2)
{
    if (j2 >= 0 && (j < 0 || b2 > b || (b2 == b && j2 < j))) {
        b = b2;
        j = j2;
    }
}

/* The block's best column from each thread's (b, j), merged by
 * ik_cuda__best_merge in any order (the answer does not depend on it): 0
 * when no thread has one. Every thread gets it. sb, sj: 32 each, free again
 * on return. */
__device__ __forceinline__ int ik_cuda__block_argmax(float b, int j, float *sb, int *sj)
{
    for (int o = 16; o > 0; o >>= 1)
        ik_cuda__best_merge(b, j, __shfl_xor_sync(0xffffffffu, b, o),
                            __shfl_xor_sync(0xffffffffu, j, o));
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) {
        sb[warp] = b;
        sj[warp] = j;
    }
    __syncthreads();
    if (warp == 0) {
        b = lane < nw ? sb[lane] : -INFINITY;
        j = lane < nw ? sj[lane] : -1;
        for (int o = 16; o > 0; o >>= 1)
            ik_cuda__best_merge(b, j, __shfl_xor_sync(0xffffffffu, b, o),
                                __shfl_xor_sync(0xffffffffu, j, o));
    }
    __syncthreads(); /* every warp has read sj before lane 0 overwrites sj[0] */
    if (threadIdx.x == 0)
        sj[0] = j < 0 ? 0 : j;
    __syncthreads();
    int best = sj[0];
    __syncthreads();
    return best;
}

/* The host wrappers of the kernels, one .cu each, gathered by module.cu's
 * table (their meaning: struct ik_cuda_ops). */
extern "C" {
int ik_cuda_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, int N, int C,
                        float eps);
int ik_cuda_rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x, const float *rstd,
                        const float *w, int N, int C);
int ik_cuda_add_rmsnorm_fwd(float *sum, float *out, float *rstd, const float *a, const float *b,
                            const float *w, int N, int C, float eps);
int ik_cuda_swiglu_fwd(float *out, const float *gate, const float *up, int N, int F);
int ik_cuda_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate,
                       const float *up, int N, int F);
int ik_cuda_rope_fwd(float *x, const int *pos, const float *inv_freq, int N, int nh, int hd);
int ik_cuda_rope_bwd(float *d, const int *pos, const float *inv_freq, int N, int nh, int hd);
int ik_cuda_softmax_xent_fwd_bwd(float *nll, float *dlogits, const float *logits,
                                 const int *targets, const float *dnll, int N, int V);
int ik_cuda_dropout(float *out, const float *x, size_t n, float p, uint64_t key);
int ik_cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                  float b2, float eps, float wd, int t);
int ik_cuda_gemm(int ta, int tb, int M, int N, int K, float alpha, const void *A, int lda,
                 const void *B, int ldb, float beta, void *C, int ldc, int ab_type, int c_type);
int ik_cuda_to_bf16(uint16_t *out, const float *x, size_t n);
int ik_cuda_from_bf16(float *out, const uint16_t *x, size_t n);
size_t ik_cuda_attention_scratch(int T, int H, int K);
int ik_cuda_attention_fwd(float *out, const float *q, const float *k, const float *v, int T, int H,
                          int K, int hd, int window, void *scratch);
int ik_cuda_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const float *k, const float *v, int T, int H, int K, int hd, int window,
                          void *scratch);
int ik_cuda_add(float *out, const float *a, const float *b, size_t n);
int ik_cuda_bias_add(float *x, const float *bias, int N, int C);
int ik_cuda_embed_rows_bf16(float *out, const uint16_t *table, const int *tokens, int T, int D);
int ik_cuda_argmax_rows(int *out, const float *x, int N, int V);
int ik_cuda_fill_uniform_bf16(uint16_t *x, size_t n, float lo, float hi, uint64_t seed);
int ik_cuda_clip_grad_norm(float *g, size_t n, double max_norm, double *norm);
int ik_cuda_sdpa_available(int T, int H, int K, int hd, int window);
size_t ik_cuda_sdpa_scratch(int T, int H, int K, int hd);
int ik_cuda_sdpa_fwd(float *out, float *stats, const float *q, const float *k, const float *v,
                     int T, int H, int K, int hd, int window, void *scratch);
int ik_cuda_sdpa_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                     const float *stats, const float *q, const float *k, const float *v, int T,
                     int H, int K, int hd, int window, void *scratch);
int ik_cuda_softmax_xent_argmax(float *nll, int *amax, void *dlogits, int dlogits_type,
                                const float *logits, const int *targets, const float *dnll, int N,
                                int V);
int ik_cuda_loss_sums(double *sums, const float *nll, const int *amax, const int *targets,
                      const unsigned char *mask, int N);
int ik_cuda_qk_norm_rope_fwd(float *out, float *rstd, const float *x, const float *w,
                             const int *pos, const float *inv_freq, int N, int nh, int hd,
                             float eps);
int ik_cuda_qk_norm_rope_bwd(float *dx, const float *dout, const float *x, const float *rstd,
                             const float *w, const int *pos, const float *inv_freq, int N, int nh,
                             int hd);
int ik_cuda_dropout_add(float *out, const float *g, size_t n, float p, uint64_t key);
int ik_cuda_to_bf16_2d(uint16_t *out, int ld_out, const float *x, int ld_x, int rows, int cols,
                       int out_cols, float scale);
int ik_cuda_swiglu_bwd_bf16(float *dgate, float *dup, uint16_t *dgate_b, uint16_t *dup_b,
                            const float *dout, const float *gate, const float *up, int N, int F);
int ik_cuda_swiglu_fwd_bf16(float *act, uint16_t *act_b, int ld_b, const uint16_t *gate,
                            const uint16_t *up, int N, int F);
int ik_cuda_swiglu_bwd_bf16_in(uint16_t *dgate_b, uint16_t *dup_b, const float *dout,
                               const uint16_t *gate, const uint16_t *up, int N, int F);
int ik_cuda_lora_down_dropout(float *h, const float *x, const float *A, int T, int In, int r,
                              float p, uint64_t key);
size_t ik_cuda_lora_dA_dropout_scratch(int T, int In, int r);
int ik_cuda_lora_dA_dropout(float *dA, const float *dh, const float *x, int T, int In, int r,
                            float p, uint64_t key, void *scratch);
int ik_cuda_lora_dx_dropout(float *dx, const float *dh, const float *A, int T, int In, int r,
                            float p, uint64_t key);
int ik_cuda_lora_down_swiglu_bwd(uint16_t *dgate_b, uint16_t *dup_b, const float *dout,
                                 const uint16_t *gate, const uint16_t *up, int T, int F,
                                 const float *dh, const float *A, int r, float p, uint64_t key);
int ik_cuda_profile_set(int enable);
int ik_cuda_profile_report(char *buf, size_t cap);
int ik_cuda_flash_supports(int H, int K, int hd);
size_t ik_cuda_flash_scratch(int T, int H);
int ik_cuda_flash_fwd(float *out, float *stats, const float *q, const float *k, const float *v,
                      int T, int H, int K, int hd, int window, void *scratch);
int ik_cuda_flash_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                      const float *stats, const float *q, const float *k, const float *v, int T,
                      int H, int K, int hd, int window, void *scratch);
int ik_cuda_ssm_scan_fwd(float *y, float *state, const float *x, const float *B, const float *C,
                         int ld, const float *dt, const float *A, const float *Dskip, int T, int nh,
                         int P, int G, int N);
size_t ik_cuda_ssm_scan_bwd_scratch(int T, int nh, int P, int N);
int ik_cuda_ssm_scan_bwd(float *dx, float *dB, float *dC, int lddx, float *ddt, const float *dy,
                         const float *x, const float *B, const float *C, int ld, const float *dt,
                         const float *A, const float *Dskip, int T, int nh, int P, int G, int N,
                         void *scratch);
int ik_cuda_relu2_fwd(float *out, const float *x, size_t n);
int ik_cuda_relu2_bwd(float *dx, const float *dout, const float *x, size_t n);
int ik_cuda_softplus_bias_fwd(float *out, const float *x, int ldx, const float *bias, int T, int n);
int ik_cuda_softplus_bias_bwd(float *dx, int lddx, const float *dout, const float *x, int ldx,
                              const float *bias, int T, int n);
int ik_cuda_conv1d_silu_fwd(float *conv, float *act, const float *x, int ldx, const float *w,
                            const float *bias, int T, int C, int Kc);
int ik_cuda_conv1d_silu_bwd(float *dx, int lddx, const float *dact, const float *conv,
                            const float *w, int T, int C, int Kc);
int ik_cuda_rmsnorm_gated_fwd(float *out, const float *y, const float *z, int ldz, const float *w,
                              int N, int C, int G, float eps);
int ik_cuda_rmsnorm_gated_bwd(float *dy, float *dz, int lddz, const float *dout, const float *y,
                              const float *z, int ldz, const float *w, int N, int C, int G,
                              float eps);
}

#endif
