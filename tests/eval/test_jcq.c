/* tests/eval/test_jcq.c - the JCQ prompt byte for byte and the answer parse
 * (nodes/eval/jcq.h); the parse of the reference's 2 x 1,119 stored replies
 * is in test_reference.c. */
#include "base/buf.h"
#include "nodes/eval/jcq.h"
#include "tests/eval/helpers.h"

#define S(x) x, strlen(x)

Test(jcq, prompt)
{
    /* The first question of JCommonsenseQA valid v1.1 (q_id 8939). */
    const char *choices[IK_JCQ_N_CHOICES] = {"掲示板", "パソコン", "マザーボード", "ハードディスク",
                                               "まな板"};
    struct ik_buf b = IK_BUF_INIT;
    ik_jcq_render_prompt(&b, "電子機器で使用される最も主要な電子回路基板の事をなんと言う？",
                         choices);
    cr_assert_str_eq(b.data, "質問: 電子機器で使用される最も主要な電子回路基板の事をなんと言う？\n"
                             "\n"
                             "選択肢:\n"
                             "0. 掲示板\n"
                             "1. パソコン\n"
                             "2. マザーボード\n"
                             "3. ハードディスク\n"
                             "4. まな板\n"
                             "\n"
                             "正しい選択肢の番号のみを回答してください。");
    ik_buf_free(&b);
}

Test(jcq, parse)
{
    cr_assert_eq(ik_jcq_parse_answer(S("2\n")), 2);
    cr_assert_eq(ik_jcq_parse_answer(S("  4")), 4);
    cr_assert_eq(ik_jcq_parse_answer(S("0")), 0);
    cr_assert_eq(ik_jcq_parse_answer(S("")), -1);
    cr_assert_eq(ik_jcq_parse_answer(S("5")), -1);
    cr_assert_eq(ik_jcq_parse_answer(S("[ERROR]")), -1);
    cr_assert_eq(ik_jcq_parse_answer(S("答えは5ではなく3です")), 3);
    cr_assert_eq(ik_jcq_parse_answer(S("10")), 1); /* the first digit 0-4 */
    cr_assert_eq(ik_jcq_parse_answer(S("7 or 2")), 2);
    cr_assert_eq(ik_jcq_parse_answer(S("選択肢1")), 1);
    /* Full-width digits are not [0-4] for Python's re. */
    cr_assert_eq(ik_jcq_parse_answer(S("２")), -1);
    cr_assert_eq(ik_jcq_parse_answer(S("２ではなく3")), 3);
    /* The length is honoured: nothing past n is read. */
    cr_assert_eq(ik_jcq_parse_answer("ab3", 2), -1);
}
