/* cli/report_reference.c - the reference's published figures (report_reference.h). */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "cli/report_reference.h"

#define REF_REPO "himorishige/dgx-spark-blog n3-raft-finetuning/data @ 908849a"

const struct ik_report_ref_eval ik_report_ref_eval[IK_REPORT_REF_MODELS] = {
    {"reference baseline (published)", "nemotron-9b-jp-nothink", "results_baseline_nothink.json",
     0.5645696378327149, 0.7379995265787123, 0.0, 200, 47, 153, 0, 0},
    {"reference RAFT (published)", "nemotron-9b-jp-raft-ngc-nothink", "results_ngc_raft_nothink.json",
     0.6536427318901594, 0.6635966821219894, 0.0, 200, 3, 197, 0, 0},
};

const struct ik_report_ref_jcq ik_report_ref_jcq[IK_REPORT_REF_MODELS] = {
    {"nemotron-9b-jp-nothink", "jcq_baseline_nothink.json", 1029, 1119, 0},
    {"nemotron-9b-jp-raft-ngc-nothink", "jcq_raft_nothink.json", 1024, 1119, 3},
};

const char ik_report_ref_source_eval[] =
    "Reference (published): " REF_REPO ", results_baseline_nothink.json and "
    "results_ngc_raft_nothink.json: Nemotron-Nano-9B-v2-Japanese without and with its RAFT LoRA "
    "on the reference's 200 test samples (all answerable). Another model on other data, shown "
    "for context only.";

const char ik_report_ref_source_jcq[] =
    "Reference accuracy (published): " REF_REPO ", jcq_baseline_nothink.json (1029/1119) and "
    "jcq_raft_nothink.json (1024/1119, 3 unparseable) on JCommonsenseQA valid, shown for "
    "context only.";

void ik_report_ref_eval_cell(const struct ik_report_ref_eval *r, const char *field, int digits,
                             struct ik_rcell *c)
{
    static const struct {
        const char *field;
        size_t offset;
        bool is_int;
    } map[] = {
        {"f1", offsetof(struct ik_report_ref_eval, f1), false},
        {"f1_answered", offsetof(struct ik_report_ref_eval, f1_answered), false},
        {"em", offsetof(struct ik_report_ref_eval, em), false},
        {"n", offsetof(struct ik_report_ref_eval, n), true},
        {"fp", offsetof(struct ik_report_ref_eval, fp), true},
        {"tn", offsetof(struct ik_report_ref_eval, tn), true},
        {"tp", offsetof(struct ik_report_ref_eval, tp), true},
        {"fn", offsetof(struct ik_report_ref_eval, fn), true},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (strcmp(map[i].field, field) != 0)
            continue;
        const char *p = (const char *)r + map[i].offset;
        if (map[i].is_int)
            ik_rcell_int(c, *(const int *)p);
        else
            ik_rcell_num(c, *(const double *)p, digits);
    }
}
