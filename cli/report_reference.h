/* cli/report_reference.h - the reference run's published figures, which
 * `ikada report` shows beside ours for context, in columns of their own.
 *
 * The reference is the public "N3" experiment (GitHub himorishige/dgx-spark-blog,
 * n3-raft-finetuning/data/ at commit 908849a): Nemotron-Nano-9B-v2-Japanese,
 * baseline and RAFT LoRA, on its 200 test samples and on JCommonsenseQA valid.
 * The figures are those of its results_*_nothink.json and jcq_*_nothink.json
 * (copies in tests/data/eval); F1 on answered items is the mean of their stored
 * per-item F1 over the items not refused. tests/cli/test_report.sh checks
 * every one against those files. They describe another model on other data:
 * context, never a result of the graph. */
#ifndef IK_CLI_REPORT_REFERENCE_H
#define IK_CLI_REPORT_REFERENCE_H

#include "cli/report_model.h"

#define IK_REPORT_REF_MODELS 2

struct ik_report_ref_eval {
    const char *column; /* "reference baseline (published)" */
    const char *model, *file;
    double f1, f1_answered, em;
    int n, fp, tn, tp, fn;
};

struct ik_report_ref_jcq {
    const char *model, *file;
    int correct, total, unparseable;
};

/* [0] the baseline, [1] the RAFT model. */
extern const struct ik_report_ref_eval ik_report_ref_eval[IK_REPORT_REF_MODELS];
extern const struct ik_report_ref_jcq ik_report_ref_jcq[IK_REPORT_REF_MODELS];
/* One sentence each naming the source. */
extern const char ik_report_ref_source_eval[];
extern const char ik_report_ref_source_jcq[];

/* Sets c to the reference's figure for an eval.report model field ("f1",
 * "fp", ...) with digits decimals; a figure the reference does not have
 * (refusal recall: its test split has no unanswerable item) stays NONE. */
void ik_report_ref_eval_cell(const struct ik_report_ref_eval *r, const char *field, int digits,
                             struct ik_rcell *c);

#endif
