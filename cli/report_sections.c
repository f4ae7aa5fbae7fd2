/* cli/report_sections.c - each reported artifact kind as a section
 * (report_sections.h). The layouts read here are those of the nodes' pack
 * functions: nodes/raft/sample_split.c, nodes/raft/distract_build.c,
 * nodes/cot/cot.c, nodes/train/report.c, nodes/eval/report.h,
 * nodes/eval/jcq_report.c, nodes/gguf_export.c. */
#include <stdlib.h>
#include <string.h>

#include "base/mp.h"
#include "base/xmalloc.h"
#include "cli/report_reference.h"
#include "cli/report_sections.h"

/* The value at a dotted path of map keys ("splits.train.rows"), or NULL. */
static const msgpack_object *at(const msgpack_object *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = ik_mp_get(o, key);
        path += n + (path[n] == '.');
    }
    return o;
}

/* A cell from an artifact value: integers stay integers, floats get
 * `digits` decimals, booleans read yes/no, nil or absent is NONE. */
static void cell_from(struct ik_rcell *c, const msgpack_object *v, int digits)
{
    if (v == NULL)
        return;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: ik_rcell_int(c, (int64_t)v->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: ik_rcell_int(c, v->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: ik_rcell_num(c, v->via.f64, digits); break;
    case MSGPACK_OBJECT_BOOLEAN: ik_rcell_str(c, v->via.boolean ? "yes" : "no"); break;
    case MSGPACK_OBJECT_STR: {
        char *s = ik_mp_strdup(v);
        ik_rcell_str(c, s);
        free(s);
        break;
    }
    default: break;
    }
}

/* A copy of the string at o, or of "?" when there is none. */
static char *str_copy(const msgpack_object *o)
{
    char *s = ik_mp_strdup(o);
    return s ? s : ik_xstrdup("?");
}

static double num_at(const msgpack_object *o, const char *path)
{
    double x = 0;
    ik_mp_number(at(o, path), &x);
    return x;
}

/* One figure of a two-column table: its label, its path, decimals for floats. */
struct figure {
    const char *label, *path;
    int digits;
};

static void figures_table(struct ik_rsection *s, const char *caption, const msgpack_object *root,
                          const struct figure *f)
{
    static const char *const cols[] = {"figure", "value", NULL};
    struct ik_rtable *t = ik_rsection_table(s, caption, cols);
    for (; f->label; f++)
        cell_from(&ik_rtable_labeled(t, f->label)[1], at(root, f->path), f->digits);
}

/* A table with one row per key of the map at `path` (splits, causes), the
 * columns read from each row's value by the figures' paths ("" = the value). */
static void map_table(struct ik_rsection *s, const char *caption, const char *first,
                      const msgpack_object *map, const struct figure *f)
{
    const char *cols[16] = {first};
    size_t n = 1;
    for (const struct figure *g = f; g->label && n < 15; g++)
        cols[n++] = g->label;
    struct ik_rtable *t = ik_rsection_table(s, caption, cols);
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        struct ik_rcell *row = ik_rtable_row(t);
        cell_from(&row[0], &map->via.map.ptr[i].key, 0);
        const msgpack_object *v = &map->via.map.ptr[i].val;
        for (size_t k = 1; k < n; k++)
            cell_from(&row[k], *f[k - 1].path ? at(v, f[k - 1].path) : v, f[k - 1].digits);
    }
}

/* ---- sample, distract ---- */

static void fill_sample(struct ik_rsection *s, const msgpack_object *r)
{
    static const struct figure splits[] = {
        {"requested", "requested", 0}, {"rows", "rows", 0},
        {"duplicates removed", "duplicates_removed", 0}, {"overlaps removed", "overlaps_removed", 0},
        {0}};
    static const struct figure rows[] = {
        {"input rows", "input_rows", 0}, {"kept rows", "kept_rows", 0},
        {"dropped: answer too short", "dropped.answer_too_short", 0},
        {"dropped: answer too long", "dropped.answer_too_long", 0},
        {"rows of the target group", "target_rows", 0}, {"rows of other groups", "other_rows", 0},
        {"splits shortened", "short", 0}, {0}};
    map_table(s, "Rows per split", "split", at(r, "splits"), splits);
    figures_table(s, "Input rows", r, rows);
    const msgpack_object *note = at(r, "note");
    if (note && note->type == MSGPACK_OBJECT_STR)
        ik_rsection_note(s, "%.*s", (int)note->via.str.size, note->via.str.ptr);
}

