/* nodes/eval/stats.c - paired bootstrap interval and McNemar's exact test
 * (stats.h gives the exact procedures). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "base/diag.h"
#include "base/prng.h"
#include "base/xmalloc.h"
#include "nodes/eval/stats.h"

static double mean(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Type 7 quantile q of the sorted x[0..n). */
static double quantile(const double *x, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t f = (size_t)floor(h);
    if (f + 1 >= n)
        return x[n - 1];
    return x[f] + (h - (double)f) * (x[f + 1] - x[f]);
}

int ik_paired_bootstrap(struct ik_bootstrap *out, const double *a, const double *b, size_t n,
                        size_t n_resamples, double level, uint64_t seed, struct ik_diag *d)
{
    if (n == 0)
        return ik_diag_set(d, -EINVAL, "paired bootstrap: no items to resample");
    if (n_resamples == 0)
        return ik_diag_set(d, -EINVAL, "paired bootstrap: resamples must be at least 1");
    if (!(level > 0 && level < 1))
        return ik_diag_set(d, -EINVAL, "paired bootstrap: level %g is not inside (0, 1)", level);
    out->delta = mean(b, n) - mean(a, n);
    double *x = ik_xmalloc(n_resamples * sizeof *x);
    struct ik_prng r;
    ik_prng_seed(&r, seed);
    for (size_t k = 0; k < n_resamples; k++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) {
            size_t j = (size_t)ik_prng_below(&r, n);
            s += b[j] - a[j];
        }
        x[k] = s / (double)n;
    }
    qsort(x, n_resamples, sizeof *x, cmp_double);
    double q = (1 - level) / 2;
    out->lo = quantile(x, n_resamples, q);
    out->hi = quantile(x, n_resamples, 1 - q);
    free(x);
    return 0;
}

void ik_mcnemar_count(const bool *a_ok, const bool *b_ok, size_t n, uint64_t *only_a,
                      uint64_t *only_b)
{
    *only_a = *only_b = 0;
    for (size_t i = 0; i < n; i++) {
        *only_a += a_ok[i] && !b_ok[i];
        *only_b += !a_ok[i] && b_ok[i];
    }
}

/* 2 P[X <= k] for X ~ Binomial(n, 1/2), n <= 62: the row of Pascal's
 * triangle in uint64 (C(62, 31) < 2^59; the tail sum is below 2^62), so the
 * only rounding is the final conversion. */
static double tail2_exact(unsigned n, unsigned k)
{
    uint64_t row[63] = {1};
    for (unsigned m = 1; m <= n; m++)
        for (unsigned i = m; i > 0; i--)
            row[i] += row[i - 1];
    uint64_t s = 0;
    for (unsigned i = 0; i <= k; i++)
        s += row[i];
    return ldexp((double)s, 1 - (int)n);
}

/* The same for larger n: C(n, k) 2^-n in log space (lgamma), times the sum
 * of C(n, i) / C(n, k) for i = k down to 0, whose terms shrink (k <= n/2)
 * by the ratio i / (n - i + 1); the sum stops once a term no longer counts. */
static double tail2_large(uint64_t n, uint64_t k)
{
    double dn = (double)n, dk = (double)k;
    double log_top = lgamma(dn + 1) - lgamma(dk + 1) - lgamma(dn - dk + 1) - dn * log(2.0);
    double term = 1, sum = 1;
    for (uint64_t i = k; i > 0 && term > sum * 1e-18; i--) {
        term *= (double)i / (double)(n - i + 1);
        sum += term;
    }
    return 2 * exp(log_top + log(sum));
}

double ik_mcnemar_exact_p(uint64_t b, uint64_t c)
{
    uint64_t n = b + c, k = b < c ? b : c;
    if (n == 0)
        return 1.0;
    double p = n <= 62 ? tail2_exact((unsigned)n, (unsigned)k) : tail2_large(n, k);
    return p < 1 ? p : 1.0;
}
