/* tests/query/test_expr.c - the --where language: operators, precedence, errors. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "tests/common/mpvalue.h"

static const char *rec_json =
    "{\"id\":3,\"score\":0.75,\"neg\":-5,\"name\":\"Ada Lovelace\","
    "\"tags\":[\"math\",\"poet\",2],\"ok\":true,\"off\":false,\"nil\":null,\"empty\":\"\","
    "\"zero\":0,\"none\":[],\"meta\":{\"lang\":\"en\",\"n\":{\"k\":1}},"
    "\"messages\":[{\"role\":\"user\",\"content\":\"Hi \\u00e9t\\u00e9\"},"
    "{\"role\":\"assistant\",\"content\":\"Hello\"}],\"copy\":{\"n\":{\"k\":1},\"lang\":\"en\"}}";

static bool eval(const char *expr)
{
    struct tq_value v;
    const msgpack_object *rec = tq_value(&v, rec_json);
    struct ik_query *q;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_query_parse(expr, "--where", &q, &d), 0, "%s: %s", expr, ik_diag_message(&d));
    bool r = ik_query_match(q, rec);
    ik_query_free(q);
    tq_value_free(&v);
    return r;
}

#define T(e) cr_expect(eval(e), "expected true: %s", e)
#define F(e) cr_expect(!eval(e), "expected false: %s", e)

Test(query_expr, numbers)
{
    T("id == 3"); F("id == 4"); T("id != 4"); T("id == 3.0"); T("score == 0.75");
    T("id > 2"); F("id > 3"); T("id >= 3"); T("id < 3.5"); T("id <= 3"); F("id < 3");
    T("neg < 0"); T("neg == -5"); T("neg > -5.5"); T("score < 1e0"); T("score >= 75e-2");
}

Test(query_expr, uint64_compares_exactly)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "big", 3);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_str_with_body(&pk, "neg", 3);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    static const char *const yes[6] = {"big == 18446744073709551615", "big > 18446744073709551614",
                                      "big > neg", "neg == -9223372036854775808", "neg < -9223372036854775807", NULL};
    static const char *const no[6] = {"big == 18446744073709551614", "big < neg", NULL};
    for (int i = 0; yes[i] || no[i]; i++) {
        for (int k = 0; k < 2; k++) {
            const char *e = k ? no[i] : yes[i];
            if (e == NULL)
                continue;
            struct ik_query *q;
            struct ik_diag d = IK_DIAG_INIT;
            cr_assert_eq(ik_query_parse(e, "--where", &q, &d), 0, "%s", ik_diag_message(&d));
            cr_expect_eq(ik_query_match(q, &u.data), k == 0, "%s", e);
            ik_query_free(q);
        }
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

Test(query_expr, strings)
{
    T("name == \"Ada Lovelace\""); T("name == 'Ada Lovelace'"); F("name == 'ada lovelace'");
    T("meta.lang < 'fr'"); F("meta.lang > 'fr'"); T("name >= 'Ada'"); T("'b' > 'abc'");
    T("messages[0].content == 'Hi \u00e9t\u00e9'"); T("'it\\'s' == \"it's\"");
    F("name < 5"); F("name > 5"); F("id == '3'");  /* no cross-type coercion */
}

Test(query_expr, contains)
{
    T("name contains 'Love'"); F("name contains 'love'"); T("name contains ''");
    T("tags contains 'poet'"); T("tags contains 2"); F("tags contains 'po'");
    T("messages[0].content contains '\u00e9t\u00e9'"); T("meta contains 'lang'");
    F("id contains 3"); F("missing contains 'a'");
}

Test(query_expr, null_missing_and_literals)
{
    T("nil == null"); T("missing == null"); T("missing.deeper == null"); F("missing != null");
    F("id == null"); T("ok == true"); T("off == false"); F("ok == 1");
    T("true"); F("false"); F("null"); T("1"); F("0"); T("'x'"); F("''");
}

Test(query_expr, truthiness_of_bare_paths)
{
    T("ok"); T("id"); T("name"); T("tags"); T("meta");
    F("off"); F("nil"); F("missing"); F("empty"); F("zero"); F("none");
}

Test(query_expr, deep_equality_ignores_key_order)
{
    T("meta == copy"); F("meta == tags"); T("messages[-1] == messages[1]");
    F("messages[0] == messages[1]");
}

