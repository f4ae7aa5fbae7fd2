/* kernels/cuda/dropout.cu - inverted dropout on the device with
 * ik_cpu_dropout's draw (kernels/kernels.h, kernels/cpu/dropout.c;
 * dropout_mask.h has it), so the masks are the same and the kept values the
 * same bits (one multiply, one rounding). */
#include "kernels/cuda/cuda_util.h"
#include "kernels/cuda/dropout_mask.h"

/* out = dropout(x), or with ADD out += dropout(x) (->dropout_add: the
 * same value, then one add; __fmul_rn/__fadd_rn so that nvcc fuses neither
 * into an FMA and the bits are ->dropout's then ->add's). out may equal x
 * without ADD. */
template <bool ADD>
__global__ void dropout_kernel(float *out, const float *x, size_t n, struct ik_cuda__dropout d)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = ik_cuda__dropped(d, i, x[i]);
        out[i] = ADD ? __fadd_rn(out[i], v) : v;
    }
}

/* Checks p and launches; WHAT names the entry. */
static int launch_dropout(const char *what, bool add, float *out, const float *x, size_t n,
                          float p, uint64_t key)
{
    if (!(p > 0.0f && p < 1.0f))
        return ik_cuda__bad_arg(what, "p = %g (0 < p < 1)", (double)p);
    if (n == 0)
        return 0;
    struct ik_cuda__dropout d = ik_cuda__dropout_of(p, key);
    if (add)
        dropout_kernel<true><<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, x, n, d);
    else
        dropout_kernel<false><<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, x, n, d);
    return ik_cuda__launched(what);
}

extern "C" int ik_cuda_dropout(float *out, const float *x, size_t n, float p, uint64_t key)
{
    return launch_dropout("dropout", false, out, x, n, p, key);
}

extern "C" int ik_cuda_dropout_add(float *out, const float *g, size_t n, float p, uint64_t key)
{
    return launch_dropout("dropout_add", true, out, g, n, p, key);
}
