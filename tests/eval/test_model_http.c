/* tests/eval/test_model_http.c - the ollama and openai backends against the
 * cot tests' fake API server: answers through 429 and 500 faults, each
 * request body answered once, a second run served from the kv store without
 * a request, a failure after every retry naming the item and the server's
 * message, and a run that failed part-way resumed asking only what was
 * missing. The API key never shows in messages or the info map. */
#include "tests/cot/helpers.h"
#include "tests/eval/model_helpers.h"

TestSuite(eval_http, .init = tc_setup, .fini = tc_teardown);

static struct fake_node F;

static struct ik_eval_model *open_http(struct ik_eval_model_spec *s, const char *backend,
                                       int port, const char *extra)
{
    char *json = ik_xasprintf("{\"name\": \"srv\", \"backend\": \"%s\", \"model\": \"m1\", "
                              "\"base_url\": \"http://127.0.0.1:%d\", \"max_new_tokens\": 64, "
                              "\"timeout_s\": 10%s}", backend, port, extra);
    fn_init(&F, T.c);
    char *msg;
    cr_assert_eq(spec_of(s, json, fn_ctx(&F), &msg), 0, "%s", msg);
    free(msg);
    free(json);
    struct ik_eval_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_eval_model_open(&m, s, &F.ctx, &d), 0, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    return m;
}

static void close_http(struct ik_eval_model *m, struct ik_eval_model_spec *s)
{
    ik_eval_model_close(m);
    ik_eval_model_spec_free(s);
    fn_free(&F);
}

#define N_ITEMS 4

static void prompts(struct t_prompt *t, struct ik_eval_prompt *ps)
{
    static const char *const q[N_ITEMS] = {"一つ目の質問", "二つ目の質問", "三つ目の質問",
                                           "四つ目の質問"};
    for (size_t i = 0; i < N_ITEMS; i++) {
        t_prompt(&t[i], q[i], q[i], i);
        ps[i] = t[i].p;
    }
}

static int ask(struct ik_eval_model *m, struct ik_eval_answer *a, char **msg)
{
    struct t_prompt t[N_ITEMS];
    struct ik_eval_prompt ps[N_ITEMS];
    prompts(t, ps);
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_eval_model_generate(m, ps, N_ITEMS, a, NULL, NULL, &d);
    *msg = ik_xstrdup(ik_diag_message(&d));
    ik_diag_free(&d);
    return rc;
}

static void answers_free(struct ik_eval_answer *a)
{
    for (int i = 0; i < N_ITEMS; i++)
        ik_eval_answer_free(&a[i]);
}

static void faults_then_cache(const char *backend)
{
    struct fake f;
    const char *args[] = {"--script", "429,500,ok,429", NULL};
    fake_start(&f, args);
    struct ik_eval_model_spec s;
    struct ik_eval_model *m = open_http(&s, backend, f.port, ", \"concurrency\": 2");
    struct ik_eval_answer a[N_ITEMS], b[N_ITEMS];
    char *msg;
    cr_assert_eq(ask(m, a, &msg), 0, "%s", msg);
    free(msg);
    for (int i = 0; i < N_ITEMS; i++) {
        cr_assert_not(a[i].from_cache);
        cr_assert(a[i].text && *a[i].text);
    }
    cr_assert_eq(ask(m, b, &msg), 0, "%s", msg);
    free(msg);
    for (int i = 0; i < N_ITEMS; i++) {
        cr_assert(b[i].from_cache);
        cr_assert_str_eq(a[i].text, b[i].text);
    }
    answers_free(a);
    answers_free(b);
    close_http(m, &s);
    unsigned answered, received, max_answered, distinct;
    fake_stop(&f, &answered, &received, &max_answered, &distinct);
    cr_assert_eq(distinct, N_ITEMS);
    cr_assert_eq(answered, N_ITEMS);
    cr_assert_eq(max_answered, 1);
    cr_assert_geq(received, N_ITEMS + 3); /* the faults were retried */
}

Test(eval_http, ollama_faults_then_cache) { faults_then_cache("ollama"); }
Test(eval_http, openai_faults_then_cache) { faults_then_cache("openai"); }

Test(eval_http, failure_names_item_and_message_then_resumes)
{
    struct fake f;
    const char *args[] = {"--script", "ok,ok", "--default", "500", NULL};
    fake_start(&f, args);
    setenv("IK_TEST_EVAL_KEY", "sk-secret-123", 1);
    struct ik_eval_model_spec s;
    struct ik_eval_model *m = open_http(&s, "openai", f.port, ", \"concurrency\": 1, "
                                        "\"max_retries\": 1, \"api_key_env\": \"IK_TEST_EVAL_KEY\"");
    struct ik_eval_answer a[N_ITEMS];
    char *msg;
    cr_assert_eq(ask(m, a, &msg), IK_EHTTP);
    cr_assert(strstr(msg, "model srv: item 2: HTTP 500") != NULL, "%s", msg);
    cr_assert(strstr(msg, "(after 1 retries)") != NULL, "%s", msg);
    cr_assert(strstr(msg, "sk-secret") == NULL, "%s", msg);
    cr_assert_null(a[0].text); /* freed on failure; the store keeps them */
    free(msg);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ik_eval_model_pack_info(m, &pk);
    cr_assert(memmem(sb.data, sb.size, "sk-secret", 9) == NULL);
    cr_assert(memmem(sb.data, sb.size, "/v1/chat/completions", 20) != NULL);
    msgpack_sbuffer_destroy(&sb);
    close_http(m, &s);
    fake_stop(&f, NULL, NULL, NULL, NULL);
    /* a healthy server: only items 2 and 3 are asked */
    fake_start(&f, NULL);
    m = open_http(&s, "openai", f.port, ", \"api_key_env\": \"IK_TEST_EVAL_KEY\"");
    cr_assert_eq(ask(m, a, &msg), 0, "%s", msg);
    free(msg);
    cr_assert(a[0].from_cache && a[1].from_cache);
    cr_assert_not(a[2].from_cache || a[3].from_cache);
    answers_free(a);
    close_http(m, &s);
    unsigned answered;
    fake_stop(&f, &answered, NULL, NULL, NULL);
    cr_assert_eq(answered, 2);
    unsetenv("IK_TEST_EVAL_KEY");
}

Test(eval_http, open_errors)
{
    struct ik_eval_model_spec s;
    fn_init(&F, T.c);
    char *msg;
    cr_assert_eq(spec_of(&s, "{\"name\": \"srv\", \"backend\": \"openai\", \"model\": \"m\", "
                         "\"api_key_env\": \"IK_TEST_EVAL_UNSET\"}", fn_ctx(&F), &msg), 0, "%s", msg);
    free(msg);
    unsetenv("IK_TEST_EVAL_UNSET");
    struct ik_eval_model *m;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_eval_model_open(&m, &s, &F.ctx, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "model srv (openai): api_key_env names "
                     "IK_TEST_EVAL_UNSET, which is not set") != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    ik_eval_model_spec_free(&s);
    cr_assert_eq(spec_of(&s, "{\"name\": \"srv\", \"backend\": \"ollama\", \"model\": \"m\", "
                         "\"base_url\": \"localhost:11434\"}", &F.ctx, &msg), 0, "%s", msg);
    free(msg);
    cr_assert_eq(ik_eval_model_open(&m, &s, &F.ctx, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "is not an http:// or https:// URL") != NULL, "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    ik_eval_model_spec_free(&s);
    fn_free(&F);
}
