/* tests/cuda/check_elementwise.c - test_cuda_kernels' checks of add and
 * bias add (elementwise.cu), BF16 embedding rows (embed.cu), row argmax
 * (argmax.cu) and random BF16 values (fill.cu) against the CPU references
 * (kernels/kernels.h); each returns the number of comparisons that
 * failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "lm/safetensors.h"
#include "tests/cuda/kernel_check.h"
#include "tests/cuda/ref_fill.h"

/* ->add out of place and in place on both sides (out = a, out = b), and
 * ->bias_add on rows whose count and width are not multiples of the block:
 * one fp32 addition per element on both sides, so the bits must match. */
int check_add(void)
{
    size_t n = 100003;
    float *a = rand_floats(n, -4, 4), *b = rand_floats(n, -4, 4), *want = host_floats(n);
    for (size_t i = 0; i < n; i++)
        want[i] = a[i] + b[i];
    float *d_a = to_dev(a, n * 4), *d_b = to_dev(b, n * 4), *d_o;
    CK(ops->alloc((void **)&d_o, n * 4));
    CK(ops->add(d_o, d_a, d_b, n));
    float *got = from_dev(d_o, n);
    int fails = compare_bits("add n=100003", got, want, n);
    free(got);
    CK(ops->add(d_a, d_a, d_b, n));
    got = from_dev(d_a, n);
    fails += compare_bits("add in place (out = a)", got, want, n);
    free(got);
    CK(ops->memcpy_htod(d_a, a, n * 4));
    CK(ops->add(d_b, d_a, d_b, n));
    got = from_dev(d_b, n);
    fails += compare_bits("add in place (out = b)", got, want, n);
    free(got);
    CK(ops->free(d_a));
    CK(ops->free(d_b));
    CK(ops->free(d_o));
    free(a), free(b), free(want);

    int N = 37, C = 4867;
    size_t nc = (size_t)N * C;
    float *x = rand_floats(nc, -4, 4), *bias = rand_floats(C, -1, 1), *wx = copy_floats(x, nc);
    for (int r = 0; r < N; r++)
        for (int c = 0; c < C; c++)
            wx[(size_t)r * C + c] += bias[c];
    float *d_x = to_dev(x, nc * 4), *d_bias = to_dev(bias, C * 4);
    CK(ops->bias_add(d_x, d_bias, N, C));
    got = from_dev(d_x, nc);
    fails += compare_bits("bias_add N=37 C=4867", got, wx, nc);
    CK(ops->free(d_x));
    CK(ops->free(d_bias));
    free(x), free(bias), free(wx), free(got);
    return fails;
}

/* ->embed_rows_bf16: a table of random 16-bit patterns (NaNs, infinities and
 * denormals among them), tokens random with repeats and the first and last
 * rows; widening BF16 is exact, so the bits must equal the host's widening. */
int check_embed(void)
{
    int V = 1031, D = 896, T = 67;
    size_t nt = (size_t)V * D, no = (size_t)T * D;
    uint16_t *table = malloc(nt * sizeof *table);
    int tokens[67];
    if (table == NULL)
        die("out of memory");
    for (size_t i = 0; i < nt; i++)
        table[i] = (uint16_t)ik_prng_next(&rng);
    for (int t = 0; t < T; t++)
        tokens[t] = (int)ik_prng_below(&rng, (uint64_t)V);
    tokens[0] = 0, tokens[1] = V - 1, tokens[2] = tokens[3];
    float *want = host_floats(no);
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++) {
            uint32_t u = (uint32_t)table[(size_t)tokens[t] * D + d] << 16;
            memcpy(&want[(size_t)t * D + d], &u, 4);
        }
    uint16_t *d_table = to_dev(table, nt * 2);
    int *d_tok = to_dev(tokens, sizeof tokens);
    float *d_out;
    CK(ops->alloc((void **)&d_out, no * 4));
    CK(ops->embed_rows_bf16(d_out, d_table, d_tok, T, D));
    float *got = from_dev(d_out, no);
    int fails = compare_bits("embed_rows_bf16 T=67 D=896 V=1031", got, want, no);
    CK(ops->free(d_table));
    CK(ops->free(d_tok));
    CK(ops->free(d_out));
    free(table), free(want), free(got);
    return fails;
}

