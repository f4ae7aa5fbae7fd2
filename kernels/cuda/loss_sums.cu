/* kernels/cuda/loss_sums.cu - a training step's loss and token accuracy
 * summed on the device, so the step's end brings back two numbers instead of
 * each row's nll and argmax (8 bytes a token): sums[0] = the sum of nll[n]
 * and sums[1] = how many amax[n] equal targets[n], over the rows n whose
 * mask byte is nonzero (mask NULL: every row).
 *
 * One block: each thread sums a strided share in double (nll in fp32 is
 * summed as the CPU path sums its rows, in double), then the block's tree
 * adds the shares in a fixed order, so the sums do not vary from run to run;
 * against a serial sum they differ only in the last bits of the double. */
#include "kernels/cuda/cuda_util.h"

enum { SUM_THREADS = 1024 };

__global__ void loss_sums_kernel(double *sums, const float *nll, const int *amax,
                                 const int *targets, const unsigned char *mask, int N)
{
    __shared__ double part[SUM_THREADS];
    __shared__ int hits[SUM_THREADS];
    double s = 0;
    int h = 0;
    for (int n = threadIdx.x; n < N; n += SUM_THREADS)
        if (mask == NULL || mask[n]) {
            s += nll[n];
            h += amax[n] == targets[n];
        }
    part[threadIdx.x] = s;
    hits[threadIdx.x] = h;
    __syncthreads();
    for (unsigned w = SUM_THREADS / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) {
            part[threadIdx.x] += part[threadIdx.x + w];
            hits[threadIdx.x] += hits[threadIdx.x + w];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        sums[0] = part[0];
        sums[1] = hits[0];
    }
}

extern "C" int ik_cuda_loss_sums(double *sums, const float *nll, const int *amax,
                                 const int *targets, const unsigned char *mask, int N)
{
    if (N < 0)
        return ik_cuda__bad_arg("loss_sums", "N = %d (>= 0)", N);
    /* N = 0 still launches: the sums are written (zeros). */
    loss_sums_kernel<<<1, SUM_THREADS>>>(sums, nll, amax, targets, mask, N);
    return ik_cuda__launched("loss_sums");
}
