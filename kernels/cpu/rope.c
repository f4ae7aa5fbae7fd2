/* kernels/cpu/rope.c - rotary position embedding, Hugging Face rotate_half
 * layout (llama2.c's adjacent-pair weights are permuted into it on load). The
 * angle is computed in double so long positions keep their precision. Rows run
 * on the kernels' thread pool (parallel.h). */
#include <math.h>
#include <stddef.h>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

struct rope {
    float *x;
    const int *pos;
    const float *inv_freq;
    int nh, hd;
    float sign; /* +1 forward, -1 backward (the rotation by -angle) */
};

static void rows(void *ctx, size_t lo, size_t hi)
{
    const struct rope *a = ctx;
    int half = a->hd / 2;
    for (size_t n = lo; n < hi; n++) {
        for (int j = 0; j < half; j++) {
            double ang = (double)a->pos[n] * a->inv_freq[j];
            float c = (float)cos(ang), s = a->sign * (float)sin(ang);
            for (int h = 0; h < a->nh; h++) {
                float *v = a->x + (n * a->nh + h) * a->hd;
                float x0 = v[j], x1 = v[j + half];
                v[j] = x0 * c - x1 * s;
                v[j + half] = x1 * c + x0 * s;
            }
        }
    }
}

void ik_cpu_rope_fwd(float *x, const int *pos, const float *inv_freq, int N, int nh, int hd)
{
    struct rope a = {x, pos, inv_freq, nh, hd, 1.0f};
    ik_cpu_parallel_for((size_t)N, (size_t)N * (hd / 2) * (nh * 6 + 40), rows, &a);
}

/* The rotation is orthogonal, so its backward is the rotation by -angle. */
void ik_cpu_rope_bwd(float *d, const int *pos, const float *inv_freq, int N, int nh, int hd)
{
    struct rope a = {d, pos, inv_freq, nh, hd, -1.0f};
    ik_cpu_parallel_for((size_t)N, (size_t)N * (hd / 2) * (nh * 6 + 40), rows, &a);
}
