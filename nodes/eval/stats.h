/* nodes/eval/stats.h - the significance figures of a two-model comparison:
 * a paired bootstrap interval of a mean delta (evaluate) and McNemar's exact
 * test on paired right/wrong outcomes (jcq-regress).
 *
 * Paired bootstrap, fixed so a report can be reproduced from its seed:
 *   d[i] = b[i] - a[i] for the n paired items;
 *   one ik_prng (base/prng.h) seeded with `seed`; for resample r = 0..R-1 in
 *   order, n draws j = ik_prng_below(n) in order, and that resample's value
 *   is (d[j_1] + ... + d[j_n]) / n, summed left to right;
 *   the R values sorted ascending are x[0..R); the interval at `level` is the
 *   quantiles q = (1 - level)/2 and 1 - q by linear interpolation between
 *   order statistics (Hyndman & Fan type 7, numpy's default): h = (R-1)q,
 *   x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
 * The point estimate is mean(b) - mean(a), each mean summed left to right.
 *
 * McNemar's exact test: among the pairs where the models disagree, b where
 * only the first is right and c where only the second is; under H0 the
 * disagreements split Binomial(b + c, 1/2), and the two-sided p-value is
 * min(1, 2 P[X <= min(b, c)]) (1 when b + c = 0). For b + c <= 62 it is
 * computed from exact integer binomials (one rounding); above, as the
 * largest tail term exp(lgamma...) times the tail's sum relative to it,
 * which keeps the relative error below 1e-10 for b + c in the thousands. A
 * p-value below the smallest double underflows to 0. */
#ifndef IK_NODES_EVAL_STATS_H
#define IK_NODES_EVAL_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ik_diag;

struct ik_bootstrap {
    double delta;  /* mean(b) - mean(a) */
    double lo, hi; /* the interval, lo <= hi */
};

/* The paired bootstrap of mean(b) - mean(a) over a[0..n), b[0..n) (finite
 * values, paired by index) with n_resamples resamples, at `level` (0.95 for
 * 95 %). Returns 0, or -EINVAL with d set when n or n_resamples is 0 or
 * level is not inside (0, 1). Allocates n_resamples doubles while it runs
 * (base/xmalloc.h, aborts on exhaustion). */
int ik_paired_bootstrap(struct ik_bootstrap *out, const double *a, const double *b, size_t n,
                        size_t n_resamples, double level, uint64_t seed, struct ik_diag *d);

/* Counts the discordant pairs of a_ok[0..n), b_ok[0..n): *only_a where only
 * a is right, *only_b where only b is. */
void ik_mcnemar_count(const bool *a_ok, const bool *b_ok, size_t n, uint64_t *only_a,
                      uint64_t *only_b);

/* McNemar's exact two-sided p-value for b and c discordant pairs. Cannot
 * fail. */
double ik_mcnemar_exact_p(uint64_t b, uint64_t c);

#endif
