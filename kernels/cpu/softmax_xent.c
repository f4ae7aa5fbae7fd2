/* kernels/cpu/softmax_xent.c - per-row softmax cross-entropy (no reduction),
 * with a double log-sum-exp so scores of long texts add up exactly enough. */
#include <math.h>
#include <stddef.h>

#include "kernels/kernels.h"

void ik_cpu_softmax_xent_fwd(float *nll, const float *logits, const int *targets, int N, int V)
{
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * V;
        float mx = l[0];
        for (int v = 1; v < V; v++)
            if (l[v] > mx)
                mx = l[v];
        double sum = 0;
        for (int v = 0; v < V; v++)
            sum += exp((double)l[v] - mx);
        nll[n] = (float)(log(sum) + mx - l[targets[n]]);
    }
}

void ik_cpu_softmax_xent_bwd(float *dlogits, const float *logits, const int *targets,
                             const float *dnll, int N, int V)
{
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * V;
        float *g = dlogits + (size_t)n * V;
        if (dnll[n] == 0.0f) {
            for (int v = 0; v < V; v++)
                g[v] = 0.0f;
            continue;
        }
        float mx = l[0];
        for (int v = 1; v < V; v++)
            if (l[v] > mx)
                mx = l[v];
        double sum = 0;
        for (int v = 0; v < V; v++)
            sum += exp((double)l[v] - mx);
        double lse = log(sum) + mx, w = dnll[n];
        for (int v = 0; v < V; v++)
            g[v] = (float)(w * exp((double)l[v] - lse));
        g[targets[n]] -= (float)w;
    }
}
