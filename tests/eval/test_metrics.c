/* tests/eval/test_metrics.c - edge cases of the reference's normalisation,
 * EM, set and multiset character F1, refusal detection, gating and
 * aggregates (nodes/eval/metrics.h). Expected normalisations were taken
 * from Python 3's strip / re.sub(r"\s+", " ") / rstrip("。．.、，,"). */
#include "base/buf.h"
#include "nodes/eval/metrics.h"
#include "tests/eval/helpers.h"

#define S(x) x, strlen(x)

static void check_norm(const char *in, const char *want)
{
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_puts(&b, "<");
    ik_eval_normalize(&b, in, strlen(in));
    ik_buf_puts(&b, ">");
    char *w = ik_xasprintf("<%s>", want);
    cr_assert_str_eq(b.data, w, "normalize(\"%s\")", in);
    free(w);
    ik_buf_free(&b);
}

Test(metrics, normalize)
{
    check_norm("", "");
    check_norm("答え", "答え");
    check_norm("  a \t\n b 。", "a b "); /* rstrip uncovers a space and keeps it */
    check_norm("abc 。", "abc ");
    check_norm("a 。 .", "a 。 ");
    check_norm("。。", "");
    check_norm("答え。．,", "答え");
    check_norm("a.b.", "a.b");
    check_norm("、a、", "、a"); /* only the end loses punctuation */
    check_norm("\u3000全角\u3000", "全角");      /* U+3000 is whitespace */
    check_norm("x\u00a0\u00a0y", "x y");         /* NBSP too */
    check_norm("\xc2\x85" "a\xe2\x80\xa8", "a"); /* NEL, LINE SEPARATOR */
    check_norm("a\u200bb", "a\u200bb");          /* ZERO WIDTH SPACE is not */
    check_norm(" \t\n ", "");
    /* A raw byte 0x85 is not NEL (invalid UTF-8 is kept as it is). */
    check_norm("\x85" "a", "\x85" "a");
}

Test(metrics, em)
{
    cr_assert_eq(ik_eval_em(S("答え。"), S("答え")), 1.0);
    cr_assert_eq(ik_eval_em(S(" 答え\n"), S("答え ")), 1.0);
    cr_assert_eq(ik_eval_em(S("a  b"), S("a\tb")), 1.0);
    cr_assert_eq(ik_eval_em(S("a b"), S("ab")), 0.0); /* EM keeps the space */
    cr_assert_eq(ik_eval_em(S("abc 。"), S("abc")), 0.0); /* "abc " != "abc" */
    cr_assert_eq(ik_eval_em(S(""), S("")), 1.0);
    cr_assert_eq(ik_eval_em(S("。"), S("")), 1.0);
    cr_assert_eq(ik_eval_em(S(""), S("a")), 0.0);
}

Test(metrics, f1_empty_gold)
{
    cr_assert_eq(ik_eval_f1_set(S(""), S("")), 1.0);
    cr_assert_eq(ik_eval_f1_set(S(" 。、 "), S("\n.")), 1.0); /* both have no tokens */
    cr_assert_eq(ik_eval_f1_set(S("a"), S("")), 0.0);
    cr_assert_eq(ik_eval_f1_set(S("a"), S("、。 ")), 0.0);
    cr_assert_eq(ik_eval_f1_multiset(S(""), S("")), 1.0);
    cr_assert_eq(ik_eval_f1_multiset(S("a"), S("")), 0.0);
}

Test(metrics, f1_empty_prediction)
{
    cr_assert_eq(ik_eval_f1_set(S(""), S("答え")), 0.0);
    cr_assert_eq(ik_eval_f1_set(S("、。 .,，．\u3000"), S("答え")), 0.0);
    cr_assert_eq(ik_eval_f1_multiset(S(" "), S("答え")), 0.0);
}

Test(metrics, f1_values)
{
    cr_assert_eq(ik_eval_f1_set(S("abc"), S("xyz")), 0.0);
    cr_assert_eq(ik_eval_f1_set(S("abcd"), S("abef")), 0.5);
    cr_assert_eq(ik_eval_f1_set(S("税金"), S("税金")), 1.0);
    /* p = 1/3, r = 1: 2pr/(p+r) = 0.5 */
    assert_near(ik_eval_f1_set(S("税あい"), S("税")), 0.5, 1e-15, "1 of 3");
    /* Whitespace and punctuation inside the text are not tokens either. */
    cr_assert_eq(ik_eval_f1_set(S("あ\u3000い、う。"), S("あいう")), 1.0);
    cr_assert_eq(ik_eval_f1_set(S("１，２"), S("１２")), 1.0);
    /* Not whitespace for the reference: U+200B is a token. */
    assert_near(ik_eval_f1_set(S("あ\u200b"), S("あ")), 2.0 / 3.0, 1e-15, "ZWSP");
}

Test(metrics, multiset_differs_from_set)
{
    /* Set: {あ,い} both sides -> 1. Multiset: |P| = 3, |G| = 2, common 2:
     * p = 2/3, r = 1, F1 = 0.8. */
    cr_assert_eq(ik_eval_f1_set(S("ああい"), S("あい")), 1.0);
    assert_near(ik_eval_f1_multiset(S("ああい"), S("あい")), 0.8, 1e-15, "multiset");
    /* common = min(3,1) + min(1,2) = 2 of |P| 4 and |G| 3: p 1/2, r 2/3 */
    assert_near(ik_eval_f1_multiset(S("aaab"), S("abb")), 4.0 / 7.0, 1e-15, "min counts");
    cr_assert_eq(ik_eval_f1_set(S("aaab"), S("abb")), 1.0);
    cr_assert_eq(ik_eval_f1_multiset(S("abc"), S("cba")), 1.0);
}

