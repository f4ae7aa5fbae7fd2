/* tests/nodes/test_sample.c - the `sample` split: sizes, disjointness,
 * duplicates, stratified unseen, too-few-rows errors, allow_short,
 * determinism of the packed artifacts. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "nodes/raft/sample_split.h"
#include "base/strset.h"
#include "helpers.h"

/* Target "T" with n_target rows; n_groups other groups of sizes 1..n_groups
 * times `scale`; and some noise rows that the length filter drops. */
static void make_rows(struct ik_faq_rows *rows, int n_target, int n_groups, int scale)
{
    ik_faq_rows_init(rows);
    for (int i = 0; i < n_target; i++)
        add_row(rows, "T", i);
    for (int g = 0; g < n_groups; g++) {
        char name[16];
        snprintf(name, sizeof name, "G%02d", g);
        for (int i = 0; i < (g + 1) * scale; i++)
            add_row(rows, name, i);
    }
    ik_faq_rows_add(rows, "short", 5, "too short", 9, "T", 1, NULL, 0, 9001);
    char *long_a = malloc(2100 * 3 + 1);
    for (int i = 0; i < 2100; i++)
        memcpy(long_a + 3 * i, "あ", 3);
    ik_faq_rows_add(rows, "long", 4, long_a, 2100 * 3, "T", 1, NULL, 0, 9002);
    free(long_a);
}

static struct ik_sample_params params(size_t train, size_t test, size_t unseen, size_t extra)
{
    struct ik_sample_params p = {"T", "copyright", {train, test, unseen, extra}, 50, 2000, 42, false};
    return p;
}

Test(sample, sizes_disjoint_and_filtered)
{
    struct ik_faq_rows rows;
    make_rows(&rows, 300, 6, 5);
    struct ik_sample_params p = params(200, 50, 30, 40);
    struct ik_sample_result res;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_sample_split("faq.jsonl", &rows, &p, &res, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(res.n[IK_SPLIT_TRAIN], 200);
    cr_expect_eq(res.n[IK_SPLIT_TEST], 50);
    cr_expect_eq(res.n[IK_SPLIT_UNSEEN], 30);
    cr_expect_eq(res.n[IK_SPLIT_EXTRA], 40);
    cr_expect_eq(res.answer_too_short, 1);
    cr_expect_eq(res.answer_too_long, 1);
    cr_expect_eq(res.target_rows, 300);
    struct ik_strset seen = IK_STRSET_INIT;
    for (int s = 0; s < IK_SPLIT_COUNT; s++)
        for (size_t k = 0; k < res.n[s]; k++) {
            const struct ik_faq_row *r = &rows.v[res.idx[s][k]];
            cr_expect(ik_strset_put(&seen, r->question, r->question_len, 0, NULL),
                      "question %s is in two splits", r->question);
            bool target = strcmp(ik_faq_rows_group(&rows, res.idx[s][k]), "T") == 0;
            cr_expect_eq(target, s != IK_SPLIT_UNSEEN, "split %d has a row of the wrong group", s);
        }
    ik_strset_free(&seen);
    ik_sample_result_free(&res);
    ik_faq_rows_free(&rows);
}

Test(sample, duplicates_removed_and_counted)
{
    struct ik_faq_rows rows;
    ik_faq_rows_init(&rows);
    /* 20 distinct target questions, each written 3 times. */
    for (int rep = 0; rep < 3; rep++)
        for (int i = 0; i < 20; i++)
            add_row(&rows, "T", i);
    for (int i = 0; i < 10; i++)
        add_row(&rows, "O", i % 5); /* 5 distinct, each twice */
    struct ik_sample_params p = params(10, 5, 5, 5);
    struct ik_sample_result res;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_sample_split("faq.jsonl", &rows, &p, &res, &d), 0, "%s", ik_diag_message(&d));
    struct ik_strset seen = IK_STRSET_INIT;
    for (int s = 0; s < IK_SPLIT_COUNT; s++) {
        cr_expect_eq(res.n[s], 5 + (s == IK_SPLIT_TRAIN) * 5);
        for (size_t k = 0; k < res.n[s]; k++) {
            const struct ik_faq_row *r = &rows.v[res.idx[s][k]];
            cr_expect(ik_strset_put(&seen, r->question, r->question_len, 0, NULL));
        }
    }
    cr_expect_gt(res.duplicates[IK_SPLIT_TRAIN] + res.overlaps[IK_SPLIT_TEST], 0);
    cr_expect_eq(res.duplicates[IK_SPLIT_UNSEEN], 5, "each other question appears twice");
    /* All 40 rows whose question went to train/test but were not drawn. */
    cr_expect_eq(res.overlaps[IK_SPLIT_EXTRA], 30);
    cr_expect_eq(res.duplicates[IK_SPLIT_EXTRA], 10);
    ik_strset_free(&seen);
    ik_sample_result_free(&res);
    ik_faq_rows_free(&rows);
}

