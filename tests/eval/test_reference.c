/* tests/eval/test_reference.c - the reference run's own stored outputs
 * (tests/data/eval, see its LICENSE-NOTE.md) scored again:
 *   - RAG: the per-item F1, EM and refusal flag of every row whose reply is
 *     not cut. The files keep each string's first 200 code points
 *     (prediction[:200], no ellipsis), so a reply of exactly 200 code points
 *     is taken as cut; the expected answers are read whole from
 *     tests/data/jagovfaqs/test.jsonl (same rows in the same order, checked).
 *     Cut replies still give a one-way check: a keyword in the kept part
 *     means the stored flag must be set.
 *   - RAG aggregates from the stored per-item values.
 *   - JCQ: the parse of every stored response equals its stored pred, and
 *     the accuracies 1029/1119 and 1024/1119 come out. */
#include "base/utf8.h"
#include "nodes/eval/jcq.h"
#include "nodes/eval/metrics.h"
#include "nodes/eval/stats.h"
#include "tests/eval/helpers.h"

#define CUT_CPS 200

struct rag_counts {
    size_t checked, skipped, cut_keyword;
};

static struct rag_counts check_rag_rows(const char *rel)
{
    json_t *doc = load_json(rel);
    json_t *test = load_jsonl("jagovfaqs/test.jsonl");
    json_t *rows = field(doc, "results");
    cr_assert_eq(json_array_size(rows), json_array_size(test), "%s: row count", rel);
    struct rag_counts n = {0};
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        json_t *meta = field(json_array_get(test, i), "metadata");
        size_t ql, tql, el, gl, pl;
        const char *q = str_field(row, "question", &ql);
        const char *tq = str_field(meta, "question", &tql);
        cr_assert(ql == tql && memcmp(q, tq, ql) == 0, "%s row %zu: not test.jsonl's row", rel, i);
        const char *stored_exp = str_field(row, "expected", &el);
        const char *gold = str_field(meta, "expected_answer", &gl);
        cr_assert(el == ik_utf8_cut(gold, gl, CUT_CPS) && memcmp(stored_exp, gold, el) == 0,
                  "%s row %zu: expected is not the first 200 code points of test.jsonl's", rel, i);
        bool unanswerable = json_is_true(field(row, "is_unanswerable"));
        cr_assert_eq(unanswerable, json_is_null(field(meta, "oracle_position")));
        bool stored_refused = json_is_true(field(row, "pred_unanswerable"));
        const char *pred = str_field(row, "prediction", &pl);
        if (ik_utf8_count(pred, pl) >= CUT_CPS) {
            n.skipped++;
            if (ik_eval_is_refusal(pred, pl, &ik_eval_refusal_default)) {
                n.cut_keyword++;
                cr_assert(stored_refused, "%s row %zu: keyword in the kept part, flag unset", rel,
                          i);
            }
            continue;
        }
        struct ik_eval_item it;
        ik_eval_score(&it, pred, pl, gold, gl, unanswerable, NULL);
        cr_assert_eq(it.refused, stored_refused, "%s row %zu: refusal flag", rel, i);
        char what[96];
        snprintf(what, sizeof what, "%s row %zu f1", rel, i);
        assert_near(it.f1, json_number_value(field(row, "f1")), 1e-9, what);
        snprintf(what, sizeof what, "%s row %zu em", rel, i);
        assert_near(it.em, json_number_value(field(row, "em")), 1e-9, what);
        n.checked++;
    }
    json_decref(test);
    json_decref(doc);
    fprintf(stderr, "%s: %zu rows checked, %zu skipped (reply cut at 200 code points; %zu of "
                    "them with a keyword in the kept part)\n",
            rel, n.checked, n.skipped, n.cut_keyword);
    return n;
}

Test(reference, baseline_rows)
{
    struct rag_counts n = check_rag_rows("eval/results_baseline_nothink.json");
    /* 34 of the 49 uncut replies are refusals, 15 are answers. */
    cr_assert_eq(n.checked, 49);
    cr_assert_eq(n.skipped, 151);
    cr_assert_eq(n.cut_keyword, 3);
}

Test(reference, raft_rows)
{
    struct rag_counts n = check_rag_rows("eval/results_ngc_raft_nothink.json");
    cr_assert_eq(n.checked, 41);
    cr_assert_eq(n.skipped, 159);
    cr_assert_eq(n.cut_keyword, 0);
}

/* The stored aggregates from the stored per-item values; f1_answered is new
 * (the published 0.738 and 0.664). */
