/* nodes/cot/provider_anthropic.c - the Anthropic Messages API:
 * POST {base_url}/v1/messages, x-api-key, anthropic-version 2023-06-01;
 * the reply is the concatenated text blocks, usage input/output_tokens. */
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/error.h"
#include "base/xmalloc.h"
#include "nodes/cot/cot.h"

static void body(const struct ik_cot_sampling *s, const struct ik_cot_msg *m, size_t n,
                 struct ik_buf *out)
{
    json_t *root = json_object();
    json_object_set_new(root, "model", json_string_nocheck(s->model));
    json_object_set_new(root, "max_tokens", json_integer(s->max_tokens));
    json_object_set_new(root, "messages", ik_cot_messages_json(m, n));
    if (s->temperature >= 0)
        json_object_set_new(root, "temperature", json_real(s->temperature));
    ik_cot_json_dump(root, out);
}

static struct curl_slist *headers(const char *key)
{
    struct curl_slist *h = ik_cot_json_headers();
    h = curl_slist_append(h, "anthropic-version: 2023-06-01");
    return key ? ik_cot_header_secret(h, "x-api-key", key) : h;
}

static int parse(const char *text, size_t len, struct ik_cot_reply *out, struct ik_buf *why)
{
    json_t *root = ik_cot_parse_body(text, len, why);
    if (root == NULL)
        return IK_EPARSE;
    int rc = IK_EPARSE;
    json_t *content = json_object_get(root, "content");
    json_t *usage = json_object_get(root, "usage");
    if (!json_is_array(content)) {
        ik_buf_puts(why, "no \"content\" array");
        goto out;
    }
    struct ik_buf t = IK_BUF_INIT;
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        json_t *tx = json_object_get(blk, "text");
        if (json_is_string(tx))
            ik_buf_append(&t, json_string_value(tx), json_string_length(tx));
    }
    if (t.len == 0) {
        ik_buf_free(&t);
        ik_buf_puts(why, "no text block in \"content\"");
        goto out;
    }
    out->text = ik_cot_clean_text(t.data, t.len);
    ik_buf_free(&t);
    out->in_tokens = json_integer_value(json_object_get(usage, "input_tokens"));
    out->out_tokens = json_integer_value(json_object_get(usage, "output_tokens"));
    const char *stop = json_string_value(json_object_get(root, "stop_reason"));
    out->truncated = stop && strcmp(stop, "max_tokens") == 0;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

const struct ik_cot_provider ik_cot_provider_anthropic = {
    .name = "anthropic",
    .default_base_url = "https://api.anthropic.com",
    .default_model = "claude-haiku-4-5-20251001",
    .default_key_env = "ANTHROPIC_API_KEY",
    .key_required = true,
    .path = "/v1/messages",
    .body = body,
    .headers = headers,
    .parse = parse,
};

const struct ik_cot_provider *ik_cot_provider_find(const char *name)
{
    static const struct ik_cot_provider *const all[] = {
        &ik_cot_provider_anthropic, &ik_cot_provider_openai, &ik_cot_provider_ollama};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
