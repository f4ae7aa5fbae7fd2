/* nodes/cot/prompt.c - the CoT request: the default prompt and reminder (the
 * reference's COT_GENERATION_PROMPT in substance: which document holds the
 * answer, the question, the documents, quote / 1-2 sentences / answer), the
 * documents recovered from a RAFT user message, and template rendering. */
#include <stdio.h>
#include <string.h>

#include "nodes/cot/cot.h"

const char ik_cot_prompt_default[] =
    "以下の質問に対して、参考文書を根拠にした回答を作成してください。"
    "正解は参考文書{oracle}に含まれています。\n"
    "\n"
    "質問: {question}\n"
    "\n"
    "{documents}\n"
    "\n"
    "回答の要件:\n"
    "1. まず、参考文書{oracle}から回答の根拠となる箇所を「」で囲んで、一字一句変えずに引用してください。\n"
    "2. 次に、その引用に基づいて1〜2文で推論してください。\n"
    "3. 最後に、簡潔な回答を述べてください。\n"
    "\n"
    "例: 参考文書{oracle}に「○○」と記載されています。これは△△を意味しており、□□と考えられます。"
    "したがって、回答は××です。\n"
    "\n"
    "自然な日本語で回答を生成してください。";

const char ik_cot_reminder_default[] =
    "引用が確認できませんでした。参考文書{oracle}の本文から、根拠となる箇所を「」で囲んで"
    "一字一句そのまま引用し、「参考文書{oracle}」と明記したうえで、1〜2文の推論と簡潔な回答を"
    "もう一度書いてください。";

/* Finds "\n\n<label><i>:\n" at or after from; NULL if absent. */
static const char *find_marker(const char *s, const char *end, const char *from, const char *label,
                               size_t i, size_t *mlen)
{
    char m[160];
    int n = snprintf(m, sizeof m, "\n\n%s%zu:\n", label, i);
    if (n < 0 || (size_t)n >= sizeof m)
        return NULL;
    *mlen = (size_t)n;
    (void)s;
    return memmem(from, (size_t)(end - from), m, (size_t)n);
}

size_t ik_cot_split_docs(const char *user, size_t len, const char *doc_label,
                         const char *question_label, struct ik_cot_doc *docs, size_t max_docs)
{
    const char *end = user + len;
    /* The question marker is the last one: documents may contain anything. */
    char q[160];
    int qn = snprintf(q, sizeof q, "\n\n%s: ", question_label);
    if (qn < 0 || (size_t)qn >= sizeof q)
        return 0;
    const char *qpos = NULL;
    for (const char *p = user; (p = memmem(p, (size_t)(end - p), q, (size_t)qn)) != NULL; p++)
        qpos = p;
    if (qpos == NULL)
        return 0;
    size_t mlen;
    const char *cur = find_marker(user, qpos, user, doc_label, 1, &mlen);
    size_t n = 0;
    while (cur != NULL && n < max_docs) {
        const char *text = cur + mlen;
        size_t next_mlen;
        const char *next = find_marker(user, qpos, text, doc_label, n + 2, &next_mlen);
        const char *stop = next ? next : qpos;
        docs[n].text = text;
        docs[n].len = (size_t)(stop - text);
        n++;
        cur = next;
        mlen = next_mlen;
    }
    return n;
}

void ik_cot_render(struct ik_buf *out, const char *tmpl, int oracle, const char *question,
                   const struct ik_cot_doc *docs, size_t n_docs, const char *doc_label)
{
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{oracle}", 8) == 0) {
            ik_buf_printf(out, "%d", oracle);
            p += 8;
        } else if (strncmp(p, "{question}", 10) == 0) {
            ik_buf_puts(out, question);
            p += 10;
        } else if (strncmp(p, "{documents}", 11) == 0) {
            struct ik_buf d = IK_BUF_INIT;
            for (size_t i = 0; i < n_docs; i++) {
                if (i > 0)
                    ik_buf_puts(&d, "\n\n");
                ik_buf_printf(&d, "%s%zu:\n", doc_label, i + 1);
                ik_buf_append(&d, docs[i].text, docs[i].len);
            }
            /* joined, then stripped, as the reference does */
            size_t a = 0, b = d.len;
            while (a < b && strchr(" \t\r\n", d.data[a]))
                a++;
            while (b > a && strchr(" \t\r\n", d.data[b - 1]))
                b--;
            if (b > a)
                ik_buf_append(out, d.data + a, b - a);
            ik_buf_free(&d);
            p += 11;
        } else {
            ik_buf_putc(out, *p++);
        }
    }
}
