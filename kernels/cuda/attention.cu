/* kernels/cuda/attention.cu - causal grouped-query attention over a whole
 * sequence and its backward on the device, as ik_cpu_attention_seq_fwd and
 * ik_cpu_attention_bwd (kernels/kernels.h; fp32): the fallback beside cuDNN's
 * fused attention, llm.c's "cuBLAS plus softmax" path. The order of work
 * (which products over which rows and keys, in chunks of query rows) is
 * attention_chunks.h's, tested on the CPU; this file gives it cuBLAS's
 * strided-batched GEMMs and the two row kernels (the masked softmax and its
 * gradient). The scratch holds one chunk's P and, in the backward, dP/dS:
 * 2 x K x T x T/8 floats at most (ik_att_scratch_floats, ->attention_scratch).
 *
 * The GEMMs multiply in TF32 on the tensor cores (fp32 values and
 * accumulation, inputs rounded to 10 mantissa bits): in plain fp32 they would
 * run at 67 TFLOP/s on an H100 and, at 4K tokens, take most of the step.
 * q, k and v come out of BF16 projections (7 bits), so TF32 loses nothing
 * the step had kept; cuDNN's fused attention goes further, to BF16. */
#include <math.h>
#include <cublas_v2.h>

#include "kernels/cuda/attention_chunks.h"
#include "kernels/cuda/cuda_util.h"

enum { ROW_THREADS = 256 };

static int blas_fail(const char *call, cublasStatus_t st, const char *kernel)
{
    return ik_cuda__bad_arg(kernel, "%s: %s", call, cublasGetStatusString(st));
}

/* One batch of row-major products C_i = alpha op(A_i) op(B_i) + beta C_i
 * (A_i = A + i * sa, ...), as C^T = op(B)^T op(A)^T in cuBLAS's column-major
 * terms (see gemm.cu). fp32 in, out and accumulation, TF32 products. */
static int gemm_batched(const char *kernel, int ta, int tb, int M, int N, int K, float alpha,
                        const float *A, int lda, long long sa, const float *B, int ldb, long long sb,
                        float beta, float *C, int ldc, long long sc, int batch)
{
    cublasHandle_t blas;
    if (ik_cuda__cublas(&blas, kernel) != 0)
        return -1;
    cublasStatus_t st = cublasGemmStridedBatchedEx(
        blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B,
        CUDA_R_32F, ldb, sb, A, CUDA_R_32F, lda, sa, &beta, C, CUDA_R_32F, ldc, sc, batch,
        CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS)
        return blas_fail("cublasGemmStridedBatchedEx", st, kernel);
    return ik_cuda__queued(kernel);
}

/* The first key the query at position t sees. */
__device__ __forceinline__ int first_key(int t, int window)
{
    return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}

__device__ __forceinline__ float block_max(float v, float *shared)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (lane == 0)
        shared[warp] = v;
    __syncthreads();
    v = lane < nw ? shared[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    return v;
}

/* Row r of a chunk's scores (R rows of Tk keys per batch, from position
 * r0: t = r0 + r % R) becomes its softmax over the keys it sees; the others
 * become 0, as P V reads whole rows. */
__global__ void causal_softmax_kernel(float *P, int R, int r0, int Tk, int window)
{
    __shared__ float shared[32];
    size_t r = blockIdx.x;
    int t = r0 + (int)(r % (size_t)R), lo = first_key(t, window);
    float *row = P + r * (size_t)Tk;
    float m = -INFINITY;
    for (int j = lo + threadIdx.x; j <= t; j += blockDim.x)
        m = fmaxf(m, row[j]);
    m = block_max(m, shared);
    float s = 0.0f;
    for (int j = lo + threadIdx.x; j <= t; j += blockDim.x)
        s += expf(row[j] - m);
    s = ik_cuda__block_sum(s, shared);
    float inv = 1.0f / s;
    for (int j = threadIdx.x; j < Tk; j += blockDim.x)
        row[j] = j >= lo && j <= t ? expf(row[j] - m) * inv : 0.0f;
}

/* Row r of a chunk's dP becomes dS = P (dP - sum_j P dP) over the visible
 * keys, 0 elsewhere (rows as causal_softmax_kernel's). */
__global__ void softmax_grad_kernel(float *G, const float *P, int R, int r0, int Tk, int window)
{
    __shared__ float shared[32];
    size_t r = blockIdx.x;
    int t = r0 + (int)(r % (size_t)R), lo = first_key(t, window);
    const float *p = P + r * (size_t)Tk;
    float *g = G + r * (size_t)Tk;
    float dot = 0.0f;
    for (int j = lo + threadIdx.x; j <= t; j += blockDim.x)
        dot += p[j] * g[j];
    dot = ik_cuda__block_sum(dot, shared);
    for (int j = threadIdx.x; j < Tk; j += blockDim.x)
        g[j] = j >= lo && j <= t ? p[j] * (g[j] - dot) : 0.0f;
}

static int check_args(const char *kernel, int T, int H, int K, int hd)
{
    if (T < 0 || H <= 0 || K <= 0 || hd <= 0 || H % K != 0)
        return ik_cuda__bad_arg(kernel, "T %d, H %d, K %d, hd %d (H a multiple of K expected)", T, H,
                                K, hd);
    cublasHandle_t blas; /* made here, before any work: a failure names the call */
    return ik_cuda__cublas(&blas, kernel);
}

extern "C" size_t ik_cuda_attention_scratch(int T, int H, int K)
{
    (void)H;
    return ik_att_scratch_floats(T, K) * sizeof(float);
}

/* attention_chunks.h's operations on the device; ctx is the entry's name. */
static int dev_gemm(void *ctx, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                    int lda, long long sa, const float *B, int ldb, long long sb, float beta,
                    float *C, int ldc, long long sc, int batch)
{
    return gemm_batched((const char *)ctx, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C,
                        ldc, sc, batch);
}

static int dev_softmax(void *ctx, float *P, int rows, int R, int r0, int Tk, int window)
{
    causal_softmax_kernel<<<(unsigned)rows, ROW_THREADS>>>(P, R, r0, Tk, window);
    return ik_cuda__launched((const char *)ctx);
}

static int dev_softmax_grad(void *ctx, float *G, const float *P, int rows, int R, int r0, int Tk,
                            int window)
{
    softmax_grad_kernel<<<(unsigned)rows, ROW_THREADS>>>(G, P, R, r0, Tk, window);
    return ik_cuda__launched((const char *)ctx);
}

static struct ik_att_ops dev_ops(const char *kernel)
{
    struct ik_att_ops o = {dev_gemm, dev_softmax, dev_softmax_grad, (void *)kernel};
    return o;
}

extern "C" int ik_cuda_attention_fwd(float *out, const float *q, const float *k, const float *v,
                                     int T, int H, int K, int hd, int window, void *scratch)
{
    const char *kernel = "attention_fwd";
    if (check_args(kernel, T, H, K, hd))
        return -1;
    struct ik_att_ops o = dev_ops(kernel);
    return ik_att_fwd(&o, out, q, k, v, T, H, K, hd, window, (float *)scratch);
}

extern "C" int ik_cuda_attention_bwd(float *dq, float *dk, float *dv, const float *dout,
                                     const float *q, const float *k, const float *v, int T, int H,
                                     int K, int hd, int window, void *scratch)
{
    const char *kernel = "attention_bwd";
    if (check_args(kernel, T, H, K, hd))
        return -1;
    struct ik_att_ops o = dev_ops(kernel);
    return ik_att_bwd(&o, dq, dk, dv, dout, q, k, v, T, H, K, hd, window, (float *)scratch);
}
