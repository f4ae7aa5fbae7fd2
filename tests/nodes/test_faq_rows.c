/* tests/nodes/test_faq_rows.c - reading FAQ rows in every format, and the
 * exact text of every bad-input message. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/mp.h"
#include "nodes/raft/faq_rows.h"

static const struct ik_faq_fields *J = &ik_faq_fields_jagovfaqs;

/* Parses text and returns the diag message ("" on success); rows freed. */
static char *parse_msg(const char *name, const char *text, size_t len, enum ik_faq_format fmt,
                       const struct ik_faq_fields *f, size_t *n_rows)
{
    struct ik_faq_rows rows;
    ik_faq_rows_init(&rows);
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_faq_rows_parse(name, text, len, fmt, f, &rows, &d);
    char *msg = strdup(rc < 0 ? ik_diag_message(&d) : "");
    if (rc < 0)
        cr_expect_eq(rc, IK_EPARSE);
    if (n_rows)
        *n_rows = rows.n;
    ik_faq_rows_free(&rows);
    ik_diag_free(&d);
    return msg;
}

static void expect_err(const char *name, const char *text, const char *want)
{
    char *msg = parse_msg(name, text, strlen(text), IK_FAQ_AUTO, J, NULL);
    cr_expect_str_eq(msg, want, "input:\n%s", text);
    free(msg);
}

Test(faq_rows, jsonl_rows_and_groups)
{
    const char *t = "{\"Question\": \"q1\", \"Answer\": \"a1\", \"copyright\": \"国税庁\", \"url\": \"http://x\"}\r\n"
                    "\n"
                    "{\"Question\": \"q2\", \"Answer\": \"a2\\nline\", \"copyright\": \"環境省\", \"url\": null}\n"
                    "{\"Question\": \"q3\", \"Answer\": \"a3\", \"copyright\": \"国税庁\"}";
    struct ik_faq_rows rows;
    ik_faq_rows_init(&rows);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_faq_rows_parse("faq.jsonl", t, strlen(t), IK_FAQ_AUTO, J, &rows, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(rows.n, 3);
    cr_expect_eq(rows.n_groups, 2);
    cr_expect_str_eq(rows.v[1].answer, "a2\nline");
    cr_expect_str_eq(rows.v[0].url, "http://x");
    cr_expect_null(rows.v[1].url);
    cr_expect_eq(rows.v[2].src, 4, "rows are numbered by line");
    cr_expect_str_eq(ik_faq_rows_group(&rows, 2), "国税庁");
    ik_faq_rows_free(&rows);
}

Test(faq_rows, json_array_and_mapped_names)
{
    const char *t = "[{\"q\": \"質問\", \"a\": \"答え\", \"org\": \"A\"}, {\"q\": \"x\", \"a\": \"y\", \"org\": \"B\"}]";
    struct ik_faq_fields f = {"q", "a", "org", ""};
    size_t n = 0;
    char *msg = parse_msg("faq.json", t, strlen(t), IK_FAQ_AUTO, &f, &n);
    cr_expect_str_eq(msg, "");
    cr_expect_eq(n, 2);
    free(msg);
}

Test(faq_rows, csv_rfc4180)
{
    const char *t = "\xEF\xBB\xBFQuestion,Answer,copyright,url\r\n"
                    "\"q, with comma\",\"line1\nline2 \"\"quoted\"\"\",国税庁,\r\n"
                    "q2,plain answer,環境省,http://u\n";
    struct ik_faq_rows rows;
    ik_faq_rows_init(&rows);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_faq_rows_parse("faq.csv", t, strlen(t), IK_FAQ_AUTO, J, &rows, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(rows.n, 2);
    cr_expect_str_eq(rows.v[0].question, "q, with comma");
    cr_expect_str_eq(rows.v[0].answer, "line1\nline2 \"quoted\"");
    cr_expect_null(rows.v[0].url);
    cr_expect_eq(rows.v[1].src, 4, "a record is named by the line it starts on");
    cr_expect_str_eq(rows.v[1].url, "http://u");
    ik_faq_rows_free(&rows);
}

Test(faq_rows, msgpack_array_stream_and_artifact)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < 2; i++) { /* a stream of two maps */
        msgpack_pack_map(&pk, 3);
        ik_mp_pack_str(&pk, "Question");
        ik_mp_pack_str(&pk, i ? "q2" : "q1");
        ik_mp_pack_str(&pk, "Answer");
        ik_mp_pack_str(&pk, "ans");
        ik_mp_pack_str(&pk, "copyright");
        ik_mp_pack_str(&pk, "G");
    }
    size_t n = 0;
    char *msg = parse_msg("faq.msgpack", sb.data, sb.size, IK_FAQ_AUTO, J, &n);
    cr_expect_str_eq(msg, "");
    cr_expect_eq(n, 2);
    free(msg);
    /* Truncated: the offset of the broken object is named. */
    msg = parse_msg("faq.msgpack", sb.data, sb.size - 2, IK_FAQ_AUTO, J, &n);
    cr_expect_str_eq(msg, "error: faq.msgpack: offset 36: not valid msgpack (truncated)");
    free(msg);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    ik_mp_pack_str(&pk, "records");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    ik_mp_pack_str(&pk, "Question");
    ik_mp_pack_str(&pk, "q");
    ik_mp_pack_str(&pk, "Answer");
    msgpack_pack_int(&pk, 7);
    msg = parse_msg("rows.bin", sb.data, sb.size, IK_FAQ_MSGPACK, J, &n);
    cr_expect_str_eq(msg, "error: rows.bin: row 1: field \"Answer\" is a number, expected a string");
    free(msg);
    msgpack_sbuffer_destroy(&sb);
}

