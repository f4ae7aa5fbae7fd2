/* lm/chat_template.c - the built-in chat templates (see
 * chat_template.h for their exact text and where each comes from). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "lm/chat_template.h"
#include "lm/model_gguf.h"
#include "lm/tokenizer.h"

static const char *const names[] = {"chatml", "llama3", "llama2", "plain"};

const char *ik_chat_template_name(int tmpl) { return names[tmpl]; }

int ik_chat_template_by_name(const char *name, int *tmpl, struct ik_diag *d)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *tmpl = i;
            return 0;
        }
    return ik_diag_set(d, IK_EVALIDATE, "unknown chat template '%s': expected chatml, llama3, llama2 "
                       "or plain", name);
}

/* 0 and *tmpl when the file's chat_template has a built-in's markers, 1 when
 * it has no such template (or none at all). */
static int detect_json(const json_t *j, int *tmpl)
{
    const char *t = json_string_value(json_object_get(j, "chat_template"));
    if (t && strstr(t, "<|start_header_id|>") && strstr(t, "<|eot_id|>"))
        return *tmpl = IK_CHAT_LLAMA3, 0;
    if (t && strstr(t, "<|im_start|>") && strstr(t, "<|im_end|>"))
        return *tmpl = IK_CHAT_CHATML, 0;
    if (t && strstr(t, "[INST]") && strstr(t, "<<SYS>>"))
        return *tmpl = IK_CHAT_LLAMA2, 0;
    return 1;
}

static json_t *load_json(const char *path, struct ik_diag *d)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (j == NULL) {
        struct ik_srcloc at = {path, e.line > 0 ? e.line : 0, e.line > 0 ? e.column : 0};
        ik_diag_at(d, e.line > 0 ? IK_EPARSE : -ENOENT, &at, NULL, 0, "%s", e.text);
    }
    return j;
}

int ik_chat_template_detect(const char *path, int *tmpl, struct ik_diag *d)
{
    json_t *j = load_json(path, d);
    if (j == NULL)
        return d->code;
    int rc = detect_json(j, tmpl);
    json_decref(j);
    return rc;
}

int ik_chat_template_auto(const char *model_path, int *tmpl, struct ik_diag *d)
{
    struct stat sb;
    if (stat(model_path, &sb) != 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open model '%s': %s", model_path, strerror(e));
    }
    *tmpl = IK_CHAT_PLAIN;
    size_t n = strlen(model_path);
    if (S_ISREG(sb.st_mode) && n > 5 && strcmp(model_path + n - 5, ".gguf") == 0)
        return ik_lm_gguf_chat_template(model_path, tmpl, d); /* tokenizer.chat_template */
    char *path = ik_xasprintf("%s/tokenizer_config.json", model_path);
    if (!S_ISDIR(sb.st_mode) || access(path, F_OK) != 0) {
        free(path);
        return 0;
    }
    json_t *j = load_json(path, d);
    int rc = j ? detect_json(j, tmpl) : d->code;
    /* A base model's tokenizer_config.json has no chat_template: plain text. */
    if (rc == 1 && json_object_get(j, "chat_template") == NULL)
        rc = 0;
    else if (rc == 1) {
        struct ik_srcloc at = {path, 0, 0};
        rc = ik_diag_at(d, IK_EVALIDATE, &at, NULL, 0, "the chat_template is none of the built-ins "
                        "(chatml, llama3, llama2)");
        ik_diag_hint(d, "set the param chat_template to chatml, llama3, llama2 or plain");
    }
    json_decref(j);
    free(path);
    return rc;
}

/* Python's str.strip(): ASCII whitespace at both ends. */
static void put_trimmed(struct ik_buf *b, const char *s)
{
    const char *e = s + strlen(s);
    while (s < e && strchr(" \t\n\r\v\f", *s))
        s++;
    while (e > s && strchr(" \t\n\r\v\f", e[-1]))
        e--;
    ik_buf_append(b, s, (size_t)(e - s));
}

static int known_role(const char *r)
{
    return strcmp(r, "system") == 0 || strcmp(r, "user") == 0 || strcmp(r, "assistant") == 0;
}

static int render_llama2(const struct ik_chat_msg *msgs, size_t n, struct ik_buf *out,
                         struct ik_chat_span *spans, size_t *ns, struct ik_diag *d)
{
    size_t i = 0;
    const char *sys = NULL;
    if (n > 0 && strcmp(msgs[0].role, "system") == 0)
        sys = msgs[i++].content;
    for (size_t k = 0; i < n; i++, k++) {
        const char *want = k % 2 == 0 ? "user" : "assistant";
        if (strcmp(msgs[i].role, want) != 0)
            return ik_diag_set(d, IK_EVALIDATE, "message %zu: the llama2 template needs roles to "
                               "alternate user/assistant/..., got '%s' where '%s' belongs", i,
                               msgs[i].role, want);
        if (k % 2 == 0) {
            struct ik_buf c = IK_BUF_INIT;
            if (k == 0 && sys)
                ik_buf_printf(&c, "<<SYS>>\n%s\n<</SYS>>\n\n", sys);
            ik_buf_puts(&c, msgs[i].content);
            ik_buf_puts(out, "<s>[INST] ");
            ik_buf_putc(&c, '\0');
            put_trimmed(out, c.data);
            ik_buf_free(&c);
            ik_buf_puts(out, " [/INST]");
        } else {
            size_t b = out->len;
            ik_buf_putc(out, ' ');
            put_trimmed(out, msgs[i].content);
            ik_buf_puts(out, " </s>");
            if (spans)
                spans[*ns] = (struct ik_chat_span){b + 1, out->len};
            (*ns)++;
        }
    }
    return 0;
}

