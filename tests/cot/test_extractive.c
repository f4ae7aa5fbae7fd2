/* tests/cot/test_extractive.c - the offline provider's answers pass the
 * citation check on every real sample of the reference's published test set
 * (tests/data/jagovfaqs/test.jsonl: user messages with 5 documents and the
 * oracle position), and pick the sentence closest to the question. */
#include <jansson.h>

#include "tests/cot/helpers.h"

Test(cot_extractive, every_reference_sample_validates)
{
    char *path = ik_xasprintf("%s/tests/data/jagovfaqs/test.jsonl", IK_TEST_SRCDIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *line = NULL;
    size_t cap = 0, rows = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *rec = json_loads(line, 0, &err);
        cr_assert_not_null(rec);
        const char *user = json_string_value(
            json_object_get(json_array_get(json_object_get(rec, "messages"), 1), "content"));
        json_t *meta = json_object_get(rec, "metadata");
        int oracle = (int)json_integer_value(json_object_get(meta, "oracle_position"));
        const char *q = json_string_value(json_object_get(meta, "question"));
        struct ik_cot_doc docs[8];
        size_t n = ik_cot_split_docs(user, strlen(user), "参考文書", "質問", docs, 8);
        cr_assert_eq(n, 5, "row %zu", rows + 1);
        cr_assert(oracle >= 1 && oracle <= 5);
        char *a = ik_cot_extractive_answer(q, docs[oracle - 1].text, docs[oracle - 1].len, oracle,
                                           "参考文書", 5);
        cr_assert_eq(ik_cot_cite_check(a, strlen(a), "参考文書", oracle, docs[oracle - 1].text,
                                       docs[oracle - 1].len, 5),
                     IK_CITE_OK, "row %zu: %s", rows + 1, a);
        free(a);
        json_decref(rec);
        rows++;
    }
    cr_assert_eq(rows, 200);
    free(line);
    fclose(f);
    free(path);
}

Test(cot_extractive, quotes_the_sentence_closest_to_the_question)
{
    const char *doc = "消費税は国税です。\n住宅借入金等特別控除は確定申告で受けます。その他の注意。";
    char *a = ik_cot_extractive_answer("住宅借入金等特別控除はどう受けますか", doc, strlen(doc), 4,
                                       "参考文書", 5);
    cr_assert_str_eq(a, "参考文書4に「住宅借入金等特別控除は確定申告で受けます」と記載されています。"
                        "この記述が質問の内容に直接答えています。したがって、回答は次のとおりです。"
                        "住宅借入金等特別控除は確定申告で受けます。");
    free(a);
}
