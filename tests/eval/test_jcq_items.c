/* tests/eval/test_jcq_items.c - the JCommonsenseQA reader (nodes/eval/
 * jcq_items.h): the shipped example file whole, and each bad line named by
 * file, line and field. */
#include "base/diag.h"
#include "base/error.h"
#include "nodes/eval/jcq_items.h"
#include "tests/eval/helpers.h"

#define ROW(q_id, label) \
    "{\"q_id\": " q_id ", \"question\": \"q\", \"choice0\": \"a\", \"choice1\": \"b\", " \
    "\"choice2\": \"c\", \"choice3\": \"d\", \"choice4\": \"e\", \"label\": " label "}\n"

Test(jcq_items, example_file)
{
    char *path = ik_xasprintf("%s/examples/jcommonsenseqa/valid.jsonl", IK_TEST_SRCDIR);
    struct ik_jcq_items items = IK_JCQ_ITEMS_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_jcq_items_read_file(path, NULL, &items, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(items.n, 1119);
    const struct ik_jcq_item *first = &items.v[0], *last = &items.v[1118];
    cr_assert_eq(first->q_id, 8939);
    cr_assert_str_eq(first->question, "電子機器で使用される最も主要な電子回路基板の事をなんと言う？");
    cr_assert_str_eq(first->choices[2], "マザーボード");
    cr_assert_eq(first->label, 2);
    cr_assert_eq(first->line, 1);
    cr_assert_eq(last->q_id, 10057);
    cr_assert_eq(last->line, 1119);
    size_t per_label[IK_JCQ_N_CHOICES] = {0};
    for (size_t i = 0; i < items.n; i++)
        per_label[items.v[i].label]++;
    /* JGLUE valid v1.1's label counts. */
    cr_assert(per_label[0] == 216 && per_label[1] == 237 && per_label[2] == 240 &&
              per_label[3] == 228 && per_label[4] == 198);
    ik_jcq_items_free(&items);
    free(path);
}

/* Parsing text fails with exactly message `want`. */
static void fails(const char *text, const char *want)
{
    struct ik_jcq_items items = IK_JCQ_ITEMS_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_jcq_items_parse("valid.jsonl", text, strlen(text), &items, &d), IK_EPARSE,
                 "%s", text);
    cr_assert_str_eq(ik_diag_message(&d), want);
    ik_diag_free(&d);
    ik_jcq_items_free(&items);
}

Test(jcq_items, errors)
{
    fails(ROW("1", "0") "{\"q_id\": 2,\n",
          "valid.jsonl:2: error: not valid JSON: string or '}' expected near end of file (column 11)");
    fails(ROW("1", "0") "[1]\n", "valid.jsonl:2: error: expected a JSON object, got an array");
    fails("{\"q_id\": 1, \"question\": \"q\"}\n", "valid.jsonl:1: error: missing field \"choice0\"");
    fails(ROW("1", "\"2\""),
          "valid.jsonl:1: error: field \"label\" is a string, expected an integer 0-4");
    fails(ROW("1", "7"), "valid.jsonl:1: error: field \"label\" is 7, expected an integer 0-4");
    fails(ROW("1", "-1"), "valid.jsonl:1: error: field \"label\" is -1, expected an integer 0-4");
    fails(ROW("1", "2.0"), "valid.jsonl:1: error: field \"label\" is a number, expected an integer 0-4");
    fails(ROW("\"x\"", "0"), "valid.jsonl:1: error: field \"q_id\" is a string, expected an integer");
    fails(ROW("8939", "0") "\n" ROW("8940", "1") ROW("8939", "2"),
          "valid.jsonl:4: error: duplicate q_id 8939 (first on line 1)");
    fails("{\"q_id\": 1, \"question\": \"\", \"choice0\": \"a\"}\n",
          "valid.jsonl:1: error: field \"question\" is empty");
    fails("{\"q_id\": 1, \"question\": \"q\", \"choice0\": 5}\n",
          "valid.jsonl:1: error: field \"choice0\" is an integer, expected a string");
    fails("\n  \n", "error: valid.jsonl: no questions (expected JSON Lines with q_id, question, "
                    "choice0..choice4 and label)");
}

Test(jcq_items, blank_lines_crlf_and_extra_fields)
{
    const char *text = "\r\n" ROW("5", "4") "  \n"
                       "{\"q_id\": 6, \"question\": \"質問\", \"choice0\": \"a\", \"choice1\": \"b\", "
                       "\"choice2\": \"c\", \"choice3\": \"d\", \"choice4\": \"e\", \"label\": 0, "
                       "\"note\": [1]}\r\n";
    struct ik_jcq_items items = IK_JCQ_ITEMS_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_jcq_items_parse("x", text, strlen(text), &items, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(items.n, 2);
    cr_assert(items.v[0].q_id == 5 && items.v[0].label == 4 && items.v[0].line == 2);
    cr_assert(items.v[1].q_id == 6 && items.v[1].line == 4);
    cr_assert_str_eq(items.v[1].question, "質問");
    cr_assert_str_eq(items.v[1].choices[4], "e");
    ik_jcq_items_free(&items);
}

Test(jcq_items, unreadable_file)
{
    struct ik_jcq_items items = IK_JCQ_ITEMS_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_lt(ik_jcq_items_read_file("/nonexistent/valid.jsonl", NULL, &items, &d), 0);
    cr_assert(strstr(ik_diag_message(&d), "/nonexistent/valid.jsonl") != NULL, "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
}
