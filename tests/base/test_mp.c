/* tests/base/test_mp.c - struct ik_mp_writer: the bytes are those of a plain
 * msgpack-c packer; steal and clear hand over and reuse the buffer; in builds
 * with assertions a miscounted, unended or mismatched map or array aborts
 * naming the file:line of its begin. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/mp.h"
#include "base/xmalloc.h"
#include "tests/common/crash.h"

#include <criterion/redirect.h> /* after criterion.h, which crash.h includes */

/* Opens a map or array through the writer, or directly on the bare packer. */
static void open_container(struct ik_mp_writer *w, msgpack_packer *pk, bool map, size_t n)
{
    if (w && map)
        ik_mp_map_begin(w, n);
    else if (w)
        ik_mp_array_begin(w, n);
    else if (map)
        msgpack_pack_map(pk, n);
    else
        msgpack_pack_array(pk, n);
}

static void close_container(struct ik_mp_writer *w, bool map)
{
    if (w && map)
        ik_mp_map_end(w);
    else if (w)
        ik_mp_array_end(w);
}

/* A value of every msgpack type and length class, so the read-back count
 * meets each header form: {scalars, strs, bins, exts: [...], big: [array16,
 * map16, array32]}. Packed twice, once through the writer (w != NULL) and once
 * on a bare packer, to compare. */
static void pack_every_type(struct ik_mp_writer *w, msgpack_packer *bare)
{
    msgpack_packer *pk = w ? &w->pk : bare;
    static char big[70000];
    memset(big, 'x', sizeof big);
    open_container(w, pk, true, 5);

    ik_mp_pack_str(pk, "scalars");
    open_container(w, pk, false, 16);
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_false(pk);
    msgpack_pack_int(pk, 5);                 /* positive fixint */
    msgpack_pack_int(pk, -3);                /* negative fixint */
    msgpack_pack_uint64(pk, 200);            /* uint8 */
    msgpack_pack_uint64(pk, 60000);          /* uint16 */
    msgpack_pack_uint64(pk, 4000000000u);    /* uint32 */
    msgpack_pack_uint64(pk, UINT64_MAX);     /* uint64 */
    msgpack_pack_int64(pk, -100);            /* int8 */
    msgpack_pack_int64(pk, -30000);          /* int16 */
    msgpack_pack_int64(pk, -2000000000);     /* int32 */
    msgpack_pack_int64(pk, INT64_MIN);       /* int64 */
    msgpack_pack_float(pk, 1.5f);
    msgpack_pack_double(pk, -2.25);
    msgpack_pack_int(pk, 0);
    close_container(w, false);

    ik_mp_pack_str(pk, "strs");
    open_container(w, pk, false, 6);
    static const size_t str_lens[] = {0, 31, 32, 255, 256, 65536};
    for (size_t i = 0; i < 6; i++)
        ik_mp_pack_strn(pk, big, str_lens[i]);
    close_container(w, false);

    ik_mp_pack_str(pk, "bins");
    open_container(w, pk, false, 3);
    ik_mp_pack_bin(pk, big, 3);     /* bin8 */
    ik_mp_pack_bin(pk, big, 300);   /* bin16 */
    ik_mp_pack_bin(pk, big, 66000); /* bin32 */
    close_container(w, false);

    ik_mp_pack_str(pk, "exts");
    open_container(w, pk, false, 8);
    static const size_t ext_lens[] = {1, 2, 4, 8, 16, 3, 300, 66000};
    for (size_t i = 0; i < 8; i++) {
        msgpack_pack_ext(pk, ext_lens[i], 7);
        msgpack_pack_ext_body(pk, big, ext_lens[i]);
    }
    close_container(w, false);

    /* Containers packed directly count as one item each, whatever they hold. */
    ik_mp_pack_str(pk, "big");
    open_container(w, pk, false, 3);
    msgpack_pack_array(pk, 20); /* array16 */
    for (int i = 0; i < 20; i++)
        msgpack_pack_array(pk, 0);
    msgpack_pack_map(pk, 16); /* map16 */
    for (int i = 0; i < 16; i++) {
        msgpack_pack_int(pk, i);
        msgpack_pack_map(pk, 0);
    }
    msgpack_pack_array(pk, 70000); /* array32 */
    for (int i = 0; i < 70000; i++)
        msgpack_pack_nil(pk);
    close_container(w, false);

    close_container(w, true);
}