static void fill_distract(struct ik_rsection *s, const msgpack_object *r)
{
    static const struct figure splits[] = {
        {"samples", "samples", 0}, {"with oracle", "with_oracle", 0},
        {"without oracle", "without_oracle", 0}, {"extra refusals", "extra_refusals", 0},
        {"topped up", "topped_up_samples", 0},
        {"other-group distractors", "other_group_distractors", 0}, {0}};
    map_table(s, "RAFT samples per split", "split", at(r, "splits"), splits);
    ik_rsection_note(s, "%g distractors per sample, oracle kept with p = %g, seed %g.",
                     num_at(r, "meta.distractors"), num_at(r, "meta.oracle_p"),
                     num_at(r, "meta.seed"));
}

/* ---- cot ---- */

static void fill_cot(struct ik_rsection *s, const msgpack_object *r)
{
    static const struct figure cost[] = {
        {"samples", "samples", 0}, {"with oracle", "with_oracle", 0}, {"answered", "answered", 0},
        {"requests", "requests", 0}, {"retries", "retries", 0}, {"from cache", "from_cache", 0},
        {"tokens in", "tokens_in", 0}, {"tokens out", "tokens_out", 0},
        {"cost (USD)", "usd", 4}, {"cost of this run (USD)", "usd_this_run", 4},
        {"truncated answers", "truncated", 0}, {"invalid citations", "invalid_citations", 0},
        {"invalid samples", "invalid_samples", 0}, {"dropped", "dropped", 0},
        {"kept invalid", "kept_invalid", 0}, {0}};
    static const struct figure count[] = {{"count", "", 0}, {0}};
    figures_table(s, "Cost and outcome", r, cost);
    map_table(s, "Request failures by cause", "cause", at(r, "failures"), count);
    map_table(s, "Citation failures by cause", "cause", at(r, "invalid_by_cause"), count);
    const msgpack_object *p = at(r, "meta.provider"), *m = at(r, "meta.model");
    if (p && m && p->type == MSGPACK_OBJECT_STR && m->type == MSGPACK_OBJECT_STR)
        ik_rsection_note(s, "Provider %.*s, model %.*s.", (int)p->via.str.size, p->via.str.ptr,
                         (int)m->via.str.size, m->via.str.ptr);
}

/* ---- train ---- */

static void fill_train(struct ik_rsection *s, const msgpack_object *r)
{
    static const struct figure totals[] = {
        {"optimiser steps", "totals.steps", 0}, {"samples seen", "totals.samples", 0},
        {"input samples", "totals.input_samples", 0}, {"truncated", "totals.truncated", 0},
        {"dropped", "totals.dropped", 0}, {"validation samples", "totals.valid_samples", 0},
        {"tokens", "totals.tokens", 0}, {"target tokens", "totals.target_tokens", 0},
        {"wall time (s)", "totals.wall_s", 1}, {"tokens per second", "totals.tokens_per_s", 0},
        {"peak RSS (MiB)", "totals.peak_rss_mib", 1}, {"device", "totals.device", 0},
        {"threads", "totals.threads", 0}, {0}};
    /* Adding a chart or a series moves the others: take pointers once all exist. */
    ik_rsection_chart(s, "Loss", "step", "loss");
    ik_rsection_chart(s, "Token accuracy", "step", "accuracy");
    struct ik_rchart *loss = &s->charts[s->n_charts - 2], *acc = &s->charts[s->n_charts - 1];
    ik_rchart_series(loss, "train");
    ik_rchart_series(loss, "validation");
    ik_rchart_series(acc, "train");
    ik_rchart_series(acc, "validation");
    struct ik_rseries *lt = &loss->series[0], *lv = &loss->series[1];
    struct ik_rseries *at_ = &acc->series[0], *av = &acc->series[1];
    const msgpack_object *rows = at(r, "records");
    for (uint32_t i = 0; rows && rows->type == MSGPACK_OBJECT_ARRAY && i < rows->via.array.size; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        bool valid = ik_mp_str_eq(ik_mp_get(row, "type"), "valid");
        double step = num_at(row, "step");
        ik_rseries_add(valid ? lv : lt, step, num_at(row, "loss"));
        ik_rseries_add(valid ? av : at_, step, num_at(row, "accuracy"));
    }
    figures_table(s, "Totals", r, totals);
}