int ik_chat_render(int tmpl, const struct ik_chat_msg *msgs, size_t n, int add_generation_prompt,
                   struct ik_buf *out, struct ik_chat_span *spans, size_t *n_spans, struct ik_diag *d)
{
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        if (!known_role(msgs[i].role))
            return ik_diag_set(d, IK_EVALIDATE, "message %zu: unknown role '%s': expected system, user "
                               "or assistant", i, msgs[i].role);
    if (tmpl == IK_CHAT_LLAMA2) {
        int rc = render_llama2(msgs, n, out, spans, &ns, d);
        if (n_spans)
            *n_spans = ns;
        return rc;
    }
    if (tmpl == IK_CHAT_LLAMA3)
        ik_buf_puts(out, "<|begin_of_text|>");
    for (size_t i = 0; i < n; i++) {
        int asst = strcmp(msgs[i].role, "assistant") == 0;
        size_t b;
        if (tmpl == IK_CHAT_CHATML) {
            ik_buf_printf(out, "<|im_start|>%s\n", msgs[i].role);
            b = out->len;
            ik_buf_printf(out, "%s<|im_end|>", msgs[i].content);
        } else if (tmpl == IK_CHAT_LLAMA3) {
            ik_buf_printf(out, "<|start_header_id|>%s<|end_header_id|>\n\n", msgs[i].role);
            b = out->len;
            put_trimmed(out, msgs[i].content);
            ik_buf_puts(out, "<|eot_id|>");
        } else {
            b = out->len;
            ik_buf_puts(out, msgs[i].content);
        }
        if (tmpl != IK_CHAT_LLAMA3)
            ik_buf_putc(out, '\n');
        if (asst) {
            /* chatml's newline after <|im_end|> is outside the turn. */
            size_t e = tmpl == IK_CHAT_CHATML ? out->len - 1 : out->len;
            if (spans)
                spans[ns] = (struct ik_chat_span){b, e};
            ns++;
        }
    }
    if (add_generation_prompt && tmpl == IK_CHAT_CHATML)
        ik_buf_puts(out, "<|im_start|>assistant\n");
    else if (add_generation_prompt && tmpl == IK_CHAT_LLAMA3)
        ik_buf_puts(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    if (n_spans)
        *n_spans = ns;
    return 0;
}

static int append_ids(const struct ik_tok *t, const char *s, size_t len, int is_asst, int **ids,
                      unsigned char **mask, size_t *n, size_t *cap, struct ik_diag *d)
{
    if (len == 0)
        return 0;
    int *v;
    size_t nv;
    int rc = ik_tok_encode(t, s, len, 1, &v, &nv, d);
    if (rc != 0)
        return rc;
    size_t old = *cap;
    *ids = ik_xgrow(*ids, cap, *n + nv, sizeof **ids);
    if (*cap != old)
        *mask = ik_xrealloc(*mask, *cap);
    memcpy(*ids + *n, v, nv * sizeof *v);
    memset(*mask + *n, is_asst, nv);
    *n += nv;
    free(v);
    return 0;
}

int ik_chat_encode(int tmpl, const struct ik_tok *t, const struct ik_chat_msg *msgs, size_t n,
                   int **ids, unsigned char **mask, size_t *n_ids, struct ik_diag *d)
{
    struct ik_buf text = IK_BUF_INIT;
    struct ik_chat_span *spans = ik_xcalloc(n + 1, sizeof *spans);
    size_t ns = 0, pos = 0, cap = 0;
    int *v = NULL;
    unsigned char *m = NULL;
    size_t nv = 0;
    int rc = ik_chat_render(tmpl, msgs, n, 0, &text, spans, &ns, d);
    for (size_t i = 0; rc == 0 && i <= ns; i++) {
        size_t b = i < ns ? spans[i].begin : text.len;
        rc = append_ids(t, text.data + pos, b - pos, 0, &v, &m, &nv, &cap, d);
        if (rc == 0 && i < ns)
            rc = append_ids(t, text.data + b, spans[i].end - b, 1, &v, &m, &nv, &cap, d);
        pos = i < ns ? spans[i].end : pos;
    }
    ik_buf_free(&text);
    free(spans);
    if (rc != 0) {
        free(v);
        free(m);
        return rc;
    }
    *ids = v;
    *mask = m;
    *n_ids = nv;
    return 0;
}
