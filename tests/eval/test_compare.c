/* tests/eval/test_compare.c - the two-model comparison (nodes/eval/compare.h):
 * gains and losses ordered by size then item, the interval over answerable
 * items only. */
#include <criterion/criterion.h>

#include "base/diag.h"
#include "nodes/eval/compare.h"

static struct ik_eval_item it(bool unanswerable, double f1)
{
    return (struct ik_eval_item){.unanswerable = unanswerable, .f1 = f1};
}

Test(eval_compare, gains_losses_and_counts)
{
    struct ik_eval_item a[] = {it(0, 0.5), it(0, 0.25), it(0, 0.875), it(0, 0.125), it(1, 0), it(0, 0.25)};
    struct ik_eval_item b[] = {it(0, 0.75), it(0, 0.75), it(0, 0.375), it(0, 0.125), it(1, 0), it(0, 0.5)};
    struct ik_eval_compare_opts o = {.top = 2, .resamples = 200, .level = 0.9, .seed = 1};
    struct ik_eval_compare c;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_eval_compare(&c, a, b, 6, &o, &d), 0);
    cr_assert_eq(c.n_better, 3);
    cr_assert_eq(c.n_worse, 1);
    cr_assert_eq(c.n_same, 2);
    /* +0.5 (item 1), then the two +0.25 ties by index: 0 before 5; top 2. */
    cr_assert_eq(c.n_gains, 2);
    cr_assert_eq(c.gains[0], 1);
    cr_assert_eq(c.gains[1], 0);
    cr_assert_eq(c.n_losses, 1);
    cr_assert_eq(c.losses[0], 2);
    /* Over the 5 answerable items: mean(b) - mean(a). */
    cr_assert_eq(c.ci_n, 5);
    cr_assert_float_eq(c.ci.delta, (0.75 + 0.75 + 0.375 + 0.125 + 0.5) / 5 - (0.5 + 0.25 + 0.875 + 0.125 + 0.25) / 5,
                       1e-12);
    cr_assert(c.ci.lo <= c.ci.delta && c.ci.delta <= c.ci.hi);
    ik_eval_compare_free(&c);
}

Test(eval_compare, no_interval_without_answerable_items)
{
    struct ik_eval_item a[] = {it(1, 0), it(1, 0)}, b[] = {it(1, 0), it(1, 0)};
    struct ik_eval_compare_opts o = {.top = 10, .resamples = 100, .level = 0.95, .seed = 1};
    struct ik_eval_compare c;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_eval_compare(&c, a, b, 2, &o, &d), 0);
    cr_assert_eq(c.ci_n, 0);
    cr_assert_eq(c.n_gains + c.n_losses, 0);
    cr_assert_eq(c.n_same, 2);
    ik_eval_compare_free(&c);
}
