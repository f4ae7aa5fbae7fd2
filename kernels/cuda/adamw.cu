/* kernels/cuda/adamw.cu - one AdamW step on the device, as ik_cpu_adamw
 * (kernels/kernels.h, kernels/cpu/adamw.c): the scalars (bias corrections in
 * double, the step, the decay) are computed on the host with the CPU's
 * expressions, and each element's update rounds every operation on its own
 * (the _rn intrinsics: no fused multiply-add) in the CPU's order, so the
 * results are the CPU's bits wherever the CPU build does not contract. */
#include <math.h>

#include "kernels/cuda/cuda_util.h"

struct adamw_scalars {
    float b1, ob1, b2, ob2, step, rbc2, decay, eps;
};

__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n,
                             struct adamw_scalars s)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i];
        float mi = __fadd_rn(__fmul_rn(s.b1, m[i]), __fmul_rn(s.ob1, gi));
        float vi = __fadd_rn(__fmul_rn(s.b2, v[i]), __fmul_rn(__fmul_rn(s.ob2, gi), gi));
        m[i] = mi;
        v[i] = vi;
        float pi = __fmul_rn(p[i], s.decay);
        float den = __fadd_rn(__fmul_rn(__fsqrt_rn(vi), s.rbc2), s.eps);
        p[i] = __fsub_rn(pi, __fdiv_rn(__fmul_rn(s.step, mi), den));
    }
}

extern "C" int ik_cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr,
                             float b1, float b2, float eps, float wd, int t)
{
    if (t < 1)
        return ik_cuda__bad_arg("adamw", "t = %d (t >= 1)", t);
    if (n == 0)
        return 0;
    /* Bias corrections in double: 1 - b2^t is tiny for small t. */
    double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    struct adamw_scalars s;
    s.b1 = b1;
    s.ob1 = 1.0f - b1;
    s.b2 = b2;
    s.ob2 = 1.0f - b2;
    s.step = (float)(lr / bc1);
    s.rbc2 = (float)(1.0 / sqrt(bc2));
    s.decay = 1.0f - lr * wd;
    s.eps = eps;
    adamw_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(p, g, m, v, n, s);
    return ik_cuda__launched("adamw");
}
