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

/* With p = softmax(s), s_j = scale * q.k_j and o = sum_j p_j v_j:
 * dv_j += p_j do; dp_j = do.v_j; ds_j = p_j (dp_j - sum_i p_i dp_i);
 * dq += scale * sum_j ds_j k_j; dk_j += scale * ds_j q. */
void ik_cpu_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const float *k, const float *v, int T, int H, int K, int hd, int window,
                          float *scratch)
{
    int group = H / K, kvw = K * hd;
    float scale = 1.0f / sqrtf((float)hd);
    float *p = scratch, *dp = scratch + T;
    for (int t = 0; t < T; t++) {
        int j0 = window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
        for (int h = 0; h < H; h++) {
            const float *qh = q + ((size_t)t * H + h) * hd, *doh = dout + ((size_t)t * H + h) * hd;
            float *dqh = dq + ((size_t)t * H + h) * hd;
            int kh = h / group;
            /* The same float operations as the forward, so p matches it exactly. */
            float mx = -INFINITY;
            for (int j = j0; j <= t; j++) {
                const float *kj = k + (size_t)j * kvw + (size_t)kh * hd;
                float s = 0;
                for (int e = 0; e < hd; e++)
                    s += qh[e] * kj[e];
                s *= scale;
                p[j] = s;
                if (s > mx)
                    mx = s;
            }
            float sum = 0;
            for (int j = j0; j <= t; j++) {
                p[j] = expf(p[j] - mx);
                sum += p[j];
            }
            float dot = 0;
            for (int j = j0; j <= t; j++) {
                p[j] /= sum;
                const float *vj = v + (size_t)j * kvw + (size_t)kh * hd;
                float *dvj = dv + (size_t)j * kvw + (size_t)kh * hd;
                float s = 0;
                for (int e = 0; e < hd; e++) {
                    s += doh[e] * vj[e];
                    dvj[e] += p[j] * doh[e];
                }
                dp[j] = s;
                dot += p[j] * s;
            }
            for (int j = j0; j <= t; j++) {
                float ds = p[j] * (dp[j] - dot) * scale;
                const float *kj = k + (size_t)j * kvw + (size_t)kh * hd;
                float *dkj = dk + (size_t)j * kvw + (size_t)kh * hd;
                for (int e = 0; e < hd; e++) {
                    dqh[e] += ds * kj[e];
                    dkj[e] += ds * qh[e];
                }
            }
        }
    }
}
