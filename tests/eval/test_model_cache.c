/* tests/eval/test_model_cache.c - the answer cache: the key covers the
 * backend, the model's identity, the messages and the generation params (the
 * seed only when sampling), nothing else; answers round-trip through the
 * node's kv store; a value it cannot read counts as absent. */
#include <errno.h>

#include "engine/exec.h"
#include "engine/node.h"
#include "tests/eval/model_helpers.h"

static const struct ik_eval_backend_ops other_backend = {.name = "openai"};

TestSuite(eval_model_cache, .init = tc_setup, .fini = tc_teardown);

static void key_of(const struct ik_eval_model *m, const struct ik_eval_prompt *p, struct ik_hash *h)
{
    ik__eval_answer_key(m, p, h);
}

Test(eval_model_cache, key_covers_what_decides_the_answer)
{
    struct ik_eval_model m = {.ops = &ik__eval_predictions_ops, .identity = "model-a"};
    m.spec.temperature = 0;
    m.spec.max_new_tokens = 512;
    struct t_prompt t;
    t_prompt(&t, "hello", "q", 3);
    struct ik_hash a, b;
    key_of(&m, &t.p, &a);
    key_of(&m, &t.p, &b);
    cr_assert(ik_hash_equal(&a, &b));
    m.spec.seed = 9; /* greedy: the seed changes nothing */
    t.p.index = 4;   /* nor does the index */
    t.p.question = "other";
    key_of(&m, &t.p, &b);
    cr_assert(ik_hash_equal(&a, &b));
    m.spec.base_url = "http://elsewhere"; /* nor the URL or key variable */
    m.spec.api_key_env = "KEY";
    key_of(&m, &t.p, &b);
    cr_assert(ik_hash_equal(&a, &b));
    m.spec.max_new_tokens = 16;
    key_of(&m, &t.p, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
    m.spec.max_new_tokens = 512;
    m.identity = "model-b";
    key_of(&m, &t.p, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
    m.identity = "model-a";
    m.ops = &other_backend;
    key_of(&m, &t.p, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
    m.ops = &ik__eval_predictions_ops;
    t.msg.len = 4;
    key_of(&m, &t.p, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
    t.msg.len = 5;
    t.msg.role = "system";
    key_of(&m, &t.p, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
    t.msg.role = "user";
    t.p.doc_label = "参考文書";
    key_of(&m, &t.p, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
    t.p.doc_label = NULL;
    /* sampling: the prompt's own seed (spec seed + index) counts */
    m.spec.temperature = 0.7;
    struct ik_hash s1, s2, s3;
    key_of(&m, &t.p, &s1);
    cr_assert_not(ik_hash_equal(&a, &s1));
    m.spec.seed = 10;
    t.p.index = 3; /* 10 + 3 == 9 + 4 */
    key_of(&m, &t.p, &s2);
    cr_assert(ik_hash_equal(&s1, &s2));
    t.p.index = 5;
    key_of(&m, &t.p, &s3);
    cr_assert_not(ik_hash_equal(&s1, &s3));
}

Test(eval_model_cache, round_trip_and_unreadable_values)
{
    struct ik_node_ctx *node = ik_exec_store_ctx_new(T.c);
    struct ik_hash k;
    ik_hash_bytes("k", 1, &k);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_eval_answer got = {0};
    cr_assert_eq(ik__eval_answer_get(node, &k, &got, &d), -ENOENT);
    struct ik_eval_answer a = {.text = "答え", .hit_max_tokens = true, .prompt_shortened = true,
                               .prompt_tokens = 1234, .new_tokens = 56};
    cr_assert_eq(ik__eval_answer_put(node, &k, &a, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik__eval_answer_get(node, &k, &got, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_str_eq(got.text, "答え");
    cr_assert(got.hit_max_tokens && got.prompt_shortened && got.from_cache);
    cr_assert_eq(got.prompt_tokens, 1234);
    cr_assert_eq(got.new_tokens, 56);
    ik_eval_answer_free(&got);
    cr_assert_null(got.text);
    /* a value that is not an answer of this version: asked again */
    cr_assert_eq(ik_node_kv_put(node, IK_EVAL_KV_NS, &k, "\x81\xa1v\x07", 4, &d), 0);
    cr_assert_eq(ik__eval_answer_get(node, &k, &got, &d), -ENOENT);
    cr_assert_eq(ik_node_kv_put(node, IK_EVAL_KV_NS, &k, "junk", 4, &d), 0);
    cr_assert_eq(ik__eval_answer_get(node, &k, &got, &d), -ENOENT);
    cr_assert_null(got.text);
    ik_diag_free(&d);
    ik_exec_store_ctx_free(node);
}
