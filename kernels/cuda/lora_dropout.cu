/* kernels/cuda/lora_dropout.cu - the LoRA branch's products with its dropout
 * applied on the fly (cuda_ops.h: ->lora_down_dropout, ->lora_dA_dropout,
 * ->lora_dx_dropout): the masked input dropout(x) is never stored.
 *
 * With cuBLAS the branch needs dropout(x) as a tensor: a pass that reads x
 * and writes the masked copy, a GEMM that reads it, the same again in the
 * backward for dA, and there the input gradient written by a GEMM, read back
 * and added through the mask: about 40 bytes of traffic per element of x,
 * against 16 here (x read once forward, once backward, dx read and written
 * once). The products are rank-r updates (r = 16 typically): a few FLOPs per
 * byte, so these kernels run on the CUDA cores at memory speed, in fp32 with
 * every sum in a fixed order. The mask and scale are ->dropout's
 * (dropout_mask.h).
 *
 * ->lora_down_swiglu_bwd goes one step further for the down projection: its
 * branch's input gradient is added inside SwiGLU's backward (with or without
 * dropout), so the MLP's (T, F) gradient is not read and written in between. */
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_util.h"
#include "kernels/cuda/dropout_mask.h"
#include "kernels/cuda/scratch.h"
#include "kernels/cuda/swiglu_terms.h"

enum {
    RANKS = 16,      /* ranks a thread accumulates at once (r is taken in chunks of these) */
    DOWN_ROWS = 8,   /* tokens per block of ->lora_down_dropout: a warp each */
    DOWN_COLS = 256, /* columns of A staged in shared memory at a time */
    DA_ROWS = IK_LORA_DA_ROWS, /* tokens per partial sum of dA */
    DA_THREADS = 256,
    DX_ROWS = 16,    /* tokens per block of ->lora_dx_dropout, sharing A's columns */
    DX_THREADS = 256,
};

/* h (T, r) = dropout(x) A^T: a warp per token row, DOWN_ROWS rows a block
 * sharing each tile of A's columns staged in shared memory (A is read from
 * L2 once per block, not per row), RANKS sums a lane, then reduced over the
 * warp in a fixed order. */
__global__ void lora_down_dropout_kernel(float *h, const float *x, const float *A, int T, int In, int r,
                                         struct ik_cuda__dropout d)
{
    __shared__ float As[RANKS][DOWN_COLS];
    int lane = threadIdx.x & 31, t = blockIdx.x * DOWN_ROWS + (threadIdx.x >> 5);
    const float *xr = x + (size_t)t * In;
    for (int k0 = 0; k0 < r; k0 += RANKS) {
        int nk = r - k0 < RANKS ? r - k0 : RANKS;
        float acc[RANKS];
#pragma unroll
        for (int k = 0; k < RANKS; k++)
            acc[k] = 0.0f;
        for (int c0 = 0; c0 < In; c0 += DOWN_COLS) {
            __syncthreads(); /* the last tile's readers are done */
            for (int j = threadIdx.x; j < RANKS * DOWN_COLS; j += blockDim.x) {
                int k = j / DOWN_COLS, c = j % DOWN_COLS;
                As[k][c] = k < nk && c0 + c < In ? A[(size_t)(k0 + k) * In + c0 + c] : 0.0f;
            }
            __syncthreads();
            if (t >= T) /* a row past the end: only the barriers */
                continue;
            for (int c = lane; c < DOWN_COLS && c0 + c < In; c += 32) {
                float v = ik_cuda__dropped(d, (size_t)t * In + c0 + c, xr[c0 + c]);
#pragma unroll
                for (int k = 0; k < RANKS; k++)
                    acc[k] += v * As[k][c];
            }
        }
#pragma unroll
        for (int k = 0; k < RANKS; k++) {
            float s = ik_cuda__warp_sum(acc[k]);
            if (lane == 0 && t < T && k < nk)
                h[(size_t)t * r + k0 + k] = s;
        }
    }
}

/* part[c][k][i] = sum over the DA_ROWS tokens of chunk c of dh[t][k] *
 * dropout(x)[t][i], for the RANKS ranks from blockIdx.z * RANKS: a thread per
 * column, dh's row read by every thread at once (one broadcast). */
