/* nodes/cot/reply.c - what the HTTP providers share: headers, answer clean-up
 * (<think> removal), the API's error message, and secret redaction. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/xmalloc.h"
#include "nodes/cot/cot.h"

void ik_cot_reply_free(struct ik_cot_reply *r)
{
    if (r == NULL)
        return;
    free(r->text);
    r->text = NULL;
}

static bool is_space(const char *s, size_t len, size_t *w)
{
    if (len >= 1 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r')) {
        *w = 1;
        return true;
    }
    if (len >= 3 && memcmp(s, "\xe3\x80\x80", 3) == 0) { /* U+3000 */
        *w = 3;
        return true;
    }
    return false;
}

char *ik_cot_clean_text(const char *s, size_t len)
{
    struct ik_buf b = IK_BUF_INIT;
    size_t i = 0;
    while (i < len) {
        const char *open = memmem(s + i, len - i, "<think>", 7);
        if (open == NULL) {
            ik_buf_append(&b, s + i, len - i);
            break;
        }
        ik_buf_append(&b, s + i, (size_t)(open - (s + i)));
        const char *close = memmem(open, len - (size_t)(open - s), "</think>", 8);
        if (close == NULL) /* an unclosed think block: the answer never came */
            break;
        i = (size_t)(close + 8 - s);
    }
    /* A reply may also open with a bare "</think>" (the template added <think>). */
    char *t = ik_buf_steal(&b);
    char *start = t;
    char *c = strstr(t, "</think>");
    if (c != NULL)
        start = c + 8;
    size_t n = strlen(start), w;
    while (n > 0 && is_space(start, n, &w)) {
        start += w;
        n -= w;
    }
    for (;;) {
        if (n >= 1 && is_space(start + n - 1, 1, &w))
            n--;
        else if (n >= 3 && memcmp(start + n - 3, "\xe3\x80\x80", 3) == 0)
            n -= 3;
        else
            break;
    }
    char *out = ik_xstrndup(start, n);
    free(t);
    return out;
}

void ik_cot_api_error(const char *body, size_t len, struct ik_buf *out)
{
    json_error_t err;
    json_t *root = json_loadb(body, len, 0, &err);
    const char *msg = NULL;
    if (root != NULL) {
        json_t *e = json_object_get(root, "error");
        if (json_is_string(e))
            msg = json_string_value(e);
        else if (json_is_object(e) && json_is_string(json_object_get(e, "message")))
            msg = json_string_value(json_object_get(e, "message"));
        else if (json_is_string(json_object_get(root, "message")))
            msg = json_string_value(json_object_get(root, "message"));
    }
    if (msg != NULL) {
        ik_buf_puts(out, msg);
    } else {
        size_t n = len < 200 ? len : 200;
        for (size_t i = 0; i < n; i++)
            ik_buf_putc(out, body[i] == '\n' || body[i] == '\r' ? ' ' : body[i]);
        if (len == 0)
            ik_buf_puts(out, "(empty body)");
    }
    json_decref(root);
}

char *ik_cot_redact(char *s, const char *secret)
{
    if (s == NULL || secret == NULL || secret[0] == '\0')
        return s;
    size_t k = strlen(secret);
    char *p;
    while ((p = strstr(s, secret)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + k, strlen(p + k) + 1);
    }
    return s;
}

json_t *ik_cot_messages_json(const struct ik_cot_msg *m, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "role", json_string_nocheck(m[i].role));
        json_object_set_new(o, "content", json_stringn_nocheck(m[i].content, m[i].len));
        json_array_append_new(a, o);
    }
    return a;
}

void ik_cot_json_dump(json_t *root, struct ik_buf *out)
{
    char *s = json_dumps(root, JSON_COMPACT);
    ik_buf_puts(out, s);
    free(s);
    json_decref(root);
}

struct curl_slist *ik_cot_json_headers(void)
{
    struct curl_slist *h = curl_slist_append(NULL, "content-type: application/json");
    return curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
}

struct curl_slist *ik_cot_header_secret(struct curl_slist *h, const char *name, const char *value)
{
    char *line = ik_xasprintf("%s: %s", name, value);
    h = curl_slist_append(h, line);
    explicit_bzero(line, strlen(line));
    free(line);
    return h;
}

struct curl_slist *ik_cot_bearer_headers(const char *key)
{
    struct curl_slist *h = ik_cot_json_headers();
    if (key == NULL)
        return h;
    struct ik_buf v = IK_BUF_INIT;
    ik_buf_printf(&v, "Bearer %s", key);
    h = ik_cot_header_secret(h, "Authorization", v.data);
    explicit_bzero(v.data, v.len);
    ik_buf_free(&v);
    return h;
}

json_t *ik_cot_parse_body(const char *text, size_t len, struct ik_buf *why)
{
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    if (root == NULL)
        ik_buf_printf(why, "not JSON at offset %d: %s", err.position, err.text);
    return root;
}
