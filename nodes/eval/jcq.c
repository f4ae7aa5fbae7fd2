/* nodes/eval/jcq.c - the reference's JCommonsenseQA prompt and answer parse
 * (jcq.h). */
#include "base/buf.h"
#include "nodes/eval/jcq.h"

void ik_jcq_render_prompt(struct ik_buf *b, const char *question,
                          const char *const choices[IK_JCQ_N_CHOICES])
{
    ik_buf_printf(b, "質問: %s\n\n選択肢:\n", question);
    for (int i = 0; i < IK_JCQ_N_CHOICES; i++)
        ik_buf_printf(b, "%d. %s\n", i, choices[i]);
    ik_buf_puts(b, "\n正しい選択肢の番号のみを回答してください。");
}

int ik_jcq_parse_answer(const char *reply, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (reply[i] >= '0' && reply[i] <= '4')
            return reply[i] - '0';
    return -1;
}
