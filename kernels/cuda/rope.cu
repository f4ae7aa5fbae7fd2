/* kernels/cuda/rope.cu - rotary embedding forward and backward on the device,
 * as ik_cpu_rope_fwd/bwd (kernels/kernels.h): Hugging Face rotate_half
 * layout, in place. One thread per (row, frequency) forms the angle, its
 * cosine and sine in double as the CPU does (so long positions keep their
 * precision), and rotates that pair in every head; the products are rounded
 * one by one (no fused multiply-add), in the CPU's order.
 *
 * qk_norm_rope_fwd/bwd fuse Qwen3's per-head q/k RMSNorm with the rotation:
 * one block per (row, head) keeps the head's hd values in shared memory
 * between the two, where the separate kernels wrote and re-read them (and
 * the backward needed a zeroed buffer besides). The norm is rmsnorm.cu's
 * (ik_cuda__row_rstd, the same thread count) and the rotation rounds as
 * rope_kernel, so the forward's bits are those of the pair. */
#include "kernels/cuda/cuda_util.h"

/* The angle of position p at frequency f, as rope_kernel forms it. */
__device__ __forceinline__ void rope_angle(int p, float f, float sign, float *c, float *s)
{
    double ang = (double)p * f;
    *c = (float)cos(ang);
    *s = sign * (float)sin(ang);
}

__global__ void rope_kernel(float *x, const int *pos, const float *inv_freq, size_t N, int nh,
                            int hd, float sign)
{
    int half = hd / 2;
    size_t total = N * half;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / half;
        int j = (int)(i % half);
        float c, s;
        rope_angle(pos[n], inv_freq[j], sign, &c, &s);
        for (int h = 0; h < nh; h++) {
            float *v = x + (n * nh + h) * hd;
            float x0 = v[j], x1 = v[j + half];
            v[j] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
            v[j + half] = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(x0, s));
        }
    }
}

static int rope(const char *what, float *x, const int *pos, const float *inv_freq, int N, int nh,
                int hd, float sign)
{
    if (N < 0 || nh < 0 || hd <= 0 || hd % 2 != 0)
        return ik_cuda__bad_arg(what, "N = %d, nh = %d, hd = %d (N, nh >= 0; hd even, > 0)", N, nh,
                                hd);
    size_t pairs = (size_t)N * (hd / 2);
    if (pairs == 0 || nh == 0)
        return 0;
    rope_kernel<<<ik_cuda__blocks(pairs), IK_CUDA_THREADS>>>(x, pos, inv_freq, (size_t)N, nh, hd,
                                                             sign);
    return ik_cuda__launched(what);
}

extern "C" int ik_cuda_rope_fwd(float *x, const int *pos, const float *inv_freq, int N, int nh,
                                int hd)
{
    return rope("rope_fwd", x, pos, inv_freq, N, nh, hd, 1.0f);
}

/* The rotation is orthogonal: its backward is the rotation by -angle. */
extern "C" int ik_cuda_rope_bwd(float *d, const int *pos, const float *inv_freq, int N, int nh,
                                int hd)
{
    return rope("rope_bwd", d, pos, inv_freq, N, nh, hd, -1.0f);
}

/* Rotates the hd values of v (shared) in place by position p (sign -1: the
 * inverse), thread-strided over the pairs; the caller synchronises. */
__device__ __forceinline__ void rope_row(float *v, int p, const float *inv_freq, int hd, float sign)
{
    int half = hd / 2;
    for (int j = threadIdx.x; j < half; j += blockDim.x) {
        float c, s;
        rope_angle(p, inv_freq[j], sign, &c, &s);
        float x0 = v[j], x1 = v[j + half];
        v[j] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
        v[j + half] = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(x0, s));
    }
}

