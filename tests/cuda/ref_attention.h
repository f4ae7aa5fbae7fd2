/* tests/cuda/ref_attention.h - the fused attentions' softmax statistics in
 * double, the reference of ->sdpa_fwd's and ->flash_fwd's stats (cuda_ops.h),
 * shared by test_attention_cudnn.c and check_attention_flash.c. */
#ifndef IK_TESTS_CUDA_REF_ATTENTION_H
#define IK_TESTS_CUDA_REF_ATTENTION_H

#include <math.h>
#include <stddef.h>

/* stats (H, T): each row's natural-log logsumexp of its scaled, visible
 * scores (causal, the window; GQA with H a multiple of K), in double. */
static inline void ref_attention_lse(float *stats, const float *q, const float *k, int T, int H,
                                     int K, int hd, int window)
{
    double scale = 1.0 / sqrt(hd);
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++) {
            int lo = window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
            double m = -INFINITY, sum = 0;
            for (int pass = 0; pass < 2; pass++)
                for (int j = lo; j <= t; j++) {
                    double dot = 0;
                    for (int i = 0; i < hd; i++)
                        dot += (double)q[((size_t)t * H + h) * hd + i] *
                               k[((size_t)j * K + h / (H / K)) * hd + i];
                    if (pass == 0)
                        m = fmax(m, dot * scale);
                    else
                        sum += exp(dot * scale - m);
                }
            stats[(size_t)h * T + t] = (float)(m + log(sum));
        }
}

#endif
