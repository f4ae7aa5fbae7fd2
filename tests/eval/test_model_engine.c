/* tests/eval/test_model_engine.c - the engine backend on the example model
 * (examples/models/stories260K-hf, tiny): greedy answers that do not depend
 * on the batch, answers served from the kv store on a second run, the token
 * limit counted, documents shortened to fit the context (and a prompt that
 * cannot be), an adapter that changes the answers, log-likelihoods. */
#include <math.h>

#include "base/prng.h"
#include "lm/config.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "nodes/train/adapter_artifact.h"
#include "tests/eval/model_helpers.h"

TestSuite(eval_engine, .init = tc_setup, .fini = tc_teardown);

#define MODEL IK_TEST_SRCDIR "/examples/models/stories260K-hf"

static struct fake_node F;

static struct ik_eval_model *open_engine(struct ik_eval_model_spec *s, const char *extra,
                                         int expect_rc)
{
    char *json = ik_xasprintf("{\"name\": \"tiny\", \"backend\": \"engine\", \"model\": \"base\", "
                              "\"temperature\": 0, \"max_new_tokens\": 8, \"batch\": 2%s}", extra);
    char *msg;
    cr_assert_eq(spec_of(s, json, fn_ctx(&F), &msg), 0, "%s", msg);
    free(msg);
    free(json);
    struct ik_eval_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_eval_model_open(&m, s, &F.ctx, &d), expect_rc, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    return m;
}

static void gen(struct ik_eval_model *m, struct t_prompt *t, size_t n, struct ik_eval_answer *a)
{
    struct ik_eval_prompt ps[8];
    for (size_t i = 0; i < n; i++)
        ps[i] = t[i].p;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_eval_model_generate(m, ps, n, a, NULL, NULL, &d), 0, "%s",
                 ik_diag_message(&d));
    ik_diag_free(&d);
}

Test(eval_engine, greedy_batched_and_cached)
{
    fn_init(&F, T.c);
    fn_file(&F, "base", MODEL);
    struct ik_eval_model_spec s;
    struct ik_eval_model *m = open_engine(&s, "", 0);
    struct t_prompt t[3];
    t_prompt(&t[0], "Once upon a time", "q0", 0);
    t_prompt(&t[1], "The cat", "q1", 1);
    t_prompt(&t[2], "Once upon a time", "q2", 2); /* alone in the second group */
    struct ik_eval_answer a[3];
    gen(m, t, 3, a);
    for (int i = 0; i < 3; i++) {
        cr_assert_not(a[i].from_cache);
        cr_assert_gt(a[i].new_tokens, 0);
        cr_assert_leq(a[i].new_tokens, 8);
        cr_assert_gt(a[i].prompt_tokens, 1);
        cr_assert_eq(a[i].hit_max_tokens, a[i].new_tokens == 8);
        cr_assert_not(a[i].prompt_shortened);
    }
    cr_assert_str_eq(a[0].text, a[2].text); /* the same prompt in another group */
    /* asked again: every answer from the store, the same */
    struct ik_eval_answer b[3];
    gen(m, t, 3, b);
    for (int i = 0; i < 3; i++) {
        cr_assert(b[i].from_cache);
        cr_assert_str_eq(a[i].text, b[i].text);
        cr_assert_eq(a[i].new_tokens, b[i].new_tokens);
        ik_eval_answer_free(&a[i]);
        ik_eval_answer_free(&b[i]);
    }
    ik_eval_model_close(m);
    ik_eval_model_spec_free(&s);
    fn_free(&F);
}

static const char *raft_user(void)
{
    static char buf[4096];
    char doc[1200];
    memset(doc, 0, sizeof doc);
    for (int i = 0; i < 40; i++)
        strcat(doc, "The dog ran. ");
    snprintf(buf, sizeof buf, "Read the documents.\n\nDoc1:\n%s\n\nDoc2:\nA short one.\n\n"
             "Question: Where did the dog run?", doc);
    return buf;
}

Test(eval_engine, documents_shortened_to_fit)
{
    fn_init(&F, T.c);
    fn_file(&F, "base", MODEL);
    struct ik_eval_model_spec s;
    struct ik_eval_model *m = open_engine(&s, ", \"max_context\": 96", 0);
    struct t_prompt t;
    t_prompt(&t, raft_user(), "Where did the dog run?", 0);
    t.p.doc_label = "Doc";
    t.p.question_label = "Question";
    struct ik_eval_answer a;
    gen(m, &t, 1, &a);
    cr_assert(a.prompt_shortened);
    cr_assert_leq(a.prompt_tokens, 96 - 8);
    cr_assert_gt(a.prompt_tokens, 40); /* shortened, not emptied */
    ik_eval_answer_free(&a);
    /* without labels there is nothing it may cut */
    t.p.doc_label = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_eval_model_generate(m, &t.p, 1, &a, NULL, NULL, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "the prompt of item 0 has") != NULL, "%s",
              ik_diag_message(&d));
    cr_assert(strstr(ik_diag_message(&d), "no documents to shorten") != NULL, "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    ik_eval_model_close(m);
    ik_eval_model_spec_free(&s);
    fn_free(&F);
}