__global__ void lora_da_partial_kernel(float *part, const float *dh, const float *x, int T, int In,
                                       int r, struct ik_cuda__dropout d)
{
    int i = blockIdx.x * DA_THREADS + threadIdx.x, c = blockIdx.y, k0 = blockIdx.z * RANKS;
    if (i >= In)
        return;
    int nk = r - k0 < RANKS ? r - k0 : RANKS;
    int t1 = (c + 1) * DA_ROWS < T ? (c + 1) * DA_ROWS : T;
    float acc[RANKS];
#pragma unroll
    for (int k = 0; k < RANKS; k++)
        acc[k] = 0.0f;
    for (int t = c * DA_ROWS; t < t1; t++) {
        float v = ik_cuda__dropped(d, (size_t)t * In + i, x[(size_t)t * In + i]);
        const float *g = dh + (size_t)t * r + k0;
#pragma unroll
        for (int k = 0; k < RANKS; k++)
            if (k < nk)
                acc[k] += g[k] * v;
    }
    float *out = part + ((size_t)c * r + k0) * In + i;
#pragma unroll
    for (int k = 0; k < RANKS; k++)
        if (k < nk)
            out[(size_t)k * In] = acc[k];
}

/* dA (r * In values) += the chunks' partial sums, in the chunks' order. */
__global__ void lora_da_sum_kernel(float *dA, const float *part, int chunks, size_t n)
{
    for (size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x; j < n;
         j += (size_t)gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int c = 0; c < chunks; c++)
            s += part[(size_t)c * n + j];
        dA[j] += s;
    }
}

/* A's column i (r values, In apart) for row_times_column: in registers when
 * r <= RANKS, so that a block's tokens read it from L2 once. */
struct a_column {
    float a[RANKS];
    bool cached;
};

__device__ __forceinline__ void load_column(a_column *c, const float *A, int In, int r, int i)
{
    c->cached = r <= RANKS;
#pragma unroll
    for (int k = 0; k < RANKS; k++)
        c->a[k] = c->cached && k < r ? A[(size_t)k * In + i] : 0.0f;
}

/* sum_k g[k] A[k][i], over k in order either way. */
__device__ __forceinline__ float row_times_column(const a_column &c, const float *g, const float *A,
                                                  int In, int r, int i)
{
    float s = 0.0f;
    if (c.cached) {
#pragma unroll
        for (int k = 0; k < RANKS; k++)
            if (k < r)
                s += g[k] * c.a[k];
    } else {
        for (int k = 0; k < r; k++)
            s += g[k] * A[(size_t)k * In + i];
    }
    return s;
}

/* dx[t][i] += the mask and scale of dropout at (t, i) applied to
 * sum_k dh[t][k] A[k][i]: a thread per column over DX_ROWS tokens, its
 * column of A kept in registers when r <= RANKS (read once per block, not
 * per token), dh's row a broadcast. The sum runs over k in order either way. */
__global__ void lora_dx_dropout_kernel(float *dx, const float *dh, const float *A, int T, int In, int r,
                                       struct ik_cuda__dropout d)
{
    int t0 = blockIdx.x * DX_ROWS, i = blockIdx.y * DX_THREADS + threadIdx.x;
    if (i >= In)
        return;
    int t1 = t0 + DX_ROWS < T ? t0 + DX_ROWS : T;
    a_column col;
    load_column(&col, A, In, r, i);
    for (int t = t0; t < t1; t++) {
        float s = row_times_column(col, dh + (size_t)t * r, A, In, r, i);
        size_t at = (size_t)t * In + i;
        dx[at] += ik_cuda__dropped(d, at, s);
    }
}

/* The down projection's backward fused with SwiGLU's: dact[t][i] = dout
 * (the frozen GEMM's input gradient) + the branch's, sum_k dh[t][k] A[k][i]
 * through the dropout's mask when drop (else as it is), added as
 * ->lora_dx_dropout adds it; then SwiGLU's BF16 gradients of it, as
 * ->swiglu_bwd_bf16_in writes them. The branch's (T, F) gradient is never
 * stored, nor read back. Blocks and registers as lora_dx_dropout_kernel. */
__global__ void lora_down_swiglu_bwd_kernel(__nv_bfloat16 *dgate_b, __nv_bfloat16 *dup_b,
                                            const float *dout, const __nv_bfloat16 *gate,
                                            const __nv_bfloat16 *up, int T, int F, const float *dh,
                                            const float *A, int r, struct ik_cuda__dropout d,
                                            bool drop)
{
    int t0 = blockIdx.x * DX_ROWS, i = blockIdx.y * DX_THREADS + threadIdx.x;
    if (i >= F)
        return;
    int t1 = t0 + DX_ROWS < T ? t0 + DX_ROWS : T;
    a_column col;
    load_column(&col, A, F, r, i);
    for (int t = t0; t < t1; t++) {
        float s = row_times_column(col, dh + (size_t)t * r, A, F, r, i);
        size_t at = (size_t)t * F + i;
        float dact = __fadd_rn(dout[at], drop ? ik_cuda__dropped(d, at, s) : s);
        float vg, vu;
        ik_cuda__swiglu_terms(__bfloat162float(gate[at]), __bfloat162float(up[at]), dact, &vg, &vu);
        dgate_b[at] = __float2bfloat16_rn(vg);
        dup_b[at] = __float2bfloat16_rn(vu);
    }
}

