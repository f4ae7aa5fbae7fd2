/* nodes/eval/compare.h - how a second model differs from a first on the
 * same cases: the per-item F1 gains and losses, and a paired bootstrap
 * interval of the headline F1 delta (stats.h).
 *
 * The delta of an item is f1_b - f1_a (the reference's set F1 with its
 * gating: a refusal scores 0). Gains are the items with a positive delta,
 * largest first; losses those with a negative one, most negative first; ties
 * keep the items' order. The bootstrap runs over the answerable items only
 * (the headline F1's own population): none (refusal mode) means no interval,
 * and ci_n is 0. */
#ifndef IK_NODES_EVAL_COMPARE_H
#define IK_NODES_EVAL_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodes/eval/metrics.h"
#include "nodes/eval/stats.h"

struct ik_diag;

struct ik_eval_compare_opts {
    size_t top;          /* at most this many gains and losses */
    size_t resamples;    /* bootstrap resamples, >= 1 */
    double level;        /* e.g. 0.95 */
    uint64_t seed;
};

struct ik_eval_compare {
    size_t *gains, n_gains;   /* item indices (into the cases), owned */
    size_t *losses, n_losses;
    size_t n_better, n_worse, n_same; /* over all items */
    struct ik_bootstrap ci;   /* valid when ci_n > 0 */
    size_t ci_n;              /* answerable items the interval is over */
};

/* Compares b against a (n items each, paired by index). 0, or the
 * bootstrap's -EINVAL for bad opts (d filled). */
int ik_eval_compare(struct ik_eval_compare *out, const struct ik_eval_item *a,
                    const struct ik_eval_item *b, size_t n, const struct ik_eval_compare_opts *o,
                    struct ik_diag *d);
void ik_eval_compare_free(struct ik_eval_compare *c);

#endif
