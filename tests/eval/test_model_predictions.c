/* tests/eval/test_model_predictions.c - the predictions backend: its JSON
 * Lines reader (answer field names, question/index, a clear message per bad
 * line), the matching rules (question first, in file order for repeated
 * questions, else index), and the whole path through a node: open, generate
 * with progress, the failure naming an item without an answer, loglik
 * refused, the info map. */
#include "base/error.h"
#include "tests/eval/model_helpers.h"

TestSuite(eval_predictions, .init = tc_setup, .fini = tc_teardown);

static int parse(const char *text, struct ik_eval_preds *p, char **msg)
{
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik__eval_preds_parse("p.jsonl", text, strlen(text), p, &d);
    *msg = ik_xstrdup(ik_diag_message(&d));
    ik_diag_free(&d);
    return rc;
}

Test(eval_predictions, reads_lines)
{
    struct ik_eval_preds p;
    char *msg;
    cr_assert_eq(parse("{\"question\": \"Q1\", \"answer\": \" A1 \"}\n"
                       "\n"
                       "{\"index\": 4, \"prediction\": \"<think>hm</think>A2\"}\r\n"
                       "  {\"question\": \"Q3\", \"index\": 2, \"response\": \"A3\"}", &p, &msg), 0,
                 "%s", msg);
    cr_assert_eq(p.n, 3);
    cr_assert_str_eq(p.v[0].question, "Q1");
    cr_assert_eq(p.v[0].index, -1);
    cr_assert_str_eq(p.v[0].answer, "A1");
    cr_assert_eq(p.v[0].line, 1);
    cr_assert_null(p.v[1].question);
    cr_assert_eq(p.v[1].index, 4);
    cr_assert_str_eq(p.v[1].answer, "A2");
    cr_assert_eq(p.v[1].line, 3);
    cr_assert_str_eq(p.v[2].answer, "A3");
    cr_assert_eq(p.v[2].line, 4);
    ik__eval_preds_free(&p);
    free(msg);
}

static void bad_line(const char *text, int code, const char *f1)
{
    struct ik_eval_preds p;
    char *msg;
    cr_assert_eq(parse(text, &p, &msg), code, "%s accepted", text);
    cr_assert(strstr(msg, "p.jsonl:2:") != NULL, "%s", msg);
    cr_assert(strstr(msg, f1) != NULL, "'%s' not in: %s", f1, msg);
    free(msg);
}

Test(eval_predictions, bad_lines)
{
    const char *ok = "{\"index\": 0, \"answer\": \"a\"}\n";
    char buf[256];
#define BAD(line, code, frag) \
    (snprintf(buf, sizeof buf, "%s%s", ok, line), bad_line(buf, code, frag))
    BAD("{\"index\": 1, \"answer\": ", IK_EPARSE, "not valid JSON");
    BAD("[1, 2]", IK_EPARSE, "expected a JSON object");
    BAD("{\"index\": 1}", IK_EVALIDATE, "no answer");
    BAD("{\"index\": 1, \"answer\": 3}", IK_EVALIDATE, "not a string");
    BAD("{\"answer\": \"a\"}", IK_EVALIDATE, "neither \"question\" nor \"index\"");
    BAD("{\"index\": -1, \"answer\": \"a\"}", IK_EVALIDATE, "\"index\" is not an integer >= 0");
    BAD("{\"index\": 1.5, \"answer\": \"a\"}", IK_EVALIDATE, "\"index\" is not an integer >= 0");
    BAD("{\"question\": 1, \"answer\": \"a\"}", IK_EVALIDATE, "\"question\" is not a string");
    BAD("{\"index\": 1, \"answer\": \"a\\u0000b\"}", IK_EPARSE, "not valid JSON");
#undef BAD
}

