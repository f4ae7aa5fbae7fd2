/* kernels/cuda/attention_flash.cu - the module's own flash attention
 * (cuda_ops.h: ->flash_fwd, ->flash_bwd): causal GQA attention with an
 * optional sliding window, forward and backward, on BF16 tensor cores
 * (mma.h), without the T x T probabilities attention.cu keeps. The
 * algorithm is FlashAttention-2's (Dao, 2023):
 *
 * - Forward: a block per 64 query rows of one head, 16 rows per warp. Over
 *   the key tiles the rows see (64 keys each), S = Q K^T on the tensor cores,
 *   an online softmax in the accumulators' registers (a row's running max m
 *   and sum l, the output rescaled by exp(m_old - m_new)), and O += P V with
 *   P rounded to BF16 straight from S's registers. It writes O and each
 *   row's logsumexp of the scaled, masked scores (natural log, as cuDNN's
 *   Stats), which is all the backward needs.
 * - Backward: D = rowsum(dO o O) per row and head first; then dK and dV in
 *   a block per 32 keys of one KV head, looping over its group's query heads
 *   and the queries that see those keys (P^T recomputed from the
 *   logsumexp); then dQ in a block per 32 queries of one head, looping over
 *   the keys. Two passes instead of FlashAttention-2's one with atomic adds
 *   into dQ: every sum runs in a fixed order, so the gradients' bits are the
 *   same from run to run (a resumed run matches an uninterrupted one), at
 *   the price of computing S and P twice.
 *
 * The table's tensors are fp32: tiles are rounded to BF16 as they are
 * loaded into shared memory (no separate conversion pass), products
 * accumulate in fp32, softmax and its gradient run in fp32; the results
 * differ from the fp32 path by BF16 rounding, as cuDNN's do. head_dim up to
 * 128, a multiple of 8 (the QK^T products run over it padded with zeros to
 * a multiple of 16); q, k, v and dout 16-byte aligned (float4 loads). */
#include <math.h>
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_util.h"
#include "kernels/cuda/mma.h"
#include "kernels/cuda/scratch.h"

enum {
    FWD_ROWS = 64,  /* queries per forward block: 4 warps of 16 */
    FWD_KEYS = 64,  /* keys per forward tile */
    BWD_TILE = 32,  /* keys per dK/dV block, queries per dQ block, and each tile of the other */
    PAD = 8,        /* BF16 values after each shared row, against bank conflicts; rows stay
                     * 16-byte multiples, and the arrays are 16-byte aligned (the fragments
                     * are read as 32-bit words) */
    MAX_HD = 128,
};

static const float LOG2E = 1.4426950408889634f;

/* rows x cols16 of x (fp32, row stride ld; rows from r0, columns from the
 * head's offset already in x) into tile (BF16, stride LD), zeros past T and
 * past hd (to cols16, hd rounded up to 16). The block's threads share it,
 * four columns a step: x 16-byte aligned (the wrapper checks) and hd, ld
 * multiples of 8 keep every float4 aligned, and a step never straddles hd. */
__device__ __forceinline__ void load_tile(__nv_bfloat16 *tile, int LD, const float *x, size_t ld, int r0,
                                          int rows, int T, int hd, int cols16)
{
    int quads = cols16 / 4;
    for (int i = threadIdx.x; i < rows * quads; i += blockDim.x) {
        int r = i / quads, c = i % quads * 4, t = r0 + r;
        float4 v = t < T && c < hd ? ik_load_float4(x + (size_t)t * ld + c) : make_float4(0, 0, 0, 0);
        ik_store_bf16x4(tile + r * LD + c, v);
    }
}

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }

/* Whether query t sees key j. */
__device__ __forceinline__ bool sees(int t, int j, int T, int window)
{
    return j <= t && t < T && (window <= 0 || t - j < window);
}

