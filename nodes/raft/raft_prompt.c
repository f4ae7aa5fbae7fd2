/* nodes/raft/raft_prompt.c - the reference's prompt strings and user-message
 * rendering (see raft_prompt.h for the exact layout). */
#include "base/buf.h"
#include "nodes/raft/raft_prompt.h"

const struct ik_raft_prompt ik_raft_prompt_default = {
    "以下の参考文書を基に質問に答えてください。",
    "参考文書",
    "質問",
};

/* Copied from the reference script's SYSTEM_PROMPT; it is also the system
 * message of every row of the published test.jsonl. */
const char ik_raft_system_prompt[] =
    "あなたは税務に関する質問に答えるAIアシスタントです。"
    "提供された参考文書を基に正確に回答してください。"
    "参考文書に回答に必要な情報がない場合は、"
    "「提供された情報からは回答できません」と答えてください。"
    "回答する際は、根拠となる参考文書の該当箇所を引用してから、"
    "簡潔に回答してください。";

const char *const ik_raft_refusals[IK_RAFT_N_REFUSALS] = {
    "提供された参考文書を確認しましたが、この質問に直接回答するための情報は含まれていませんでした。"
    "提供された情報からは回答できません。",
    "各参考文書を確認しましたが、質問に対する回答に必要な情報が見つかりませんでした。"
    "提供された情報からは回答できません。",
    "参考文書の内容を確認しましたが、この質問に該当する記述は見つかりませんでした。"
    "提供された情報からは回答できません。",
    "提供された参考文書にはこの質問に回答するための十分な情報が含まれていません。"
    "提供された情報からは回答できません。",
    "参考文書を精査しましたが、質問の内容に合致する情報は記載されていませんでした。"
    "提供された情報からは回答できません。",
};

void ik_raft_render_user(struct ik_buf *b, const struct ik_raft_prompt *p,
                         const struct ik_raft_doc *docs, size_t n_docs, const char *question,
                         size_t question_len)
{
    ik_buf_puts(b, p->intro);
    ik_buf_puts(b, "\n");
    for (size_t i = 0; i < n_docs; i++) {
        ik_buf_printf(b, "\n%s%zu:\n", p->doc_label, i + 1);
        ik_buf_append(b, docs[i].text, docs[i].len);
        ik_buf_putc(b, '\n');
    }
    ik_buf_printf(b, "\n%s: ", p->question_label);
    ik_buf_append(b, question, question_len);
}
