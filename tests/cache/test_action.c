/* tests/cache/test_action.c - action records: round trip, missing, corrupt,
 * outputs_present, foreach, checksums. */
#include <errno.h>

#include "cache/action.h"
#include "cache/cas.h"
#include "base/error.h"
#include "base/mp.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_action, .init = tc_setup, .fini = tc_teardown);

static struct ik_action_output outs[2];
static struct ik_action_counter ctrs[2];

/* A record whose outputs are real objects. */
static struct ik_action make_action(const char *spec)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_action a = {0};
    cr_assert_eq(ik_cas_put(T.c, spec, strlen(spec), &a.key, &d), 0);
    outs[0] = (struct ik_action_output){"rows", {{0}}, 5, "faq.rows"};
    outs[1] = (struct ik_action_output){"report", {{0}}, 6, "eval.report"};
    cr_assert_eq(ik_cas_put(T.c, "rows!", 5, &outs[0].hash, &d), 0);
    cr_assert_eq(ik_cas_put(T.c, "report", 6, &outs[1].hash, &d), 0);
    ctrs[0] = (struct ik_action_counter){"items", 42};
    ctrs[1] = (struct ik_action_counter){"loss", 0.125};
    a.type = "sample";
    a.version = 3;
    a.node = "faq_sample";
    a.outputs = outs;
    a.n_outputs = 2;
    a.has_log = true;
    cr_assert_eq(ik_cas_put(T.c, "log text", 8, &a.log, &d), 0);
    a.started_ms = 1700000000123;
    a.duration_ms = 4567;
    a.counters = ctrs;
    a.n_counters = 2;
    return a;
}

Test(cache_action, put_get_round_trip)
{
    struct ik_action a = make_action("spec 1");
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_put(T.c, &a, &d), 0, "%s", ik_diag_message(&d));
    struct ik_action *b = NULL;
    cr_assert_eq(ik_action_get(T.c, &a.key, &b, &d), 0, "%s", ik_diag_message(&d));
    cr_assert(ik_hash_equal(&a.key, &b->key));
    cr_assert_str_eq(b->type, "sample");
    cr_assert_eq(b->version, 3);
    cr_assert_str_eq(b->node, "faq_sample");
    cr_assert_eq(b->n_outputs, 2);
    cr_assert_str_eq(b->outputs[1].port, "report");
    cr_assert_str_eq(b->outputs[1].kind, "eval.report");
    cr_assert_eq(b->outputs[1].size, 6);
    cr_assert(ik_hash_equal(&b->outputs[0].hash, &outs[0].hash));
    cr_assert(b->has_log);
    cr_assert(ik_hash_equal(&b->log, &a.log));
    cr_assert_eq(b->started_ms, 1700000000123);
    cr_assert_eq(b->duration_ms, 4567);
    cr_assert_eq(b->n_counters, 2);
    cr_assert_str_eq(b->counters[1].name, "loss");
    cr_assert_float_eq(b->counters[1].value, 0.125, 1e-12);
    const struct ik_action_output *o = ik_action_output(b, "rows");
    cr_assert_not_null(o);
    cr_assert_eq(o->size, 5);
    cr_assert_null(ik_action_output(b, "nope"));
    cr_assert(ik_action_outputs_present(T.c, b));
    ik_action_free(b);
}

Test(cache_action, missing_is_enoent)
{
    struct ik_hash k;
    ik_hash_bytes("no such spec", 12, &k);
    struct ik_action *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_get(T.c, &k, &a, &d), -ENOENT);
    cr_assert_null(a);
}

/* Replaces a record's file with other bytes. */
static void overwrite_record(const struct ik_hash *key, const void *data, size_t len)
{
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(key, hex);
    char *path = ik_xasprintf("%s/actions/%.2s/%s", T.c->root, hex, hex + 2);
    unlink(path);
    free(tc_write(path, data, len));
    free(path);
}

Test(cache_action, corrupt_record)
{
    struct ik_action a = make_action("spec 2");
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_put(T.c, &a, &d), 0);
    struct ik_action *b = NULL;

    overwrite_record(&a.key, "\x85garbage", 8); /* a map header, then junk */
    cr_assert_eq(ik_action_get(T.c, &a.key, &b, &d), IK_ECORRUPT);
    cr_assert_not_null(strstr(d.text, "corrupt action record"), "%s", d.text);

    overwrite_record(&a.key, "", 0); /* truncated to nothing */
    cr_assert_eq(ik_action_get(T.c, &a.key, &b, &d), IK_ECORRUPT);

    overwrite_record(&a.key, "\x81\xa1v\x01", 4); /* {v: 1} and nothing else */
    cr_assert_eq(ik_action_get(T.c, &a.key, &b, &d), IK_ECORRUPT);
    cr_assert_not_null(strstr(d.text, "field 'key'"), "%s", d.text);
    cr_assert_null(b);
    ik_diag_free(&d);
}

Test(cache_action, record_under_wrong_name_is_corrupt)
{
    struct ik_action a = make_action("spec 3");
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_put(T.c, &a, &d), 0);
    struct ik_hash other;
    ik_hash_bytes("other", 5, &other);
    char *from = ik_xasprintf("%s/actions", T.c->root);
    char ha[65], hb[65];
    ik_hash_to_hex(&a.key, ha);
    ik_hash_to_hex(&other, hb);
    char *src = ik_xasprintf("%s/%.2s/%s", from, ha, ha + 2);
    char *dir = ik_xasprintf("%s/%.2s", from, hb);
    char *dst = ik_xasprintf("%s/%s", dir, hb + 2);
    mkdir(dir, 0777);
    cr_assert_eq(rename(src, dst), 0);
    struct ik_action *b = NULL;
    cr_assert_eq(ik_action_get(T.c, &other, &b, &d), IK_ECORRUPT);
    free(from);
    free(src);
    free(dir);
    free(dst);
    ik_diag_free(&d);
}