/* Max and sum over the 4 lanes that share a row (lane / 4). */
__device__ __forceinline__ float quad_max(float v)
{
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v)
{
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

/* acc (16 rows x the head's columns, HD / 8 tiles of 8) += X B, X the
 * warp's 16 x K block held as K / 8 accumulators (P or dS, rounded to BF16 on
 * the way: ik_mma_acc_to_a), B the tile's K rows (keys or queries) of hd
 * columns: O += P V, dV += P^T dO, dK += dS^T Q, dQ += dS K. */
template <int HD, int K>
__device__ __forceinline__ void add_acc_times_tile(float acc[HD / 8][4], const float x[K / 8][4],
                                                   const __nv_bfloat16 *tile, int LD, int ntiles)
{
    #pragma unroll
    for (int kk = 0; kk < K / 16; kk++) {
        uint32_t a[4];
        ik_mma_acc_to_a(a, x[2 * kk], x[2 * kk + 1]);
        #pragma unroll
        for (int n = 0; n < HD / 8; n++)
            if (n < ntiles) {
                uint32_t b[2];
                ik_mma_load_b(b, tile, LD, kk * 16, n * 8);
                ik_mma_bf16_16816(acc[n], a, b);
            }
    }
}

/* ---- forward ---- */

template <int HD>
__global__ void __launch_bounds__(128) flash_fwd_kernel(float *out, float *stats, const float *q,
                                                        const float *k, const float *v, int T, int H,
                                                        int K, int hd, int window, float scale)
{
    constexpr int LD = HD + PAD;
    __shared__ __align__(16) __nv_bfloat16 ks[FWD_KEYS * LD], vs[FWD_KEYS * LD];
    int h = blockIdx.y, kh = h / (H / K), q0 = blockIdx.x * FWD_ROWS;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, qd = lane & 3;
    int cols16 = (hd + 15) & ~15, ksteps = cols16 / 16, ntiles = hd / 8;
    size_t ldq = (size_t)H * hd, ldk = (size_t)K * hd;
    float sl2 = scale * LOG2E; /* scores in log2 units: exp2f */

    /* The warp's 16 query rows as A fragments, through ks. */
    load_tile(ks, LD, q + (size_t)h * hd, ldq, q0, FWD_ROWS, T, hd, cols16);
    __syncthreads();
    uint32_t aq[HD / 16][4];
    #pragma unroll
    for (int kk = 0; kk < HD / 16; kk++)
        if (kk < ksteps)
            ik_mma_load_a(aq[kk], ks, LD, warp * 16, kk * 16);
    __syncthreads();

    float o[HD / 8][4], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    #pragma unroll
    for (int n = 0; n < HD / 8; n++)
        o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    int row[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    int last = imin(T, q0 + FWD_ROWS) - 1;
    int first = window > 0 ? imax(0, q0 - window + 1) : 0;
    for (int k0 = first / FWD_KEYS * FWD_KEYS; k0 <= last; k0 += FWD_KEYS) {
        load_tile(ks, LD, k + (size_t)kh * hd, ldk, k0, FWD_KEYS, T, hd, cols16);
        load_tile(vs, LD, v + (size_t)kh * hd, ldk, k0, FWD_KEYS, T, hd, cols16);
        __syncthreads();
        float s[FWD_KEYS / 8][4];
        #pragma unroll
        for (int j = 0; j < FWD_KEYS / 8; j++) {
            s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
            #pragma unroll
            for (int kk = 0; kk < HD / 16; kk++)
                if (kk < ksteps) {
                    uint32_t b[2];
                    ik_mma_load_b_t(b, ks, LD, j * 8, kk * 16);
                    ik_mma_bf16_16816(s[j], aq[kk], b);
                }
        }
        /* Masked, scaled; the rows' new max, and the old sums rescaled. */
        float mx[2] = {-INFINITY, -INFINITY};
        #pragma unroll
        for (int j = 0; j < FWD_KEYS / 8; j++)
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                int key = k0 + j * 8 + 2 * qd + (i & 1);
                s[j][i] = sees(row[i >> 1], key, T, window) ? s[j][i] * sl2 : -INFINITY;
                mx[i >> 1] = fmaxf(mx[i >> 1], s[j][i]);
            }
        float base[2], alpha[2];
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            float mn = fmaxf(m[r], quad_max(mx[r]));
            base[r] = mn == -INFINITY ? 0.0f : mn; /* a row that sees nothing yet */
            alpha[r] = exp2f(m[r] - base[r]);
            m[r] = mn;
            l[r] *= alpha[r];
        }
        #pragma unroll
        for (int j = 0; j < FWD_KEYS / 8; j++)
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                s[j][i] = exp2f(s[j][i] - base[i >> 1]);
                l[i >> 1] += s[j][i];
            }
        #pragma unroll
        for (int n = 0; n < HD / 8; n++)
            #pragma unroll
            for (int i = 0; i < 4; i++)
                o[n][i] *= alpha[i >> 1];
        /* O += P V, P's registers as the A operand. */
        add_acc_times_tile<HD, FWD_KEYS>(o, s, vs, LD, ntiles);
        __syncthreads(); /* before the next tiles overwrite ks and vs */
    }
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] = quad_sum(l[r]);
        if (row[r] >= T)
            continue;
        float inv = 1.0f / l[r];
        float *dst = out + (size_t)row[r] * ldq + (size_t)h * hd + 2 * qd;
        #pragma unroll
        for (int n = 0; n < HD / 8; n++)
            if (n < ntiles) {
                dst[n * 8] = o[n][2 * r] * inv;
                dst[n * 8 + 1] = o[n][2 * r + 1] * inv;
            }
        if (qd == 0)
            stats[(size_t)h * T + row[r]] = (m[r] + log2f(l[r])) / LOG2E;
    }
}

