/* kernels/cuda/embed.cu - the embedding lookup of the training step on the
 * device (cuda_ops.h, ->embed_rows_bf16): row t of out (T,D) is row
 * tokens[t] of a BF16 table (V,D), widened to fp32. Widening BF16 is exact
 * (the 16 bits become the high half of the float, NaN payloads included), so
 * the result is the host's widening bit for bit. The tokens are read on the
 * device and not range-checked: the caller checks them once, on the host,
 * before they are uploaded. */
#include "kernels/cuda/cuda_util.h"

__global__ void embed_rows_bf16_kernel(float *out, const uint16_t *table, const int *tokens,
                                       size_t n, unsigned D)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / D, d = i - t * D;
        uint16_t h = table[(size_t)tokens[t] * D + d];
        out[i] = __uint_as_float((uint32_t)h << 16);
    }
}

extern "C" int ik_cuda_embed_rows_bf16(float *out, const uint16_t *table, const int *tokens,
                                       int T, int D)
{
    if (T < 0 || D < 0)
        return ik_cuda__bad_arg("embed_rows_bf16", "T = %d, D = %d (both >= 0)", T, D);
    size_t n = (size_t)T * D;
    if (n == 0)
        return 0;
    embed_rows_bf16_kernel<<<ik_cuda__blocks(n), IK_CUDA_THREADS>>>(out, table, tokens, n,
                                                                    (unsigned)D);
    return ik_cuda__launched("embed_rows_bf16");
}
