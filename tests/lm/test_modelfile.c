/* tests/lm/test_modelfile.c - the Ollama Modelfile (lm/modelfile.h): the
 * exact text for each built-in chat template (the Go templates were checked
 * once with Go's text/template against ik_chat_render, see docs/lm.md),
 * the stop strings and their quoting, and the values Ollama's parser could
 * not read back, refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "lm/chat_template.h"
#include "lm/modelfile.h"

static char *write_mf(const struct ik_modelfile *mf)
{
    struct ik_buf b = IK_BUF_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_modelfile_write(&b, mf, &d), 0, "%s", ik_diag_message(&d));
    return ik_buf_steal(&b);
}

static void check(int tmpl, const char *want)
{
    struct ik_modelfile mf = {"./base.gguf", "./adapter.gguf", tmpl, NULL, 0};
    char *got = write_mf(&mf);
    cr_assert_str_eq(got, want, "template %s:\n%s", ik_chat_template_name(tmpl), got);
    free(got);
}

Test(lm_modelfile, chatml)
{
    check(IK_CHAT_CHATML,
          "FROM ./base.gguf\n"
          "ADAPTER ./adapter.gguf\n"
          "TEMPLATE \"\"\"{{ range .Messages }}<|im_start|>{{ .Role }}\n"
          "{{ .Content }}<|im_end|>\n"
          "{{ end }}<|im_start|>assistant\n"
          "\"\"\"\n"
          "PARAMETER stop \"<|im_end|>\"\n"
          "PARAMETER stop \"<|im_start|>\"\n");
}

Test(lm_modelfile, llama3)
{
    check(IK_CHAT_LLAMA3,
          "FROM ./base.gguf\n"
          "ADAPTER ./adapter.gguf\n"
          "TEMPLATE \"\"\"{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n"
          "\n"
          "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n"
          "\n"
          "\"\"\"\n"
          "PARAMETER stop \"<|eot_id|>\"\n"
          "PARAMETER stop \"<|start_header_id|>\"\n"
          "PARAMETER stop \"<|end_header_id|>\"\n");
}

Test(lm_modelfile, llama2)
{
    check(IK_CHAT_LLAMA2,
          "FROM ./base.gguf\n"
          "ADAPTER ./adapter.gguf\n"
          "TEMPLATE \"\"\"{{ $first := true }}{{ range .Messages }}{{ if eq .Role \"user\" }}"
          "{{ if not $first }}<s>{{ end }}[INST] {{ if and $first $.System }}<<SYS>>\n"
          "{{ $.System }}\n"
          "<</SYS>>\n"
          "\n"
          "{{ end }}{{ .Content }} [/INST]{{ $first = false }}{{ else if eq .Role \"assistant\" }} "
          "{{ .Content }} </s>{{ end }}{{ end }}\"\"\"\n"
          "PARAMETER stop \"</s>\"\n"
          "PARAMETER stop \"[INST]\"\n"
          "PARAMETER stop \"[/INST]\"\n"
          "PARAMETER stop \"<<SYS>>\"\n"
          "PARAMETER stop \"<</SYS>>\"\n");
}

Test(lm_modelfile, plain_without_adapter)
{
    struct ik_modelfile mf = {"/models/base model.gguf", NULL, IK_CHAT_PLAIN, NULL, 0};
    char *got = write_mf(&mf);
    cr_assert_str_eq(got, "FROM /models/base model.gguf\n"
                          "TEMPLATE \"\"\"{{ range .Messages }}{{ .Content }}\n"
                          "{{ end }}\"\"\"\n");
    free(got);
}

/* Extra stops follow the template's own, each once, quoted so Ollama reads them back. */
Test(lm_modelfile, extra_stops)
{
    const char *extra[] = {"<|endoftext|>", "<|im_end|>", "say \"bye\"", "<|endoftext|>", "two\nlines"};
    struct ik_modelfile mf = {"qwen2.5:0.5b", "a.gguf", IK_CHAT_CHATML, extra, 5};
    char *got = write_mf(&mf);
    const char *tail = strstr(got, "PARAMETER stop \"<|im_start|>\"\n");
    cr_assert_not_null(tail, "%s", got);
    cr_assert_str_eq(tail, "PARAMETER stop \"<|im_start|>\"\n"
                           "PARAMETER stop \"<|endoftext|>\"\n"
                           "PARAMETER stop \"say \"bye\"\"\n"
                           "PARAMETER stop \"\"\"two\nlines\"\"\"\n");
    cr_assert(strncmp(got, "FROM qwen2.5:0.5b\nADAPTER a.gguf\n", 32) == 0, "%s", got);
    free(got);
}

static void refused(const char *from, const char *adapter, const char *stop, const char *want)
{
    const char *stops[] = {stop};
    struct ik_modelfile mf = {from, adapter, IK_CHAT_LLAMA3, stops, stop ? 1 : 0};
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_puts(&b, "kept");
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_modelfile_write(&b, &mf, &d), IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), want);
    cr_assert_str_eq(b.data, "kept", "a refused Modelfile must leave the buffer as it was");
    ik_diag_free(&d);
    ik_buf_free(&b);
}

Test(lm_modelfile, unwritable_values)
{
    refused("", NULL, NULL, "error: Modelfile FROM '': a path must be non-empty, on one line, "
            "without '\"' or surrounding spaces");
    refused(NULL, NULL, NULL, "error: Modelfile FROM '': a path must be non-empty, on one line, "
            "without '\"' or surrounding spaces");
    refused("a\nb.gguf", NULL, NULL, "error: Modelfile FROM 'a\nb.gguf': a path must be non-empty, "
            "on one line, without '\"' or surrounding spaces");
    refused("b.gguf", " a.gguf", NULL, "error: Modelfile ADAPTER ' a.gguf': a path must be "
            "non-empty, on one line, without '\"' or surrounding spaces");
    refused("b.gguf", "\"a.gguf\"", NULL, "error: Modelfile ADAPTER '\"a.gguf\"': a path must be "
            "non-empty, on one line, without '\"' or surrounding spaces");
    const char *why = "' cannot be written: it must be non-empty and printable, without "
                      "'\"\"\"' (or a leading '\"\"')";
    char want[256];
    snprintf(want, sizeof want, "error: Modelfile stop string 'a\"\"\"b%s", why);
    refused("b.gguf", NULL, "a\"\"\"b", want);
    snprintf(want, sizeof want, "error: Modelfile stop string '\"\"x%s", why);
    refused("b.gguf", NULL, "\"\"x", want);
    snprintf(want, sizeof want, "error: Modelfile stop string '\x01%s", why);
    refused("b.gguf", NULL, "\x01", want);
    snprintf(want, sizeof want, "error: Modelfile stop string '%s", why);
    refused("b.gguf", NULL, "", want);
}

Test(lm_modelfile, template_stops)
{
    size_t n;
    cr_assert_null(ik_modelfile_stops(IK_CHAT_PLAIN, &n));
    cr_assert_eq(n, 0);
    cr_assert_str_eq(ik_modelfile_stops(IK_CHAT_LLAMA3, &n)[0], "<|eot_id|>");
    cr_assert_eq(n, 3);
}
