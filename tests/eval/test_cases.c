/* tests/eval/test_cases.c - evaluation cases from samples records
 * (nodes/eval/cases.h): the prompt stops before the assistant, the ground
 * truth, refusal mode's oracle removal and renumbering, the errors. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/mpjson.h"
#include "nodes/eval/cases.h"

#define USER3 "以下の参考文書を基に質問に答えてください。\n\n参考文書1:\nA doc\n\n参考文書2:\nB doc\n\n参考文書3:\nC doc\n\n質問: Q?"
#define USER3_JSON "以下の参考文書を基に質問に答えてください。\\n\\n参考文書1:\\nA doc\\n\\n参考文書2:\\nB doc\\n\\n参考文書3:\\nC doc\\n\\n質問: Q?"

/* The artifact for a JSON text, unpacked into u. */
static const msgpack_object *unpack(const char *json, msgpack_unpacked *u, struct ik_mp_writer *w)
{
    struct ik_diag d = IK_DIAG_INIT;
    ik_mp_writer_init(w);
    cr_assert_eq(ik_json_text_to_msgpack(json, strlen(json), &w->pk, "test", &d), 0, "%s", ik_diag_message(&d));
    msgpack_unpacked_init(u);
    cr_assert_eq(msgpack_unpack_next(u, w->sb.data, w->sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    return &u->data;
}

static const char samples[] =
    "{\"kind\":\"raft.samples\",\"schema\":1,\"meta\":{},\"records\":["
    "{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"" USER3_JSON
    "\"}],\"metadata\":{\"question\":\"Q?\",\"expected_answer\":\"B!\",\"oracle_position\":2}},"
    "{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"U\"},"
    "{\"role\":\"assistant\",\"content\":\"refuse\"}],"
    "\"metadata\":{\"question\":\"Q2\",\"has_oracle\":false}}]}";

static int load(const char *json, enum ik_eval_mode mode, struct ik_eval_cases *c, struct ik_diag *d)
{
    static msgpack_unpacked u;
    static struct ik_mp_writer w;
    const msgpack_object *root = unpack(json, &u, &w);
    struct ik_eval_cases_opts o = {mode, "参考文書", "質問", 0, "input samples"};
    return ik_eval_cases_load(c, root, &o, d);
}

Test(eval_cases, prompt_and_truth)
{
    struct ik_eval_cases c;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(load(samples, IK_EVAL_MODE_ANSWER, &c, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.v[0].n_msgs, 2);
    cr_assert_str_eq(c.v[0].msgs[0].role, "system");
    cr_assert_str_eq(c.v[0].expected, "B!");
    cr_assert_not(c.v[0].unanswerable);
    cr_assert_eq(c.v[0].oracle_position, 2);
    /* The assistant turn is the answer, never part of the prompt. */
    cr_assert_eq(c.v[1].n_msgs, 2);
    cr_assert_str_eq(c.v[1].expected, "");
    cr_assert(c.v[1].unanswerable);
    ik_eval_cases_free(&c);
}

Test(eval_cases, refusal_mode_drops_the_oracle_and_renumbers)
{
    struct ik_eval_cases c;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(load(samples, IK_EVAL_MODE_REFUSAL, &c, &d), 0, "%s", ik_diag_message(&d));
    cr_assert(c.v[0].unanswerable);
    cr_assert_str_eq(c.v[0].msgs[1].content, "以下の参考文書を基に質問に答えてください。\n\n"
                     "参考文書1:\nA doc\n\n参考文書2:\nC doc\n\n質問: Q?");
    cr_assert_eq(c.v[0].msgs[1].len, strlen(c.v[0].msgs[1].content));
    /* A case without an oracle stays as it is. */
    cr_assert_eq(c.v[1].msgs[1].len, 1);
    cr_assert_eq(c.v[1].msgs[1].content[0], 'U');
    ik_eval_cases_free(&c);
}

Test(eval_cases, drop_first_and_last_document)
{
    struct ik_buf b = IK_BUF_INIT;
    const char *u = USER3;
    cr_assert(ik_eval_drop_document(u, strlen(u), "参考文書", "質問", 1, &b));
    cr_assert_str_eq(b.data, "以下の参考文書を基に質問に答えてください。\n\n参考文書1:\nB doc\n\n"
                     "参考文書2:\nC doc\n\n質問: Q?");
    ik_buf_reset(&b);
    cr_assert(ik_eval_drop_document(u, strlen(u), "参考文書", "質問", 3, &b));
    cr_assert_str_eq(b.data, "以下の参考文書を基に質問に答えてください。\n\n参考文書1:\nA doc\n\n"
                     "参考文書2:\nB doc\n\n質問: Q?");
    cr_assert_not(ik_eval_drop_document(u, strlen(u), "参考文書", "質問", 4, &b));
    ik_buf_free(&b);
}

Test(eval_cases, errors_name_the_record)
{
    struct ik_eval_cases c;
    struct ik_diag d = IK_DIAG_INIT;
    const char *no_q = "{\"kind\":\"raft.samples\",\"records\":[{\"messages\":[{\"role\":\"user\","
                       "\"content\":\"U\"}],\"metadata\":{}}]}";
    cr_assert_eq(load(no_q, IK_EVAL_MODE_ANSWER, &c, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "input samples: record 1: expected a string metadata.question"), "%s",
              ik_diag_message(&d));
    ik_eval_cases_free(&c);

    const char *no_user = "{\"kind\":\"raft.samples\",\"records\":[{\"messages\":[{\"role\":"
                          "\"system\",\"content\":\"S\"}],\"metadata\":{\"question\":\"q\"}}]}";
    ik_diag_free(&d);
    cr_assert_eq(load(no_user, IK_EVAL_MODE_ANSWER, &c, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "record 1: no user message"), "%s", ik_diag_message(&d));
    ik_eval_cases_free(&c);

    const char *bad_pos = "{\"kind\":\"raft.samples\",\"records\":[{\"messages\":[{\"role\":"
                          "\"user\",\"content\":\"U\"}],\"metadata\":{\"question\":\"q\","
                          "\"oracle_position\":2}}]}";
    ik_diag_free(&d);
    cr_assert_eq(load(bad_pos, IK_EVAL_MODE_REFUSAL, &c, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "oracle_position is 2 but the user message has no '参考文書2:'"), "%s",
              ik_diag_message(&d));
    ik_eval_cases_free(&c);

    ik_diag_free(&d);
    cr_assert_eq(load("{\"kind\":\"x\"}", IK_EVAL_MODE_ANSWER, &c, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "expected an artifact with records"), "%s", ik_diag_message(&d));
    ik_eval_cases_free(&c);
}
