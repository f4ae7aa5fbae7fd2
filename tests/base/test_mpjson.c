/* tests/base/test_mpjson.c - msgpack <-> JSON: scalars, escapes, UTF-8, bin,
 * key order, pretty printing, preview cuts and round trips. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mpjson.h"
#include "base/buf.h"
#include "base/error.h"
#include "tests/common/mpvalue.h"

/* Packs with fn into a buffer, converts, compares with want. */
static void expect_packed(void (*fn)(msgpack_packer *), const struct ik_mpjson_opts *opts,
                          int indent, const char *want)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fn(&pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    struct ik_buf b = IK_BUF_INIT;
    ik_mpjson_write(&b, &u.data, indent, opts);
    cr_expect_str_eq(b.data, want);
    ik_buf_free(&b);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void pack_scalars(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 12);
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_false(pk);
    msgpack_pack_uint64(pk, UINT64_MAX);
    msgpack_pack_int64(pk, INT64_MIN);
    msgpack_pack_double(pk, 0.1);
    msgpack_pack_double(pk, 1.0);
    msgpack_pack_double(pk, 1e300);
    msgpack_pack_float(pk, 0.1f);
    msgpack_pack_double(pk, NAN);
    msgpack_pack_double(pk, 2.0 / 3.0);
    msgpack_pack_double(pk, -1.5e-7);
}

Test(query_mpjson, scalars_exact)
{
    expect_packed(pack_scalars, NULL, 0,
                  "[null,true,false,18446744073709551615,-9223372036854775808,0.1,1.0,1e+300,"
                  "0.1,null,0.6666666666666666,-1.5e-07]");
}

static void pack_strings(msgpack_packer *pk)
{
    static const char esc[] = "q\"b\\s\n\t\r\b\f\x01\x1f/";
    static const char utf[] = "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
    static const char bad[] = "a\xff" "b\xc3";
    msgpack_pack_array(pk, 4);
    msgpack_pack_str_with_body(pk, esc, sizeof esc - 1);
    msgpack_pack_str_with_body(pk, utf, sizeof utf - 1);
    msgpack_pack_str_with_body(pk, bad, sizeof bad - 1);
    msgpack_pack_str_with_body(pk, "nul\0x", 5);
}

Test(query_mpjson, strings_escape_controls_and_keep_utf8)
{
    expect_packed(pack_strings, NULL, 0,
                  "[\"q\\\"b\\\\s\\n\\t\\r\\b\\f\\u0001\\u001f/\","
                  "\"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\","
                  "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\",\"nul\\u0000x\"]");
}

static void pack_bin_and_keys(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 5);
    msgpack_pack_str_with_body(pk, "z", 1);
    msgpack_pack_bin_with_body(pk, "\x00\x01\x02\xff", 4);
    msgpack_pack_int(pk, 1);
    msgpack_pack_str_with_body(pk, "int key", 7);
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 2);
    msgpack_pack_nil(pk);
    msgpack_pack_str_with_body(pk, "a", 1);
    msgpack_pack_ext_with_body(pk, "xy", 2, 5);
    msgpack_pack_str_with_body(pk, "e", 1);
    msgpack_pack_bin(pk, 0);
}

Test(query_mpjson, bin_ext_and_non_string_keys_keep_order)
{
    expect_packed(pack_bin_and_keys, NULL, 0,
                  "{\"z\":{\"$bin\":\"AAEC/w==\",\"size\":4},\"1\":\"int key\",\"[1,2]\":null,"
                  "\"a\":{\"$ext\":5,\"$bin\":\"eHk=\",\"size\":2},\"e\":{\"$bin\":\"\",\"size\":0}}");
}

static void pack_nested(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    msgpack_pack_str_with_body(pk, "a", 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 1);
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "b", 1);
    msgpack_pack_nil(pk);
    msgpack_pack_str_with_body(pk, "e", 1);
    msgpack_pack_array(pk, 0);
    msgpack_pack_str_with_body(pk, "m", 1);
    msgpack_pack_map(pk, 0);
}

Test(query_mpjson, pretty_printing)
{
    expect_packed(pack_nested, NULL, 2,
                  "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"e\": [],\n"
                  "  \"m\": {}\n}");
    expect_packed(pack_nested, NULL, 0, "{\"a\":[1,{\"b\":null}],\"e\":[],\"m\":{}}");
}

static void pack_long(msgpack_packer *pk)
{
    char s[300];
    memset(s, 'x', sizeof s);
    msgpack_pack_array(pk, 30);
    msgpack_pack_str_with_body(pk, s, sizeof s);
    /* 3 code points of 2 bytes each: the cut must not split one */
    msgpack_pack_str_with_body(pk, "\xc3\xa9\xc3\xa9\xc3\xa9", 6);
    msgpack_pack_bin_with_body(pk, "abcdefgh", 8);
    for (int i = 3; i < 30; i++)
        msgpack_pack_int(pk, i);
}