Test(base_mp_writer, bytes_are_a_plain_packers)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    pack_every_type(&w, NULL);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_every_type(NULL, &pk);

    cr_assert_eq(w.sb.size, sb.size);
    cr_assert(memcmp(w.sb.data, sb.data, sb.size) == 0);
    msgpack_sbuffer_destroy(&sb);
    ik_mp_writer_free(&w);
}

Test(base_mp_writer, steal_hands_over_trimmed_bytes_and_leaves_it_empty)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_map_begin(&w, 1);
    ik_mp_pack_str(&w.pk, "a");
    msgpack_pack_int(&w.pk, 1);
    ik_mp_map_end(&w);
    size_t len = 0;
    char *bytes = ik_mp_writer_steal(&w, &len);
    cr_assert_eq(len, 4);
    cr_assert(memcmp(bytes, "\x81\xa1" "a\x01", 4) == 0);
    cr_assert_eq(w.sb.size, 0);
    free(bytes);

    /* The writer packs on from empty. */
    ik_mp_array_begin(&w, 0);
    ik_mp_array_end(&w);
    bytes = ik_mp_writer_steal(&w, &len);
    cr_assert_eq(len, 1);
    cr_assert_eq((unsigned char)bytes[0], 0x90);
    free(bytes);
    ik_mp_writer_free(&w);
}

Test(base_mp_writer, clear_starts_the_next_value)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    msgpack_pack_int(&w.pk, 1);
    ik_mp_writer_clear(&w);
    ik_mp_array_begin(&w, 1);
    msgpack_pack_int(&w.pk, 2);
    ik_mp_array_end(&w);
    cr_assert_eq(w.sb.size, 2);
    cr_assert(memcmp(w.sb.data, "\x91\x02", 2) == 0);
    ik_mp_writer_free(&w);
}

Test(base_mp_writer, nesting_and_ready_made_bytes_count_as_values)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_map_begin(&w, 3);
    ik_mp_pack_str(&w.pk, "nested");
    ik_mp_array_begin(&w, 2);
    for (int i = 0; i < 2; i++) {
        ik_mp_map_begin(&w, 1);
        ik_mp_pack_str(&w.pk, "i");
        msgpack_pack_int(&w.pk, i);
        ik_mp_map_end(&w);
    }
    ik_mp_array_end(&w);
    /* A begun map inside a directly packed array inside a begun map. */
    ik_mp_pack_str(&w.pk, "mixed");
    msgpack_pack_array(&w.pk, 2);
    ik_mp_map_begin(&w, 0);
    ik_mp_map_end(&w);
    ik_mp_array_begin(&w, 1);
    msgpack_pack_nil(&w.pk);
    ik_mp_array_end(&w);
    /* Bytes that already are one value, as engine/key.c appends params. */
    ik_mp_pack_str(&w.pk, "raw");
    msgpack_sbuffer_write(&w.sb, "\x92\x01\xa1x", 4);
    ik_mp_map_end(&w);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, w.sb.data, w.sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, w.sb.size);
    cr_assert_eq(u.data.via.map.size, 3);
    msgpack_unpacked_destroy(&u);
    ik_mp_writer_free(&w);
}

Test(base_mp_writer, nests_to_max_depth)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    for (int i = 0; i < IK_MP_MAX_DEPTH; i++)
        ik_mp_array_begin(&w, i + 1 < IK_MP_MAX_DEPTH ? 1 : 0);
    for (int i = 0; i < IK_MP_MAX_DEPTH; i++)
        ik_mp_array_end(&w);
    cr_assert_eq(w.sb.size, IK_MP_MAX_DEPTH);
    ik_mp_writer_free(&w);
}

#ifndef NDEBUG
/* Each misuse below runs in a child (crash_output) so the test can read its
 * message; the line of the begin it must name sits in a static beside it. */

