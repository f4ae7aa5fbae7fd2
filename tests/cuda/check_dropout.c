/* tests/cuda/check_dropout.c - test_cuda_kernels' checks of LoRA dropout
 * (dropout.cu) against the CPU references (kernels/kernels.h); each
 * returns the number of comparisons that failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "tests/cuda/kernel_check.h"

/* ->dropout_add against the module's own ->dropout into a buffer then
 * ->add: the same bits (tolerance none). */
static int dropout_add_case(size_t n, float p, uint64_t key)
{
    float *g = rand_floats(n, -2, 2), *o = rand_floats(n, -2, 2);
    float *d_g = to_dev(g, n * 4), *d_o = to_dev(o, n * 4), *d_o2 = to_dev(o, n * 4), *d_t;
    CK(ops->alloc((void **)&d_t, n * 4));
    CK(ops->dropout_add(d_o, d_g, n, p, key));
    CK(ops->dropout(d_t, d_g, n, p, key));
    CK(ops->add(d_o2, d_o2, d_t, n));
    float *got = from_dev(d_o, n), *want = from_dev(d_o2, n);
    char what[64];
    snprintf(what, sizeof what, "dropout_add p=%.1f = dropout then add", (double)p);
    int fails = compare_bits(what, got, want, n);
    CK(ops->free(d_g));
    CK(ops->free(d_o));
    CK(ops->free(d_o2));
    CK(ops->free(d_t));
    free(g), free(o), free(got), free(want);
    return fails;
}

/* Dropout: the GPU must drop exactly the CPU's elements and scale the kept
 * ones to the same bits (the same hash of (key, i), the same fp32 scale), so
 * the tolerance is none: out of place at p = 0.1, in place at p = 0.5 and a
 * second key, and at p = 0.9, n odd (not a multiple of any vector width). */
int check_dropout(void)
{
    int fails = 0;
    static const float ps[] = {0.1f, 0.5f, 0.9f};
    static const uint64_t keys[] = {0x0123456789abcdefull, 0xfedcba9876543210ull, 7};
    size_t n = 300007;
    for (int k = 0; k < 3; k++) {
        int in_place = k == 1;
        float *x = rand_floats(n, -2, 2), *out = host_floats(n);
        ik_cpu_dropout(out, x, n, ps[k], keys[k]);
        float *d_x = to_dev(x, n * 4), *d_o = d_x;
        if (!in_place)
            CK(ops->alloc((void **)&d_o, n * 4));
        CK(ops->dropout(d_o, d_x, n, ps[k], keys[k]));
        float *g = from_dev(d_o, n);
        size_t dropped = 0;
        for (size_t i = 0; i < n; i++)
            dropped += out[i] == 0.0f;
        char what[64];
        snprintf(what, sizeof what, "dropout p=%.1f%s (%.3f dropped)", (double)ps[k],
                 in_place ? " in place" : "", (double)dropped / n);
        fails += compare_bits(what, g, out, n);
        CK(ops->free(d_x));
        if (!in_place)
            CK(ops->free(d_o));
        free(x), free(out), free(g);
    }
    return fails + dropout_add_case(n, 0.1f, keys[0]) + dropout_add_case(1001, 0.9f, keys[2]);
}
