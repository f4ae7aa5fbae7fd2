/* tests/eval/test_stats.c - the paired bootstrap (known cases, determinism,
 * the documented resampling order redone here) and McNemar's exact p-value
 * against values computed by hand or exactly in rationals (Python's
 * fractions and math.comb: 2 * sum_{i<=min(b,c)} C(b+c, i) / 2^(b+c)). */
#include <errno.h>

#include "base/diag.h"
#include "base/prng.h"
#include "nodes/eval/stats.h"
#include "tests/eval/helpers.h"

Test(mcnemar, hand_values)
{
    /* n = 10, k = 1: 2 (1 + 10) / 1024 */
    cr_assert_eq(ik_mcnemar_exact_p(1, 9), 0.021484375);
    cr_assert_eq(ik_mcnemar_exact_p(9, 1), 0.021484375);
    cr_assert_eq(ik_mcnemar_exact_p(0, 5), 0.0625);   /* 2 / 32 */
    cr_assert_eq(ik_mcnemar_exact_p(2, 8), 0.109375); /* 2 (1 + 10 + 45) / 1024 */
    cr_assert_eq(ik_mcnemar_exact_p(0, 1), 1.0);      /* 2 * 1/2 */
    cr_assert_eq(ik_mcnemar_exact_p(0, 0), 1.0);
    cr_assert_eq(ik_mcnemar_exact_p(5, 5), 1.0);
    cr_assert_eq(ik_mcnemar_exact_p(31, 31), 1.0);
    cr_assert_eq(ik_mcnemar_exact_p(500, 500), 1.0);
    assert_near(ik_mcnemar_exact_p(1500, 1501), 1.0, 1e-9, "odd n, k = n/2: exactly 1");
}

Test(mcnemar, exact_rationals)
{
    /* n <= 62: the integer path */
    assert_rel(ik_mcnemar_exact_p(20, 42), 0.007148733833163067, 1e-15, "20,42");
    assert_rel(ik_mcnemar_exact_p(25, 37), 0.16188140552559765, 1e-15, "25,37");
    assert_rel(ik_mcnemar_exact_p(3, 59), 1.724922288337538e-14, 1e-15, "3,59");
    /* n > 62: the log-space path */
    assert_rel(ik_mcnemar_exact_p(26, 37), 0.20736789985685422, 1e-11, "26,37");
    assert_rel(ik_mcnemar_exact_p(3, 60), 9.048317650695026e-15, 1e-11, "3,60");
    assert_rel(ik_mcnemar_exact_p(950, 1050), 0.026824146240280695, 1e-10, "950,1050");
    assert_rel(ik_mcnemar_exact_p(1400, 1600), 0.0002785639610392337, 1e-10, "1400,1600");
    assert_rel(ik_mcnemar_exact_p(0, 1000), 1.8665272370064378e-301, 1e-10, "0,1000");
    /* about 1e-880: below the smallest double */
    cr_assert_eq(ik_mcnemar_exact_p(10, 3000), 0.0);
}

Test(mcnemar, count)
{
    bool a[] = {true, true, false, false, true, false};
    bool b[] = {true, false, true, false, false, true};
    uint64_t only_a, only_b;
    ik_mcnemar_count(a, b, 6, &only_a, &only_b);
    cr_assert_eq(only_a, 2);
    cr_assert_eq(only_b, 2);
}

static struct ik_bootstrap boot(const double *a, const double *b, size_t n, size_t r,
                                uint64_t seed)
{
    struct ik_bootstrap out;
    struct ik_diag d = {0};
    cr_assert_eq(ik_paired_bootstrap(&out, a, b, n, r, 0.95, seed, &d), 0);
    return out;
}

Test(bootstrap, constant_delta)
{
    double a[] = {0.1, 0.5, 0.75}, b[] = {0.35, 0.75, 1.0};
    struct ik_bootstrap x = boot(a, b, 3, 500, 1);
    assert_near(x.delta, 0.25, 1e-15, "delta");
    assert_near(x.lo, 0.25, 1e-15, "lo");
    assert_near(x.hi, 0.25, 1e-15, "hi");
    x = boot(a, b, 1, 1, 1);
    assert_near(x.lo, 0.25, 1e-15, "one item");
}

Test(bootstrap, two_items)
{
    /* Deltas {0, 1}: a resample's mean is 0, 0.5 or 1 with probabilities
     * 1/4, 1/2, 1/4, so the 2.5 % and 97.5 % quantiles are 0 and 1. */
    double a[] = {0, 0}, b[] = {0, 1};
    struct ik_bootstrap x = boot(a, b, 2, 10000, 7);
    cr_assert_eq(x.delta, 0.5);
    cr_assert_eq(x.lo, 0.0);
    cr_assert_eq(x.hi, 1.0);
}

static void sample_data(double *a, double *b, size_t n)
{
    struct ik_prng r;
    ik_prng_seed(&r, 99);
    for (size_t i = 0; i < n; i++) {
        a[i] = ik_prng_double(&r);
        b[i] = a[i] + 0.3 * ik_prng_double(&r) - 0.1;
    }
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

Test(bootstrap, deterministic_and_documented)
{
    enum { N = 50, R = 999 };
    double a[N], b[N];
    sample_data(a, b, N);
    struct ik_bootstrap x = boot(a, b, N, R, 42), y = boot(a, b, N, R, 42);
    cr_assert(x.delta == y.delta && x.lo == y.lo && x.hi == y.hi, "same seed, other interval");
    struct ik_bootstrap z = boot(a, b, N, R, 43);
    cr_assert(z.lo != x.lo || z.hi != x.hi, "the seed is not used");
    cr_assert(x.lo < x.delta && x.delta < x.hi);
    /* stats.h's procedure, redone here: R x N draws below(N) in order, each
     * resample's mean of b[j] - a[j], sorted, type 7 quantiles. */
    static double m[R];
    struct ik_prng r;
    ik_prng_seed(&r, 42);
    for (size_t k = 0; k < R; k++) {
        double s = 0;
        for (size_t i = 0; i < N; i++) {
            size_t j = (size_t)ik_prng_below(&r, N);
            s += b[j] - a[j];
        }
        m[k] = s / N;
    }
    qsort(m, R, sizeof m[0], cmp);
    /* h = 998 * 0.025 = 24.95 and 998 * 0.975 = 973.05 */
    double lo = m[24] + (998 * 0.025 - 24) * (m[25] - m[24]);
    double hi = m[973] + (998 * (1 - 0.025) - 973) * (m[974] - m[973]);
    assert_near(x.lo, lo, 1e-15, "lo as documented");
    assert_near(x.hi, hi, 1e-15, "hi as documented");
}

Test(bootstrap, bad_arguments)
{
    double a[] = {0}, b[] = {1};
    struct ik_bootstrap x;
    struct ik_diag d = {0};
    cr_assert_eq(ik_paired_bootstrap(&x, a, b, 0, 10, 0.95, 1, &d), -EINVAL);
    cr_assert_str_eq(ik_diag_message(&d), "error: paired bootstrap: no items to resample");
    cr_assert_eq(ik_paired_bootstrap(&x, a, b, 1, 0, 0.95, 1, &d), -EINVAL);
    cr_assert_eq(ik_paired_bootstrap(&x, a, b, 1, 10, 1.0, 1, &d), -EINVAL);
    cr_assert_str_eq(ik_diag_message(&d), "error: paired bootstrap: level 1 is not inside (0, 1)");
    cr_assert_eq(ik_paired_bootstrap(&x, a, b, 1, 10, NAN, 1, &d), -EINVAL);
    ik_diag_free(&d);
}
