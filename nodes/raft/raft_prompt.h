/* nodes/raft/raft_prompt.h - the RAFT prompts and refusal answers of the reference
 * experiment (N3, DESIGN.md §6), as exact strings.
 *
 * The user message is built like the reference's build_user_prompt: the parts
 * "<intro>\n", "<label><i>:\n<doc>\n" for i = 1..n, "<question_label>: <q>"
 * joined with "\n", i.e.
 *   <intro>\n\n<label>1:\n<doc1>\n\n…<label>n:\n<docn>\n\n<question_label>: <q>
 * Documents are used as they are (leading/trailing newlines kept), so
 * rendering the reference's documents in its order reproduces its user
 * messages byte for byte. The intro and labels are params so other domains and
 * languages can use their own. Nothing here can fail. */
#ifndef IK_NODES_RAFT_RAFT_PROMPT_H
#define IK_NODES_RAFT_RAFT_PROMPT_H

#include <stddef.h>

struct ik_buf;

struct ik_raft_prompt {
    const char *intro;          /* 以下の参考文書を基に質問に答えてください。 */
    const char *doc_label;      /* 参考文書 */
    const char *question_label; /* 質問 */
};

struct ik_raft_doc {
    const char *text; /* borrowed */
    size_t len;
};

#define IK_RAFT_N_REFUSALS 5

extern const struct ik_raft_prompt ik_raft_prompt_default;
/* The reference's system prompt (税務 assistant, refuse when the documents
 * lack the answer, quote then answer). */
extern const char ik_raft_system_prompt[];
/* The reference's UNANSWERABLE_TEMPLATES; each ends with
 * 提供された情報からは回答できません。 */
extern const char *const ik_raft_refusals[IK_RAFT_N_REFUSALS];

/* Appends the user message for `question` over docs[0..n_docs) to b. */
void ik_raft_render_user(struct ik_buf *b, const struct ik_raft_prompt *p,
                         const struct ik_raft_doc *docs, size_t n_docs, const char *question,
                         size_t question_len);

#endif
