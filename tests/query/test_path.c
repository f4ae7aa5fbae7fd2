/* tests/query/test_path.c - field paths: parsing, lookup, --select lists. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"
#include "base/error.h"
#include "tests/common/mpvalue.h"

static const char *rec_json =
    "{\"a\":{\"b\":{\"c\":7}},\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
    "{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"ans\"}],"
    "\"odd key\":1,\"x-y\":2}";

/* The compact JSON at path in rec_json, or "MISSING". */
static char *at(const char *path)
{
    struct tq_value v;
    const msgpack_object *rec = tq_value(&v, rec_json);
    struct ik_qpath *p;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_qpath_parse(path, "--select", &p, &d), 0, "%s", ik_diag_message(&d));
    const msgpack_object *o = ik_qpath_get(p, rec);
    char *s = o ? tq_json(o) : strdup("MISSING");
    ik_qpath_free(p);
    tq_value_free(&v);
    return s;
}

static void expect_at(const char *path, const char *want)
{
    char *got = at(path);
    cr_expect_str_eq(got, want, "path %s", path);
    free(got);
}

Test(query_path, nested_keys) { expect_at("a.b.c", "7"); expect_at("a.b", "{\"c\":7}"); }

Test(query_path, indexes)
{
    expect_at("messages[2].content", "\"ans\"");
    expect_at("messages[0].role", "\"system\"");
    expect_at("messages[-1].role", "\"assistant\"");
    expect_at("messages[-3].role", "\"system\"");
}

Test(query_path, missing_fields)
{
    expect_at("a.b.d", "MISSING");
    expect_at("messages[3]", "MISSING");
    expect_at("messages[-4]", "MISSING");
    expect_at("a.b.c.d", "MISSING");  /* stepping into a number */
    expect_at("a[0]", "MISSING");     /* indexing a map */
    expect_at("messages.role", "MISSING");
}

Test(query_path, quoted_and_dashed_keys)
{
    expect_at("[\"odd key\"]", "1");
    expect_at("['odd key']", "1");
    expect_at("x-y", "2");
    expect_at("messages[ 1 ][\"content\"]", "\"q\"");
}

Test(query_path, text_is_kept)
{
    struct ik_qpath *p;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_qpath_parse("  messages[-1].role ", "--select", &p, &d), 0);
    cr_expect_str_eq(ik_qpath_text(p), "messages[-1].role");
    ik_qpath_free(p);
}

static void expect_path_error(const char *path, const char *want_prefix)
{
    struct ik_qpath *p = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_qpath_parse(path, "--select", &p, &d), IK_EUSAGE, "path %s parsed", path);
    cr_expect_null(p);
    cr_expect(strncmp(d.text, want_prefix, strlen(want_prefix)) == 0, "got: %s", d.text);
    ik_diag_free(&d);
}

Test(query_path, errors_name_the_column)
{
    expect_path_error("a..b", "error: --select: column 3: expected a field name after '.'");
    expect_path_error("a[x]", "error: --select: column 3: expected an integer index or a quoted key");
    expect_path_error("a[1", "error: --select: column 4: expected ']' to close the '[' at column 2");
    expect_path_error("1a", "error: --select: column 1: expected a field name");
    expect_path_error("a b", "error: --select: column 3: unexpected 'b' in a field path");
    expect_path_error("a[\"x]", "error: --select: column 3: unterminated string");
}

Test(query_path, select_lists)
{
    struct ik_qselect *s;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_qselect_parse("a.b.c, messages[-1].role,x-y", "--select", &s, &d), 0);
    cr_assert_eq(s->n, 3);
    cr_expect_str_eq(ik_qpath_text(s->paths[0]), "a.b.c");
    cr_expect_str_eq(ik_qpath_text(s->paths[1]), "messages[-1].role");
    cr_expect_str_eq(ik_qpath_text(s->paths[2]), "x-y");
    ik_qselect_free(s);
    s = NULL;
    cr_expect_eq(ik_qselect_parse("a,,b", "--select", &s, &d), IK_EUSAGE);
    cr_expect_null(s);
    cr_expect(strstr(d.text, "column 3: expected a field name") != NULL, "%s", d.text);
    cr_expect_eq(ik_qselect_parse("a;b", "--select", &s, &d), IK_EUSAGE);
    cr_expect(strstr(d.text, "column 2: expected ',' between field paths") != NULL, "%s", d.text);
    ik_diag_free(&d);
}