/* ---- backward ---- */

/* D[h T + t] = sum over the head's columns of dout o out: a warp per row. */
__global__ void flash_rowdot_kernel(float *D, const float *dout, const float *out, int T, int H, int hd)
{
    size_t r = (size_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (r >= (size_t)T * H)
        return;
    size_t t = r / H, h = r % H;
    const float *a = dout + t * H * hd + h * hd, *b = out + t * H * hd + h * hd;
    float s = 0.0f;
    for (int c = lane; c < hd; c += 32)
        s += a[c] * b[c];
    s = ik_cuda__warp_sum(s);
    if (lane == 0)
        D[h * T + t] = s;
}

/* The backward's two score-shaped products, for each 8-column block j of a
 * BWD_TILE-row tile: x[j] = A1 B1^T and y[j] = A2 B2^T over the head's
 * columns (ksteps of 16), A's rows the warp's 16 from row0 of a1 and a2, B's
 * rows 8 j.. of b1 and b2: S and dP (as S^T, dP^T for dK and dV). */
template <int HD>
__device__ __forceinline__ void two_score_products(float x[BWD_TILE / 8][4], float y[BWD_TILE / 8][4],
                                                   const __nv_bfloat16 *a1, const __nv_bfloat16 *b1,
                                                   const __nv_bfloat16 *a2, const __nv_bfloat16 *b2,
                                                   int LD, int row0, int ksteps)
{
    #pragma unroll
    for (int j = 0; j < BWD_TILE / 8; j++) {
        #pragma unroll
        for (int i = 0; i < 4; i++)
            x[j][i] = y[j][i] = 0.0f;
        #pragma unroll
        for (int kk = 0; kk < HD / 16; kk++)
            if (kk < ksteps) {
                uint32_t a[4], b[2];
                ik_mma_load_a(a, a1, LD, row0, kk * 16);
                ik_mma_load_b_t(b, b1, LD, j * 8, kk * 16);
                ik_mma_bf16_16816(x[j], a, b);
                ik_mma_load_a(a, a2, LD, row0, kk * 16);
                ik_mma_load_b_t(b, b2, LD, j * 8, kk * 16);
                ik_mma_bf16_16816(y[j], a, b);
            }
    }
}

/* dK, dV (+=) of 32 keys of KV head blockIdx.y: 2 warps of 16 keys, over the
 * group's query heads and the query tiles that see the keys. Computed
 * transposed (keys as rows): S^T = K Q^T, P^T = exp(scale S^T - lse),
 * dV += P^T dO, dP^T = V dO^T, dS^T = P^T o (dP^T - D), dK += scale dS^T Q. */
template <int HD>
__global__ void __launch_bounds__(64) flash_dkdv_kernel(float *dk, float *dv, const float *dout,
                                                        const float *stats, const float *D,
                                                        const float *q, const float *k,
                                                        const float *v, int T, int H, int K, int hd,
                                                        int window, float scale)
{
    constexpr int LD = HD + PAD;
    __shared__ __align__(16) __nv_bfloat16 ks[BWD_TILE * LD], vs[BWD_TILE * LD];
    __shared__ __align__(16) __nv_bfloat16 qs[BWD_TILE * LD], dos[BWD_TILE * LD];
    __shared__ float lse[BWD_TILE], dsum[BWD_TILE];
    int kh = blockIdx.y, G = H / K, k0 = blockIdx.x * BWD_TILE;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, qd = lane & 3;
    int cols16 = (hd + 15) & ~15, ksteps = cols16 / 16, ntiles = hd / 8;
    size_t ldq = (size_t)H * hd, ldk = (size_t)K * hd;
    float sl2 = scale * LOG2E;

    load_tile(ks, LD, k + (size_t)kh * hd, ldk, k0, BWD_TILE, T, hd, cols16);
    load_tile(vs, LD, v + (size_t)kh * hd, ldk, k0, BWD_TILE, T, hd, cols16);
    float acc_k[HD / 8][4], acc_v[HD / 8][4];
    #pragma unroll
    for (int n = 0; n < HD / 8; n++)
        #pragma unroll
        for (int i = 0; i < 4; i++)
            acc_k[n][i] = acc_v[n][i] = 0.0f;
    int key[2] = {k0 + warp * 16 + g, k0 + warp * 16 + g + 8};
    int last = window > 0 ? imin(T - 1, k0 + BWD_TILE - 1 + window - 1) : T - 1;
    for (int h = kh * G; h < (kh + 1) * G; h++)
        for (int q0 = k0; q0 <= last; q0 += BWD_TILE) {
            __syncthreads(); /* the last tile's readers are done */
            load_tile(qs, LD, q + (size_t)h * hd, ldq, q0, BWD_TILE, T, hd, cols16);
            load_tile(dos, LD, dout + (size_t)h * hd, ldq, q0, BWD_TILE, T, hd, cols16);
            for (int i = threadIdx.x; i < BWD_TILE; i += blockDim.x) {
                bool in = q0 + i < T;
                lse[i] = in ? stats[(size_t)h * T + q0 + i] * LOG2E : INFINITY;
                dsum[i] = in ? D[(size_t)h * T + q0 + i] : 0.0f;
            }
            __syncthreads();
            float p[BWD_TILE / 8][4], dp[BWD_TILE / 8][4];
            two_score_products<HD>(p, dp, ks, qs, vs, dos, LD, warp * 16, ksteps);
            #pragma unroll
            for (int j = 0; j < BWD_TILE / 8; j++) {
                #pragma unroll
                for (int i = 0; i < 4; i++) {
                    int c = j * 8 + 2 * qd + (i & 1);
                    bool on = sees(q0 + c, key[i >> 1], T, window) && key[i >> 1] < T;
                    p[j][i] = on ? exp2f(p[j][i] * sl2 - lse[c]) : 0.0f;
                    dp[j][i] = p[j][i] * (dp[j][i] - dsum[c]); /* dS^T */
                }
            }
            add_acc_times_tile<HD, BWD_TILE>(acc_v, p, dos, LD, ntiles);
            add_acc_times_tile<HD, BWD_TILE>(acc_k, dp, qs, LD, ntiles);
        }
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        if (key[r] >= T)
            continue;
        size_t at = (size_t)key[r] * ldk + (size_t)kh * hd + 2 * qd;
        #pragma unroll
        for (int n = 0; n < HD / 8; n++)
            if (n < ntiles)
                #pragma unroll
                for (int e = 0; e < 2; e++) {
                    dk[at + n * 8 + e] += scale * acc_k[n][2 * r + e];
                    dv[at + n * 8 + e] += acc_v[n][2 * r + e];
                }
    }
}

