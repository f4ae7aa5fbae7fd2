/* tests/cuda/kernel_check.c - the helpers every kernel check of
 * test_cuda_kernels uses (kernel_check.h): host buffers of random values,
 * copies to and from the device, and the two comparisons that print one line
 * each. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm/safetensors.h"
#include "tests/cuda/kernel_check.h"

const struct ik_cuda_ops *ops;
struct ik_prng rng;

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "test_cuda_kernels: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

float *host_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (p == NULL)
        die("out of memory (%zu floats)", n);
    return p;
}

/* n uniform values in [lo, hi). */
float *rand_floats(size_t n, float lo, float hi)
{
    float *p = host_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * (float)ik_prng_double(&rng);
    return p;
}

float *copy_floats(const float *src, size_t n)
{
    float *p = host_floats(n);
    memcpy(p, src, n * sizeof *p);
    return p;
}

void *to_dev(const void *src, size_t bytes)
{
    void *d;
    CK(ops->alloc(&d, bytes));
    CK(ops->memcpy_htod(d, src, bytes));
    return d;
}

float *from_dev(const void *d, size_t n)
{
    float *p = host_floats(n);
    CK(ops->memcpy_dtoh(p, d, n * sizeof *p));
    return p;
}

/* Compares gpu to cpu elementwise; prints one line; 0 when within tolerance. */
int compare(const char *what, const float *gpu, const float *cpu, size_t n, double atol,
                   double rtol)
{
    double max_abs = 0, worst = 0;
    size_t at = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = gpu[i], c = cpu[i], d = fabs(g - c), r;
        if (isnan(g) || isnan(c)) {
            r = isnan(g) && isnan(c) ? 0 : INFINITY;
            d = 0;
        } else
            r = d == 0 ? 0 : d / (atol + rtol * fabs(c));
        if (d > max_abs)
            max_abs = d;
        if (r > worst) {
            worst = r;
            at = i;
        }
        if (!(r <= 1.0))
            bad++;
    }
    printf("  %-34s %9zu values: max |gpu-cpu| %.3g, worst err/tol %.3g at [%zu] (atol %.1g, rtol %.1g)%s\n",
           what, n, max_abs, worst, at, atol, rtol, bad ? "  FAIL" : "");
    if (bad)
        printf("    %zu values out of tolerance; at [%zu]: gpu %.9g, cpu %.9g\n", bad, at,
               (double)gpu[at], (double)cpu[at]);
    return bad != 0;
}

/* Bit-for-bit equality; prints one line; 0 when equal. */
int compare_bits(const char *what, const float *gpu, const float *cpu, size_t n)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&gpu[i], &cpu[i], sizeof(float)) != 0 && bad++ == 0)
            first = i;
    printf("  %-34s %9zu values: %zu differ in their bits (tolerance: none)%s\n", what, n, bad,
           bad ? "  FAIL" : "");
    if (bad)
        printf("    first at [%zu]: gpu %.9g, cpu %.9g\n", first, (double)gpu[first],
               (double)cpu[first]);
    return bad != 0;
}

/* x rounded to BF16 as __float2bfloat16_rn does (nearest, ties to even) for
 * the finite values these checks use: lm/safetensors.h's conversions. */
float bf16_round(float x) { return ik_bf16_to_f32(ik_f32_to_bf16(x)); }

/* That a call was refused with the text wanted; prints one line; 0 when so. */
int refused(const char *what, int rc, const char *want)
{
    int ok = rc == -1 && strncmp(ops->last_error(), want, strlen(want)) == 0;
    printf("  %-34s refused: \"%s\"%s\n", what, rc == -1 ? ops->last_error() : "(rc 0)",
           ok ? "" : "  FAIL");
    if (!ok)
        printf("    want rc -1 and an error beginning \"%s\"\n", want);
    return !ok;
}