Test(sample, unseen_is_stratified)
{
    struct ik_faq_rows rows;
    make_rows(&rows, 30, 10, 4); /* groups of 4, 8, …, 40 rows: 220 in all */
    struct ik_sample_params p = params(10, 5, 40, 5);
    struct ik_sample_result res;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_sample_split("faq.jsonl", &rows, &p, &res, &d), 0, "%s", ik_diag_message(&d));
    size_t count[16] = {0};
    for (size_t k = 0; k < res.n[IK_SPLIT_UNSEEN]; k++)
        count[rows.v[res.idx[IK_SPLIT_UNSEEN][k]].group]++;
    /* The reference's allocation: max(1, floor(40*size/220)) each, and the
     * leftover slots all go to the largest group (G09, the last one). */
    size_t total = 0;
    for (size_t g = 1; g < rows.n_groups; g++) { /* group 0 is the target */
        int share = 40 * ((int)g * 4) / 220;
        if (share < 1)
            share = 1;
        cr_expect_geq(count[g], 1, "group %s got no unseen row", rows.groups[g]);
        if (g + 1 < rows.n_groups)
            cr_expect_eq((int)count[g], share, "group %s: %zu, expected %d", rows.groups[g],
                         count[g], share);
        total += count[g];
    }
    cr_expect_eq(count[rows.n_groups - 1], 11, "7 + the 4 leftover slots");
    cr_expect_eq(total, 40);
    ik_sample_result_free(&res);
    ik_faq_rows_free(&rows);
}

static char *split_err(struct ik_faq_rows *rows, struct ik_sample_params *p)
{
    struct ik_sample_result res;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_sample_split("faq.jsonl", rows, p, &res, &d);
    cr_expect_eq(rc, IK_EVALIDATE);
    char *msg = strdup(ik_diag_message(&d));
    ik_diag_free(&d);
    return msg;
}

Test(sample, too_few_rows_errors)
{
    struct ik_faq_rows rows;
    make_rows(&rows, 100, 3, 2); /* others: 2 + 4 + 6 = 12 */
    struct ik_sample_params p = params(80, 20, 5, 10);
    char *msg = split_err(&rows, &p);
    cr_expect_str_eq(msg, "error: faq.jsonl: too few rows: copyright \"T\" has 100 usable rows "
                          "(distinct questions, answers of 50-2000 code points) but the splits ask "
                          "for 110 (train 80 + test 20 + unanswerable_extra 10)\n"
                          "hint: lower unanswerable_extra to at most 0, or set allow_short: true");
    free(msg);
    p = params(120, 20, 5, 10);
    msg = split_err(&rows, &p);
    cr_expect_str_eq(msg, "error: faq.jsonl: too few rows: copyright \"T\" has 100 usable rows "
                          "(distinct questions, answers of 50-2000 code points) but the splits ask "
                          "for 120 (train 120)\n"
                          "hint: lower train to at most 100, or set allow_short: true");
    free(msg);
    p = params(50, 20, 13, 10);
    msg = split_err(&rows, &p);
    cr_expect_str_eq(msg, "error: faq.jsonl: too few rows: the groups other than \"T\" have 12 "
                          "usable rows (distinct questions, answers of 50-2000 code points) but "
                          "unseen needs 13\n"
                          "hint: lower unseen to at most 12, or set allow_short: true");
    free(msg);
    p = params(5, 5, 5, 5);
    p.ministry = "G01x";
    msg = split_err(&rows, &p);
    cr_expect_str_eq(msg, "error: faq.jsonl: no row has copyright \"G01x\"\n"
                          "hint: did you mean \"G01\"?");
    free(msg);
    ik_faq_rows_free(&rows);
}

Test(sample, allow_short_shrinks_and_says_so)
{
    struct ik_faq_rows rows;
    make_rows(&rows, 100, 3, 2);
    struct ik_sample_params p = params(80, 30, 50, 10);
    p.allow_short = true;
    struct ik_sample_result res;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_sample_split("faq.jsonl", &rows, &p, &res, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(res.n[IK_SPLIT_TRAIN], 80);
    cr_expect_eq(res.n[IK_SPLIT_TEST], 20);
    cr_expect_eq(res.n[IK_SPLIT_EXTRA], 0);
    cr_expect_eq(res.n[IK_SPLIT_UNSEEN], 12);
    cr_expect(res.shortened);
    cr_expect_str_eq(res.note, "allow_short: too few rows, shrunk test 30 -> 20, "
                               "unanswerable_extra 10 -> 0, unseen 50 -> 12");
    ik_sample_result_free(&res);
    ik_faq_rows_free(&rows);
}

static void pack_all(struct ik_faq_rows *rows, uint64_t seed, struct ik_mp_writer *w)
{
    struct ik_sample_params p = params(60, 20, 10, 10);
    p.seed = seed;
    struct ik_sample_result res;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_sample_split("faq.jsonl", rows, &p, &res, &d), 0);
    for (int s = 0; s < IK_SPLIT_COUNT; s++)
        ik_sample_pack_rows(w, rows, &res, s, &p);
    ik_sample_pack_summary(w, rows, &res, &p);
    ik_sample_result_free(&res);
}

Test(sample, deterministic_by_seed)
{
    struct ik_faq_rows rows;
    make_rows(&rows, 120, 4, 5);
    struct ik_mp_writer wa, wb, wc;
    ik_mp_writer_init(&wa);
    ik_mp_writer_init(&wb);
    ik_mp_writer_init(&wc);
    pack_all(&rows, 42, &wa);
    pack_all(&rows, 42, &wb);
    pack_all(&rows, 43, &wc);
    cr_expect_eq(wa.sb.size, wb.sb.size);
    cr_expect(same_bytes(&wa, &wb), "same seed, other bytes");
    cr_expect(!same_bytes(&wa, &wc), "other seed, same bytes");
    ik_mp_writer_free(&wa);
    ik_mp_writer_free(&wb);
    ik_mp_writer_free(&wc);
    ik_faq_rows_free(&rows);
}
