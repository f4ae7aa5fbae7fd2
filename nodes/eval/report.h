/* nodes/eval/report.h - the eval.report artifact of the evaluate node.
 *
 *   {kind: "eval.report", schema: 1,
 *    meta: {mode, input_records, cases, keywords: [str], models: [model info]},
 *    models: [{name, backend, n, n_answerable, n_unanswerable, tp, fn, fp, tn,
 *              em, f1, f1_multiset, f1_answered, f1_multiset_answered,
 *              refusal_precision, refusal_recall, hit_max_tokens,
 *              prompts_shortened, from_cache, new_tokens, wall_s}],
 *    comparison: nil when one model, else
 *      {a, b, deltas: {em, f1, f1_multiset, f1_answered, refusal_precision,
 *                      refusal_recall, fp, tn, tp, fn},
 *       better, worse, same,
 *       f1_delta: {delta, lo, hi, level, resamples, seed, n} or nil,
 *       gains: [item], losses: [item]}   item = {index, question, delta,
 *                                                a: {answer, f1}, b: {answer, f1}}
 *    records: [{index, question, expected, unanswerable,
 *               answers: {<model name>: {answer, refused, em, f1, f1_multiset,
 *                                        hit_max_tokens, prompt_shortened}}}]}
 * Metric names follow nodes/eval/metrics.h (f1 is the reference's set F1 over
 * answerable items, a refusal counting 0). records make `ikada cache query`
 * work on the items, e.g. --where 'answers.raft.f1 < answers.base.f1'. */
#ifndef IK_NODES_EVAL_REPORT_H
#define IK_NODES_EVAL_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"
#include "nodes/eval/cases.h"
#include "nodes/eval/compare.h"
#include "nodes/eval/metrics.h"
#include "nodes/eval/model.h"

/* One model's results over the cases. */
struct ik_eval_result {
    const struct ik_eval_model_spec *spec;
    struct ik_eval_model *model;    /* for its info */
    struct ik_eval_answer *answers; /* (n cases) */
    struct ik_eval_item *scores;    /* (n cases) */
    struct ik_eval_summary sum;
    size_t hit_max_tokens, prompts_shortened, from_cache;
    int64_t new_tokens;
    double wall_s;
};

/* Fills the counts and summary of r from its answers and scores. */
void ik_eval_result_tally(struct ik_eval_result *r, size_t n);

struct ik_eval_report {
    enum ik_eval_mode mode;
    const struct ik_eval_cases *cases;
    const struct ik_eval_result *results;
    size_t n_results;
    const struct ik_eval_compare *cmp; /* NULL with one model */
    const struct ik_eval_compare_opts *cmp_opts;
    const struct ik_eval_refusal *keywords;
};

/* Packs the whole artifact. Cannot fail. */
void ik_eval_report_pack(struct ik_mp_writer *w, const struct ik_eval_report *r);

#endif