/* ---- evaluate ---- */

/* A row of the scores table: the model field, the comparison's delta (NULL:
 * none) and the published figure (ik_report_ref_eval_value). */
struct score_row {
    const char *label, *field, *delta;
    int digits;
};

static const struct score_row score_rows[] = {
    {"F1", "f1", "f1", 4},
    {"F1, answered only", "f1_answered", "f1_answered", 4},
    {"EM", "em", "em", 4},
    {"FP (answerable, refused)", "fp", "fp", 0},
    {"TN (answerable, answered)", "tn", "tn", 0},
    {"TP (unanswerable, refused)", "tp", "tp", 0},
    {"FN (unanswerable, answered)", "fn", "fn", 0},
    {"refusal precision", "refusal_precision", "refusal_precision", 4},
    {"refusal recall", "refusal_recall", "refusal_recall", 4},
    {"items", "n", NULL, 0},
    {0},
};

static void eval_scores(struct ik_rsection *s, const msgpack_object *r, bool with_reference)
{
    const msgpack_object *models = at(r, "models"), *cmp = at(r, "comparison");
    size_t nm = models && models->type == MSGPACK_OBJECT_ARRAY ? models->via.array.size : 0;
    if (nm > 8)
        nm = 8; /* the table stays readable; the JSON export has them all */
    bool has_cmp = cmp && cmp->type == MSGPACK_OBJECT_MAP;
    const char *cols[16] = {"metric"};
    char *names[8] = {0}, *delta_col = NULL;
    size_t n = 1;
    for (size_t m = 0; m < nm; m++)
        cols[n++] = names[m] = str_copy(ik_mp_get(&models->via.array.ptr[m], "name"));
    if (has_cmp) {
        char *a = str_copy(at(cmp, "a")), *b = str_copy(at(cmp, "b"));
        cols[n++] = delta_col = ik_xasprintf("difference (%s − %s)", b, a);
        free(a);
        free(b);
    }
    size_t first_ref = n;
    if (with_reference)
        for (size_t k = 0; k < IK_REPORT_REF_MODELS; k++)
            cols[n++] = ik_report_ref_eval[k].column;
    struct ik_rtable *t = ik_rsection_table(s, "Scores", cols);
    t->ref_from = with_reference ? first_ref : 0;
    for (const struct score_row *sr = score_rows; sr->label; sr++) {
        struct ik_rcell *row = ik_rtable_labeled(t, sr->label);
        for (size_t m = 0; m < nm; m++)
            cell_from(&row[1 + m], ik_mp_get(&models->via.array.ptr[m], sr->field), sr->digits);
        if (has_cmp && sr->delta)
            cell_from(&row[1 + nm], at(at(cmp, "deltas"), sr->delta), sr->digits);
        for (size_t k = 0; with_reference && k < IK_REPORT_REF_MODELS; k++)
            ik_report_ref_eval_cell(&ik_report_ref_eval[k], sr->field, sr->digits,
                                    &row[first_ref + k]);
    }
    for (size_t m = 0; m < nm; m++)
        free(names[m]);
    free(delta_col);
    if (with_reference)
        ik_rsection_note(s, "%s", ik_report_ref_source_eval);
}

static void eval_changes(struct ik_rsection *s, const msgpack_object *cmp, const char *which,
                         const char *caption)
{
    const msgpack_object *list = at(cmp, which);
    if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size == 0)
        return;
    char *a = str_copy(at(cmp, "a")), *b = str_copy(at(cmp, "b"));
    char *fa = ik_xasprintf("F1 %s", a), *fb = ik_xasprintf("F1 %s", b);
    const char *cols[] = {"item", "question", "F1 change", fa, fb, NULL};
    struct ik_rtable *t = ik_rsection_table(s, caption, cols);
    free(a);
    free(b);
    free(fa);
    free(fb);
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *it = &list->via.array.ptr[i];
        struct ik_rcell *row = ik_rtable_row(t);
        cell_from(&row[0], at(it, "index"), 0);
        cell_from(&row[1], at(it, "question"), 0);
        cell_from(&row[2], at(it, "delta"), 4);
        cell_from(&row[3], at(it, "a.f1"), 4);
        cell_from(&row[4], at(it, "b.f1"), 4);
    }
}

