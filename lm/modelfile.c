/* lm/modelfile.c - the Ollama Modelfile of a base + adapter pair (see
 * modelfile.h for the text and how each template matches lm/chat_template.c).
 *
 * Quoting follows Ollama's parser (parser/parser.go): a value runs to the end
 * of its line and loses surrounding whitespace; "..." and """...""" are
 * stripped; there are no escapes, and runes that are not printable (other
 * than the tab and line breaks) are dropped, so values that would not survive
 * that are refused rather than written wrong. */
#include <stdbool.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "lm/chat_template.h"
#include "lm/modelfile.h"

/* The Go templates, one per enum ik_chat_template. Each ranges over
 * .Messages (which holds the system messages too) and ends with the
 * generation prompt. llama2 folds $.System into the first user turn and
 * opens every later turn with the BOS the runner does not add. */
static const char *const templates[] = {
    [IK_CHAT_CHATML] = "{{ range .Messages }}<|im_start|>{{ .Role }}\n"
                       "{{ .Content }}<|im_end|>\n"
                       "{{ end }}<|im_start|>assistant\n",
    [IK_CHAT_LLAMA3] = "{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
                       "{{ .Content }}<|eot_id|>{{ end }}"
                       "<|start_header_id|>assistant<|end_header_id|>\n\n",
    [IK_CHAT_LLAMA2] = "{{ $first := true }}{{ range .Messages }}"
                       "{{ if eq .Role \"user\" }}{{ if not $first }}<s>{{ end }}[INST] "
                       "{{ if and $first $.System }}<<SYS>>\n{{ $.System }}\n<</SYS>>\n\n{{ end }}"
                       "{{ .Content }} [/INST]{{ $first = false }}"
                       "{{ else if eq .Role \"assistant\" }} {{ .Content }} </s>{{ end }}{{ end }}",
    [IK_CHAT_PLAIN] = "{{ range .Messages }}{{ .Content }}\n{{ end }}",
};

static const char *const stops_chatml[] = {"<|im_end|>", "<|im_start|>"};
static const char *const stops_llama3[] = {"<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"};
static const char *const stops_llama2[] = {"</s>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>"};

const char *ik_modelfile_template(int tmpl) { return templates[tmpl]; }

const char *const *ik_modelfile_stops(int tmpl, size_t *n)
{
    switch (tmpl) {
    case IK_CHAT_CHATML: *n = 2; return stops_chatml;
    case IK_CHAT_LLAMA3: *n = 3; return stops_llama3;
    case IK_CHAT_LLAMA2: *n = 5; return stops_llama2;
    default: *n = 0; return NULL;
    }
}

/* True if s has a rune Ollama's parser would drop or treat as a line end
 * (ASCII controls but the tab; allow_nl admits line breaks). */
static bool has_control(const char *s, bool allow_nl)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 || c == 0x7f) && c != '\t' && !(allow_nl && (c == '\n' || c == '\r')))
            return true;
    }
    return false;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* A path written bare: one line, no quote (a leading one would be stripped),
 * no surrounding whitespace (trimmed). */
static int check_path(const char *field, const char *p, struct ik_diag *d)
{
    size_t n = strlen(p);
    if (n == 0 || has_control(p, false) || strchr(p, '"') || is_blank(p[0]) || is_blank(p[n - 1]))
        return ik_diag_set(d, IK_EVALIDATE, "Modelfile %s '%s': a path must be non-empty, on one "
                           "line, without '\"' or surrounding spaces", field, p);
    return 0;
}

/* Appends s quoted so that Ollama reads back exactly s, or fails. */
static int put_quoted(struct ik_buf *b, const char *s, struct ik_diag *d)
{
    size_t n = strlen(s);
    bool multi = strpbrk(s, "\n\r") != NULL;
    /* One line: "s" (a leading "" would read as the start of """). Several
     * lines: """s""" (an inner """ would end it early). */
    if (n == 0 || has_control(s, true) || strstr(s, "\"\"\"") ||
        (!multi && strncmp(s, "\"\"", 2) == 0))
        return ik_diag_set(d, IK_EVALIDATE, "Modelfile stop string '%s' cannot be written: it must "
                           "be non-empty and printable, without '\"\"\"' (or a leading '\"\"')", s);
    ik_buf_printf(b, multi ? "\"\"\"%s\"\"\"" : "\"%s\"", s);
    return 0;
}

static bool listed(const char *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, v[i]) == 0)
            return true;
    return false;
}

int ik_modelfile_write(struct ik_buf *out, const struct ik_modelfile *mf, struct ik_diag *d)
{
    int rc = check_path("FROM", mf->from ? mf->from : "", d);
    if (rc == 0 && mf->adapter)
        rc = check_path("ADAPTER", mf->adapter, d);
    if (rc != 0)
        return rc;
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_printf(&b, "FROM %s\n", mf->from);
    if (mf->adapter)
        ik_buf_printf(&b, "ADAPTER %s\n", mf->adapter);
    ik_buf_printf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", templates[mf->chat_template]);
    size_t n;
    const char *const *own = ik_modelfile_stops(mf->chat_template, &n);
    for (size_t i = 0; i < n; i++)
        ik_buf_printf(&b, "PARAMETER stop \"%s\"\n", own[i]);
    for (size_t i = 0; rc == 0 && i < mf->n_stops; i++) {
        const char *s = mf->stops[i];
        if (listed(s, own, n) || listed(s, mf->stops, i))
            continue;
        ik_buf_puts(&b, "PARAMETER stop ");
        rc = put_quoted(&b, s, d);
        ik_buf_putc(&b, '\n');
    }
    if (rc == 0)
        ik_buf_append(out, b.data, b.len);
    ik_buf_free(&b);
    return rc;
}