/* A stream that starts with a value other than a map or an array is one bad
 * row, not a map to look "records" up in (found by fuzz/fz_faqrows: that
 * lookup read a number as a map, out of bounds). */
Test(faq_rows, msgpack_scalar_is_a_bad_row)
{
    static const char *const inputs[] = {"\x0a", "\xa1x", "\xc0\x80", "\xcb\0\0\0\0\0\0\0\0"};
    static const size_t lens[] = {1, 2, 2, 9};
    static const char *const want[] = {
        "error: rows.bin: row 1: expected a map, got a number",
        "error: rows.bin: row 1: expected a map, got a string",
        "error: rows.bin: row 1: expected a map, got null",
        "error: rows.bin: row 1: expected a map, got a number",
    };
    for (size_t i = 0; i < 4; i++) {
        char *msg = parse_msg("rows.bin", inputs[i], lens[i], IK_FAQ_MSGPACK, J, NULL);
        cr_expect_str_eq(msg, want[i], "input %zu", i);
        free(msg);
    }
}

Test(faq_rows, bad_input_messages)
{
    expect_err("faq.jsonl",
               "{\"Question\": \"q\", \"Answer\": \"a\", \"copyright\": \"c\"}\n"
               "{\"Question\": \"q\", \"answer\": \"a\", \"copyright\": \"c\"}\n",
               "faq.jsonl:2: error: missing field \"Answer\"\n"
               "hint: this row has \"Question\", \"answer\", \"copyright\"; set answer_field to the "
               "name that holds it");
    expect_err("faq.jsonl", "{\"Question\": \"q\", \"Answer\": \"a\", \"copyright\": \"c\"}\n{\"Question\": \"q\",\n",
               "faq.jsonl:2: error: not valid JSON: string or '}' expected near end of file (column 17)");
    expect_err("faq.jsonl", "{\"Question\": \"q\", \"Answer\": 12, \"copyright\": \"c\"}\n",
               "faq.jsonl:1: error: field \"Answer\" is a number, expected a string");
    expect_err("faq.jsonl", "{\"Question\": null, \"Answer\": \"a\", \"copyright\": \"c\"}\n",
               "faq.jsonl:1: error: field \"Question\" is null, expected a string");
    expect_err("faq.jsonl", "{\"Question\": \"q\", \"Answer\": \"\", \"copyright\": \"c\"}\n",
               "faq.jsonl:1: error: field \"Answer\" is empty");
    expect_err("faq.jsonl", "{\"Question\": \"q\", \"Answer\": \"a\", \"copyright\": 3}\n",
               "faq.jsonl:1: error: field \"copyright\" is a number, expected a string");
    expect_err("faq.jsonl", "{\"Question\": \"q\", \"Answer\": \"a\", \"copyright\": \"c\", \"url\": []}\n",
               "faq.jsonl:1: error: field \"url\" is an array, expected a string");
    expect_err("faq.jsonl", "{\"Question\": \"q\", \"Answer\": \"a\", \"copyright\": \"c\"}\n[1]\n",
               "faq.jsonl:2: error: expected a JSON object, got an array");
    expect_err("faq.json", "[{\"Question\": \"q\", \"Answer\": \"a\", \"copyright\": \"c\"}, {\"Question\": \"q\"}]",
               "error: faq.json: row 2: missing field \"Answer\"\n"
               "hint: this row has \"Question\"; set answer_field to the name that holds it");
    expect_err("faq.json", "[{\"Question\": \"q\",\n \"Answer\" \"a\"}]",
               "faq.json:2:13: error: not valid JSON: ':' expected near '\"a\"'");
    expect_err("faq.csv", "Question,Answer,copyright\nq1,a1,c\nq2,,c\n",
               "faq.csv:3: error: field \"Answer\" is empty");
    expect_err("faq.csv", "Question,Answer\nq1,a1\n",
               "faq.csv:1: error: missing column \"copyright\"\n"
               "hint: the header has \"Question\", \"Answer\"; set group_field to the column that holds it");
    expect_err("faq.csv", "Question,Answer,copyright\nq1,a1\n",
               "faq.csv:2: error: 2 fields, but the header has 3");
    expect_err("faq.csv", "Question,Answer,copyright\nq1,\"a1\nmore,c\n",
               "faq.csv:2: error: quoted field 2 never ends (its quote opens on line 2)");
    expect_err("faq.csv", "Question,Answer,copyright\nq1,\"a1\"x,c\n",
               "faq.csv:2: error: unexpected 'x' after the closing quote of field 2; write a quote "
               "inside a quoted field as \"\"");
    expect_err("faq.csv", "Question,Answer,copyright\nq1,\xff\xfe,c\n",
               "faq.csv:2: error: field \"Answer\" is not valid UTF-8");
    expect_err("faq.txt", "Question\tAnswer\n",
               "error: faq.txt: cannot tell the format: expected JSON Lines, a JSON array, CSV "
               "(.csv) or msgpack; set format to jsonl, json, csv or msgpack");
    expect_err("faq.jsonl", "  \n", "error: faq.jsonl: no rows: the file is empty");
}

Test(faq_rows, read_file_names_the_path)
{
    struct ik_faq_rows rows;
    ik_faq_rows_init(&rows);
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_faq_rows_read_file("/nonexistent/faq.jsonl", IK_FAQ_AUTO, J, &rows, &d);
    cr_expect_eq(rc, -ENOENT);
    cr_expect_str_eq(ik_diag_message(&d),
                     "error: /nonexistent/faq.jsonl: cannot open: No such file or directory");
    ik_diag_free(&d);
}
