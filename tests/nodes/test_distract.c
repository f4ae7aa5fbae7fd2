/* tests/nodes/test_distract.c - RAFT samples: oracle rate and slot
 * distribution, same-group distractors and top-ups, refusals, never the
 * oracle's text as a distractor, determinism of the packed artifacts, and
 * test/unseen artifacts that oracle_p does not change. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "nodes/raft/distract_build.h"
#include "helpers.h"

static bool doc_is(const struct ik_raft_doc *doc, const char *s, size_t n)
{
    return doc->len == n && memcmp(doc->text, s, n) == 0;
}

/* Which group's answer is this document? Answers start with "<group> の回答". */
static bool doc_of_group(const struct ik_raft_doc *doc, const char *group)
{
    size_t n = strlen(group);
    return doc->len > n + 1 && memcmp(doc->text, group, n) == 0 && doc->text[n] == ' ';
}

Test(distract, oracle_rate_and_slots_over_10000)
{
    struct ik_faq_rows train, empty;
    ik_faq_rows_init(&train);
    ik_faq_rows_init(&empty);
    for (int i = 0; i < 10000; i++)
        add_row(&train, i % 2 ? "A" : "B", i);
    struct ik_distract_params p;
    ik_distract_params_default(&p);
    struct ik_distract_result res;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_distract_build(&train, &empty, &empty, &empty, &p, &res, &d), 0, "%s",
                 ik_diag_message(&d));
    const struct ik_raft_stats *st = &res.stats[IK_RAFT_TRAIN];
    cr_assert_eq(st->samples, 10000);
    /* Binomial(10000, 0.8): sd 40; 4.5 sd is a 1-in-150,000 false alarm. */
    cr_expect(st->with_oracle >= 8000 - 180 && st->with_oracle <= 8000 + 180,
              "with_oracle %zu outside 8000 +- 180", st->with_oracle);
    cr_expect_eq(st->with_oracle + st->without_oracle, 10000);
    /* Slots 1..5 uniform: chi-square with 4 degrees of freedom < 18.47 (p 0.001). */
    double chi = 0, e = (double)st->with_oracle / 5;
    for (int k = 1; k <= 5; k++)
        chi += (st->positions[k] - e) * (st->positions[k] - e) / e;
    cr_expect_lt(chi, 18.47, "oracle slots not uniform: chi-square %.2f", chi);
    /* Refusal templates uniform too (chi-square, 4 dof). */
    chi = 0, e = (double)st->without_oracle / 5;
    for (int k = 0; k < 5; k++)
        chi += (st->refusals[k] - e) * (st->refusals[k] - e) / e;
    cr_expect_lt(chi, 18.47, "refusals not uniform: chi-square %.2f", chi);
    /* Every sample checked against its own row. */
    size_t counted = 0;
    for (size_t i = 0; i < res.n[IK_RAFT_TRAIN]; i++) {
        const struct ik_raft_sample *s = &res.samples[IK_RAFT_TRAIN][i];
        const struct ik_faq_row *r = &s->set->v[s->row];
        const char *g = ik_faq_rows_group(s->set, s->row);
        cr_assert_eq(s->n_docs, 5);
        for (size_t k = 0; k < s->n_docs; k++) {
            bool oracle = (int)k + 1 == s->oracle_pos;
            cr_assert_eq(doc_is(&s->docs[k], r->answer, r->answer_len), oracle,
                         "sample %zu doc %zu: oracle text misplaced", i, k + 1);
            cr_assert(doc_of_group(&s->docs[k], g), "sample %zu: distractor from another group", i);
            for (size_t j = 0; j < k; j++)
                cr_assert_not(doc_is(&s->docs[k], s->docs[j].text, s->docs[j].len));
        }
        counted += s->oracle_pos > 0;
    }
    cr_expect_eq(counted, st->with_oracle);
    cr_expect_eq(st->topped_up_samples, 0);
    ik_distract_result_free(&res);
    ik_faq_rows_free(&train);
}

