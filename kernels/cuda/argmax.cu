/* kernels/cuda/argmax.cu - row-wise argmax on the device, as
 * ik_cpu_argmax_rows (kernels/kernels.h): out[n] = the first column of row
 * n's largest entry, NaNs passed over, 0 for a row with no entry above -inf.
 *
 * One block per row. Each thread walks columns tid, tid + blockDim, ... in
 * increasing order with a strict > (so it keeps the first of its equal
 * values and never takes a NaN or a -inf), then the block merges the
 * (value, column) pairs: the larger value wins, the smaller column on a tie,
 * a pair without a column (-1) never. Whatever the merge order, that is the
 * first column of the row's maximum, the CPU's answer; the result is exact,
 * no tolerance. */
#include <math.h>

#include "kernels/cuda/cuda_util.h"

enum { ARGMAX_THREADS = 512 };

__global__ void argmax_rows_kernel(int *out, const float *x, int V)
{
    __shared__ float sb[32];
    __shared__ int sj[32];
    const float *l = x + (size_t)blockIdx.x * V;
    float b = -INFINITY;
    int j = -1;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float e = l[v];
        if (e > b) { /* false for NaN, and for -inf against the initial -inf */
            b = e;
            j = v;
        }
    }
    j = ik_cuda__block_argmax(b, j, sb, sj);
    if (threadIdx.x == 0)
        out[blockIdx.x] = j;
}

/* V = 0 is allowed, as on the CPU: each of the N rows then gets 0 (so this
 * launches even for V = 0, unlike the other entries' sizes of 0). */
extern "C" int ik_cuda_argmax_rows(int *out, const float *x, int N, int V)
{
    if (N < 0 || V < 0)
        return ik_cuda__bad_arg("argmax_rows", "N = %d, V = %d (both >= 0)", N, V);
    if (N == 0)
        return 0;
    argmax_rows_kernel<<<N, ik_cuda__row_threads(V, ARGMAX_THREADS)>>>(out, x, V);
    return ik_cuda__launched("argmax_rows");
}
