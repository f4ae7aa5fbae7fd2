/* tests/cot/test_citation.c - the citation check: names the oracle's number
 * and quotes its text (whitespace-insensitive), and each way to fail. */
#include "tests/cot/helpers.h"

static enum ik_cite check(const char *answer, int oracle, const char *doc)
{
    return ik_cot_cite_check(answer, strlen(answer), "参考文書", oracle, doc, strlen(doc), 5);
}

static const char DOC[] = "住宅借入金等特別控除を受けるためには、確定申告書に必要書類を添付して"
                          "提出する必要があります。\n二年目以降は年末調整で控除を受けられます。";

Test(cot_citation, valid)
{
    cr_assert_eq(check("参考文書2に「確定申告書に必要書類を添付して提出する必要があります」と"
                       "記載されています。したがって、申告が必要です。", 2, DOC), IK_CITE_OK);
}

Test(cot_citation, whitespace_is_ignored)
{
    /* the answer joins the two lines and adds spaces; still the document's words */
    cr_assert_eq(check("参考文書2に「必要があります。 二年目以降は 年末調整で」とあります。", 2, DOC),
                 IK_CITE_OK);
    cr_assert_eq(check("参考文書2に「必要が\nあります」とあります。", 2, DOC), IK_CITE_OK);
}

Test(cot_citation, full_width_number)
{
    cr_assert_eq(check("参考文書２に「年末調整で控除を受けられます」とあります。", 2, DOC), IK_CITE_OK);
}

Test(cot_citation, wrong_number)
{
    cr_assert_eq(check("参考文書3に「年末調整で控除を受けられます」とあります。", 2, DOC),
                 IK_CITE_WRONG_DOCUMENT);
    /* 参考文書12 is not 参考文書1 */
    cr_assert_eq(check("参考文書12に「年末調整で控除を受けられます」とあります。", 1, DOC),
                 IK_CITE_WRONG_DOCUMENT);
}

Test(cot_citation, no_number)
{
    cr_assert_eq(check("文書に「年末調整で控除を受けられます」とあります。", 2, DOC),
                 IK_CITE_NO_DOCUMENT);
}

Test(cot_citation, quote_not_in_document)
{
    cr_assert_eq(check("参考文書2に「控除は誰でも自動的に受けられます」とあります。", 2, DOC),
                 IK_CITE_QUOTE_NOT_FOUND);
}

Test(cot_citation, no_quote_or_too_short)
{
    cr_assert_eq(check("参考文書2によれば、申告が必要です。", 2, DOC), IK_CITE_NO_QUOTE);
    cr_assert_eq(check("参考文書2に「控除」とあります。", 2, DOC), IK_CITE_NO_QUOTE);
    cr_assert_eq(check("参考文書2に「確定申告書に必要書類", 2, DOC), IK_CITE_NO_QUOTE); /* unclosed */
}

Test(cot_citation, ellipsis_parts_in_order)
{
    cr_assert_eq(check("参考文書2に「住宅借入金等特別控除を…必要があります」とあります。", 2, DOC),
                 IK_CITE_OK);
    cr_assert_eq(check("参考文書2に「必要があります…住宅借入金等特別控除を」とあります。", 2, DOC),
                 IK_CITE_QUOTE_NOT_FOUND);
}

Test(cot_citation, one_good_quote_is_enough)
{
    cr_assert_eq(check("参考文書2の「控除は誰でも受けられる」ではなく「年末調整で控除を受けられます」です。",
                       2, DOC), IK_CITE_OK);
}
