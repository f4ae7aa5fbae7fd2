/* nodes/eval/jcq_report.h - the `jcq.report` artifact of jcq-regress.
 *
 * Layout (cache/artifact.h envelope, schema 1); the flipped questions are
 * the `records`, so `ikada cache query` and `cache export --format jsonl`
 * work on them:
 *   {kind: "jcq.report", schema: 1,
 *    meta: {method: "generate"|"loglik", gate: "reply"|"norm"|"sum",
 *           n: int, limit: int, questions: hex (content hash of the file)},
 *    models: [{role: "baseline"|"candidate", name, info: {model.h's
 *              ik_eval_model_pack_info}, n, correct, accuracy, unparseable,
 *              loglik only: correct_sum, accuracy_sum, correct_norm,
 *              accuracy_norm}],
 *    delta_pp: float (candidate - baseline, points, on the gated choice),
 *    lost: int, gained: int,
 *    mcnemar: {b: int, c: int, p: float},
 *    max_drop_pp: float, passed: bool,
 *    records: [{flip: "lost"|"gained", q_id, question, label,
 *               baseline_pred, candidate_pred,
 *               generate only: baseline_reply, candidate_reply}]}
 * (lost: right before, wrong after; the records in question order, the lost
 * ones first). `gate` names the choice every figure but accuracy_sum and
 * accuracy_norm is computed on: the parsed reply (generate), or the
 * length-normalised or raw log-likelihood (loglik). */
#ifndef IK_NODES_EVAL_JCQ_REPORT_H
#define IK_NODES_EVAL_JCQ_REPORT_H

#include <stddef.h>

struct ik_mp_writer;
struct ik_jcq_answers;
struct ik_jcq_compare;
struct ik_jcq_items;

struct ik_jcq_report_model {
    const char *name;
    const void *info; /* one packed msgpack map, info_len bytes */
    size_t info_len;
    const struct ik_jcq_answers *answers;
    const int *pred; /* the gated choices, answers->n of them */
};

struct ik_jcq_report {
    const char *method, *gate;
    size_t limit;
    const char *questions_hash; /* hex */
    const struct ik_jcq_items *items;
    const int *label; /* items' labels, n of them */
    size_t n;
    struct ik_jcq_report_model baseline, candidate;
    const struct ik_jcq_compare *cmp; /* on the two gated pred arrays */
};

void ik_jcq_report_pack(struct ik_mp_writer *w, const struct ik_jcq_report *r);

#endif
