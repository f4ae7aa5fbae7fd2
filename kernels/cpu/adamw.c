/* kernels/cpu/adamw.c - the AdamW update of the trainable (LoRA) parameters
 * and gradient-norm clipping (see kernels.h for the exact formulas, which are
 * torch.optim.AdamW's and torch.nn.utils.clip_grad_norm_'s). */
#include <math.h>
#include <stddef.h>

#include "kernels/kernels.h"

void ik_cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                  float b2, float eps, float wd, int t)
{
    /* Bias corrections in double: 1 - b2^t is tiny for small t. */
    double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2)), decay = 1.0f - lr * wd;
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] *= decay;
        p[i] -= step * m[i] / (sqrtf(v[i]) * rbc2 + eps);
    }
}

double ik_cpu_clip_grad_norm(float *g, size_t n, double max_norm)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        float f = (float)(max_norm / (norm + 1e-6));
        for (size_t i = 0; i < n; i++)
            g[i] *= f;
    }
    return norm;
}
