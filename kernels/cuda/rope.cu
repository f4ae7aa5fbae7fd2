/* kernels/cuda/rope.cu - rotary embedding forward and backward on the device,
 * as ik_cpu_rope_fwd/bwd (kernels/kernels.h): Hugging Face rotate_half
 * layout, in place. One thread per (row, frequency) forms the angle, its
 * cosine and sine in double as the CPU does (so long positions keep their
 * precision), and rotates that pair in every head; the products are rounded
 * one by one (no fused multiply-add), in the CPU's order. */
#include "kernels/cuda/cuda_util.h"

__global__ void rope_kernel(float *x, const int *pos, const float *inv_freq, size_t N, int nh,
                            int hd, float sign)
{
    int half = hd / 2;
    size_t total = N * half;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / half;
        int j = (int)(i % half);
        double ang = (double)pos[n] * inv_freq[j];
        float c = (float)cos(ang), s = sign * (float)sin(ang);
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