static void check_summary(const char *rel, double f1_answered)
{
    json_t *doc = load_json(rel);
    json_t *rows = field(doc, "results"), *m = field(doc, "metrics"), *row;
    size_t n = json_array_size(rows), i;
    struct ik_eval_item *items = ik_xcalloc(n, sizeof *items);
    json_array_foreach(rows, i, row) {
        items[i].unanswerable = json_is_true(field(row, "is_unanswerable"));
        items[i].refused = json_is_true(field(row, "pred_unanswerable"));
        items[i].em = json_number_value(field(row, "em"));
        items[i].f1 = json_number_value(field(row, "f1"));
    }
    struct ik_eval_summary s;
    ik_eval_summarize(&s, items, n);
    cr_assert_eq(s.n, n);
    cr_assert_eq(s.n_answerable, (size_t)json_integer_value(field(doc, "answerable_samples")));
    cr_assert_eq(s.n_unanswerable, (size_t)json_integer_value(field(doc, "unanswerable_samples")));
    cr_assert_eq(s.tp, (size_t)json_integer_value(field(m, "unanswerable_tp")));
    cr_assert_eq(s.fp, (size_t)json_integer_value(field(m, "unanswerable_fp")));
    cr_assert_eq(s.fn, (size_t)json_integer_value(field(m, "unanswerable_fn")));
    cr_assert_eq(s.tn, (size_t)json_integer_value(field(m, "unanswerable_tn")));
    /* The reference's own sum may differ in the last bits (Python's sum). */
    assert_near(s.f1_mean, json_number_value(field(m, "f1_mean")), 1e-12, "f1_mean");
    assert_near(s.em_mean, json_number_value(field(m, "em_mean")), 1e-12, "em_mean");
    assert_near(s.refusal_precision, json_number_value(field(m, "unanswerable_precision")), 0,
                "precision");
    assert_near(s.refusal_recall, json_number_value(field(m, "unanswerable_recall")), 0, "recall");
    assert_near(s.f1_answered, f1_answered, 1e-12, "f1_answered");
    free(items);
    json_decref(doc);
}

Test(reference, baseline_summary)
{
    check_summary("eval/results_baseline_nothink.json", 0.7379995265787123);
}

Test(reference, raft_summary)
{
    check_summary("eval/results_ngc_raft_nothink.json", 0.6635966821219894);
}

/* Parses every stored response; returns the correct count, fills the
 * per-item outcome and the unparseable count. */
static size_t check_jcq(const char *rel, json_t **doc_out, bool *ok, size_t *unparsed)
{
    json_t *doc = load_json(rel);
    json_t *rows = field(doc, "results"), *row;
    cr_assert_eq(json_array_size(rows), 1119);
    cr_assert_eq(json_integer_value(field(doc, "total")), 1119);
    size_t correct = 0, i, len;
    *unparsed = 0;
    json_array_foreach(rows, i, row) {
        const char *resp = str_field(row, "response", &len);
        int pred = ik_jcq_parse_answer(resp, len);
        cr_assert_eq(pred, json_integer_value(field(row, "pred")), "%s row %zu: %s", rel, i, resp);
        ok[i] = pred == json_integer_value(field(row, "gold"));
        cr_assert_eq(ok[i], json_is_true(field(row, "correct")), "%s row %zu", rel, i);
        correct += ok[i];
        *unparsed += pred < 0;
    }
    cr_assert_eq(correct, (size_t)json_integer_value(field(doc, "correct")));
    *doc_out = doc;
    return correct;
}

Test(reference, jcq_parse_and_accuracy)
{
    static bool base_ok[1119], raft_ok[1119];
    json_t *base, *raft;
    size_t base_unparsed, raft_unparsed;
    cr_assert_eq(check_jcq("eval/jcq_baseline_nothink.json", &base, base_ok, &base_unparsed), 1029);
    cr_assert_eq(check_jcq("eval/jcq_raft_nothink.json", &raft, raft_ok, &raft_unparsed), 1024);
    cr_assert_eq(base_unparsed, 0);
    cr_assert_eq(raft_unparsed, 3);
    /* Paired by row: the same questions in the same order. */
    for (size_t i = 0; i < 1119; i++) {
        size_t la, lb;
        const char *qa = str_field(json_array_get(field(base, "results"), i), "question", &la);
        const char *qb = str_field(json_array_get(field(raft, "results"), i), "question", &lb);
        cr_assert(la == lb && memcmp(qa, qb, la) == 0, "row %zu pairs different questions", i);
    }
    uint64_t only_base, only_raft;
    ik_mcnemar_count(base_ok, raft_ok, 1119, &only_base, &only_raft);
    cr_assert_eq(only_base, 24);
    cr_assert_eq(only_raft, 19);
    /* 2 * sum_{i<=19} C(43, i) / 2^43, exact in rationals. */
    assert_rel(ik_mcnemar_exact_p(only_base, only_raft), 0.542384011856484, 1e-15, "jcq p");
    json_decref(base);
    json_decref(raft);
}
