/* tests/lm/test_chat.c - the built-in chat templates render exactly what the
 * Hugging Face templates render for the same messages. Expected strings are
 * written from the templates' Jinja source:
 *  - chatml: Qwen2.5-*-Instruct tokenizer_config.json, "'<|im_start|>' +
 *    message.role + '\n' + message.content + '<|im_end|>' + '\n'" (its default
 *    system message, added only when none is given, is not modelled);
 *  - llama3: Meta-Llama-3-8B-Instruct, "'<|start_header_id|>' + message['role'] +
 *    '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>'",
 *    bos_token before the first message;
 *  - llama2: Llama-2-7b-chat-hf, "bos_token + '[INST] ' + content.strip() +
 *    ' [/INST]'" and "' ' + content.strip() + ' ' + eos_token", the system
 *    message as "'<<SYS>>\n' + system_message + '\n<</SYS>>\n\n'" before the
 *    first user content. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/chat_template.h"
#include "lm/tokenizer.h"
#include "tests/lm/lm_test.h"

static const struct ik_chat_msg msgs[] = {
    {"system", "You are helpful."}, {"user", "Hi"}, {"assistant", "Hello!"},
    {"user", "Bye?"}, {"assistant", " Bye. "},
};

static void check(int tmpl, const char *want, const char *span0, const char *span1)
{
    struct ik_buf b = IK_BUF_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_chat_span sp[5];
    size_t ns;
    cr_assert_eq(ik_chat_render(tmpl, msgs, 5, 0, &b, sp, &ns, &d), 0, "%s", ik_diag_message(&d));
    ik_buf_putc(&b, '\0');
    cr_assert_str_eq(b.data, want);
    cr_assert_eq(ns, 2);
    cr_assert_eq(sp[0].end - sp[0].begin, strlen(span0));
    cr_assert(strncmp(b.data + sp[0].begin, span0, strlen(span0)) == 0, "%s", b.data + sp[0].begin);
    cr_assert_eq(sp[1].end - sp[1].begin, strlen(span1));
    cr_assert(strncmp(b.data + sp[1].begin, span1, strlen(span1)) == 0, "%s", b.data + sp[1].begin);
    ik_buf_free(&b);
}

Test(lm_chat, chatml)
{
    check(IK_CHAT_CHATML,
          "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
          "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye?<|im_end|>\n"
          "<|im_start|>assistant\n Bye. <|im_end|>\n",
          "Hello!<|im_end|>", " Bye. <|im_end|>");
    struct ik_buf b = IK_BUF_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_chat_render(IK_CHAT_CHATML, msgs + 1, 1, 1, &b, NULL, NULL, &d), 0);
    ik_buf_putc(&b, '\0');
    cr_assert_str_eq(b.data, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    ik_buf_free(&b);
}

Test(lm_chat, llama3)
{
    check(IK_CHAT_LLAMA3,
          "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nBye?<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\nBye.<|eot_id|>",
          "Hello!<|eot_id|>", "Bye.<|eot_id|>");
}

Test(lm_chat, llama2)
{
    check(IK_CHAT_LLAMA2,
          "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye? [/INST]"
          " Bye. </s>",
          "Hello! </s>", "Bye. </s>");
    struct ik_buf b = IK_BUF_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_chat_render(IK_CHAT_LLAMA2, msgs + 2, 2, 0, &b, NULL, NULL, &d), IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), "error: message 0: the llama2 template needs roles to alternate "
                                          "user/assistant/..., got 'assistant' where 'user' belongs");
    ik_diag_free(&d);
    ik_buf_free(&b);
}

Test(lm_chat, plain_and_names)
{
    check(IK_CHAT_PLAIN, "You are helpful.\nHi\nHello!\nBye?\n Bye. \n", "Hello!\n", " Bye. \n");
    int t;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_chat_template_by_name("llama3", &t, &d), 0);
    cr_assert_eq(t, IK_CHAT_LLAMA3);
    cr_assert_eq(ik_chat_template_by_name("vicuna", &t, &d), IK_EVALIDATE);
    ik_diag_free(&d);
}

Test(lm_chat, detect_from_tokenizer_config)
{
    char *dir = tc_tmpdir();
    char *p = ik_xasprintf("%s/tokenizer_config.json", dir);
    const char *q = "{\"chat_template\": \"{% for message in messages %}{{'<|im_start|>' + message['role'] + "
                    "'\\\\n' + message['content'] + '<|im_end|>' + '\\\\n'}}{% endfor %}\"}";
    lmt_write(p, q, strlen(q));
    int t = -1;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_chat_template_detect(p, &t, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(t, IK_CHAT_CHATML);
    lmt_write(p, "{\"chat_template\": \"{{ messages }}\"}", 35);
    cr_assert_eq(ik_chat_template_detect(p, &t, &d), 1);
    lmt_write(p, "{\"chat_template\": ", 18);
    cr_assert_eq(ik_chat_template_detect(p, &t, &d), IK_EPARSE);
    cr_assert(strncmp(ik_diag_message(&d), p, strlen(p)) == 0, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    free(p);
    tc_rmtree(dir);
}

/* Token mask: exactly the tokens of the assistant spans (tok512 has no
 * special chat tokens, so plain is used; the mask covers "Hello!\n" and " Bye. \n"). */
Test(lm_chat, encode_masks_assistant_tokens)
{
    char *tp = lmt_path("examples/models/stories260K/tok512.model");
    struct ik_tok *t;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_load(&t, tp, &d), 0);
    int *ids;
    unsigned char *mask;
    size_t n;
    cr_assert_eq(ik_chat_encode(IK_CHAT_PLAIN, t, msgs, 5, &ids, &mask, &n, &d), 0, "%s", ik_diag_message(&d));
    struct ik_buf a = IK_BUF_INIT, all = IK_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        if (mask[i])
            ik_tok_decode(t, ids + i, 1, 1, &a, &d);
    ik_tok_decode(t, ids, n, 1, &all, &d);
    ik_buf_putc(&a, '\0');
    ik_buf_putc(&all, '\0');
    cr_assert(strstr(a.data, "Hello!") && strstr(a.data, "Bye.") && !strstr(a.data, "Hi"), "%s", a.data);
    cr_assert(strstr(all.data, "You are helpful.") != NULL, "%s", all.data);
    ik_buf_free(&a), ik_buf_free(&all);
    free(ids), free(mask), free(tp);
    ik_tok_free(t);
}