Test(query_mpjson, preview_cuts)
{
    struct ik_mpjson_opts o = {2, 3, 5};
    expect_packed(pack_long, &o, 0,
                  "[\"xx\xe2\x80\xa6\",\"\xc3\xa9\xc3\xa9\xe2\x80\xa6\",{\"$bin\":\"YWJj\xe2\x80\xa6\",\"size\":8},"
                  "3,4,\"\xe2\x80\xa6 25 more\"]");
}

static char *roundtrip(const char *json)
{
    struct tq_value v;
    const msgpack_object *o = tq_value(&v, json);
    char *s = tq_json(o);
    tq_value_free(&v);
    return s;
}

Test(query_mpjson, json_round_trip_is_exact)
{
    static const char *const docs[] = {
        "{\"z\":1,\"a\":[true,false,null],\"m\":{\"k\":\"v\",\"b\":-2}}",
        "{\"text\":\"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \\\"q\\\" \\\\ \\n\",\"f\":0.30000000000000004}",
        "[1.5,-0.0,1e-300,9223372036854775807,-9223372036854775808,\"\"]",
        "{\"blob\":{\"$bin\":\"AAEC/w==\",\"size\":4}}",
        "{}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        char *got = roundtrip(docs[i]);
        cr_expect_str_eq(got, docs[i]);
        free(got);
    }
    /* Escapes that JSON allows but we do not write come back in canonical form. */
    char *got = roundtrip("[\"\\u00e9\\/\\u0001\"]");
    cr_expect_str_eq(got, "[\"\xc3\xa9/\\u0001\"]");
    free(got);
}

Test(query_mpjson, bin_object_packs_as_bin)
{
    struct tq_value v;
    const msgpack_object *o = tq_value(&v, "[{\"$bin\":\"AAEC/w==\",\"size\":4},"
                                           "{\"$bin\":\"AAEC/w==\",\"size\":5}]");
    cr_assert_eq(o->via.array.ptr[0].type, MSGPACK_OBJECT_BIN);
    cr_expect_eq(o->via.array.ptr[0].via.bin.size, 4);
    cr_expect(memcmp(o->via.array.ptr[0].via.bin.ptr, "\x00\x01\x02\xff", 4) == 0);
    /* A wrong size means it is an ordinary map. */
    cr_expect_eq(o->via.array.ptr[1].type, MSGPACK_OBJECT_MAP);
    tq_value_free(&v);
}

Test(query_mpjson, json_syntax_error_names_the_place)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    struct ik_diag d = IK_DIAG_INIT;
    cr_expect_eq(ik_json_text_to_msgpack("{\"a\": }", 7, &pk, "rows.jsonl", &d), IK_EPARSE);
    cr_expect(strncmp(d.text, "rows.jsonl:1:7: error: ", 23) == 0, "%s", d.text);
    cr_expect_eq(sb.size, 0);
    cr_expect_eq(ik_json_to_msgpack(NULL, &pk), -EINVAL);
    ik_diag_free(&d);
    msgpack_sbuffer_destroy(&sb);
}

Test(query_mpjson, base64_round_trip_and_errors)
{
    const char *in = "\x00\xff\x10 abc";
    for (size_t n = 0; n <= 7; n++) {
        struct ik_buf b = IK_BUF_INIT;
        ik_base64_encode(&b, in, n);
        unsigned char *out;
        size_t len;
        cr_assert_eq(ik_base64_decode(b.data ? b.data : "", b.len, &out, &len), 0);
        cr_expect_eq(len, n);
        cr_expect(memcmp(out, in, n) == 0);
        free(out);
        ik_buf_free(&b);
    }
    unsigned char *out;
    size_t len;
    cr_expect_eq(ik_base64_decode("AAE", 3, &out, &len), IK_EPARSE);
    cr_expect_eq(ik_base64_decode("A=AA", 4, &out, &len), IK_EPARSE);
    cr_expect_eq(ik_base64_decode("AA*A", 4, &out, &len), IK_EPARSE);
    cr_expect_eq(ik_base64_decode("AA==AAAA", 8, &out, &len), IK_EPARSE);
}

/* A map key that is a map whose key is a map...: the text stays linear (it
 * was escaped again at every level, 2^depth bytes: fuzz/findings/object). */
static void pack_nested_keys(msgpack_packer *pk)
{
    for (int i = 0; i < 30; i++)
        msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "a", 1);
    for (int i = 0; i < 30; i++)
        msgpack_pack_nil(pk);
}

Test(query_mpjson, nested_non_string_keys_stay_linear)
{
    expect_packed(pack_nested_keys, NULL, 0, "{\"{\\\"\xe2\x80\xa6\\\":null}\":null}");
}
