/* nodes/eval/jcq_compare.h - the JCQ regression verdict: two models' choices
 * on the same questions -> accuracies, the drop in points, the flipped
 * questions, McNemar's exact test and pass/fail.
 *
 * Figures, for n questions with right choices label[i]:
 *   correct     #{i : pred[i] == label[i]}; unparseable #{i : pred[i] < 0}
 *               (an unparseable reply is wrong and stays in n, as the
 *               reference counted it)
 *   accuracy    correct / n
 *   delta_pp    100 (correct_candidate - correct_baseline) / n, computed
 *               from the integer counts so that a drop of exactly k
 *               questions is exactly 100 k / n (no rounding of two
 *               accuracies first)
 *   lost        questions the baseline got right and the candidate wrong
 *   gained      the other way; McNemar's b = |lost|, c = |gained|
 *   passed      -delta_pp <= max_drop_pp: the node fails only when the
 *               candidate is MORE than max_drop_pp points below.
 * Nothing here fails; allocations abort on exhaustion (base/xmalloc.h). */
#ifndef IK_NODES_EVAL_JCQ_COMPARE_H
#define IK_NODES_EVAL_JCQ_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ik_jcq_tally {
    size_t n, correct, unparseable;
    double accuracy; /* correct / n; 0 when n is 0 */
};

struct ik_jcq_compare {
    struct ik_jcq_tally baseline, candidate;
    double delta_pp;
    size_t *lost, n_lost;     /* owned: indices in question order */
    size_t *gained, n_gained; /* owned */
    double p_value;           /* McNemar exact, two-sided (stats.h) */
    double max_drop_pp;
    bool passed;
};

/* The tally of pred[0..n) against label[0..n). */
struct ik_jcq_tally ik_jcq_tally(const int *pred, const int *label, size_t n);

/* Compares baseline[0..n) with candidate[0..n) (choices 0..4, -1
 * unparseable) against label[0..n). Free with ik_jcq_compare_free. */
void ik_jcq_compare(struct ik_jcq_compare *out, const int *label, const int *baseline,
                    const int *candidate, size_t n, double max_drop_pp);

void ik_jcq_compare_free(struct ik_jcq_compare *c);

#endif
