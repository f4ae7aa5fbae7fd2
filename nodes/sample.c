/* nodes/sample.c - the `sample` node type: FAQ rows from a file -> train,
 * test, unseen and extra splits plus a summary.
 *
 * A thin adapter: it reads params and the `rows` input through engine/node.h,
 * then calls the pure functions of faq_rows.h and sample_split.h, which hold
 * all behaviour and are what the tests exercise. */
#include <stdio.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/mp.h"
#include "nodes/raft/faq_rows.h"
#include "engine/node.h"
#include "nodes/raft/sample_split.h"

static const struct ik_port_spec sample_inputs[] = {
    {"rows", "*", false, "FAQ rows: JSON Lines, JSON array, CSV or msgpack (a file: source)"},
    {NULL, NULL, false, NULL},
};

static const struct ik_port_spec sample_outputs[] = {
    {"train", "faq.rows", false, "training questions of the target group"},
    {"test", "faq.rows", false, "test questions of the target group, none in train"},
    {"unseen", "faq.rows", false, "test questions of the other groups, stratified"},
    {"extra", "faq.rows", false, "target questions for the extra refusal samples"},
    {"summary", "sample.summary", false, "counts per split and group, rows dropped and why"},
    {NULL, NULL, false, NULL},
};

static const struct ik_param_spec sample_params[] = {
    {"ministry", IK_PARAM_STRING, "国税庁", "group value (copyright) whose rows are train/test/extra", NULL},
    {"train", IK_PARAM_INT, "1000", "training rows", IK_MIN(0)},
    {"test", IK_PARAM_INT, "200", "test rows (questions not in train)", IK_MIN(0)},
    {"unseen", IK_PARAM_INT, "100", "rows of the other groups, stratified, at least one per group", IK_MIN(0)},
    {"unanswerable_extra", IK_PARAM_INT, "100", "more target rows that become refusal samples", IK_MIN(0)},
    {"min_chars", IK_PARAM_INT, "50", "shortest answer kept, in code points", IK_MIN(0)},
    {"max_chars", IK_PARAM_INT, "2000", "longest answer kept, in code points", IK_MIN(0)},
    {"seed", IK_PARAM_INT, "42", "PRNG seed (xoshiro256**, see docs/determinism.md)", NULL},
    {"allow_short", IK_PARAM_BOOL, "false", "shrink the splits when there are too few rows", NULL},
    {"format", IK_PARAM_STRING, "auto", "rows format: auto, jsonl, json, csv or msgpack", NULL},
    {"question_field", IK_PARAM_STRING, "Question", "column holding the question", NULL},
    {"answer_field", IK_PARAM_STRING, "Answer", "column holding the answer", NULL},
    {"group_field", IK_PARAM_STRING, "copyright", "column holding the group (ministry); \"\" = none", NULL},
    {"url_field", IK_PARAM_STRING, "url", "optional column holding the source URL; \"\" = none", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static int size_param(struct ik_node_ctx *ctx, const char *name, size_t *out, struct ik_diag *d)
{
    int64_t v;
    int rc = ik_node_param_int_in(ctx, name, 0, INT64_MAX, &v, d);
    *out = rc == 0 ? (size_t)v : 0;
    return rc;
}

static int emit(struct ik_node_ctx *ctx, const char *port, struct ik_mp_writer *w,
                struct ik_diag *d)
{
    int rc = ik_node_output(ctx, port, w->sb.data, w->sb.size, d);
    ik_mp_writer_clear(w);
    return rc;
}

static int sample_run(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    static const char *const size_names[IK_SPLIT_COUNT] = {"train", "test", "unseen",
                                                           "unanswerable_extra"};
    struct ik_sample_params p = {0};
    p.ministry = ik_node_param_str(ctx, "ministry");
    p.group_field = ik_node_param_str(ctx, "group_field");
    p.seed = (uint64_t)ik_node_param_int(ctx, "seed");
    p.allow_short = ik_node_param_bool(ctx, "allow_short");
    int rc;
    for (int s = 0; s < IK_SPLIT_COUNT; s++)
        if ((rc = size_param(ctx, size_names[s], &p.n[s], d)) < 0)
            return rc;
    if ((rc = size_param(ctx, "min_chars", &p.min_chars, d)) < 0 ||
        (rc = size_param(ctx, "max_chars", &p.max_chars, d)) < 0)
        return rc;
    const char *fmt_name = ik_node_param_str(ctx, "format");
    int fmt = ik_faq_format_from_name(fmt_name);
    if (fmt < 0)
        return ik_diag_set(d, IK_EVALIDATE,
                           "param format is '%s', expected auto, jsonl, json, csv or msgpack",
                           fmt_name);
    struct ik_faq_fields f = {ik_node_param_str(ctx, "question_field"),
                              ik_node_param_str(ctx, "answer_field"), p.group_field,
                              ik_node_param_str(ctx, "url_field")};
    const char *path;
    if ((rc = ik_node_input_path(ctx, "rows", &path, d)) < 0)
        return rc;

    struct ik_faq_rows rows;
    ik_faq_rows_init(&rows);
    struct ik_sample_result res = {0};
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    if ((rc = ik_faq_rows_read_file(path, (enum ik_faq_format)fmt, &f, &rows, d)) < 0)
        goto out;
    ik_node_progress(ctx, rows.n, rows.n, "rows");
    if ((rc = ik_sample_split(path, &rows, &p, &res, d)) < 0)
        goto out;
    if (res.note)
        fprintf(stderr, "sample: %s\n", res.note);
    for (int s = 0; s < IK_SPLIT_COUNT && rc == 0; s++) {
        ik_sample_pack_rows(&w, &rows, &res, s, &p);
        rc = emit(ctx, ik_split_names[s], &w, d);
    }
    if (rc == 0) {
        ik_sample_pack_summary(&w, &rows, &res, &p);
        rc = emit(ctx, "summary", &w, d);
    }
    for (int s = 0; s < IK_SPLIT_COUNT; s++)
        ik_node_counter(ctx, ik_split_names[s], (double)res.n[s]);
out:
    ik_mp_writer_free(&w);
    ik_sample_result_free(&res);
    ik_faq_rows_free(&rows);
    return rc;
}

const struct ik_node_type ik_node_sample = {
    .name = "sample",
    .version = 1,
    .summary = "filter FAQ rows by answer length; split into train, test, unseen and extra",
    .inputs = sample_inputs,
    .outputs = sample_outputs,
    .params = sample_params,
    .cpu = 1,
    .run = sample_run,
};
