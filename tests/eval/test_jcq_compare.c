/* tests/eval/test_jcq_compare.c - the jcq-regress verdict (nodes/eval/
 * jcq_compare.h) on the reference's own 2 x 1,119 choices, at the edge of
 * the threshold, and the jcq.report it is packed into (jcq_report.h). */
#include "base/diag.h"
#include "base/mp.h"
#include "nodes/eval/jcq_ask.h"
#include "nodes/eval/jcq_compare.h"
#include "nodes/eval/jcq_items.h"
#include "nodes/eval/jcq_report.h"
#include "tests/eval/helpers.h"

/* The stored preds and golds of one reference file. */
static void load_preds(const char *rel, int *pred, int *gold)
{
    json_t *doc = load_json(rel), *row;
    size_t i;
    json_array_foreach(field(doc, "results"), i, row) {
        pred[i] = (int)json_integer_value(field(row, "pred"));
        gold[i] = (int)json_integer_value(field(row, "gold"));
    }
    json_decref(doc);
}

Test(jcq_compare, reference)
{
    static int base[1119], raft[1119], gold[1119], gold2[1119];
    load_preds("eval/jcq_baseline_nothink.json", base, gold);
    load_preds("eval/jcq_raft_nothink.json", raft, gold2);
    cr_assert_arr_eq(gold, gold2, sizeof gold);
    struct ik_jcq_compare c;
    ik_jcq_compare(&c, gold, base, raft, 1119, 1.0);
    cr_assert(c.baseline.correct == 1029 && c.candidate.correct == 1024);
    cr_assert(c.baseline.unparseable == 0 && c.candidate.unparseable == 3);
    assert_near(c.baseline.accuracy, 0.9195710455764075, 1e-15, "base accuracy");
    assert_near(c.delta_pp, -500.0 / 1119, 1e-12, "delta");
    cr_assert(c.n_lost == 24 && c.n_gained == 19);
    assert_rel(c.p_value, 0.542384011856484, 1e-15, "p");
    cr_assert(c.passed);
    for (size_t k = 0; k < c.n_lost; k++)
        cr_assert(base[c.lost[k]] == gold[c.lost[k]] && raft[c.lost[k]] != gold[c.lost[k]]);
    for (size_t k = 1; k < c.n_gained; k++)
        cr_assert_lt(c.gained[k - 1], c.gained[k]);
    ik_jcq_compare_free(&c);
    ik_jcq_compare(&c, gold, base, raft, 1119, 0.4);
    cr_assert(!c.passed); /* 0.447 points down */
    ik_jcq_compare_free(&c);
}

/* One question of 100 lost is a drop of exactly 1 point: max_drop_pp 1 passes. */
Test(jcq_compare, threshold_edge)
{
    int label[100], a[100], b[100];
    for (int i = 0; i < 100; i++)
        label[i] = a[i] = b[i] = i % 5;
    b[7] = -1;
    struct ik_jcq_compare c;
    ik_jcq_compare(&c, label, a, b, 100, 1.0);
    cr_assert_eq(c.delta_pp, -1.0);
    cr_assert(c.passed);
    cr_assert(c.n_lost == 1 && c.lost[0] == 7 && c.candidate.unparseable == 1);
    assert_near(c.p_value, 1.0, 0, "p of b=1, c=0");
    ik_jcq_compare_free(&c);
    ik_jcq_compare(&c, label, a, b, 100, 0.99);
    cr_assert(!c.passed);
    ik_jcq_compare_free(&c);
    /* A gain never fails, whatever the threshold. */
    ik_jcq_compare(&c, label, b, a, 100, 0);
    cr_assert(c.passed && c.delta_pp == 1.0 && c.n_gained == 1);
    ik_jcq_compare_free(&c);
}

/* A three-question report unpacks with the documented fields. */
Test(jcq_report, layout)
{
    const char *text =
        "{\"q_id\": 1, \"question\": \"q1\", \"choice0\": \"a\", \"choice1\": \"b\", \"choice2\": \"c\", "
        "\"choice3\": \"d\", \"choice4\": \"e\", \"label\": 0}\n"
        "{\"q_id\": 2, \"question\": \"q2\", \"choice0\": \"a\", \"choice1\": \"b\", \"choice2\": \"c\", "
        "\"choice3\": \"d\", \"choice4\": \"e\", \"label\": 1}\n"
        "{\"q_id\": 3, \"question\": \"q3\", \"choice0\": \"a\", \"choice1\": \"b\", \"choice2\": \"c\", "
        "\"choice3\": \"d\", \"choice4\": \"e\", \"label\": 2}\n";
    struct ik_jcq_items items = IK_JCQ_ITEMS_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_jcq_items_parse("x", text, strlen(text), &items, &d), 0);
    int label[3] = {0, 1, 2}, pa[3] = {0, 1, 0}, pb[3] = {1, -1, 2};
    char *ra[3] = {"0", "1", "0"}, *rb[3] = {"1", "x", "2"};
    struct ik_jcq_answers a = {3, pa, ra, NULL, NULL}, b = {3, pb, rb, NULL, NULL};
    struct ik_jcq_compare c;
    ik_jcq_compare(&c, label, pa, pb, 3, 10);
    struct ik_jcq_report r = {"generate", "reply", 0, "abcd", &items, label, 3,
                              {"base", NULL, 0, &a, pa}, {"raft", NULL, 0, &b, pb}, &c};
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_jcq_report_pack(&w, &r);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, w.sb.data, w.sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *root = &u.data;
    cr_assert(ik_mp_str_eq(ik_mp_get(root, "kind"), "jcq.report"));
    const msgpack_object *models = ik_mp_get(root, "models");
    cr_assert_eq(models->via.array.size, 2);
    cr_assert(ik_mp_str_eq(ik_mp_get(&models->via.array.ptr[1], "name"), "raft"));
    cr_assert_eq(ik_mp_get(&models->via.array.ptr[1], "unparseable")->via.u64, 1);
    cr_assert_eq(ik_mp_get(&models->via.array.ptr[0], "correct")->via.u64, 2);
    double delta;
    cr_assert(ik_mp_number(ik_mp_get(root, "delta_pp"), &delta));
    assert_near(delta, -100.0 / 3, 1e-12, "delta");
    cr_assert_eq(ik_mp_get(root, "passed")->type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert(ik_mp_get(root, "passed")->via.boolean == false);
    const msgpack_object *recs = ik_mp_get(root, "records");
    cr_assert_eq(recs->via.array.size, 3); /* q1, q2 lost; q3 gained */
    cr_assert(ik_mp_str_eq(ik_mp_get(&recs->via.array.ptr[1], "flip"), "lost"));
    cr_assert(ik_mp_str_eq(ik_mp_get(&recs->via.array.ptr[1], "candidate_reply"), "x"));
    cr_assert_eq(ik_mp_get(&recs->via.array.ptr[1], "candidate_pred")->via.i64, -1);
    cr_assert(ik_mp_str_eq(ik_mp_get(&recs->via.array.ptr[2], "flip"), "gained"));
    cr_assert_eq(ik_mp_get(&recs->via.array.ptr[2], "q_id")->via.u64, 3);
    const msgpack_object *mc = ik_mp_get(root, "mcnemar");
    cr_assert(ik_mp_get(mc, "b")->via.u64 == 2 && ik_mp_get(mc, "c")->via.u64 == 1);
    msgpack_unpacked_destroy(&u);
    ik_mp_writer_free(&w);
    ik_jcq_compare_free(&c);
    ik_jcq_items_free(&items);
}