/* dQ (+=) of 32 queries of head blockIdx.y: 2 warps of 16 rows, over the key
 * tiles the rows see: S = Q K^T, P = exp(scale S - lse), dP = dO V^T,
 * dS = P o (dP - D), dQ += scale dS K. */
template <int HD>
__global__ void __launch_bounds__(64) flash_dq_kernel(float *dq, const float *dout, const float *stats,
                                                      const float *D, const float *q, const float *k,
                                                      const float *v, int T, int H, int K, int hd,
                                                      int window, float scale)
{
    constexpr int LD = HD + PAD;
    __shared__ __align__(16) __nv_bfloat16 ks[BWD_TILE * LD], vs[BWD_TILE * LD];
    __shared__ __align__(16) __nv_bfloat16 qs[BWD_TILE * LD], dos[BWD_TILE * LD];
    int h = blockIdx.y, kh = h / (H / K), q0 = blockIdx.x * BWD_TILE;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, qd = lane & 3;
    int cols16 = (hd + 15) & ~15, ksteps = cols16 / 16, ntiles = hd / 8;
    size_t ldq = (size_t)H * hd, ldk = (size_t)K * hd;
    float sl2 = scale * LOG2E;

    load_tile(qs, LD, q + (size_t)h * hd, ldq, q0, BWD_TILE, T, hd, cols16);
    load_tile(dos, LD, dout + (size_t)h * hd, ldq, q0, BWD_TILE, T, hd, cols16);
    int row[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    float lse[2], dsum[2];
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        bool in = row[r] < T;
        lse[r] = in ? stats[(size_t)h * T + row[r]] * LOG2E : INFINITY;
        dsum[r] = in ? D[(size_t)h * T + row[r]] : 0.0f;
    }
    float acc[HD / 8][4];
    #pragma unroll
    for (int n = 0; n < HD / 8; n++)
        acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    int last = imin(T, q0 + BWD_TILE) - 1;
    int first = window > 0 ? imax(0, q0 - window + 1) : 0;
    for (int k0 = first / BWD_TILE * BWD_TILE; k0 <= last; k0 += BWD_TILE) {
        __syncthreads(); /* the last tile's readers are done */
        load_tile(ks, LD, k + (size_t)kh * hd, ldk, k0, BWD_TILE, T, hd, cols16);
        load_tile(vs, LD, v + (size_t)kh * hd, ldk, k0, BWD_TILE, T, hd, cols16);
        __syncthreads();
        float p[BWD_TILE / 8][4], dp[BWD_TILE / 8][4];
        two_score_products<HD>(p, dp, qs, ks, dos, vs, LD, warp * 16, ksteps);
        #pragma unroll
        for (int j = 0; j < BWD_TILE / 8; j++) {
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                int r = i >> 1, key = k0 + j * 8 + 2 * qd + (i & 1);
                p[j][i] = sees(row[r], key, T, window) ? exp2f(p[j][i] * sl2 - lse[r]) : 0.0f;
                dp[j][i] = p[j][i] * (dp[j][i] - dsum[r]); /* dS */
            }
        }
        add_acc_times_tile<HD, BWD_TILE>(acc, dp, ks, LD, ntiles);
    }
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        if (row[r] >= T)
            continue;
        float *dst = dq + (size_t)row[r] * ldq + (size_t)h * hd + 2 * qd;
        #pragma unroll
        for (int n = 0; n < HD / 8; n++)
            if (n < ntiles) {
                dst[n * 8] += scale * acc[n][2 * r];
                dst[n * 8 + 1] += scale * acc[n][2 * r + 1];
            }
    }
}