static void fill_eval(struct ik_rsection *s, const msgpack_object *r)
{
    /* The published figures are of answer mode on the reference's test split. */
    bool answer_mode = ik_mp_str_eq(at(r, "meta.mode"), "answer");
    eval_scores(s, r, answer_mode);
    const msgpack_object *cmp = at(r, "comparison");
    if (cmp == NULL || cmp->type != MSGPACK_OBJECT_MAP)
        return;
    static const struct figure diff[] = {
        {"F1 difference", "f1_delta.delta", 4}, {"interval low", "f1_delta.lo", 4},
        {"interval high", "f1_delta.hi", 4}, {"interval level", "f1_delta.level", 2},
        {"bootstrap resamples", "f1_delta.resamples", 0}, {"items better", "better", 0},
        {"items worse", "worse", 0}, {"items the same", "same", 0}, {0}};
    figures_table(s, "F1 difference and its bootstrap interval", cmp, diff);
    eval_changes(s, cmp, "gains", "Largest gains");
    eval_changes(s, cmp, "losses", "Largest losses");
}

/* ---- jcq-regress ---- */

static void fill_jcq(struct ik_rsection *s, const msgpack_object *r)
{
    static const char *const cols[] = {"role", "model", "correct", "questions", "accuracy",
                                       "unparseable", "reference accuracy (published)", NULL};
    struct ik_rtable *t = ik_rsection_table(s, "Accuracy", cols);
    t->ref_from = 6;
    const msgpack_object *models = at(r, "models");
    for (uint32_t i = 0; models && models->type == MSGPACK_OBJECT_ARRAY && i < models->via.array.size;
         i++) {
        const msgpack_object *m = &models->via.array.ptr[i];
        struct ik_rcell *row = ik_rtable_row(t);
        static const char *const fields[] = {"role", "name", "correct", "n", "accuracy", "unparseable"};
        for (size_t k = 0; k < 6; k++)
            cell_from(&row[k], at(m, fields[k]), 4);
        /* The reference's baseline beside ours, its RAFT model beside the candidate. */
        const struct ik_report_ref_jcq *ref = &ik_report_ref_jcq[i < 2 ? i : 1];
        ik_rcell_num(&row[6], (double)ref->correct / ref->total, 4);
    }
    static const struct figure cmp[] = {
        {"difference (points)", "delta_pp", 2}, {"lost (right, then wrong)", "lost", 0},
        {"gained (wrong, then right)", "gained", 0}, {"McNemar p", "mcnemar.p", 4},
        {"largest drop allowed (points)", "max_drop_pp", 2}, {"gate passed", "passed", 0},
        {"method", "meta.method", 0}, {0}};
    figures_table(s, "Candidate against baseline", r, cmp);
    ik_rsection_note(s, "%s", ik_report_ref_source_jcq);
}

/* ---- gguf-export ---- */

static void fill_gguf(struct ik_rsection *s, const msgpack_object *r)
{
    static const struct figure file[] = {{"file", "", 0}, {0}};
    static const struct figure meta[] = {
        {"name", "meta.name", 0}, {"architecture", "meta.architecture", 0},
        {"chat template", "meta.chat_template", 0}, {"exported to", "meta.export_to", 0}, {0}};
    figures_table(s, "Model", r, meta);
    map_table(s, "Files", "what", at(r, "files"), file);
    static const struct figure cmd[] = {{"command", "", 0}, {0}};
    map_table(s, "Commands", "what", at(r, "commands"), cmd);
}

const struct ik_report_kind ik_report_kinds[] = {
    {"sample", "sample.summary", "Data splits", fill_sample},
    {"distract", "distract.report", "RAFT samples", fill_distract},
    {"cot", "cot.report", "Chain-of-thought answers", fill_cot},
    {"train", "train.report", "Training", fill_train},
    {"evaluate", "eval.report", "Evaluation", fill_eval},
    {"jcq-regress", "jcq.report", "JCQ regression", fill_jcq},
    {"gguf-export", "gguf.report", "GGUF export", fill_gguf},
    {NULL, NULL, NULL, NULL},
};

const struct ik_report_kind *ik_report_kind_of(const char *type)
{
    for (const struct ik_report_kind *k = ik_report_kinds; k->type; k++)
        if (strcmp(k->type, type) == 0)
            return k;
    return NULL;
}
