/* kernels/cpu/rope.c - rotary position embedding, Hugging Face rotate_half
 * layout (llama2.c's adjacent-pair weights are permuted into it on load). The
 * angle is computed in double so long positions keep their precision. */
#include <math.h>
#include <stddef.h>

#include "kernels/kernels.h"

void ik_cpu_rope_fwd(float *x, const int *pos, const float *inv_freq, int N, int nh, int hd)
{
    int half = hd / 2;
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < half; j++) {
            double a = (double)pos[n] * inv_freq[j];
            float c = (float)cos(a), s = (float)sin(a);
            for (int h = 0; h < nh; h++) {
                float *v = x + ((size_t)n * nh + h) * hd;
                float x0 = v[j], x1 = v[j + half];
                v[j] = x0 * c - x1 * s;
                v[j + half] = x1 * c + x0 * s;
            }
        }
    }
}

/* The rotation is orthogonal, so its backward is the rotation by -angle. */
void ik_cpu_rope_bwd(float *d, const int *pos, const float *inv_freq, int N, int nh, int hd)
{
    int half = hd / 2;
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < half; j++) {
            double a = (double)pos[n] * inv_freq[j];
            float c = (float)cos(a), s = (float)sin(a);
            for (int h = 0; h < nh; h++) {
                float *v = d + ((size_t)n * nh + h) * hd;
                float y0 = v[j], y1 = v[j + half];
                v[j] = y0 * c + y1 * s;
                v[j + half] = y1 * c - y0 * s;
            }
        }
    }
}
