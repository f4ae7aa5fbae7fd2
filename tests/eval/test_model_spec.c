/* tests/eval/test_model_spec.c - a `models` entry parsed: the defaults of
 * every backend, the keys each backend takes, and a clear message for each
 * kind of bad entry (missing, ill-typed, out of range, unknown with a
 * did-you-mean, another backend's key, a port that is not connected). */
#include "tests/eval/model_helpers.h"

TestSuite(eval_model_spec, .init = tc_setup, .fini = tc_teardown);

static struct fake_node F;

static struct ik_node_ctx *node_with_ports(void)
{
    fn_init(&F, T.c);
    fn_file(&F, "base", "/models/base");
    fn_file(&F, "lora", "/models/lora");
    fn_file(&F, "answers", "/data/answers.jsonl");
    return fn_ctx(&F);
}

Test(eval_model_spec, engine_defaults)
{
    struct ik_node_ctx *node = node_with_ports();
    struct ik_eval_model_spec s;
    char *msg;
    cr_assert_eq(spec_of(&s, "{\"name\": \"raft\", \"backend\": \"engine\", \"model\": \"base\", "
                         "\"adapter\": \"lora\"}", node, &msg), 0, "%s", msg);
    cr_assert_str_eq(s.name, "raft");
    cr_assert_eq(s.backend, IK_EVAL_ENGINE);
    cr_assert_str_eq(s.model_port, "base");
    cr_assert_str_eq(s.adapter_port, "lora");
    cr_assert_null(s.tokenizer_port);
    cr_assert_str_eq(s.chat_template, "auto");
    cr_assert_eq(s.batch, 8);
    cr_assert_eq(s.max_context, 0);
    cr_assert_float_eq(s.temperature, 0.1, 1e-12);
    cr_assert_eq(s.max_new_tokens, 512);
    cr_assert_eq(s.seed, 0);
    ik_eval_model_spec_free(&s);
    free(msg);
    fn_free(&F);
}

Test(eval_model_spec, http_defaults_and_overrides)
{
    struct ik_node_ctx *node = node_with_ports();
    struct ik_eval_model_spec s;
    char *msg;
    cr_assert_eq(spec_of(&s, "{\"name\": \"q\", \"backend\": \"ollama\", \"model\": \"qwen3:0.6b\"}",
                         node, &msg), 0, "%s", msg);
    cr_assert_eq(s.backend, IK_EVAL_OLLAMA);
    cr_assert_str_eq(s.server_model, "qwen3:0.6b");
    cr_assert_str_eq(s.base_url, "");
    cr_assert_null(s.api_key_env);
    cr_assert_eq(s.concurrency, 4);
    cr_assert_float_eq(s.rpm, 0, 1e-12);
    cr_assert_float_eq(s.timeout_s, 300, 1e-12);
    cr_assert_eq(s.max_retries, 5);
    ik_eval_model_spec_free(&s);
    free(msg);
    cr_assert_eq(spec_of(&s, "{\"name\": \"o\", \"backend\": \"openai\", \"model\": \"m\", "
                         "\"base_url\": \"http://127.0.0.1:8000\", \"api_key_env\": \"K\", "
                         "\"concurrency\": 16, \"rpm\": 60, \"timeout_s\": 5, \"max_retries\": 0, "
                         "\"temperature\": 0, \"max_new_tokens\": 32, \"seed\": 7}", node, &msg),
                 0, "%s", msg);
    cr_assert_str_eq(s.base_url, "http://127.0.0.1:8000");
    cr_assert_str_eq(s.api_key_env, "K");
    cr_assert_eq(s.concurrency, 16);
    cr_assert_float_eq(s.rpm, 60, 1e-12);
    cr_assert_float_eq(s.timeout_s, 5, 1e-12);
    cr_assert_eq(s.max_retries, 0);
    cr_assert_float_eq(s.temperature, 0, 1e-12);
    cr_assert_eq(s.max_new_tokens, 32);
    cr_assert_eq(s.seed, 7);
    ik_eval_model_spec_free(&s);
    free(msg);
    fn_free(&F);
}