Test(distract, refusals_topups_and_eval_sets)
{
    struct ik_faq_rows train, test, unseen, extra;
    ik_faq_rows_init(&train);
    ik_faq_rows_init(&test);
    ik_faq_rows_init(&unseen);
    ik_faq_rows_init(&extra);
    for (int i = 0; i < 40; i++)
        add_row(&train, "T", i);
    add_row(&train, "small", 0); /* a group of 3: every sample needs top-ups */
    add_row(&train, "small", 1);
    add_row(&train, "small", 2);
    for (int i = 40; i < 50; i++)
        add_row(&test, "T", i);
    for (int i = 0; i < 6; i++)
        add_row(&unseen, "U", i);
    for (int i = 50; i < 60; i++)
        add_row(&extra, "T", i);
    /* A row whose answer equals another row's: never its own distractor. */
    ik_faq_rows_add(&extra, "dup-q", 5, train.v[0].answer, train.v[0].answer_len, "T", 1, NULL, 0, 99);
    struct ik_distract_params p;
    ik_distract_params_default(&p);
    struct ik_distract_result res;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_distract_build(&train, &test, &unseen, &extra, &p, &res, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(res.n[IK_RAFT_TRAIN], 54);
    const struct ik_raft_stats *st = &res.stats[IK_RAFT_TRAIN];
    cr_expect_eq(st->extra, 11);
    size_t small_topups = 0;
    for (size_t i = 0; i < res.n[IK_RAFT_TRAIN]; i++) {
        const struct ik_raft_sample *s = &res.samples[IK_RAFT_TRAIN][i];
        const struct ik_faq_row *r = &s->set->v[s->row];
        const char *g = ik_faq_rows_group(s->set, s->row);
        if (s->is_extra) {
            cr_expect_eq(s->oracle_pos, 0, "extra rows never carry the oracle");
            cr_expect_eq(s->n_docs, 5);
            cr_expect(s->refusal >= 0 && s->refusal < 5);
        }
        for (size_t k = 0; k < s->n_docs; k++)
            if ((int)k + 1 != s->oracle_pos)
                cr_expect_not(doc_is(&s->docs[k], r->answer, r->answer_len),
                              "a distractor equals the oracle text (%s)", r->question);
        if (strcmp(g, "small") == 0) {
            /* 2 same-group answers exist; the rest are topped up and counted. */
            size_t want = s->oracle_pos ? 2 : 3;
            cr_expect_eq(s->from_other, want, "%s: %zu topped up", r->question, s->from_other);
            small_topups += s->from_other > 0;
        } else {
            cr_expect_eq(s->from_other, 0);
        }
    }
    cr_expect_eq(st->topped_up_samples, small_topups);
    cr_expect_eq(small_topups, 3);
    for (int split = IK_RAFT_TEST; split <= IK_RAFT_UNSEEN; split++) {
        cr_expect_eq(res.stats[split].with_oracle, res.n[split], "eval samples always have it");
        for (size_t i = 0; i < res.n[split]; i++) {
            const struct ik_raft_sample *s = &res.samples[split][i];
            const struct ik_faq_row *r = &s->set->v[s->row];
            cr_expect(s->oracle_pos >= 1 && s->oracle_pos <= 5);
            cr_expect(doc_is(&s->docs[s->oracle_pos - 1], r->answer, r->answer_len));
        }
    }
    /* Unseen groups are not in the pool: every distractor is a top-up (as in the reference). */
    cr_expect_eq(res.stats[IK_RAFT_UNSEEN].other_group_docs, 6 * 4);
    ik_distract_result_free(&res);
    ik_faq_rows_free(&train);
    ik_faq_rows_free(&test);
    ik_faq_rows_free(&unseen);
    ik_faq_rows_free(&extra);
}

Test(distract, too_few_answers)
{
    struct ik_faq_rows train, empty;
    ik_faq_rows_init(&train);
    ik_faq_rows_init(&empty);
    for (int i = 0; i < 4; i++)
        add_row(&train, "T", i);
    struct ik_distract_params p;
    ik_distract_params_default(&p);
    struct ik_distract_result res;
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_distract_build(&train, &empty, &empty, &empty, &p, &res, &d), IK_EVALIDATE);
    cr_expect(strstr(ik_diag_message(&d), "distinct distractor answers in the pool, ") != NULL,
              "%s", ik_diag_message(&d));
    cr_expect(strstr(ik_diag_message(&d), "\nhint: lower distractors, or give sample more rows"));
    ik_diag_free(&d);
    ik_faq_rows_free(&train);
}

/* Builds and packs each split and the report into its own writer. */
static void build_pack(const struct ik_faq_rows *sets, uint64_t seed, double oracle_p,
                       struct ik_mp_writer w[IK_RAFT_SPLITS + 1])
{
    struct ik_distract_params p;
    ik_distract_params_default(&p);
    p.seed = seed;
    p.oracle_p = oracle_p;
    struct ik_distract_result res;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_distract_build(&sets[0], &sets[1], &sets[2], &sets[3], &p, &res, &d), 0);
    for (int s = 0; s < IK_RAFT_SPLITS; s++)
        ik_distract_pack_samples(&w[s], &res, s, &p);
    ik_distract_pack_report(&w[IK_RAFT_SPLITS], &res, &p);
    ik_distract_result_free(&res);
}

