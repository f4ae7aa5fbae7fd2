/* kernels/cpu/attention.c - causal grouped-query attention over a KV cache
 * (see kernels.h): one query at a time, a max-subtracted softmax, plain loops. */
#include <math.h>
#include <stddef.h>

#include "kernels/kernels.h"

void ik_cpu_attention_fwd(float *out, const float *q, const float *kc, const float *vc, int T,
                          int pos0, int H, int K, int hd, int window, float *scratch)
{
    int group = H / K, kvw = K * hd;
    float scale = 1.0f / sqrtf((float)hd);
    for (int t = 0; t < T; t++) {
        int p = pos0 + t;
        int j0 = window > 0 && p - window + 1 > 0 ? p - window + 1 : 0;
        for (int h = 0; h < H; h++) {
            const float *qh = q + ((size_t)t * H + h) * hd;
            int kh = h / group;
            float mx = -INFINITY;
            for (int j = j0; j <= p; j++) {
                const float *kj = kc + (size_t)j * kvw + (size_t)kh * hd;
                float s = 0;
                for (int e = 0; e < hd; e++)
                    s += qh[e] * kj[e];
                s *= scale;
                scratch[j] = s;
                if (s > mx)
                    mx = s;
            }
            float sum = 0;
            for (int j = j0; j <= p; j++) {
                scratch[j] = expf(scratch[j] - mx);
                sum += scratch[j];
            }
            float *o = out + ((size_t)t * H + h) * hd;
            for (int e = 0; e < hd; e++)
                o[e] = 0;
            for (int j = j0; j <= p; j++) {
                const float *vj = vc + (size_t)j * kvw + (size_t)kh * hd;
                float a = scratch[j] / sum;
                for (int e = 0; e < hd; e++)
                    o[e] += a * vj[e];
            }
        }
    }
}
