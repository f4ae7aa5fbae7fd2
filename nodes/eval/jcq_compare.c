/* nodes/eval/jcq_compare.c - the JCQ regression verdict (jcq_compare.h). */
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"
#include "nodes/eval/jcq_compare.h"
#include "nodes/eval/stats.h"

struct ik_jcq_tally ik_jcq_tally(const int *pred, const int *label, size_t n)
{
    struct ik_jcq_tally t = {n, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        t.correct += pred[i] == label[i];
        t.unparseable += pred[i] < 0;
    }
    t.accuracy = n ? (double)t.correct / (double)n : 0;
    return t;
}

void ik_jcq_compare(struct ik_jcq_compare *out, const int *label, const int *baseline,
                    const int *candidate, size_t n, double max_drop_pp)
{
    memset(out, 0, sizeof *out);
    out->baseline = ik_jcq_tally(baseline, label, n);
    out->candidate = ik_jcq_tally(candidate, label, n);
    out->delta_pp =
        n ? 100.0 * ((double)out->candidate.correct - (double)out->baseline.correct) / (double)n
          : 0;
    out->lost = ik_xmalloc((n ? n : 1) * sizeof *out->lost);
    out->gained = ik_xmalloc((n ? n : 1) * sizeof *out->gained);
    for (size_t i = 0; i < n; i++) {
        bool a = baseline[i] == label[i], b = candidate[i] == label[i];
        if (a && !b)
            out->lost[out->n_lost++] = i;
        else if (b && !a)
            out->gained[out->n_gained++] = i;
    }
    out->p_value = ik_mcnemar_exact_p(out->n_lost, out->n_gained);
    out->max_drop_pp = max_drop_pp;
    out->passed = -out->delta_pp <= max_drop_pp;
}

void ik_jcq_compare_free(struct ik_jcq_compare *c)
{
    free(c->lost);
    free(c->gained);
    memset(c, 0, sizeof *c);
}
