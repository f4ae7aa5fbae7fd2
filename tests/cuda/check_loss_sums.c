/* tests/cuda/check_loss_sums.c - test_cuda_kernels' check of the step's
 * loss and accuracy sums (loss_sums.cu) against the sums a host loop forms;
 * returns the number of comparisons that failed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/cuda/kernel_check.h"

/* 5000 rows (several per thread of the one block), a random mask, argmaxes
 * and targets drawn from 4 values so that about a quarter hit. The hits are
 * counted exactly; the nll sum, in double on both sides in another order,
 * agrees to rtol 1e-12 (5000 roundings of a double). Then every row (mask
 * NULL), and N = 0 (zeros written). */
int check_loss_sums(void)
{
    enum { N = 5000 };
    float *nll = rand_floats(N, 0, 12);
    int *amax = malloc(N * sizeof *amax), *targets = malloc(N * sizeof *targets);
    unsigned char *mask = malloc(N);
    if (amax == NULL || targets == NULL || mask == NULL)
        die("out of memory");
    for (int n = 0; n < N; n++) {
        amax[n] = (int)ik_prng_below(&rng, 4);
        targets[n] = (int)ik_prng_below(&rng, 4);
        mask[n] = ik_prng_below(&rng, 3) != 0;
    }
    float *d_nll = to_dev(nll, N * 4);
    int *d_am = to_dev(amax, N * sizeof *amax), *d_t = to_dev(targets, N * sizeof *targets);
    unsigned char *d_m = to_dev(mask, N);
    double *d_s;
    CK(ops->alloc((void **)&d_s, 2 * sizeof *d_s));
    int fails = 0;
    for (int all = 0; all < 3; all++) {
        int n_rows = all == 2 ? 0 : N;
        const unsigned char *m = all ? NULL : d_m;
        double want = 0, hits = 0, got[2];
        for (int n = 0; n < n_rows; n++)
            if (all || mask[n]) {
                want += nll[n];
                hits += amax[n] == targets[n];
            }
        CK(ops->loss_sums(d_s, d_nll, d_am, d_t, m, n_rows));
        CK(ops->memcpy_dtoh(got, d_s, sizeof got));
        double err = got[0] > want ? got[0] - want : want - got[0];
        int bad = err > 1e-12 * want || got[1] != hits;
        printf("  loss_sums N=%d %s: nll sum %.17g (host %.17g), hits %.0f (host %.0f)%s\n", n_rows,
               all ? "every row" : "masked", got[0], want, got[1], hits, bad ? "  FAIL" : "");
        fails += bad;
    }
    void *devs[] = {d_nll, d_am, d_t, d_m, d_s};
    for (int i = 0; i < 5; i++)
        CK(ops->free(devs[i]));
    free(nll), free(amax), free(targets), free(mask);
    return fails;
}