static void map_one_short(void)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_map_begin(&w, 3);
    ik_mp_pack_str(&w.pk, "a");
    msgpack_pack_int(&w.pk, 1);
    ik_mp_pack_str(&w.pk, "b");
    msgpack_pack_int(&w.pk, 2);
    ik_mp_map_end(&w);
}
static const int map_one_short_line = __LINE__ - 7;

static void map_key_without_value(void)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_map_begin(&w, 1);
    ik_mp_pack_str(&w.pk, "a");
    msgpack_pack_int(&w.pk, 1);
    ik_mp_pack_str(&w.pk, "b");
    ik_mp_map_end(&w);
}
static const int map_key_without_value_line = __LINE__ - 6;

static void array_one_over(void)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_array_begin(&w, 1);
    msgpack_pack_int(&w.pk, 1);
    msgpack_pack_int(&w.pk, 2);
    ik_mp_array_end(&w);
}
static const int array_one_over_line = __LINE__ - 5;

/* The inner count is wrong; the message names the inner begin, not the outer. */
static void inner_miscount(void)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_array_begin(&w, 2);
    ik_mp_map_begin(&w, 1);
    ik_mp_map_end(&w);
    ik_mp_map_begin(&w, 0);
    ik_mp_map_end(&w);
    ik_mp_array_end(&w);
}
static const int inner_miscount_line = __LINE__ - 6;

/* A value left unfinished: a directly packed array one item short. */
static void unfinished_value(void)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_array_begin(&w, 1);
    msgpack_pack_array(&w.pk, 2);
    msgpack_pack_nil(&w.pk);
    ik_mp_array_end(&w);
}
static const int unfinished_value_line = __LINE__ - 5;

static void map_ended_as_array(void)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_map_begin(&w, 0);
    ik_mp_array_end(&w);
}
static const int map_ended_as_array_line = __LINE__ - 3;

static void end_without_begin(void)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_array_end(&w);
}
static const int end_without_begin_line = __LINE__ - 2;

static void steal_while_open(void)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_array_begin(&w, 0);
    size_t len;
    free(ik_mp_writer_steal(&w, &len));
}
static const int steal_while_open_line = __LINE__ - 4;

static void too_deep(void)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    for (int i = 0; i <= IK_MP_MAX_DEPTH; i++)
        ik_mp_array_begin(&w, 1);
}
static const int too_deep_line = __LINE__ - 2;

static void expect_abort(void (*fn)(void), const char *what, int line)
{
    char out[512];
    int status = crash_output(fn, out, sizeof out);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %d, stderr %s", status,
              out);
    char *want = ik_xasprintf("ikada: assertion failed: %s at %s:%d\n", what, __FILE__, line);
    cr_expect_str_eq(out, want);
    free(want);
}

Test(base_mp_writer, miscount_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
    map_one_short();
}

Test(base_mp_writer, misuse_names_the_begin)
{
    expect_abort(map_one_short, "msgpack map of n=3 entries holds 2", map_one_short_line);
    expect_abort(map_key_without_value, "msgpack map of n=1 entries holds 1 and a key",
                 map_key_without_value_line);
    expect_abort(array_one_over, "msgpack array of n=1 items holds 2", array_one_over_line);
    expect_abort(inner_miscount, "msgpack map of n=1 entries holds 0", inner_miscount_line);
    expect_abort(unfinished_value, "msgpack array of n=1 items holds 0 and an unfinished value",
                 unfinished_value_line);
    char *what = ik_xasprintf("msgpack map begun here ended by ik_mp_array_end (%s:%d)", __FILE__,
                              map_ended_as_array_line + 1);
    expect_abort(map_ended_as_array, what, map_ended_as_array_line);
    free(what);
    expect_abort(end_without_begin, "ik_mp_array_end without a begin", end_without_begin_line);
    expect_abort(steal_while_open, "msgpack array begun here is not ended",
                 steal_while_open_line);
    expect_abort(too_deep, "msgpack maps and arrays begun deeper than IK_MP_MAX_DEPTH",
                 too_deep_line);
}
#endif