static int lora_args(const char *what, int T, int In, int r, float p)
{
    if (T < 0 || In < 0 || r <= 0 || !(p > 0.0f && p < 1.0f))
        return ik_cuda__bad_arg(what, "T %d, In %d, r %d, p %g (T, In >= 0, r > 0, 0 < p < 1)", T,
                                In, r, (double)p);
    return 0;
}

extern "C" int ik_cuda_lora_down_dropout(float *h, const float *x, const float *A, int T, int In,
                                         int r, float p, uint64_t key)
{
    if (lora_args("lora_down_dropout", T, In, r, p) != 0)
        return -1;
    if (T == 0)
        return 0;
    lora_down_dropout_kernel<<<(unsigned)((T + DOWN_ROWS - 1) / DOWN_ROWS), DOWN_ROWS * 32>>>(
        h, x, A, T, In, r, ik_cuda__dropout_of(p, key));
    return ik_cuda__launched("lora_down_dropout");
}

extern "C" size_t ik_cuda_lora_dA_dropout_scratch(int T, int In, int r)
{
    return ik_lora_dA_scratch_bytes(T, In, r);
}

extern "C" int ik_cuda_lora_dA_dropout(float *dA, const float *dh, const float *x, int T, int In,
                                       int r, float p, uint64_t key, void *scratch)
{
    if (lora_args("lora_dA_dropout", T, In, r, p) != 0)
        return -1;
    if (T == 0 || In == 0)
        return 0;
    int chunks = (T + DA_ROWS - 1) / DA_ROWS;
    dim3 grid((unsigned)((In + DA_THREADS - 1) / DA_THREADS), (unsigned)chunks,
              (unsigned)((r + RANKS - 1) / RANKS));
    float *part = (float *)scratch;
    lora_da_partial_kernel<<<grid, DA_THREADS>>>(part, dh, x, T, In, r, ik_cuda__dropout_of(p, key));
    if (ik_cuda__launched("lora_dA_dropout (partial sums)") != 0)
        return -1;
    size_t n = (size_t)r * In;
    lora_da_sum_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(dA, part, chunks, n);
    return ik_cuda__launched("lora_dA_dropout");
}

extern "C" int ik_cuda_lora_dx_dropout(float *dx, const float *dh, const float *A, int T, int In,
                                       int r, float p, uint64_t key)
{
    if (lora_args("lora_dx_dropout", T, In, r, p) != 0)
        return -1;
    if (T == 0 || In == 0)
        return 0;
    dim3 grid((unsigned)((T + DX_ROWS - 1) / DX_ROWS), (unsigned)((In + DX_THREADS - 1) / DX_THREADS));
    lora_dx_dropout_kernel<<<grid, DX_THREADS>>>(dx, dh, A, T, In, r, ik_cuda__dropout_of(p, key));
    return ik_cuda__launched("lora_dx_dropout");
}

extern "C" int ik_cuda_lora_down_swiglu_bwd(uint16_t *dgate_b, uint16_t *dup_b, const float *dout,
                                            const uint16_t *gate, const uint16_t *up, int T, int F,
                                            const float *dh, const float *A, int r, float p,
                                            uint64_t key)
{
    if (T < 0 || F < 0 || r <= 0 || !(p >= 0.0f && p < 1.0f))
        return ik_cuda__bad_arg("lora_down_swiglu_bwd", "T %d, F %d, r %d, p %g (T, F >= 0, r > 0, "
                                "0 <= p < 1)", T, F, r, (double)p);
    if (T == 0 || F == 0)
        return 0;
    struct ik_cuda__dropout d = {0, 0, 0, 1.0f};
    if (p > 0.0f)
        d = ik_cuda__dropout_of(p, key);
    dim3 grid((unsigned)((T + DX_ROWS - 1) / DX_ROWS), (unsigned)((F + DX_THREADS - 1) / DX_THREADS));
    lora_down_swiglu_bwd_kernel<<<grid, DX_THREADS>>>(
        (__nv_bfloat16 *)dgate_b, (__nv_bfloat16 *)dup_b, dout, (const __nv_bfloat16 *)gate,
        (const __nv_bfloat16 *)up, T, F, dh, A, r, d, p > 0.0f);
    return ik_cuda__launched("lora_down_swiglu_bwd");
}
