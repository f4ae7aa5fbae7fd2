/* kernels/cpu/conv1d_bwd.c - the input gradient of Mamba-2's causal
 * depthwise conv1d over a whole sequence from a zero state (see kernels.h):
 * input row j feeds output rows j..j+Kc-1, tap k of output row t reading
 * row t+k-(Kc-1), so dx[j] = sum_k w[k] dout[j+(Kc-1)-k] over the rows that
 * exist. The taps and the bias are frozen weights: no gradient for them.
 * Channels run on the thread pool, each its own column of dx. */
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

struct conv_bwd {
    float *dx;
    const float *dout, *w;
    int lddx, T, C, Kc;
};

static void channels_bwd(void *ctx, size_t lo, size_t hi)
{
    const struct conv_bwd *a = ctx;
    int T = a->T, C = a->C, Kc = a->Kc, past = Kc - 1;
    for (size_t c = lo; c < hi; c++) {
        const float *w = a->w + c * (size_t)Kc;
        for (int j = 0; j < T; j++) {
            float acc = 0;
            for (int k = 0; k < Kc; k++) {
                int t = j + past - k; /* the output row whose tap k read row j */
                if (t < T)
                    acc += w[k] * a->dout[(size_t)t * C + c];
            }
            a->dx[(size_t)j * a->lddx + c] += acc;
        }
    }
}

void ik_cpu_conv1d_bwd(float *dx, int lddx, const float *dout, const float *w, int T, int C,
                       int Kc)
{
    struct conv_bwd a = {dx, dout, w, lddx, T, C, Kc};
    ik_cpu_parallel_for((size_t)C, (size_t)C * T * Kc * 2, channels_bwd, &a);
}
