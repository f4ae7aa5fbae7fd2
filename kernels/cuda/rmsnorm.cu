/* kernels/cuda/rmsnorm.cu - RMSNorm forward and backward on the device, as
 * ik_cpu_rmsnorm_fwd/bwd (kernels/kernels.h). One block per row forms the
 * row's sum in fp32 (the CPU sums in double; the test's tolerance covers the
 * difference); the reciprocal RMS itself is taken in double as the CPU's. The
 * weight gradient is a second kernel over column tiles that sums the rows in
 * a fixed order, so dw is the same from run to run (no atomics). The fused
 * residual add and norm (add_rmsnorm_fwd) maps threads to columns as the
 * plain forward does, so its sums, and hence its bits, are the same. */
#include "kernels/cuda/cuda_util.h"

__global__ void rmsnorm_fwd_kernel(float *out, float *rstd, const float *x, const float *w, int C,
                                   float eps)
{
    __shared__ float red[32];
    size_t n = blockIdx.x;
    const float *xr = x + n * C;
    float *o = out + n * C;
    float r = ik_cuda__row_rstd(xr, C, eps, red); /* every read of xr is done: out may be x */
    if (rstd != NULL && threadIdx.x == 0)
        rstd[n] = r;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        o[c] = xr[c] * r * w[c];
}

/* sum = a + b and out = rmsnorm(sum), one block per row: each thread reads
 * back only the sums it wrote, so no barrier is needed before the second
 * loop, and sum may be a or b. */
__global__ void add_rmsnorm_fwd_kernel(float *sum, float *out, float *rstd, const float *a,
                                       const float *b, const float *w, int C, float eps)
{
    __shared__ float red[32];
    size_t n = blockIdx.x;
    const float *ar = a + n * C, *br = b + n * C;
    float *s = sum + n * C, *o = out + n * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float x = ar[c] + br[c];
        s[c] = x;
        ss += x * x;
    }
    float r = ik_cuda__rstd_of(ss, C, eps, red);
    if (rstd != NULL && threadIdx.x == 0)
        rstd[n] = r;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        o[c] = s[c] * r * w[c];
}

/* dx += r * (w*dy) - x * r^3 / C * sum(w*dy*x), one block per row. */
__global__ void rmsnorm_bwd_dx_kernel(float *dx, const float *dout, const float *x,
                                      const float *rstd, const float *w, int C)
{
    __shared__ float red[32];
    size_t n = blockIdx.x;
    const float *xr = x + n * C, *dy = dout + n * C;
    float *g = dx + n * C;
    float r = rstd[n], k = ik_cuda__rmsnorm_bwd_k(dy, xr, w, r, C, red);
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        g[c] += r * w[c] * dy[c] - xr[c] * k;
}

/* dw[c] += sum_n dout[n][c] * x[n][c] * rstd[n]: a block holds 32 columns
 * (threadIdx.x, coalesced) by DW_ROWS row phases (threadIdx.y); each thread
 * sums its rows in order, then one thread per column adds the phases in
 * order. */
enum { DW_ROWS = 8 };

__global__ void rmsnorm_bwd_dw_kernel(float *dw, const float *dout, const float *x,
                                      const float *rstd, int N, int C)
{
    __shared__ float part[DW_ROWS][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (c < C)
        for (int n = threadIdx.y; n < N; n += DW_ROWS)
            s += dout[(size_t)n * C + c] * x[(size_t)n * C + c] * rstd[n];
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float t = 0.0f;
        for (int i = 0; i < DW_ROWS; i++)
            t += part[i][threadIdx.x];
        dw[c] += t;
    }
}

extern "C" int ik_cuda_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, int N,
                                   int C, float eps)
{
    if (N < 0 || C <= 0)
        return ik_cuda__bad_arg("rmsnorm_fwd", "N = %d, C = %d (N >= 0, C > 0)", N, C);
    if (N == 0)
        return 0;
    rmsnorm_fwd_kernel<<<N, ik_cuda__row_threads(C, 512)>>>(out, rstd, x, w, C, eps);
    return ik_cuda__launched("rmsnorm_fwd");
}

extern "C" int ik_cuda_add_rmsnorm_fwd(float *sum, float *out, float *rstd, const float *a,
                                       const float *b, const float *w, int N, int C, float eps)
{
    if (N < 0 || C <= 0)
        return ik_cuda__bad_arg("add_rmsnorm_fwd", "N = %d, C = %d (N >= 0, C > 0)", N, C);
    if (N == 0)
        return 0;
    add_rmsnorm_fwd_kernel<<<N, ik_cuda__row_threads(C, 512)>>>(sum, out, rstd, a, b, w, C, eps);
    return ik_cuda__launched("add_rmsnorm_fwd");
}

extern "C" int ik_cuda_rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x,
                                   const float *rstd, const float *w, int N, int C)
{
    if (N < 0 || C <= 0)
        return ik_cuda__bad_arg("rmsnorm_bwd", "N = %d, C = %d (N >= 0, C > 0)", N, C);
    if (N == 0)
        return 0;
    rmsnorm_bwd_dx_kernel<<<N, ik_cuda__row_threads(C, 512)>>>(dx, dout, x, rstd, w, C);
    if (ik_cuda__launched("rmsnorm_bwd_dx") != 0)
        return -1;
    if (dw == NULL)
        return 0;
    rmsnorm_bwd_dw_kernel<<<(C + 31) / 32, dim3(32, DW_ROWS)>>>(dw, dout, x, rstd, N, C);
    return ik_cuda__launched("rmsnorm_bwd_dw");
}
