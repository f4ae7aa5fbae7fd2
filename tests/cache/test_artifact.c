/* tests/cache/test_artifact.c - the artifact envelope, file and tensor payloads. */
#include "cache/artifact.h"
#include "base/error.h"
#include "base/mp.h"
#include "tests/common/tmpcache.h"

Test(cache_artifact, file_round_trip)
{
    struct ik_mp_writer mw;
    ik_mp_writer_init(&mw);
    ik_artifact_pack_file(&mw, "adapter.gguf", "GGUF\0\1", 6);
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_artifact_unpack(mw.sb.data, mw.sb.size, &un, "obj", &d), 0, "%s",
                 ik_diag_message(&d));
    size_t len = 0;
    const char *kind = ik_artifact_kind(&un.data, &len);
    cr_assert_eq(len, 4);
    cr_assert_eq(memcmp(kind, "file", 4), 0);
    const msgpack_object *meta = ik_mp_get(&un.data, "meta");
    cr_assert(ik_mp_str_eq(ik_mp_get(meta, "name"), "adapter.gguf"));
    const msgpack_object *data = ik_mp_get(&un.data, "data");
    cr_assert_eq(data->type, MSGPACK_OBJECT_BIN);
    cr_assert_eq(data->via.bin.size, 6);
    cr_assert_eq(memcmp(data->via.bin.ptr, "GGUF\0\1", 6), 0);
    double schema = 0;
    cr_assert(ik_mp_number(ik_mp_get(&un.data, "schema"), &schema));
    cr_assert_eq(schema, 1);
    cr_assert_null(ik_artifact_records(&un.data));
    msgpack_unpacked_destroy(&un);
    ik_mp_writer_free(&mw);
}

Test(cache_artifact, records_and_tensor)
{
    struct ik_mp_writer mw;
    ik_mp_writer_init(&mw);
    ik_artifact_begin(&mw, "lora.adapter", 2, 2);
    msgpack_pack_map(&mw.pk, 0);
    ik_mp_pack_str(&mw.pk, "records");
    msgpack_pack_array(&mw.pk, 1);
    msgpack_pack_map(&mw.pk, 0);
    ik_mp_pack_str(&mw.pk, "A");
    float w[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    ik_artifact_pack_tensor(&mw, "f32", shape, 2, w, sizeof w);
    ik_artifact_end(&mw);
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_artifact_unpack(mw.sb.data, mw.sb.size, &un, "obj", &d), 0);
    const msgpack_object *rec = ik_artifact_records(&un.data);
    cr_assert_not_null(rec);
    cr_assert_eq(rec->via.array.size, 1);
    const msgpack_object *t = ik_mp_get(&un.data, "A");
    cr_assert(ik_mp_str_eq(ik_mp_get(t, "dtype"), "f32"));
    const msgpack_object *s = ik_mp_get(t, "shape");
    cr_assert_eq(s->via.array.size, 2);
    cr_assert_eq(s->via.array.ptr[1].via.u64, 3);
    const msgpack_object *bin = ik_mp_get(t, "data");
    cr_assert_eq(bin->via.bin.size, sizeof w);
    cr_assert_eq(memcmp(bin->via.bin.ptr, w, sizeof w), 0);
    msgpack_unpacked_destroy(&un);
    ik_mp_writer_free(&mw);
}

static int unpack_bytes(const char *data, size_t len, struct ik_diag *d)
{
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    int rc = ik_artifact_unpack(data, len, &un, "objects/ab/cd", d);
    msgpack_unpacked_destroy(&un);
    return rc;
}

Test(cache_artifact, rejects_non_artifacts)
{
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(unpack_bytes("\x93\x01\x02\x03", 4, &d), IK_EPARSE, "an array");
    cr_assert_str_eq(d.text, "error: objects/ab/cd: offset 0: expected an artifact map, found "
                             "another msgpack value");
    cr_assert_eq(unpack_bytes("\x81\xa4kind", 6, &d), IK_EPARSE, "truncated");
    cr_assert_not_null(strstr(d.text, "truncated"), "%s", d.text);
    cr_assert_eq(unpack_bytes("\x81\xa4kind\x01", 7, &d), IK_EPARSE, "kind not a string");
    cr_assert_not_null(strstr(d.text, "'kind'"), "%s", d.text);
    cr_assert_eq(unpack_bytes("\x80\x80", 2, &d), IK_EPARSE, "trailing bytes");
    cr_assert_eq(unpack_bytes("\xc1", 1, &d), IK_EPARSE, "reserved byte");
    ik_diag_free(&d);
}