Test(query_expr, logic_and_precedence)
{
    T("id == 3 and name contains 'Ada'"); F("id == 3 and name contains 'x'");
    T("id == 4 or ok"); F("id == 4 or off");
    /* and binds tighter than or: true or (false and false) */
    T("ok or off and off");
    /* with parentheses: (true or false) and false */
    F("(ok or off) and off");
    /* not binds tighter than comparison: (not off) == true */
    T("not off == true"); T("not ok == false");
    T("not id == 4 or true");
    T("not (id == 4)"); F("not (id == 3)"); T("not not ok");
    T("((id == 3))"); T("not missing and id>=3");
    T("messages[-1].role=='assistant'and id==3");
}

static void expect_error(const char *expr, const char *want)
{
    struct ik_query *q = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_query_parse(expr, "--where", &q, &d), IK_EUSAGE, "parsed: %s", expr);
    cr_expect_null(q);
    const char *nl = strchr(d.text, '\n');
    size_t n = nl ? (size_t)(nl - d.text) : strlen(d.text);
    cr_expect(strlen(want) == n && strncmp(d.text, want, n) == 0, "%s\n got: %s\nwant: %s", expr,
              d.text, want);
    ik_diag_free(&d);
}

Test(query_expr, errors_name_the_column)
{
    expect_error("role == 'x' and id ==", "error: --where: column 22: expected a value after '=='");
    expect_error("", "error: --where: column 1: expected a field path or a value");
    expect_error("id = 3", "error: --where: column 4: unexpected '='; did you mean '=='?");
    expect_error("(id == 3", "error: --where: column 9: expected ')' to close the '(' at column 1");
    expect_error("name == 'Ada", "error: --where: column 9: unterminated string; expected a closing '");
    expect_error("id == 3 4", "error: --where: column 9: unexpected '4'; expected 'and', 'or', a comparison or the end");
    expect_error("id == 3 nand x", "error: --where: column 9: unexpected 'nand'; expected 'and', 'or', a comparison or the end");
    expect_error("id and", "error: --where: column 7: expected a value after 'and'");
    expect_error("not", "error: --where: column 4: expected a value after 'not'");
    expect_error("1 < id < 5", "error: --where: column 8: comparisons do not chain; join them with 'and'");
    expect_error("id == or", "error: --where: column 7: expected a value after '==', found 'or'");
    expect_error("x == -", "error: --where: column 6: expected a digit after '-'");
    expect_error("x == 'a\\q'", "error: --where: column 8: unknown escape '\\q' in a string");
    /* Columns count code points, not bytes. */
    expect_error("'\u00e9\u00e9' ==", "error: --where: column 8: expected a value after '=='");
}

Test(query_expr, error_shows_a_caret)
{
    struct ik_query *q = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_query_parse("id == ", "--where", &q, &d), IK_EUSAGE);
    cr_expect_str_eq(d.text, "error: --where: column 7: expected a value after '=='\n    id == \n          ^");
    ik_diag_free(&d);
}

/* Repeats s n times (then tail), freshly allocated. */
static char *repeat(const char *s, size_t n, const char *head, const char *tail)
{
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_puts(&b, head);
    for (size_t i = 0; i < n; i++)
        ik_buf_puts(&b, s);
    ik_buf_puts(&b, tail);
    return ik_buf_steal(&b);
}

/* Issue 9 (shared/repro/query-where-stack-overflow, generated here): 20,000
 * nested parentheses overflowed the stack of the recursive parser, and
 * 'not ' * 30000 did under ASan. Nesting is bounded, and so is the length of
 * and/or chains, which the tree's recursive evaluation and free follow. */
Test(query_expr, nesting_and_chains_are_bounded)
{
    char *open = repeat("(", 20000, "", "");
    char *close = repeat(")", 20000, "", "");
    char *deep = ik_xasprintf("%sid%s", open, close);
    expect_error(deep, "error: --where: column 101: expression nested more than 100 levels deep");
    free(deep), free(open), free(close);
    char *nots = repeat("not ", 30000, "", "id");
    expect_error(nots, "error: --where: column 401: expression nested more than 100 levels deep");
    free(nots);
    char *mixed = repeat("not (", 60, "", "id");
    expect_error(mixed, "error: --where: column 251: expression nested more than 100 levels deep");
    free(mixed);
    char *chain = repeat(" or id", 10001, "id", "");
    expect_error(chain, "error: --where: column 60004: more than 10000 'and' / 'or' in one expression");
    free(chain);
    /* At the limits, still an expression. */
    char *ok = repeat("(", 100, "", "id == 3");
    char *okc = repeat(")", 100, ok, "");
    T(okc);
    free(ok), free(okc);
    char *nots_ok = repeat("not ", 100, "", "missing");
    F(nots_ok); /* an even number of nots */
    free(nots_ok);
    char *long_chain = repeat(" and id", 10000, "id", "");
    T(long_chain);
    free(long_chain);
}
