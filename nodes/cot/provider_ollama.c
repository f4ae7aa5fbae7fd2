/* nodes/cot/provider_ollama.c - Ollama's native chat API: POST
 * {base_url}/api/chat with "stream": false (its default is a stream), options
 * num_predict / temperature; the reply is message.content, usage
 * prompt_eval_count / eval_count. An {"error"} body with status 200 (a
 * failure in the middle of generation) is not an answer. */
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
    json_object_set_new(root, "stream", json_false());
    json_t *opt = json_object();
    json_object_set_new(opt, "num_predict", json_integer(s->max_tokens));
    if (s->temperature >= 0)
        json_object_set_new(opt, "temperature", json_real(s->temperature));
    json_object_set_new(root, "options", opt);
    ik_cot_json_dump(root, out);
}

static int parse(const char *text, size_t len, struct ik_cot_reply *out, struct ik_buf *why)
{
    json_t *root = ik_cot_parse_body(text, len, why);
    if (root == NULL)
        return IK_EPARSE;
    int rc = IK_EPARSE;
    json_t *e = json_object_get(root, "error");
    json_t *content = json_object_get(json_object_get(root, "message"), "content");
    if (e != NULL) {
        ik_buf_puts(why, "error in the body: ");
        ik_cot_api_error(text, len, why);
    } else if (!json_is_string(content)) {
        ik_buf_puts(why, "no message.content string");
    } else {
        out->text = ik_cot_clean_text(json_string_value(content), json_string_length(content));
        out->in_tokens = json_integer_value(json_object_get(root, "prompt_eval_count"));
        out->out_tokens = json_integer_value(json_object_get(root, "eval_count"));
        const char *r = json_string_value(json_object_get(root, "done_reason"));
        out->truncated = r && strcmp(r, "length") == 0;
        rc = 0;
    }
    json_decref(root);
    return rc;
}

const struct ik_cot_provider ik_cot_provider_ollama = {
    .name = "ollama",
    .default_base_url = "http://localhost:11434",
    .default_model = "",
    .default_key_env = "",
    .key_required = false,
    .path = "/api/chat",
    .body = body,
    .headers = ik_cot_bearer_headers,
    .parse = parse,
};