/* Row blockIdx.x = (n, h) of (N, nh, hd): out = rope(rmsnorm(x)), rstd[row]. */
__global__ void qk_norm_rope_fwd_kernel(float *out, float *rstd, const float *x, const float *w,
                                        const int *pos, const float *inv_freq, int nh, int hd,
                                        float eps)
{
    extern __shared__ float buf[]; /* hd */
    __shared__ float red[32];
    size_t row = blockIdx.x;
    const float *xr = x + row * hd;
    float r = ik_cuda__row_rstd(xr, hd, eps, red);
    if (rstd != NULL && threadIdx.x == 0)
        rstd[row] = r;
    for (int c = threadIdx.x; c < hd; c += blockDim.x)
        buf[c] = xr[c] * r * w[c];
    __syncthreads(); /* every read of xr is done: out may be x */
    if (inv_freq != NULL) {
        rope_row(buf, pos[row / nh], inv_freq, hd, 1.0f);
        __syncthreads();
    }
    for (int c = threadIdx.x; c < hd; c += blockDim.x)
        out[row * hd + c] = buf[c];
}

/* dx = rmsnorm_bwd(rope_bwd(dout)) for row blockIdx.x, overwritten. */
__global__ void qk_norm_rope_bwd_kernel(float *dx, const float *dout, const float *x,
                                        const float *rstd, const float *w, const int *pos,
                                        const float *inv_freq, int nh, int hd)
{
    extern __shared__ float buf[]; /* hd */
    __shared__ float red[32];
    size_t row = blockIdx.x;
    const float *xr = x + row * hd;
    for (int c = threadIdx.x; c < hd; c += blockDim.x)
        buf[c] = dout[row * hd + c];
    __syncthreads(); /* every read of dout is done: dx may be dout */
    if (inv_freq != NULL) {
        rope_row(buf, pos[row / nh], inv_freq, hd, -1.0f);
        __syncthreads();
    }
    float r = rstd[row], k = ik_cuda__rmsnorm_bwd_k(buf, xr, w, r, hd, red);
    for (int c = threadIdx.x; c < hd; c += blockDim.x)
        dx[row * hd + c] = r * w[c] * buf[c] - xr[c] * k;
}

static int qk_norm_rope_args(const char *what, int N, int nh, int hd, const float *inv_freq)
{
    if (N < 0 || nh < 0 || hd <= 0 || hd > 4096 || (inv_freq != NULL && hd % 2 != 0))
        return ik_cuda__bad_arg(what, "N = %d, nh = %d, hd = %d (N, nh >= 0; 0 < hd <= 4096, "
                                "even with RoPE)", N, nh, hd);
    return 0;
}

extern "C" int ik_cuda_qk_norm_rope_fwd(float *out, float *rstd, const float *x, const float *w,
                                        const int *pos, const float *inv_freq, int N, int nh,
                                        int hd, float eps)
{
    const char *what = "qk_norm_rope_fwd";
    if (qk_norm_rope_args(what, N, nh, hd, inv_freq))
        return -1;
    size_t rows = (size_t)N * nh;
    if (rows == 0)
        return 0;
    qk_norm_rope_fwd_kernel<<<(unsigned)rows, ik_cuda__row_threads(hd, 512), hd * sizeof(float)>>>(
        out, rstd, x, w, pos, inv_freq, nh, hd, eps);
    return ik_cuda__launched(what);
}

extern "C" int ik_cuda_qk_norm_rope_bwd(float *dx, const float *dout, const float *x,
                                        const float *rstd, const float *w, const int *pos,
                                        const float *inv_freq, int N, int nh, int hd)
{
    const char *what = "qk_norm_rope_bwd";
    if (qk_norm_rope_args(what, N, nh, hd, inv_freq))
        return -1;
    size_t rows = (size_t)N * nh;
    if (rows == 0)
        return 0;
    qk_norm_rope_bwd_kernel<<<(unsigned)rows, ik_cuda__row_threads(hd, 512), hd * sizeof(float)>>>(
        dx, dout, x, rstd, w, pos, inv_freq, nh, hd);
    return ik_cuda__launched(what);
}
