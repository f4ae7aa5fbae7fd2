/* kernels/cuda/rmsnorm_gated.cu - Mamba-2's gated RMSNorm on the device,
 * forward and backward, as ik_cpu_rmsnorm_gated_fwd/bwd (kernels/kernels.h):
 * v = y silu(z), normalised over each group of Cg = C/G channels. One block
 * per (row, group), a 1-D grid that loops when there are more than
 * IK_CUDA_MAX_BLOCKS: the group's sums in fp32 per thread, then the block's
 * fixed-order tree (ik_cuda__block_sum; the CPU sums in double), the
 * reciprocal RMS and the backward's row terms in double as the CPU's. v is
 * recomputed where it is needed rather than kept (z is a column range of the
 * wider in_proj output, rows ldz apart); a thread reads and writes only its
 * own channels, so out may be y. */
#include "kernels/cuda/cuda_util.h"

/* y silu(z), the CPU's expression (expf where it has its polynomial exp). */
__device__ __forceinline__ float gated(float y, float z) { return y * (z / (1.0f + expf(-z))); }

/* Block b's row and group, and the offset of its first channel in a row. */
struct group_at {
    size_t n;
    int c0;
};

__device__ __forceinline__ group_at group_of(size_t b, int G, int Cg)
{
    group_at a = {b / (unsigned)G, (int)(b % (unsigned)G) * Cg};
    return a;
}

__global__ void rmsnorm_gated_fwd_kernel(float *out, const float *y, const float *z, size_t ldz,
                                         const float *w, size_t groups, int C, int G, float eps)
{
    __shared__ float red[32];
    int Cg = C / G;
    for (size_t b = blockIdx.x; b < groups; b += gridDim.x) {
        group_at a = group_of(b, G, Cg);
        const float *yg = y + a.n * C + a.c0, *zg = z + a.n * ldz + a.c0, *wg = w + a.c0;
        float *o = out + a.n * C + a.c0;
        float ss = 0.0f;
        for (int c = threadIdx.x; c < Cg; c += blockDim.x) {
            float v = gated(yg[c], zg[c]);
            ss += v * v;
        }
        float r = ik_cuda__rstd_of(ss, Cg, eps, red);
        for (int c = threadIdx.x; c < Cg; c += blockDim.x)
            o[c] = gated(yg[c], zg[c]) * r * wg[c];
    }
}

/* Per group, as kernels/cpu/rmsnorm_gated_bwd.c: dv = r w dout - v k with
 * k = sum(w dout v) r^3 / Cg, then dy += dv silu(z), dz += dv y silu'(z). */
__global__ void rmsnorm_gated_bwd_kernel(float *dy, float *dz, size_t lddz, const float *dout,
                                         const float *y, const float *z, size_t ldz,
                                         const float *w, size_t groups, int C, int G, float eps)
{
    __shared__ float red[32];
    int Cg = C / G;
    for (size_t b = blockIdx.x; b < groups; b += gridDim.x) {
        group_at a = group_of(b, G, Cg);
        size_t row = a.n * C + a.c0;
        const float *yg = y + row, *zg = z + a.n * ldz + a.c0, *wg = w + a.c0, *dg = dout + row;
        float ss = 0.0f, dot = 0.0f;
        for (int c = threadIdx.x; c < Cg; c += blockDim.x) {
            float v = gated(yg[c], zg[c]);
            ss += v * v;
            dot += wg[c] * dg[c] * v;
        }
        ss = ik_cuda__block_sum(ss, red);
        dot = ik_cuda__block_sum(dot, red);
        double r = 1.0 / sqrt((double)ss / Cg + eps), k = (double)dot * r * r * r / Cg;
        float *dyg = dy + row, *dzg = dz + a.n * lddz + a.c0;
        for (int c = threadIdx.x; c < Cg; c += blockDim.x) {
            float zc = zg[c], s = 1.0f / (1.0f + expf(-zc)), silu = zc * s;
            float dv = (float)(r * wg[c] * dg[c] - yg[c] * silu * k);
            dyg[c] += dv * silu;
            dzg[c] += dv * yg[c] * s * (1.0f + zc * (1.0f - s));
        }
    }
}

/* The shape both entries refuse: negative sizes, groups that do not divide
 * C, z's rows closer than C. */
static int gated_args(const char *what, int N, int C, int G, int ld, const char *ld_name)
{
    if (N < 0 || C < 0 || G < 1 || C % G != 0 || ld < C)
        return ik_cuda__bad_arg(what, "N = %d, C = %d, G = %d, %s = %d (N, C >= 0, G >= 1 "
                                "dividing C, %s >= C)", N, C, G, ld_name, ld, ld_name);
    return 0;
}

/* Blocks of the (row, group) grid, and threads: Cg rounded up to a warp, at
 * most 256 (the real Cg = 1280 is 5 channels a thread). */
static unsigned group_blocks(size_t groups)
{
    return groups > IK_CUDA_MAX_BLOCKS ? (unsigned)IK_CUDA_MAX_BLOCKS : (unsigned)groups;
}

extern "C" int ik_cuda_rmsnorm_gated_fwd(float *out, const float *y, const float *z, int ldz,
                                         const float *w, int N, int C, int G, float eps)
{
    if (gated_args("rmsnorm_gated_fwd", N, C, G, ldz, "ldz") != 0)
        return -1;
    size_t groups = (size_t)N * G;
    if (groups == 0 || C == 0)
        return 0;
    rmsnorm_gated_fwd_kernel<<<group_blocks(groups), ik_cuda__row_threads(C / G, 256)>>>(
        out, y, z, (size_t)ldz, w, groups, C, G, eps);
    return ik_cuda__launched("rmsnorm_gated_fwd");
}

extern "C" int ik_cuda_rmsnorm_gated_bwd(float *dy, float *dz, int lddz, const float *dout,
                                         const float *y, const float *z, int ldz, const float *w,
                                         int N, int C, int G, float eps)
{
    if (gated_args("rmsnorm_gated_bwd", N, C, G, ldz, "ldz") != 0 ||
        gated_args("rmsnorm_gated_bwd", N, C, G, lddz, "lddz") != 0)
        return -1;
    size_t groups = (size_t)N * G;
    if (groups == 0 || C == 0)
        return 0;
    rmsnorm_gated_bwd_kernel<<<group_blocks(groups), ik_cuda__row_threads(C / G, 256)>>>(
        dy, dz, (size_t)lddz, dout, y, z, (size_t)ldz, w, groups, C, G, eps);
    return ik_cuda__launched("rmsnorm_gated_bwd");
}
