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

/* The head's fused entry: against the CPU references with check_softmax_xent's
 * tolerances (the BF16 gradient adds its rounding, half a BF16 ulp, up to
 * 2^-8 = 3.9e-3 of the value: rtol 4.1e-3 with the 1e-4 above), its argmax
 * exactly (a tie and a -inf placed in the rows), and bit for bit against
 * the module's own ->softmax_xent_fwd_bwd, ->argmax_rows and ->to_bf16,
 * whose work it promises to do in one pass. */
int check_softmax_xent_argmax(void)
{
    int fails = 0;
    static const int shapes[][2] = {{6, 151936}, {5, 1007}};
    for (int k = 0; k < 2; k++) {
        int N = shapes[k][0], V = shapes[k][1], bf16 = k == 0, targets[6], amax[6];
        size_t nv = (size_t)N * V;
        float *l = rand_floats(nv, -8, 8), *dnll = rand_floats(N, 0.1f, 1.0f);
        for (int i = 0; i < N; i++)
            targets[i] = (int)ik_prng_below(&rng, (uint64_t)V);
        dnll[1] = 0.0f;
        l[10] = l[V - 3] = 9.0f;                  /* row 0: a tie, the first wins */
        l[(size_t)3 * V] = -INFINITY;            /* row 3: never the argmax, exp 0 */
        l[(size_t)4 * V + targets[4]] = 12.0f;   /* row 4: the argmax is the target */
        float *nll = host_floats(N), *dl = host_floats(nv);
        ik_cpu_softmax_xent_fwd_bwd(nll, dl, l, targets, dnll, N, V);
        ik_cpu_argmax_rows(amax, l, N, V);
        float *d_l = to_dev(l, nv * 4), *d_dn = to_dev(dnll, N * 4), *d_nll, *d_nll2, *d_dl;
        int *d_t = to_dev(targets, N * sizeof(int)), *d_am, *d_am2;
        uint16_t *d_b = NULL, *d_b2 = NULL;
        CK(ops->alloc((void **)&d_nll, N * 4));
        CK(ops->alloc((void **)&d_nll2, N * 4));
        CK(ops->alloc((void **)&d_am, N * sizeof(int)));
        CK(ops->alloc((void **)&d_am2, N * sizeof(int)));
        CK(ops->alloc((void **)&d_dl, nv * 4));
        /* The module's separate entries first, on a copy (the fp32 one may overwrite). */
        CK(ops->memcpy_dtod(d_dl, d_l, nv * 4));
        CK(ops->argmax_rows(d_am2, d_l, N, V));
        CK(ops->softmax_xent_fwd_bwd(d_nll2, d_dl, d_dl, d_t, d_dn, N, V));
        if (bf16) {
            CK(ops->alloc((void **)&d_b, nv * 2));
            CK(ops->alloc((void **)&d_b2, nv * 2));
            CK(ops->to_bf16(d_b2, d_dl, nv));
            CK(ops->softmax_xent_argmax(d_nll, d_am, d_b, IK_CUDA_BF16, d_l, d_t, d_dn, N, V));
        } else {
            CK(ops->softmax_xent_argmax(d_nll, d_am, d_l, IK_CUDA_F32, d_l, d_t, d_dn, N, V));
        }
        float *gnll = from_dev(d_nll, N), *gnll2 = from_dev(d_nll2, N), *sep = from_dev(d_dl, nv);
        float *g = bf16 ? host_floats(nv) : from_dev(d_l, nv);
        int gam[6], gam2[6];
        CK(ops->memcpy_dtoh(gam, d_am, N * sizeof(int)));
        CK(ops->memcpy_dtoh(gam2, d_am2, N * sizeof(int)));
        char what[80];
        snprintf(what, sizeof what, "softmax_xent_argmax nll N=%d V=%d", N, V);
        fails += compare(what, gnll, nll, N, 1e-5, 1e-5);
        fails += compare_bits("  nll = softmax_xent_fwd_bwd's", gnll, gnll2, N);
        if (bf16) {
            uint16_t *hb = malloc(nv * 2), *hb2 = malloc(nv * 2);
            if (hb == NULL || hb2 == NULL)
                die("out of memory");
            CK(ops->memcpy_dtoh(hb, d_b, nv * 2));
            CK(ops->memcpy_dtoh(hb2, d_b2, nv * 2));
            size_t off = 0;
            for (size_t i = 0; i < nv; i++) {
                off += hb[i] != hb2[i];
                uint32_t u = (uint32_t)hb[i] << 16;
                memcpy(&g[i], &u, 4);
            }
            printf("  BF16 dlogits = to_bf16 of softmax_xent_fwd_bwd's: %zu of %zu differ%s\n", off,
                   nv, off ? "  FAIL" : "");
            fails += off != 0;
            free(hb), free(hb2);
            snprintf(what, sizeof what, "softmax_xent_argmax BF16 dlogits N=%d V=%d", N, V);
            fails += compare(what, g, dl, nv, 1e-9, 4.1e-3);
        } else {
            snprintf(what, sizeof what, "softmax_xent_argmax dlogits N=%d V=%d in place", N, V);
            fails += compare(what, g, dl, nv, 1e-9, 1e-4);
            fails += compare_bits("  dlogits = softmax_xent_fwd_bwd's", g, sep, nv);
        }
        int off = 0;
        for (int i = 0; i < N; i++)
            off += gam[i] != amax[i] || gam[i] != gam2[i];
        printf("  argmax = the CPU's and argmax_rows' (tolerance: none): %d of %d rows differ%s\n",
               off, N, off ? "  FAIL" : "");
        fails += off != 0;
        void *devs[] = {d_l, d_dn, d_nll, d_nll2, d_dl, d_t, d_am, d_am2, d_b, d_b2};
        for (int i = 0; i < 10; i++)
            CK(ops->free(devs[i]));
        free(l), free(dnll), free(nll), free(dl), free(gnll), free(gnll2), free(sep), free(g);
    }
    return fails;
}
