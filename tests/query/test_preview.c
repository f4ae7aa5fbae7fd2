/* tests/query/test_preview.c - previews of artifacts, text and binary objects. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/mpjson.h"
#include "query/preview.h"
#include "base/buf.h"
#include "tests/common/mpvalue.h"

/* The msgpack bytes of a JSON document, in v->sb. */
static void packed(struct tq_value *v, const char *json) { tq_value(v, json); }

static char *text_of(const void *data, size_t len, size_t limit)
{
    struct ik_buf b = IK_BUF_INIT;
    ik_preview_text(&b, data, len, limit);
    return ik_buf_steal(&b);
}

Test(query_preview, classify)
{
    struct tq_value v;
    msgpack_unpacked u;
    packed(&v, "{\"kind\":\"faq.rows\",\"schema\":1,\"meta\":{},\"records\":[]}");
    msgpack_unpacked_init(&u);
    cr_expect_eq(ik_preview_classify(v.sb.data, v.sb.size, &u), IK_OBJECT_ARTIFACT);
    msgpack_unpacked_destroy(&u);
    tq_value_free(&v);
    packed(&v, "{\"type\":\"sample\",\"params\":{}}");
    msgpack_unpacked_init(&u);
    cr_expect_eq(ik_preview_classify(v.sb.data, v.sb.size, &u), IK_OBJECT_MSGPACK);
    msgpack_unpacked_destroy(&u);
    tq_value_free(&v);
    msgpack_unpacked_init(&u);
    cr_expect_eq(ik_preview_classify("hello\n", 6, &u), IK_OBJECT_TEXT);
    cr_expect_eq(ik_preview_classify("a", 1, &u), IK_OBJECT_TEXT); /* also msgpack fixint */
    cr_expect_eq(ik_preview_classify("", 0, &u), IK_OBJECT_TEXT);
    cr_expect_eq(ik_preview_classify("\x00\x01\xfe", 3, &u), IK_OBJECT_BINARY);
    msgpack_unpacked_destroy(&u);
}

Test(query_preview, is_text)
{
    cr_expect(ik_preview_is_text("caf\xc3\xa9", 5, false));
    cr_expect(!ik_preview_is_text("caf\xc3", 4, false));
    cr_expect(ik_preview_is_text("caf\xc3", 4, true));
    cr_expect(!ik_preview_is_text("a\0b", 3, false));
    cr_expect(!ik_preview_is_text("\xc0\x80", 2, false));     /* overlong NUL */
    cr_expect(!ik_preview_is_text("\xed\xa0\x80", 3, false)); /* surrogate */
}

Test(query_preview, records_show_count_and_first_n_cut)
{
    struct tq_value v;
    struct ik_buf json = IK_BUF_INIT;
    ik_buf_puts(&json, "{\"kind\":\"faq.rows\",\"schema\":2,\"meta\":{\"source\":\"faq.jsonl\"},\"records\":[");
    for (int i = 0; i < 8; i++)
        ik_buf_printf(&json, "%s{\"id\":%d,\"q\":\"question %d\"}", i ? "," : "", i, i);
    ik_buf_puts(&json, ",{\"id\":8,\"q\":\"");
    for (int i = 0; i < 250; i++)
        ik_buf_putc(&json, 'x');
    ik_buf_puts(&json, "\"}]}");
    packed(&v, json.data);
    char *t = text_of(v.sb.data, v.sb.size, 2);
    cr_expect_str_eq(t, "kind     faq.rows\nschema   2\nmeta     {\"source\":\"faq.jsonl\"}\n"
                        "records  9 (showing 2)\n"
                        "[0] {\n  \"id\": 0,\n  \"q\": \"question 0\"\n}\n"
                        "[1] {\n  \"id\": 1,\n  \"q\": \"question 1\"\n}\n");
    free(t);
    /* The 9th record's long string is cut at 200 code points with an ellipsis. */
    t = text_of(v.sb.data, v.sb.size, 9);
    char *cut = strstr(t, "\"q\": \"xxx");
    cr_assert_not_null(cut);
    cr_expect_eq(strspn(cut + 6, "x"), 200);
    cr_expect(strncmp(cut + 206, "\xe2\x80\xa6\"", 4) == 0, "%s", cut);
    free(t);
    /* JSON: records exact, with the total. */
    struct ik_buf b = IK_BUF_INIT;
    struct ik_jsonw w;
    ik_jsonw_init(&w, &b, 0);
    ik_jsonw_begin_object(&w);
    ik_preview_json(&w, v.sb.data, v.sb.size, 1);
    ik_jsonw_end_object(&w);
    cr_expect_str_eq(b.data, "{\"kind\":\"faq.rows\",\"schema\":2,\"meta\":{\"source\":\"faq.jsonl\"},"
                             "\"records_total\":9,\"records\":[{\"id\":0,\"q\":\"question 0\"}]}");
    ik_buf_free(&b);
    ik_buf_free(&json);
    tq_value_free(&v);
}