Test(eval_predictions, matching)
{
    struct ik_eval_preds p;
    char *msg;
    /* Q twice (two items ask it, e.g. with and without the oracle), and a
     * line by index for the item whose question the file does not have. */
    cr_assert_eq(parse("{\"question\": \"Q\", \"answer\": \"first\"}\n"
                       "{\"index\": 2, \"answer\": \"by index\"}\n"
                       "{\"question\": \"Q\", \"answer\": \"second\"}\n"
                       "{\"question\": \"R\", \"index\": 0, \"answer\": \"R's\"}\n", &p, &msg), 0,
                 "%s", msg);
    struct t_prompt t[4];
    t_prompt(&t[0], "u0", "Q", 0);
    t_prompt(&t[1], "u1", "R", 1);
    t_prompt(&t[2], "u2", "S", 2);
    t_prompt(&t[3], "u3", "Q", 3);
    struct ik_eval_prompt ps[4] = {t[0].p, t[1].p, t[2].p, t[3].p};
    size_t match[4];
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik__eval_preds_match(&p, "p.jsonl", ps, 4, match, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(match[0], 0);
    cr_assert_eq(match[1], 3); /* by question, though its index says 0 */
    cr_assert_eq(match[2], 1);
    cr_assert_eq(match[3], 2);
    /* a fifth item: nothing left for it */
    struct ik_eval_prompt more[5] = {ps[0], ps[1], ps[2], ps[3], ps[0]};
    more[4].index = 9;
    size_t m5[5];
    cr_assert_eq(ik__eval_preds_match(&p, "p.jsonl", more, 5, m5, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "p.jsonl has no answer for item 9") != NULL, "%s",
              ik_diag_message(&d));
    cr_assert(strstr(ik_diag_message(&d), "question \"Q\"") != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    ik__eval_preds_free(&p);
    free(msg);
}

struct seen {
    size_t calls, last_done, last_total;
};

static void on_progress(void *arg, size_t done, size_t total, int64_t tokens)
{
    struct seen *s = arg;
    cr_assert_eq(tokens, 0);
    s->calls++;
    s->last_done = done;
    s->last_total = total;
}

static struct ik_eval_model *open_file(struct fake_node *f, struct ik_eval_model_spec *s,
                                       const char *text)
{
    char *path = tc_write("answers.jsonl", text, strlen(text));
    fn_init(f, T.c);
    fn_file(f, "answers", path);
    struct ik_node_ctx *node = fn_ctx(f);
    char *msg;
    cr_assert_eq(spec_of(s, "{\"name\": \"ext\", \"backend\": \"predictions\", "
                         "\"predictions\": \"answers\"}", node, &msg), 0, "%s", msg);
    free(msg);
    struct ik_eval_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_eval_model_open(&m, s, node, &d);
    if (rc != 0) {
        cr_assert(strstr(ik_diag_message(&d), "model ext (predictions): ") != NULL, "%s",
                  ik_diag_message(&d));
        cr_assert(strstr(ik_diag_message(&d), path) != NULL, "%s", ik_diag_message(&d));
        m = NULL;
    }
    ik_diag_free(&d);
    free(path);
    return m;
}

Test(eval_predictions, through_a_node)
{
    struct fake_node f;
    struct ik_eval_model_spec s;
    struct ik_eval_model *m = open_file(&f, &s, "{\"question\": \"Q0\", \"answer\": \"zero\"}\n"
                                        "{\"index\": 1, \"answer\": \"one\"}\n");
    cr_assert_not_null(m);
    struct t_prompt t[2];
    t_prompt(&t[0], "u0", "Q0", 0);
    t_prompt(&t[1], "u1", "Q1", 1);
    struct ik_eval_prompt ps[2] = {t[0].p, t[1].p};
    struct ik_eval_answer a[2];
    struct seen seen = {0};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_eval_model_generate(m, ps, 2, a, on_progress, &seen, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_str_eq(a[0].text, "zero");
    cr_assert_str_eq(a[1].text, "one");
    cr_assert_not(a[0].from_cache || a[0].hit_max_tokens || a[0].prompt_shortened);
    cr_assert_eq(seen.calls, 2);
    cr_assert_eq(seen.last_done, 2);
    cr_assert_eq(seen.last_total, 2);
    ik_eval_answer_free(&a[0]);
    ik_eval_answer_free(&a[1]);
    /* an item the file does not answer: nothing is given */
    struct t_prompt t2;
    t_prompt(&t2, "u2", "Q2", 2);
    struct ik_eval_prompt ps3[3] = {t[0].p, t[1].p, t2.p};
    struct ik_eval_answer a3[3];
    cr_assert_eq(ik_eval_model_generate(m, ps3, 3, a3, NULL, NULL, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "has no answer for item 2") != NULL, "%s",
              ik_diag_message(&d));
    cr_assert_null(a3[0].text);
    /* no log-likelihoods from a file */
    const char *conts[1] = {"x"};
    double ll;
    int nt;
    cr_assert_eq(ik_eval_model_loglik(m, &ps[0], conts, 1, &ll, &nt, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "backend predictions cannot score") != NULL, "%s",
              ik_diag_message(&d));
    /* the info map names the file by its hash */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ik_eval_model_pack_info(m, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert(ik_mp_str_eq(ik_mp_get(&u.data, "name"), "ext"));
    cr_assert(ik_mp_str_eq(ik_mp_get(&u.data, "backend"), "predictions"));
    const msgpack_object *h = ik_mp_get(&u.data, "file_hash");
    cr_assert(h && h->type == MSGPACK_OBJECT_STR && h->via.str.size == 64);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    ik_diag_free(&d);
    ik_eval_model_close(m);
    ik_eval_model_spec_free(&s);
    fn_free(&f);
}

Test(eval_predictions, bad_file_fails_at_open)
{
    struct fake_node f;
    struct ik_eval_model_spec s;
    cr_assert_null(open_file(&f, &s, "{\"index\": 0, \"answer\": \"a\"}\nnot json\n"));
    ik_eval_model_spec_free(&s);
    fn_free(&f);
}
