/* tests/train/test_model_files.c - what the train node (and `ikada lm`)
 * finds beside a model: its tokenizer file (ik_tok_find_for_model) and its
 * chat template (ik_chat_template_auto). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/chat_template.h"
#include "lm/tokenizer.h"
#include "tests/train/helpers.h"

static void touch(const char *dir, const char *name)
{
    char *p = ik_xasprintf("%s/%s", dir, name);
    tt_write(p, "{}");
    free(p);
}

/* Expects model to lead to dir/name. */
static void finds(const char *model, const char *dir, const char *name)
{
    char *path = NULL, *want = ik_xasprintf("%s/%s", dir, name);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_find_for_model(model, &path, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_str_eq(path, want);
    free(path);
    free(want);
}

static void find_fails(const char *model, int code, const char *want)
{
    char *path = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_find_for_model(model, &path, &d), code);
    cr_assert_str_eq(ik_diag_message(&d), want);
    cr_assert_null(path);
    ik_diag_free(&d);
}

Test(train_model_files, tokenizer_beside_the_model)
{
    char *dir = tc_tmpdir();
    char *model = ik_xasprintf("%s/model.bin", dir), *want;
    touch(dir, "model.bin");
    want = ik_xasprintf("error: no tokenizer.json, tokenizer.model or single *.model file in '%s'", dir);
    find_fails(dir, IK_ENOTFOUND, want);
    find_fails(model, IK_ENOTFOUND, want);
    free(want);
    touch(dir, "a.model");
    finds(dir, dir, "a.model");
    finds(model, dir, "a.model");
    touch(dir, "b.model");
    want = ik_xasprintf("error: no tokenizer.json, tokenizer.model or single *.model file in '%s' "
                        "(2 *.model files there)", dir);
    find_fails(dir, IK_EVALIDATE, want);
    free(want);
    touch(dir, "tokenizer.model");
    finds(dir, dir, "tokenizer.model");
    touch(dir, "tokenizer.json");
    finds(model, dir, "tokenizer.json");
    char *missing = ik_xasprintf("%s/nope", dir);
    want = ik_xasprintf("error: cannot open model '%s': No such file or directory", missing);
    find_fails(missing, -ENOENT, want);
    free(want);
    free(missing);
    free(model);
    tc_rmtree(dir);
    /* The bundled llama2.c model: its one tok512.model. */
    char *bin = tt_path("examples/models/stories260K/stories260K.bin");
    char *folder = tt_path("examples/models/stories260K");
    finds(bin, folder, "tok512.model");
    free(bin);
    free(folder);
}

static int auto_tmpl(const char *model, struct ik_diag *d)
{
    int t = -1;
    int rc = ik_chat_template_auto(model, &t, d);
    cr_assert_eq(rc, 0, "%s", ik_diag_message(d));
    return t;
}

Test(train_model_files, chat_template_auto)
{
    struct ik_diag d = IK_DIAG_INIT;
    char *dir = tc_tmpdir();
    char *cfg = ik_xasprintf("%s/tokenizer_config.json", dir);
    cr_assert_eq(auto_tmpl(dir, &d), IK_CHAT_PLAIN, "a folder without tokenizer_config.json");
    tt_write(cfg, "{\"bos_token\": \"<s>\"}");
    cr_assert_eq(auto_tmpl(dir, &d), IK_CHAT_PLAIN, "a base model's config");
    tt_write(cfg, "{\"chat_template\": \"{{'<|im_start|>' + m + '<|im_end|>'}}\"}");
    cr_assert_eq(auto_tmpl(dir, &d), IK_CHAT_CHATML);
    tt_write(cfg, "{\"chat_template\": \"<|start_header_id|>{{r}}<|end_header_id|>{{c}}<|eot_id|>\"}");
    cr_assert_eq(auto_tmpl(dir, &d), IK_CHAT_LLAMA3);
    tt_write(cfg, "{\"chat_template\": \"### User: {{ c }}\"}");
    int t = -1;
    cr_assert_eq(ik_chat_template_auto(dir, &t, &d), IK_EVALIDATE);
    char *want = ik_xasprintf("%s: error: the chat_template is none of the built-ins (chatml, llama3, "
                              "llama2)\nhint: set the param chat_template to chatml, llama3, llama2 or plain",
                              cfg);
    cr_assert_str_eq(ik_diag_message(&d), want);
    free(want);
    tt_write(cfg, "{\"chat_template\": ");
    cr_assert_eq(ik_chat_template_auto(dir, &t, &d), IK_EPARSE);
    cr_assert(strncmp(ik_diag_message(&d), cfg, strlen(cfg)) == 0, "%s", ik_diag_message(&d));
    char *bin = tt_path("examples/models/stories260K/stories260K.bin");
    cr_assert_eq(auto_tmpl(bin, &d), IK_CHAT_PLAIN, "a llama2.c .bin file");
    free(bin);
    char *missing = ik_xasprintf("%s/nope", dir);
    cr_assert_eq(ik_chat_template_auto(missing, &t, &d), -ENOENT);
    free(missing);
    ik_diag_free(&d);
    free(cfg);
    tc_rmtree(dir);
}
