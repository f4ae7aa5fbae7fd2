/* tests/cot/test_prompt.c - documents recovered from RAFT user messages, the
 * prompt template, the param default matching the built-in prompt, and the
 * reply helpers (<think> removal, API error messages, redaction). */
#include "engine/node.h"
#include "nodes/raft/raft_prompt.h"
#include "tests/cot/helpers.h"

Test(cot_prompt, split_docs_of_a_rendered_message)
{
    struct ik_raft_doc docs[3];
    const char *texts[3] = {"一つ目の文書です。", "\n二つ目\n\n参考文書9:\nの中身\n", "三つ目。"};
    for (int i = 0; i < 3; i++)
        docs[i] = (struct ik_raft_doc){texts[i], strlen(texts[i])};
    struct ik_buf u = IK_BUF_INIT;
    ik_raft_render_user(&u, &ik_raft_prompt_default, docs, 3, "質問文?", strlen("質問文?"));
    struct ik_cot_doc out[8];
    size_t n = ik_cot_split_docs(u.data, u.len, "参考文書", "質問", out, 8);
    cr_assert_eq(n, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(out[i].len, strlen(texts[i]), "doc %d", i + 1);
        cr_assert(memcmp(out[i].text, texts[i], out[i].len) == 0, "doc %d", i + 1);
    }
    cr_assert_eq(ik_cot_split_docs("no documents here", 17, "参考文書", "質問", out, 8), 0);
    ik_buf_free(&u);
}

Test(cot_prompt, render_fills_placeholders)
{
    struct ik_cot_doc d[2] = {{"\nA\n", 3}, {"B", 1}};
    struct ik_buf b = IK_BUF_INIT;
    ik_cot_render(&b, "[{oracle}] {question} <{documents}> {other}", 2, "Q?", d, 2, "参考文書");
    cr_assert_str_eq(b.data, "[2] Q? <参考文書1:\n\nA\n\n\n参考文書2:\nB> {other}");
    ik_buf_free(&b);
}

/* The YAML default of a param, unquoted the way a YAML double-quoted
 * scalar with \n escapes reads. */
static char *yaml_default(const char *name)
{
    extern const struct ik_node_type ik_node_cot;
    for (const struct ik_param_spec *p = ik_node_cot.params; p->name; p++) {
        if (strcmp(p->name, name) != 0)
            continue;
        const char *s = p->default_yaml;
        struct ik_buf b = IK_BUF_INIT;
        cr_assert_eq(s[0], '"');
        for (size_t i = 1; s[i] && s[i] != '"'; i++) {
            if (s[i] == '\\' && s[i + 1] == 'n') {
                ik_buf_putc(&b, '\n');
                i++;
            } else {
                ik_buf_putc(&b, s[i]);
            }
        }
        return ik_buf_steal(&b);
    }
    cr_assert_fail("no param %s", name);
    return NULL;
}

Test(cot_prompt, param_defaults_are_the_builtin_prompts)
{
    char *p = yaml_default("prompt"), *r = yaml_default("reminder");
    cr_assert_str_eq(p, ik_cot_prompt_default);
    cr_assert_str_eq(r, ik_cot_reminder_default);
    free(p);
    free(r);
}

Test(cot_reply, think_blocks_are_removed)
{
    const char *s = "<think>長い考え</think>\n  参考文書1に「x」。 ";
    char *c = ik_cot_clean_text(s, strlen(s));
    cr_assert_str_eq(c, "参考文書1に「x」。");
    free(c);
    s = "考えの続き</think>答え";
    c = ik_cot_clean_text(s, strlen(s));
    cr_assert_str_eq(c, "答え");
    free(c);
    s = "<think>終わらない考え";
    c = ik_cot_clean_text(s, strlen(s));
    cr_assert_str_eq(c, "");
    free(c);
}

Test(cot_reply, api_error_messages)
{
    const char *bodies[][2] = {
        {"{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"bad key\"}}",
         "bad key"},
        {"{\"error\":\"model not found\"}", "model not found"},
        {"<html>oops</html>", "<html>oops</html>"},
        {"", "(empty body)"},
    };
    for (size_t i = 0; i < 4; i++) {
        struct ik_buf b = IK_BUF_INIT;
        ik_cot_api_error(bodies[i][0], strlen(bodies[i][0]), &b);
        cr_assert_str_eq(b.data, bodies[i][1]);
        ik_buf_free(&b);
    }
}

Test(cot_reply, redact_every_occurrence)
{
    char s[] = "key sk-123 and sk-123 again";
    cr_assert_str_eq(ik_cot_redact(s, "sk-123"), "key *** and *** again");
    char t[] = "nothing";
    cr_assert_str_eq(ik_cot_redact(t, ""), "nothing");
}
