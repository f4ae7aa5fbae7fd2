/* nodes/eval/jcq.h - JCommonsenseQA as the reference asked it (DESIGN.md §6):
 * the zero-shot prompt, sent as the only user message, and the parse of the
 * reply into a choice.
 *
 * Prompt, byte for byte (the reference's JCQ_PROMPT_TEMPLATE):
 *   質問: {question}\n\n選択肢:\n0. {c0}\n1. {c1}\n2. {c2}\n3. {c3}\n4. {c4}\n\n
 *   正しい選択肢の番号のみを回答してください。
 * (one string; half-width colons and ". " after each digit; the question and
 * choices are inserted as they are).
 *
 * Parse: the first ASCII digit 0-4 anywhere in the reply, else -1. The
 * reference ran re.search(r"[0-4]", response.strip()): a range of code points
 * U+0030..U+0034, so full-width ０-４ never match (none of its 2 × 1,119
 * stored replies has one, so its stored preds cannot say otherwise), and
 * strip() cannot change which digit comes first. Scanning bytes is the same
 * as scanning code points: no byte of a multi-byte UTF-8 character is ASCII.
 * Nothing here fails. */
#ifndef IK_NODES_EVAL_JCQ_H
#define IK_NODES_EVAL_JCQ_H

#include <stddef.h>

struct ik_buf;

#define IK_JCQ_N_CHOICES 5

/* Appends the prompt for `question` and choices[0..5) (NUL-terminated UTF-8)
 * to b. */
void ik_jcq_render_prompt(struct ik_buf *b, const char *question,
                          const char *const choices[IK_JCQ_N_CHOICES]);

/* The choice reply[0..n) names: 0..4, or -1 when it has no digit 0-4. */
int ik_jcq_parse_answer(const char *reply, size_t n);

#endif
