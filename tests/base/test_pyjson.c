/* tests/base/test_pyjson.c - base/pyjson on the edge cases of msgpack-c's
 * objects: empty strings, bins and keys (msgpack-c gives them a NULL ptr). */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/pyjson.h"

static char *render(const msgpack_object *o)
{
    struct ik_buf b = IK_BUF_INIT;
    ik_pyjson_append(&b, o);
    return ik_buf_steal(&b);
}

/* Issue 9 (found by libFuzzer, clang UBSan): ik_pyjson_append_str computed
 * s + n - run with s == NULL for an empty string ("applying zero offset to
 * null pointer"). tests/data/repro/pyjson-null-plus-zero holds the 7-byte
 * record {91: 51, 115: {}, 115: ""}; gcc's UBSan has no such check, so
 * this pins the output, and a clang -fsanitize=undefined build checks it. */
Test(pyjson, empty_strings_from_msgpack)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/tests/data/repro/pyjson-null-plus-zero/ubsan-null-plus-zero.mp",
                       IK_TEST_SRCDIR) > 0);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char bytes[64];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    free(path);
    cr_assert_eq(n, 7);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, bytes, n, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *empty = &u.data.via.map.ptr[2].val;
    cr_assert_eq(empty->type, MSGPACK_OBJECT_STR);
    cr_assert_eq(empty->via.str.size, 0);
    char *s = render(&u.data);
    cr_assert_str_eq(s, "{\"91\": 51, \"115\": {}, \"115\": \"\"}");
    free(s);
    msgpack_unpacked_destroy(&u);

    /* Built by hand: an empty key, an empty bin, an empty string, all NULL. */
    msgpack_object_kv kv[2];
    memset(kv, 0, sizeof kv);
    kv[0].key.type = MSGPACK_OBJECT_STR;
    kv[0].val.type = MSGPACK_OBJECT_BIN;
    kv[1].key.type = MSGPACK_OBJECT_STR;
    kv[1].key.via.str.ptr = "k";
    kv[1].key.via.str.size = 1;
    kv[1].val.type = MSGPACK_OBJECT_STR;
    msgpack_object map = {.type = MSGPACK_OBJECT_MAP, .via.map = {.size = 2, .ptr = kv}};
    s = render(&map);
    cr_assert_str_eq(s, "{\"\": \"\", \"k\": \"\"}");
    free(s);
    struct ik_buf b = IK_BUF_INIT;
    ik_pyjson_append_str(&b, NULL, 0);
    cr_assert_str_eq(b.data, "\"\"");
    ik_buf_free(&b);
}

/* Map keys that are maps whose keys are maps...: the text stays linear; it
 * doubled at every level before (fuzz/findings/object/nested-map-keys). */
Test(pyjson, nested_non_string_keys_stay_linear)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < 30; i++)
        msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "a", 1);
    for (int i = 0; i < 30; i++)
        msgpack_pack_nil(&pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    char *s = render(&u.data);
    cr_assert_str_eq(s, "{\"{\\\"\xe2\x80\xa6\\\": null}\": null}");
    free(s);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}
