/* tests/cuda/check_softmax_xent.c - test_cuda_kernels' checks of softmax
 * cross-entropy with its gradient (softmax_xent.cu) against the CPU
 * references (kernels/kernels.h); each returns the number of comparisons
 * that failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

/* Softmax cross-entropy, forward and backward at once, at Qwen2.5's
 * vocabulary (151,936: rows far longer than a block) out of place, and at an
 * odd V in place (dlogits = logits). Logits in [-8, 8); one row with dnll 0
 * (masked: a zero gradient row, its nll still formed), one row whose target
 * logit is 200 (exp(200) overflows fp32 without the max subtracted). nll:
 * the sum of 151,936 terms in another order (the CPU in blocks of 128, the
 * GPU online per thread, merged in a tree), a relative error of a few 1e-7
 * on the sum, so atol 1e-5 on nll values ~10 (~1e-6 relative), rtol 1e-5.
 * dlogits: each softmax term exp(l - max) / sum, a few ulps apart (expf
 * against the CPU's polynomial, the sum's error), hence rtol 1e-4; atol
 * 1e-9 for the terms that underflow on one side (the CPU flushes exp below
 * e^-87 to 0, CUDA returns a denormal). */
int check_softmax_xent(void)
{
    int fails = 0;
    static const int shapes[][2] = {{6, 151936}, {5, 1007}};
    for (int k = 0; k < 2; k++) {
        int N = shapes[k][0], V = shapes[k][1], in_place = k == 1;
        size_t nv = (size_t)N * V;
        float *l = rand_floats(nv, -8, 8), *dnll = rand_floats(N, 0.1f, 1.0f);
        int targets[6];
        for (int i = 0; i < N; i++)
            targets[i] = (int)ik_prng_below(&rng, (uint64_t)V);
        targets[N - 1] = V - 1;
        dnll[1] = 0.0f;
        l[(size_t)2 * V + targets[2]] = 200.0f;
        float *nll = host_floats(N), *dl = host_floats(nv);
        ik_cpu_softmax_xent_fwd_bwd(nll, dl, l, targets, dnll, N, V);
        float *d_l = to_dev(l, nv * 4), *d_dn = to_dev(dnll, N * 4), *d_nll, *d_dl = d_l;
        int *d_t = to_dev(targets, N * sizeof(int));
        CK(ops->alloc((void **)&d_nll, N * 4));
        if (!in_place)
            CK(ops->alloc((void **)&d_dl, nv * 4));
        CK(ops->softmax_xent_fwd_bwd(d_nll, d_dl, d_l, d_t, d_dn, N, V));
        float *gnll = from_dev(d_nll, N), *gdl = from_dev(d_dl, nv);
        char what[64];
        snprintf(what, sizeof what, "softmax_xent nll N=%d V=%d%s", N, V, in_place ? " in place" : "");
        fails += compare(what, gnll, nll, N, 1e-5, 1e-5);
        snprintf(what, sizeof what, "softmax_xent dlogits N=%d V=%d", N, V);
        fails += compare(what, gdl, dl, nv, 1e-9, 1e-4);
        /* The masked row must be exactly zero. */
        size_t nonzero = 0;
        for (int v = 0; v < V; v++)
            nonzero += gdl[(size_t)V + v] != 0.0f;
        if (nonzero) {
            printf("    masked row (dnll 0): %zu nonzero gradients  FAIL\n", nonzero);
            fails++;
        }
        CK(ops->free(d_l));
        CK(ops->free(d_dn));
        CK(ops->free(d_t));
        CK(ops->free(d_nll));
        if (!in_place)
            CK(ops->free(d_dl));
        free(l), free(dnll), free(nll), free(dl), free(gnll), free(gdl);
    }
    return fails;
}