/* ---- host wrappers ---- */

/* The heads the kernels take, and the 16-byte alignment of the tensors
 * their tiles are loaded from (cudaMalloc's is 256). */
static int flash_shape(const char *what, int T, int H, int K, int hd, const float *const *ptrs, int n)
{
    if (T < 0 || H <= 0 || K <= 0 || H % K != 0 || hd <= 0 || hd % 8 != 0 || hd > MAX_HD)
        return ik_cuda__bad_arg(what, "T %d, H %d, K %d, hd %d (expected H a multiple of K, hd a "
                                "multiple of 8 up to %d)", T, H, K, hd, (int)MAX_HD);
    for (int i = 0; i < n; i++)
        if ((uintptr_t)ptrs[i] % 16 != 0)
            return ik_cuda__bad_arg(what, "tensor %p is not 16-byte aligned (q, k, v, dout must be)",
                                    (const void *)ptrs[i]);
    return 0;
}

extern "C" int ik_cuda_flash_supports(int H, int K, int hd)
{
    return H > 0 && K > 0 && H % K == 0 && hd > 0 && hd % 8 == 0 && hd <= MAX_HD;
}

extern "C" size_t ik_cuda_flash_scratch(int T, int H)
{
    return ik_flash_scratch_bytes(T, H);
}