/* A lora.adapter artifact for the example model with B far from zero. */
static void adapter_bytes(struct ik_mp_writer *w)
{
    struct ik_lm_model *lm;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&lm, MODEL, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lora_config lc = {4, 8.0f, 0.0f, (1u << IK_LORA_NT) - 1};
    struct ik_lora *a;
    cr_assert_eq(ik_lora_new(&a, &lm->cfg, &lc, 5, &d), 0, "%s", ik_diag_message(&d));
    struct ik_prng p;
    ik_prng_seed(&p, 11);
    for (int i = 0; i < a->L * IK_LORA_NT; i++) {
        struct ik_lora_module *mod = &a->mod[i];
        for (int j = 0; mod->B && j < mod->out * a->cfg.r; j++)
            mod->B[j] = (float)((2 * ik_prng_double(&p) - 1) * 0.5);
    }
    struct ik_lora_artifact_info info = {.chat_template = 3, .steps = 1};
    memset(info.base_hash, 'a', 64);
    memset(info.tokenizer_hash, 'b', 64);
    ik_mp_writer_init(w);
    ik_lora_artifact_pack(w, a, &lm->cfg, &info);
    ik_lora_free(a);
    ik_lm_model_free(lm);
    ik_diag_free(&d);
}

Test(eval_engine, adapter_changes_the_answers)
{
    struct ik_mp_writer w;
    adapter_bytes(&w);
    fn_init(&F, T.c);
    fn_file(&F, "base", MODEL);
    fn_object(&F, "lora", w.sb.data, w.sb.size);
    ik_mp_writer_free(&w);
    struct ik_eval_model_spec s1, s2;
    struct ik_eval_model *base = open_engine(&s1, "", 0);
    struct ik_eval_model *tuned = open_engine(&s2, ", \"adapter\": \"lora\"", 0);
    struct t_prompt t[2];
    t_prompt(&t[0], "Once upon a time", "q0", 0);
    t_prompt(&t[1], "The cat", "q1", 1);
    struct ik_eval_answer a[2], b[2];
    gen(base, t, 2, a);
    gen(tuned, t, 2, b);
    cr_assert_not(b[0].from_cache); /* another model: not the base's answers */
    cr_assert(strcmp(a[0].text, b[0].text) != 0 || strcmp(a[1].text, b[1].text) != 0,
              "same answers with and without the adapter: '%s' '%s'", a[0].text, a[1].text);
    for (int i = 0; i < 2; i++) {
        ik_eval_answer_free(&a[i]);
        ik_eval_answer_free(&b[i]);
    }
    ik_eval_model_close(base);
    ik_eval_model_close(tuned);
    ik_eval_model_spec_free(&s1);
    ik_eval_model_spec_free(&s2);
    fn_free(&F);
}

Test(eval_engine, loglik)
{
    fn_init(&F, T.c);
    fn_file(&F, "base", MODEL);
    struct ik_eval_model_spec s;
    struct ik_eval_model *m = open_engine(&s, "", 0);
    struct t_prompt t;
    t_prompt(&t, "Once upon a time, there was a little", "q", 0);
    const char *conts[3] = {" girl", " the the the", " girl"};
    double ll[3];
    int nt[3];
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_eval_model_loglik(m, &t.p, conts, 3, ll, nt, &d), 0, "%s",
                 ik_diag_message(&d));
    for (int j = 0; j < 3; j++) {
        cr_assert(isfinite(ll[j]) && ll[j] < 0, "ll[%d] = %g", j, ll[j]);
        cr_assert_gt(nt[j], 0);
    }
    cr_assert_float_eq(ll[0], ll[2], 1e-9);
    cr_assert_gt(ll[0], ll[1], "a story word is likelier than a stutter: %g vs %g", ll[0], ll[1]);
    ik_diag_free(&d);
    ik_eval_model_close(m);
    ik_eval_model_spec_free(&s);
    fn_free(&F);
}

Test(eval_engine, open_errors_name_the_model)
{
    fn_init(&F, T.c);
    fn_file(&F, "base", IK_TEST_SRCDIR "/examples/models/no-such-model");
    struct ik_eval_model_spec s;
    cr_assert_null(open_engine(&s, "", -2)); /* -ENOENT */
    ik_eval_model_spec_free(&s);
    fn_free(&F);
    fn_init(&F, T.c);
    fn_file(&F, "base", MODEL);
    struct ik_diag d = IK_DIAG_INIT;
    char *msg;
    cr_assert_eq(spec_of(&s, "{\"name\": \"tiny\", \"backend\": \"engine\", \"model\": \"base\", "
                         "\"max_new_tokens\": 600}", fn_ctx(&F), &msg), 0, "%s", msg);
    free(msg);
    /* It opens (loglik generates nothing), but cannot answer. */
    struct ik_eval_model *m;
    cr_assert_eq(ik_eval_model_open(&m, &s, &F.ctx, &d), 0, "%s", ik_diag_message(&d));
    struct t_prompt t;
    t_prompt(&t, "Once upon a time", "q0", 0);
    struct ik_eval_answer a;
    cr_assert_eq(ik_eval_model_generate(m, &t.p, 1, &a, NULL, NULL, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "model tiny: max_new_tokens 600 leaves no room")
              != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    ik_eval_model_close(m);
    ik_eval_model_spec_free(&s);
    fn_free(&F);
}