Test(cache_action, outputs_present_notices_missing_or_truncated)
{
    struct ik_action a = make_action("spec 4");
    cr_assert(ik_action_outputs_present(T.c, &a));
    outs[0].size = 4; /* the record says 4 bytes, the object holds 5 */
    cr_assert(!ik_action_outputs_present(T.c, &a));
    outs[0].size = 5;
    cr_assert_eq(ik_cas_remove(T.c, &outs[1].hash), 0);
    cr_assert(!ik_action_outputs_present(T.c, &a));
}

static int count_cb(const struct ik_action *a, void *arg)
{
    (void)a;
    (*(int *)arg)++;
    return 0;
}

Test(cache_action, foreach_and_remove)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_action a = make_action("spec 5");
    cr_assert_eq(ik_action_put(T.c, &a, &d), 0);
    struct ik_action b = make_action("spec 6");
    cr_assert_eq(ik_action_put(T.c, &b, &d), 0);
    int n = 0;
    cr_assert_eq(ik_action_foreach(T.c, count_cb, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(ik_action_remove(T.c, &a.key), 0);
    n = 0;
    ik_action_foreach(T.c, count_cb, &n);
    cr_assert_eq(n, 1);
    struct ik_action *got = NULL;
    cr_assert_eq(ik_action_get(T.c, &a.key, &got, &d), -ENOENT);
}

/* The record file of key, read whole (caller frees); *len its size. */
static char *read_record(const struct ik_hash *key, size_t *len)
{
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(key, hex);
    char *path = ik_xasprintf("%s/actions/%.2s/%s", T.c->root, hex, hex + 2);
    char *data = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_read_file(path, &data, len, &d), 0);
    free(path);
    return data;
}

Test(cache_action, one_flipped_byte_anywhere_is_corrupt)
{
    /* Flipping a port name, an output hash digit or a size still parses;
     * only the checksum tells. */
    struct ik_action a = make_action("spec flip");
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_put(T.c, &a, &d), 0);
    size_t len = 0;
    char *good = read_record(&a.key, &len);
    for (size_t i = 0; i < len; i += 7) {
        char *bad = ik_xmalloc(len);
        memcpy(bad, good, len);
        bad[i] ^= 0x01;
        overwrite_record(&a.key, bad, len);
        struct ik_action *b = NULL;
        int rc = ik_action_get(T.c, &a.key, &b, &d);
        cr_assert_eq(rc, IK_ECORRUPT, "a flip at byte %zu of %zu was believed", i, len);
        cr_assert_null(b);
        free(bad);
    }
    overwrite_record(&a.key, good, len);
    struct ik_action *b = NULL;
    cr_assert_eq(ik_action_get(T.c, &a.key, &b, &d), 0, "%s", ik_diag_message(&d));
    ik_action_free(b);
    free(good);
    ik_diag_free(&d);
}

Test(cache_action, records_without_a_sum_are_read_only_in_their_old_shape)
{
    struct ik_action a = make_action("spec old");
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_put(T.c, &a, &d), 0);
    size_t len = 0;
    char *data = read_record(&a.key, &len);
    /* The record as an ikada before sums wrote it: 11 fields, no "sum". */
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    cr_assert_eq(msgpack_unpack_next(&un, data, len, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(un.data.via.map.size, 12);
    cr_assert(ik_mp_str_eq(&un.data.via.map.ptr[11].key, "sum"));
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    msgpack_pack_map(&w.pk, 11);
    for (uint32_t i = 0; i < 11; i++) {
        msgpack_pack_object(&w.pk, un.data.via.map.ptr[i].key);
        msgpack_pack_object(&w.pk, un.data.via.map.ptr[i].val);
    }
    overwrite_record(&a.key, w.sb.data, w.sb.size);
    struct ik_action *b = NULL;
    cr_assert_eq(ik_action_get(T.c, &a.key, &b, &d), 0, "an old record is refused: %s",
                 ik_diag_message(&d));
    cr_assert_eq(b->n_outputs, 2);
    ik_action_free(b);
    /* A 12th field that is not a valid sum: corrupt, not old. */
    ik_mp_writer_clear(&w);
    msgpack_pack_map(&w.pk, 12);
    for (uint32_t i = 0; i < 11; i++) {
        msgpack_pack_object(&w.pk, un.data.via.map.ptr[i].key);
        msgpack_pack_object(&w.pk, un.data.via.map.ptr[i].val);
    }
    ik_mp_pack_str(&w.pk, "sun"); /* "sum" with a flipped bit */
    msgpack_pack_object(&w.pk, un.data.via.map.ptr[11].val);
    overwrite_record(&a.key, w.sb.data, w.sb.size);
    cr_assert_eq(ik_action_get(T.c, &a.key, &b, &d), IK_ECORRUPT);
    ik_mp_writer_free(&w);
    msgpack_unpacked_destroy(&un);
    free(data);
    ik_diag_free(&d);
}
