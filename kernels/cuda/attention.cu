/* kernels/cuda/attention.cu - causal grouped-query attention over a whole
 * sequence and its backward on the device, as ik_cpu_attention_seq_fwd and
 * ik_cpu_attention_bwd (kernels/kernels.h; fp32): the fallback beside cuDNN's
 * fused attention, llm.c's "cuBLAS plus softmax" path.
 *
 * The scores of every KV head are formed at once by strided-batched GEMMs:
 * for each g < H/K, the query heads kh*(H/K) + g of all KV heads kh are one
 * batch (their columns in q lie (H/K)*hd apart, their KV heads' hd apart), so
 * H/K calls cover every head without copying K or V per query head. The
 * scratch holds one batch's probabilities P and, in the backward, dP/dS:
 * 2 x K x T x T floats (cuda_ops.h, ->attention_scratch). With P = softmax(S),
 * S = scale Q K^T, O = P V the backward is dV += P^T dO, dP = dO V^T,
 * dS = P (dP - rowsum(P dP)), dQ += scale dS K, dK += scale dS^T Q; the
 * batches of one g run one after another on the stream, so the += of the
 * H/K query heads of a KV head never race. Each batch is taken in chunks of
 * query rows (chunk_rows), each over the keys its last row sees, so most of
 * the masked half of the scores is never formed.
 *
 * The GEMMs multiply in TF32 on the tensor cores (fp32 values and
 * accumulation, inputs rounded to 10 mantissa bits): in plain fp32 they would
 * run at 67 TFLOP/s on an H100 and, at 4K tokens, take most of the step.
 * q, k and v come out of BF16 projections (7 bits), so TF32 loses nothing
 * the step had kept; cuDNN's fused attention goes further, to BF16. */
#include <math.h>
#include <mutex>
#include <cublas_v2.h>

#include "kernels/cuda/cuda_util.h"

enum { ROW_THREADS = 256 };

static cublasHandle_t blas;

static int blas_fail(const char *call, cublasStatus_t st, const char *kernel)
{
    return ik_cuda__bad_arg(kernel, "%s: %s", call, cublasGetStatusString(st));
}

static int blas_ready(const char *kernel)
{
    static std::once_flag once;
    static cublasStatus_t st;
    std::call_once(once, [] { st = cublasCreate(&blas); });
    return st == CUBLAS_STATUS_SUCCESS ? 0 : blas_fail("cublasCreate", st, kernel);
}

/* One batch of row-major products C_i = alpha op(A_i) op(B_i) + beta C_i
 * (A_i = A + i * sa, ...), as C^T = op(B)^T op(A)^T in cuBLAS's column-major
 * terms (see gemm.cu). fp32 in, out and accumulation, TF32 products. */
static int gemm_batched(const char *kernel, int ta, int tb, int M, int N, int K, float alpha,
                        const float *A, int lda, long long sa, const float *B, int ldb, long long sb,
                        float beta, float *C, int ldc, long long sc, int batch)
{
    cublasStatus_t st = cublasGemmStridedBatchedEx(
        blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B,
        CUDA_R_32F, ldb, sb, A, CUDA_R_32F, lda, sa, &beta, C, CUDA_R_32F, ldc, sc, batch,
        CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS)
        return blas_fail("cublasGemmStridedBatchedEx", st, kernel);
    return ik_cuda__launched(kernel);
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
    return blas_ready(kernel);
}

extern "C" size_t ik_cuda_attention_scratch(int T, int H, int K)
{
    (void)H;
    return 2 * (size_t)K * (size_t)T * (size_t)T * sizeof(float);
}

/* The query rows are taken in chunks, so the scores above the diagonal are
 * mostly not formed: rows [r0, r0 + R) see keys [0, r0 + R) at most, so a
 * chunk's products are R x (r0 + R), about 56% of the full square's work in
 * 8 chunks. A chunk is at least 64 rows (fewer, longer GEMMs below that). */
static int chunk_rows(int T)
{
    int R = (T + 7) / 8;
    R = (R + 63) / 64 * 64;
    return R < 64 ? 64 : R;
}

/* One chunk of batch g (query heads kh*G + g of every KV head kh): rows
 * [r0, r0 + R) of the queries over keys [0, Tk). */
struct chunk {
    int g, r0, R, Tk;
};