/* ->argmax_rows against ik_cpu_argmax_rows, exactly: random rows 151,936
 * wide (Qwen2.5's vocabulary: far longer than a block) with planted cases
 * (the maximum repeated, the later copies first in some thread's stride;
 * NaNs before and at the maximum; a row of NaNs; a row of -inf; NaNs and
 * -inf only; +inf twice; equal zeros of both signs), and narrow rows (V = 1,
 * V = 33, V = 0). */
static int argmax_case(int N, int V, int plant)
{
    size_t nv = (size_t)N * V;
    float *x = rand_floats(nv, -8, 8);
    if (plant) {
        float *r;
        r = x + (size_t)0 * V; /* ties: the same maximum at four places */
        r[V - 1] = r[V / 2] = r[777] = r[778] = 9.0f;
        r = x + (size_t)1 * V; /* NaNs, one above the maximum's column */
        r[0] = r[5] = NAN;
        r[100] = 10.0f, r[99] = NAN, r[V - 3] = 10.0f;
        r = x + (size_t)2 * V; /* all NaN */
        for (int v = 0; v < V; v++)
            r[v] = NAN;
        r = x + (size_t)3 * V; /* all -inf */
        for (int v = 0; v < V; v++)
            r[v] = -INFINITY;
        r = x + (size_t)4 * V; /* NaN and -inf only, then one finite value late */
        for (int v = 0; v < V; v++)
            r[v] = v & 1 ? NAN : -INFINITY;
        r[V - 2] = -1e30f;
        r = x + (size_t)5 * V; /* +inf twice */
        r[60000] = r[3] = INFINITY;
        r = x + (size_t)6 * V; /* all zeros, -0 first: the first column */
        for (int v = 0; v < V; v++)
            r[v] = v < 10 ? -0.0f : 0.0f;
        r = x + (size_t)7 * V; /* the maximum in the first column */
        r[0] = 100.0f, r[512] = 100.0f;
    }
    int *want = malloc((N ? N : 1) * sizeof *want), *got = malloc((N ? N : 1) * sizeof *got);
    if (want == NULL || got == NULL)
        die("out of memory");
    ik_cpu_argmax_rows(want, x, N, V);
    float *d_x = to_dev(x, nv * 4);
    int *d_o;
    CK(ops->alloc((void **)&d_o, (N ? N : 1) * sizeof(int)));
    CK(ops->argmax_rows(d_o, d_x, N, V));
    CK(ops->memcpy_dtoh(got, d_o, N * sizeof(int)));
    int bad = 0, first = -1;
    for (int n = 0; n < N; n++)
        if (got[n] != want[n] && bad++ == 0)
            first = n;
    printf("  argmax_rows N=%-3d V=%-6d %s %3d rows: %d differ (tolerance: none)%s\n", N, V,
           plant ? "planted" : "random ", N, bad, bad ? "  FAIL" : "");
    if (bad)
        printf("    first at row %d: gpu %d, cpu %d\n", first, got[first], want[first]);
    CK(ops->free(d_x));
    CK(ops->free(d_o));
    free(x), free(want), free(got);
    return bad != 0;
}

int check_argmax(void)
{
    return argmax_case(8, 151936, 1) + argmax_case(40, 151936, 0) + argmax_case(300, 33, 0) +
           argmax_case(5, 1, 0) + argmax_case(3, 0, 0);
}

int check_fill(void)
{
    enum { N = 100003 }; /* odd: the grid-stride loop's tail */
    uint64_t seed = 0x1234567890abcdefull;
    uint16_t *got = malloc(N * sizeof *got);
    if (got == NULL)
        die("out of memory");
    uint16_t *d_x;
    CK(ops->alloc((void **)&d_x, N * sizeof *d_x));
    CK(ops->fill_uniform_bf16(d_x, N, -0.02f, 0.02f, seed));
    CK(ops->memcpy_dtoh(got, d_x, N * sizeof *got));
    int bad = 0, first = -1;
    for (uint32_t i = 0; i < N; i++) {
        float u = ref_fill_uniform(i, seed); /* fill.cu's formula on the host */
        if (got[i] != ik_f32_to_bf16(-0.02f + 0.04f * u) && bad++ == 0)
            first = (int)i;
    }
    printf("  fill_uniform_bf16 n=%d: %d values differ from the host's draw (tolerance: none)%s\n",
           N, bad, bad ? "  FAIL" : "");
    if (bad)
        printf("    first at %d: gpu 0x%04x\n", first, got[first]);
    CK(ops->free(d_x));
    free(got);
    return bad != 0;
}
