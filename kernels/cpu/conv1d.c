/* kernels/cpu/conv1d.c - Mamba-2's causal depthwise conv1d (see kernels.h):
 * each channel its own Kc taps over time, continuing from the previous
 * call's last Kc-1 inputs, so a prompt cut into chunks, or decoded token by
 * token, gets the numbers of one call. Channels run on the thread pool; each
 * output sums its taps in one order (bias, then oldest tap first). */
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

struct conv {
    float *out, *state;
    const float *x, *w, *bias;
    int ldx, T, C, Kc;
};

static void conv_channels(void *ctx, size_t lo, size_t hi)
{
    const struct conv *a = ctx;
    int T = a->T, C = a->C, Kc = a->Kc, past = Kc - 1;
    for (size_t c = lo; c < hi; c++) {
        const float *w = a->w + c * (size_t)Kc;
        for (int t = 0; t < T; t++) {
            float acc = a->bias ? a->bias[c] : 0.0f;
            for (int k = 0; k < Kc; k++) {
                int j = t + k - past; /* the input row this tap reads */
                float v = j >= 0 ? a->x[(size_t)j * a->ldx + c] : a->state[(size_t)(past + j) * C + c];
                acc += w[k] * v;
            }
            a->out[(size_t)t * C + c] = acc;
        }
        /* The last Kc-1 inputs become the past: older state rows first when T < Kc-1. */
        for (int r = 0; r < past; r++) {
            int j = T - past + r;
            a->state[(size_t)r * C + c] = j >= 0 ? a->x[(size_t)j * a->ldx + c]
                                                 : a->state[(size_t)(r + T) * C + c];
        }
    }
}

void ik_cpu_conv1d_fwd(float *out, float *state, const float *x, int ldx, const float *w,
                       const float *bias, int T, int C, int Kc)
{
    struct conv a = {out, state, x, w, bias, ldx, T, C, Kc};
    ik_cpu_parallel_for((size_t)C, (size_t)C * T * Kc * 2, conv_channels, &a);
}