/* 60 train rows of two groups, 10 test, 5 unseen, 5 extra. */
static void make_sets(struct ik_faq_rows sets[4])
{
    for (int k = 0; k < 4; k++)
        ik_faq_rows_init(&sets[k]);
    for (int i = 0; i < 60; i++)
        add_row(&sets[0], i % 3 ? "T" : "S", i);
    for (int i = 60; i < 70; i++)
        add_row(&sets[1], "T", i);
    for (int i = 0; i < 5; i++)
        add_row(&sets[2], "U", i);
    for (int i = 70; i < 75; i++)
        add_row(&sets[3], "T", i);
}

/* Do all the artifacts (3 splits and the report) of a and b hold the same bytes? */
static bool same_artifacts(const struct ik_mp_writer *a, const struct ik_mp_writer *b)
{
    for (int s = 0; s <= IK_RAFT_SPLITS; s++)
        if (!same_bytes(&a[s], &b[s]))
            return false;
    return true;
}

Test(distract, deterministic_by_seed)
{
    struct ik_faq_rows sets[4];
    make_sets(sets);
    struct ik_mp_writer wa[IK_RAFT_SPLITS + 1], wb[IK_RAFT_SPLITS + 1], wc[IK_RAFT_SPLITS + 1];
    for (int s = 0; s <= IK_RAFT_SPLITS; s++) {
        ik_mp_writer_init(&wa[s]);
        ik_mp_writer_init(&wb[s]);
        ik_mp_writer_init(&wc[s]);
    }
    build_pack(sets, 42, 0.8, wa);
    build_pack(sets, 42, 0.8, wb);
    build_pack(sets, 7, 0.8, wc);
    cr_expect(same_artifacts(wa, wb), "same seed, other bytes");
    cr_expect(!same_artifacts(wa, wc), "other seed, same bytes");
    for (int s = 0; s <= IK_RAFT_SPLITS; s++) {
        ik_mp_writer_free(&wa[s]);
        ik_mp_writer_free(&wb[s]);
        ik_mp_writer_free(&wc[s]);
    }
    for (int k = 0; k < 4; k++)
        ik_faq_rows_free(&sets[k]);
}

/* docs/determinism.md: oracle_p changes the train split and the report, and
 * leaves the test and unseen artifacts byte-identical (early cutoff for what
 * reads only them). */
Test(distract, oracle_p_leaves_eval_sets_byte_identical)
{
    struct ik_faq_rows sets[4];
    make_sets(sets);
    struct ik_mp_writer a[IK_RAFT_SPLITS + 1], b[IK_RAFT_SPLITS + 1];
    for (int s = 0; s <= IK_RAFT_SPLITS; s++) {
        ik_mp_writer_init(&a[s]);
        ik_mp_writer_init(&b[s]);
    }
    build_pack(sets, 42, 0.8, a);
    build_pack(sets, 42, 0.3, b);
    cr_expect(!same_bytes(&a[IK_RAFT_TRAIN], &b[IK_RAFT_TRAIN]), "oracle_p did not change train");
    cr_expect(!same_bytes(&a[IK_RAFT_SPLITS], &b[IK_RAFT_SPLITS]),
              "oracle_p did not change the report");
    cr_expect(same_bytes(&a[IK_RAFT_TEST], &b[IK_RAFT_TEST]), "oracle_p changed the test artifact");
    cr_expect(same_bytes(&a[IK_RAFT_UNSEEN], &b[IK_RAFT_UNSEEN]),
              "oracle_p changed the unseen artifact");
    /* The train artifact still says which oracle_p made it. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, a[IK_RAFT_TRAIN].sb.data, a[IK_RAFT_TRAIN].sb.size, NULL),
                 MSGPACK_UNPACK_SUCCESS);
    double v = 0;
    cr_expect(ik_mp_number(ik_mp_get(ik_mp_get(&u.data, "meta"), "oracle_p"), &v) && v == 0.8);
    msgpack_unpacked_destroy(&u);
    for (int s = 0; s <= IK_RAFT_SPLITS; s++) {
        ik_mp_writer_free(&a[s]);
        ik_mp_writer_free(&b[s]);
    }
    for (int k = 0; k < 4; k++)
        ik_faq_rows_free(&sets[k]);
}