Test(query_preview, file_text_first_40_lines)
{
    struct ik_buf body = IK_BUF_INIT, json = IK_BUF_INIT;
    for (int i = 1; i <= 45; i++)
        ik_buf_printf(&body, "line %d\n", i);
    ik_buf_puts(&json, "{\"kind\":\"file\",\"schema\":1,\"meta\":{\"name\":\"out.txt\"},\"data\":{\"$bin\":\"");
    ik_base64_encode(&json, body.data, body.len);
    ik_buf_printf(&json, "\",\"size\":%zu}}", body.len);
    struct tq_value v;
    packed(&v, json.data);
    char *t = text_of(v.sb.data, v.sb.size, 5);
    cr_expect(strstr(t, "file     out.txt, 351 B, text\n--- first 40 lines ---\nline 1\n") != NULL, "%s", t);
    cr_expect(strstr(t, "line 40\n--- 40 more bytes ---\n") != NULL, "%s", t);
    cr_expect(strstr(t, "line 41") == NULL);
    free(t);
    tq_value_free(&v);
    ik_buf_free(&body);
    ik_buf_free(&json);
}

Test(query_preview, file_binary_hexdump)
{
    struct ik_buf json = IK_BUF_INIT;
    unsigned char bytes[300];
    for (int i = 0; i < 300; i++)
        bytes[i] = (unsigned char)i;
    ik_buf_puts(&json, "{\"kind\":\"file\",\"schema\":1,\"meta\":{\"name\":\"a.bin\"},\"data\":{\"$bin\":\"");
    ik_base64_encode(&json, bytes, sizeof bytes);
    ik_buf_puts(&json, "\",\"size\":300}}");
    struct tq_value v;
    packed(&v, json.data);
    char *t = text_of(v.sb.data, v.sb.size, 5);
    cr_expect(strstr(t, "file     a.bin, 300 B, binary\n"
                        "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|\n")
                  != NULL, "%s", t);
    cr_expect(strstr(t, "000000f0  f0 f1") != NULL);
    cr_expect(strstr(t, "... 44 more bytes\n") != NULL, "%s", t);
    cr_expect(strstr(t, "00000100") == NULL);
    free(t);
    tq_value_free(&v);
    ik_buf_free(&json);
}

Test(query_preview, tensors_show_dtype_and_shape)
{
    struct tq_value v;
    packed(&v, "{\"kind\":\"lora.adapter\",\"schema\":1,\"meta\":{},\"rank\":8,"
               "\"tensors\":{\"l0.a\":{\"dtype\":\"f32\",\"shape\":[2,3],\"data\":{\"$bin\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"size\":24}}}}");
    char *t = text_of(v.sb.data, v.sb.size, 5);
    cr_expect_str_eq(t, "kind     lora.adapter\nschema   1\nmeta     {}\nrank     8\n"
                        "tensor   tensors.l0.a  f32 [2, 3] (24 B)\n");
    free(t);
    struct ik_buf b = IK_BUF_INIT;
    struct ik_jsonw w;
    ik_jsonw_init(&w, &b, 0);
    ik_jsonw_begin_object(&w);
    ik_preview_json(&w, v.sb.data, v.sb.size, 5);
    ik_jsonw_end_object(&w);
    cr_expect_str_eq(b.data, "{\"kind\":\"lora.adapter\",\"schema\":1,\"meta\":{},"
                             "\"tensors\":[{\"path\":\"tensors.l0.a\",\"dtype\":\"f32\",\"shape\":[2,3],\"bytes\":24}],"
                             "\"fields\":{\"rank\":8}}");
    ik_buf_free(&b);
    tq_value_free(&v);
}

Test(query_preview, text_and_binary_objects)
{
    char *t = text_of("step 1\nstep 2", 13, 5);
    cr_expect_str_eq(t, "step 1\nstep 2\n");
    free(t);
    t = text_of("\x00\x01", 2, 5);
    cr_expect_str_eq(t, "00000000  00 01                                             |..|\n");
    free(t);
}

Test(query_preview, human_sizes)
{
    char s[32];
    ik_preview_human_size(512, s);
    cr_expect_str_eq(s, "512 B");
    ik_preview_human_size(1536, s);
    cr_expect_str_eq(s, "1.5 KiB");
    ik_preview_human_size(3ULL << 30, s);
    cr_expect_str_eq(s, "3.0 GiB");
}