extern "C" int ik_cuda_flash_fwd(float *out, float *stats, const float *q, const float *k,
                                 const float *v, int T, int H, int K, int hd, int window, void *scratch)
{
    (void)scratch;
    const float *loaded[] = {q, k, v};
    if (flash_shape("flash_fwd", T, H, K, hd, loaded, 3) != 0)
        return -1;
    if (T == 0)
        return 0;
    dim3 grid((unsigned)((T + FWD_ROWS - 1) / FWD_ROWS), (unsigned)H);
    float scale = 1.0f / sqrtf((float)hd);
    if (hd <= 64)
        flash_fwd_kernel<64><<<grid, 128>>>(out, stats, q, k, v, T, H, K, hd, window, scale);
    else
        flash_fwd_kernel<128><<<grid, 128>>>(out, stats, q, k, v, T, H, K, hd, window, scale);
    return ik_cuda__launched("flash_fwd");
}

extern "C" int ik_cuda_flash_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                                 const float *stats, const float *q, const float *k, const float *v,
                                 int T, int H, int K, int hd, int window, void *scratch)
{
    const float *loaded[] = {q, k, v, dout};
    if (flash_shape("flash_bwd", T, H, K, hd, loaded, 4) != 0)
        return -1;
    if (T == 0)
        return 0;
    float *D = (float *)scratch, scale = 1.0f / sqrtf((float)hd);
    size_t rows = (size_t)T * H;
    flash_rowdot_kernel<<<(unsigned)((rows + 7) / 8), 256>>>(D, dout, out, T, H, hd);
    if (ik_cuda__launched("flash_bwd (rowsum of dout o out)") != 0)
        return -1;
    unsigned tiles = (unsigned)((T + BWD_TILE - 1) / BWD_TILE);
    if (hd <= 64)
        flash_dkdv_kernel<64><<<dim3(tiles, (unsigned)K), 64>>>(dk, dv, dout, stats, D, q, k, v, T, H,
                                                                 K, hd, window, scale);
    else
        flash_dkdv_kernel<128><<<dim3(tiles, (unsigned)K), 64>>>(dk, dv, dout, stats, D, q, k, v, T,
                                                                  H, K, hd, window, scale);
    if (ik_cuda__launched("flash_bwd (dk, dv)") != 0)
        return -1;
    if (hd <= 64)
        flash_dq_kernel<64><<<dim3(tiles, (unsigned)H), 64>>>(dq, dout, stats, D, q, k, v, T, H, K, hd,
                                                               window, scale);
    else
        flash_dq_kernel<128><<<dim3(tiles, (unsigned)H), 64>>>(dq, dout, stats, D, q, k, v, T, H, K,
                                                                hd, window, scale);
    return ik_cuda__launched("flash_bwd (dq)");
}