/* The chunk's probabilities P (K batches of R x Tk, compact) from q and k. */
static int probs(const char *kernel, float *P, const float *q, const float *k, int H, int K, int hd,
                 int window, const struct chunk *c)
{
    int G = H / K, qw = H * hd, kw = K * hd;
    float scale = 1.0f / sqrtf((float)hd);
    if (gemm_batched(kernel, 0, 1, c->R, c->Tk, hd, scale, q + (size_t)c->r0 * qw + (size_t)c->g * hd,
                     qw, (long long)G * hd, k, kw, hd, 0.0f, P, c->Tk, (long long)c->R * c->Tk, K))
        return -1;
    causal_softmax_kernel<<<(unsigned)((size_t)K * c->R), ROW_THREADS>>>(P, c->R, c->r0, c->Tk,
                                                                         window);
    return ik_cuda__launched(kernel);
}

/* The chunk of batch g from row r0 (the last one may be shorter). */
static struct chunk chunk_at(int T, int g, int r0)
{
    int R = chunk_rows(T);
    R = T - r0 < R ? T - r0 : R;
    return (struct chunk){g, r0, R, r0 + R};
}

extern "C" int ik_cuda_attention_fwd(float *out, const float *q, const float *k, const float *v,
                                     int T, int H, int K, int hd, int window, void *scratch_)
{
    float *scratch = (float *)scratch_;
    const char *kernel = "attention_fwd";
    if (check_args(kernel, T, H, K, hd))
        return -1;
    int G = H / K, qw = H * hd, kw = K * hd;
    for (int g = 0; g < G; g++)
        for (int r0 = 0; r0 < T; r0 += chunk_rows(T)) {
            struct chunk c = chunk_at(T, g, r0);
            float *o = out + (size_t)r0 * qw + (size_t)g * hd;
            if (probs(kernel, scratch, q, k, H, K, hd, window, &c) ||
                gemm_batched(kernel, 0, 0, c.R, hd, c.Tk, 1.0f, scratch, c.Tk,
                             (long long)c.R * c.Tk, v, kw, hd, 0.0f, o, qw, (long long)G * hd, K))
                return -1;
        }
    return 0;
}

/* The backward of one chunk: dV, dQ and dK get its share (+=). */
static int chunk_bwd(const char *kernel, float *dq, float *dk, float *dv, const float *dout,
                     const float *q, const float *k, const float *v, int H, int K, int hd,
                     int window, const struct chunk *c, float *P, float *D)
{
    int G = H / K, qw = H * hd, kw = K * hd, R = c->R, Tk = c->Tk;
    float scale = 1.0f / sqrtf((float)hd);
    long long sq = (long long)G * hd, ss = (long long)R * Tk;
    size_t at = (size_t)c->r0 * qw + (size_t)c->g * hd; /* the chunk's first row, head g */
    const float *qg = q + at, *dog = dout + at;
    if (probs(kernel, P, q, k, H, K, hd, window, c) ||
        gemm_batched(kernel, 1, 0, Tk, hd, R, 1.0f, P, Tk, ss, dog, qw, sq, 1.0f, dv, kw, hd, K) ||
        gemm_batched(kernel, 0, 1, R, Tk, hd, 1.0f, dog, qw, sq, v, kw, hd, 0.0f, D, Tk, ss, K))
        return -1;
    softmax_grad_kernel<<<(unsigned)((size_t)K * R), ROW_THREADS>>>(D, P, R, c->r0, Tk, window);
    if (ik_cuda__launched(kernel) ||
        gemm_batched(kernel, 0, 0, R, hd, Tk, scale, D, Tk, ss, k, kw, hd, 1.0f, dq + at, qw, sq, K) ||
        gemm_batched(kernel, 1, 0, Tk, hd, R, scale, D, Tk, ss, qg, qw, sq, 1.0f, dk, kw, hd, K))
        return -1;
    return 0;
}

extern "C" int ik_cuda_attention_bwd(float *dq, float *dk, float *dv, const float *dout,
                                     const float *q, const float *k, const float *v, int T, int H,
                                     int K, int hd, int window, void *scratch_)
{
    const char *kernel = "attention_bwd";
    float *scratch = (float *)scratch_;
    if (check_args(kernel, T, H, K, hd))
        return -1;
    float *P = scratch, *D = scratch + (size_t)K * T * T;
    for (int g = 0; g < H / K; g++)
        for (int r0 = 0; r0 < T; r0 += chunk_rows(T)) {
            struct chunk c = chunk_at(T, g, r0);
            if (chunk_bwd(kernel, dq, dk, dv, dout, q, k, v, H, K, hd, window, &c, P, D))
                return -1;
        }
    return 0;
}