Test(metrics, invalid_utf8_bytes)
{
    cr_assert_eq(ik_eval_f1_set(S("\xff"), S("\xff")), 1.0);
    cr_assert_eq(ik_eval_f1_set(S("\xff"), S("\xfe")), 0.0);
    /* A lone lead byte is a character of its own, not part of the next. */
    assert_near(ik_eval_f1_set(S("\xe3" "a"), S("a")), 2.0 / 3.0, 1e-15, "lone lead");
}

Test(metrics, refusal_keywords)
{
    cr_assert(ik_eval_is_refusal(S("提供された情報からは回答できません。"), &ik_eval_refusal_default));
    cr_assert(ik_eval_is_refusal(S("…回答するための十分な情報がありません"), &ik_eval_refusal_default));
    cr_assert(ik_eval_is_refusal(S("該当する記述は見つかりません"), &ik_eval_refusal_default));
    cr_assert(!ik_eval_is_refusal(S("回答でき"), &ik_eval_refusal_default));
    cr_assert(!ik_eval_is_refusal(S(""), &ik_eval_refusal_default));
    cr_assert(!ik_eval_is_refusal(S("情報は見つかりました"), &ik_eval_refusal_default));
    const char *mine[] = {"わかりません"};
    struct ik_eval_refusal kw = {mine, 1};
    cr_assert(ik_eval_is_refusal(S("それはわかりません。"), &kw));
    cr_assert(!ik_eval_is_refusal(S("回答できません"), &kw));
    struct ik_eval_refusal none = {NULL, 0};
    cr_assert(!ik_eval_is_refusal(S("回答できません"), &none));
    const char *empty[] = {""};
    struct ik_eval_refusal all = {empty, 1};
    cr_assert(ik_eval_is_refusal(S(""), &all)); /* Python: "" in "" */
}

Test(metrics, refusal_on_answerable_scores_zero)
{
    const char *text = "提供された情報からは回答できません。";
    struct ik_eval_item it;
    /* Even a reply equal to the gold answer scores 0 once it is a refusal. */
    ik_eval_score(&it, S(text), S(text), false, NULL);
    cr_assert(it.refused);
    cr_assert_eq(it.f1, 0.0);
    cr_assert_eq(it.em, 0.0);
    cr_assert_eq(it.f1_multiset, 0.0);
    ik_eval_score(&it, S(text), S(text), false, &(struct ik_eval_refusal){NULL, 0});
    cr_assert(!it.refused);
    cr_assert_eq(it.f1, 1.0);
    cr_assert_eq(it.em, 1.0);
}

Test(metrics, summary)
{
    struct ik_eval_item items[6];
    ik_eval_score(&items[0], S("回答できません"), S("税金は10%です"), false, NULL); /* FP */
    ik_eval_score(&items[1], S("税金は10%です。"), S("税金は10%です"), false, NULL); /* TN */
    ik_eval_score(&items[2], S("ああい"), S("あい"), false, NULL);                  /* TN */
    ik_eval_score(&items[3], S("回答できません"), S("x"), true, NULL);             /* TP */
    ik_eval_score(&items[4], S("答えは x"), S("x"), true, NULL);                   /* FN */
    ik_eval_score(&items[5], S("x"), S("x"), true, NULL);                          /* FN */
    cr_assert_eq(items[4].f1, 0.0); /* unanswerable items are never scored */
    struct ik_eval_summary s;
    ik_eval_summarize(&s, items, 6);
    cr_assert_eq(s.n, 6);
    cr_assert_eq(s.n_answerable, 3);
    cr_assert_eq(s.n_unanswerable, 3);
    cr_assert_eq(s.fp, 1);
    cr_assert_eq(s.tn, 2);
    cr_assert_eq(s.tp, 1);
    cr_assert_eq(s.fn, 2);
    assert_near(s.f1_mean, 2.0 / 3.0, 1e-15, "f1_mean (FP stays as 0)");
    assert_near(s.em_mean, 1.0 / 3.0, 1e-15, "em_mean");
    assert_near(s.f1_answered, 1.0, 0, "f1_answered");
    assert_near(s.f1_multiset_mean, 1.8 / 3.0, 1e-15, "f1_multiset_mean");
    assert_near(s.f1_multiset_answered, 0.9, 1e-15, "f1_multiset_answered");
    assert_near(s.refusal_precision, 0.5, 0, "TP/(TP+FP)");
    assert_near(s.refusal_recall, 1.0 / 3.0, 1e-15, "TP/(TP+FN)");
}

Test(metrics, summary_empty)
{
    struct ik_eval_summary s;
    ik_eval_summarize(&s, NULL, 0);
    cr_assert_eq(s.n, 0);
    cr_assert_eq(s.f1_mean, 0.0);
    cr_assert_eq(s.f1_answered, 0.0);
    cr_assert_eq(s.refusal_precision, 0.0);
    cr_assert_eq(s.refusal_recall, 0.0);
}
