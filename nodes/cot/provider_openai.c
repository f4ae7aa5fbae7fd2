/* nodes/cot/provider_openai.c - OpenAI-compatible chat completions (OpenAI,
 * vLLM, llama.cpp server): POST {base_url}/v1/chat/completions with an
 * optional Bearer key; the reply is choices[0].message.content, usage
 * prompt_tokens / completion_tokens. */
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/error.h"
#include "nodes/cot/cot.h"

static void body(const struct ik_cot_sampling *s, const struct ik_cot_msg *m, size_t n,
                 struct ik_buf *out)
{
    json_t *root = json_object();
    json_object_set_new(root, "model", json_string_nocheck(s->model));
    json_object_set_new(root, "messages", ik_cot_messages_json(m, n));
    json_object_set_new(root, "max_tokens", json_integer(s->max_tokens));
    if (s->temperature >= 0)
        json_object_set_new(root, "temperature", json_real(s->temperature));
    json_object_set_new(root, "stream", json_false());
    ik_cot_json_dump(root, out);
}

static int parse(const char *text, size_t len, struct ik_cot_reply *out, struct ik_buf *why)
{
    json_t *root = ik_cot_parse_body(text, len, why);
    if (root == NULL)
        return IK_EPARSE;
    int rc = IK_EPARSE;
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *content = json_object_get(json_object_get(choice, "message"), "content");
    if (!json_is_string(content)) {
        ik_buf_puts(why, "no choices[0].message.content string");
        goto out;
    }
    out->text = ik_cot_clean_text(json_string_value(content), json_string_length(content));
    json_t *usage = json_object_get(root, "usage");
    out->in_tokens = json_integer_value(json_object_get(usage, "prompt_tokens"));
    out->out_tokens = json_integer_value(json_object_get(usage, "completion_tokens"));
    const char *fin = json_string_value(json_object_get(choice, "finish_reason"));
    out->truncated = fin && strcmp(fin, "length") == 0;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

const struct ik_cot_provider ik_cot_provider_openai = {
    .name = "openai",
    .default_base_url = "https://api.openai.com",
    .default_model = "gpt-4o-mini",
    .default_key_env = "OPENAI_API_KEY",
    .key_required = false, /* local servers (vLLM, llama.cpp) need none */
    .path = "/v1/chat/completions",
    .body = body,
    .headers = ik_cot_bearer_headers,
    .parse = parse,
};