Test(eval_model_spec, predictions)
{
    struct ik_node_ctx *node = node_with_ports();
    struct ik_eval_model_spec s;
    char *msg;
    cr_assert_eq(spec_of(&s, "{\"name\": \"ext\", \"backend\": \"predictions\", "
                         "\"predictions\": \"answers\"}", node, &msg), 0, "%s", msg);
    cr_assert_eq(s.backend, IK_EVAL_PREDICTIONS);
    cr_assert_str_eq(s.predictions_port, "answers");
    ik_eval_model_spec_free(&s);
    free(msg);
    fn_free(&F);
}

/* Each bad entry is refused with a message holding every fragment. */
static void refused(const char *json, const char *f1, const char *f2)
{
    struct ik_node_ctx *node = node_with_ports();
    struct ik_eval_model_spec s;
    char *msg;
    cr_assert_eq(spec_of(&s, json, node, &msg), IK_EVALIDATE, "%s accepted", json);
    cr_assert(strstr(msg, "param models[0]") != NULL, "%s", msg);
    cr_assert(strstr(msg, f1) != NULL, "'%s' not in: %s", f1, msg);
    cr_assert(f2 == NULL || strstr(msg, f2) != NULL, "'%s' not in: %s", f2, msg);
    free(msg);
    fn_free(&F);
}

Test(eval_model_spec, bad_entries)
{
    refused("[1, 2]", "expected a map", NULL);
    refused("{\"backend\": \"engine\", \"model\": \"base\"}", "key name", "missing");
    refused("{\"name\": \"a\", \"model\": \"base\"}", "(a)", "key backend");
    refused("{\"name\": \"a\", \"backend\": \"engin\", \"model\": \"base\"}",
            "unknown backend 'engin'", "did you mean engine?");
    refused("{\"name\": \"a\", \"backend\": \"vllm\"}", "unknown backend 'vllm'",
            "engine, ollama, openai or predictions");
    refused("{\"name\": \"a\", \"backend\": \"engine\"}", "key model is required",
            "backend engine");
    refused("{\"name\": \"a\", \"backend\": \"predictions\"}", "key predictions is required",
            NULL);
    refused("{\"name\": \"a\", \"backend\": \"engine\", \"model\": \"bsae\"}",
            "input port 'bsae'", "not connected");
    refused("{\"name\": \"a\", \"backend\": \"engine\", \"model\": \"base\", \"batch\": 0}",
            "key batch is out of range", "1..16");
    refused("{\"name\": \"a\", \"backend\": \"engine\", \"model\": \"base\", \"batch\": 2.5}",
            "key batch: expected an integer", NULL);
    refused("{\"name\": \"a\", \"backend\": \"engine\", \"model\": \"base\", \"temperature\": \"hot\"}",
            "key temperature: expected a number", NULL);
    refused("{\"name\": \"a\", \"backend\": \"engine\", \"model\": \"base\", \"max_new_tokens\": -1}",
            "key max_new_tokens is out of range", NULL);
    refused("{\"name\": \"a\", \"backend\": \"engine\", \"model\": \"base\", \"max_new_token\": 5}",
            "unknown key max_new_token", "did you mean max_new_tokens?");
    refused("{\"name\": \"a\", \"backend\": \"engine\", \"model\": \"base\", \"rpm\": 5}",
            "key rpm does not apply to backend engine", NULL);
    refused("{\"name\": \"a\", \"backend\": \"ollama\", \"model\": \"m\", \"batch\": 5}",
            "key batch does not apply to backend ollama", NULL);
    refused("{\"name\": \"a\", \"backend\": \"predictions\", \"predictions\": \"answers\", "
            "\"temperature\": 0}", "key temperature does not apply to backend predictions", NULL);
    refused("{\"name\": \"a\", \"backend\": \"ollama\", \"model\": 3}",
            "key model: expected a string", NULL);
    refused("{\"name\": \"a\", \"backend\": \"ollama\", \"model\": \"m\", \"colour\": 3}",
            "unknown key colour for backend ollama", "docs/eval-models.md");
}
