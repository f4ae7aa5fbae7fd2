/* tests/cache/test_tree.c - the tree artifact (a folder packed, checked and
 * written back) and glob sets hashed through the source memo. */
#include <errno.h>

#include "base/glob.h"
#include "base/mp.h"
#include "cache/artifact.h"
#include "cache/srcmemo.h"
#include "cache/tree.h"
#include "base/error.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_tree, .init = tc_setup, .fini = tc_teardown);

static void mkdir_in(const char *rel)
{
    char *p = ik_xasprintf("%s/%s", T.dir, rel);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_mkdirs(p, &d), 0, "%s", ik_diag_message(&d));
    free(p);
}

/* Packs T.dir/rel into T.dir/<out> and returns its bytes (the caller frees). */
static char *pack(const char *rel, const char *out, size_t *len, struct ik_tree_stats *st)
{
    char *dir = ik_xasprintf("%s/%s", T.dir, rel);
    char *path = ik_xasprintf("%s/%s", T.dir, out);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tree_pack(dir, "peft", path, st, &d), 0, "%s", ik_diag_message(&d));
    char *bytes = NULL;
    cr_assert_eq(ik_read_file(path, &bytes, len, &d), 0);
    free(dir);
    free(path);
    return bytes;
}

static void make_folder(const char *top, bool reversed)
{
    char *sub = ik_xasprintf("%s/sub", top);
    mkdir_in(sub);
    const char *names[] = {"b.bin", "a.json", "sub/run.sh"};
    const char *texts[] = {"\x01\x02", "{}\n", "#!/bin/sh\n"};
    for (int k = 0; k < 3; k++) {
        int i = reversed ? 2 - k : k;
        char *rel = ik_xasprintf("%s/%s", top, names[i]);
        free(tc_write(rel, texts[i], strlen(texts[i])));
        free(rel);
    }
    char *script = ik_xasprintf("%s/%s/sub/run.sh", T.dir, top);
    cr_assert_eq(chmod(script, 0755), 0);
    free(script);
    free(sub);
}

Test(cache_tree, pack_is_sorted_and_round_trips)
{
    make_folder("one", false);
    size_t len;
    struct ik_tree_stats st;
    char *bytes = pack("one", "one.tree", &len, &st);
    cr_assert_eq(st.files, 3);
    cr_assert_eq(st.bytes, 2 + 3 + 10);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_artifact_unpack(bytes, len, &u, "tree", &d), 0, "%s", ik_diag_message(&d));
    cr_assert(ik_mp_str_eq(ik_mp_get(&u.data, "kind"), "tree"));
    cr_assert(ik_mp_str_eq(ik_mp_get(ik_mp_get(&u.data, "meta"), "name"), "peft"));
    const msgpack_object *files = ik_mp_get(&u.data, "files");
    cr_assert_eq(files->via.array.size, 3);
    cr_assert(ik_mp_str_eq(ik_mp_get(&files->via.array.ptr[0], "path"), "a.json"));
    cr_assert(ik_mp_str_eq(ik_mp_get(&files->via.array.ptr[2], "path"), "sub/run.sh"));
    cr_assert(ik_mp_get(&files->via.array.ptr[2], "exec")->via.boolean);
    cr_assert_not(ik_mp_get(&files->via.array.ptr[0], "exec")->via.boolean);

    char *dest = ik_xasprintf("%s/back", T.dir);
    cr_assert_eq(ik_tree_write(&u.data, dest, "tree", &d), 0, "%s", ik_diag_message(&d));
    char *script = ik_xasprintf("%s/sub/run.sh", dest);
    struct stat sb;
    cr_assert_eq(stat(script, &sb), 0);
    cr_assert(sb.st_mode & 0100, "the execute bit came back");
    char *text = NULL;
    size_t n = 0;
    cr_assert_eq(ik_read_file(script, &text, &n, &d), 0);
    cr_assert_str_eq(text, "#!/bin/sh\n");

    /* The same folder made in another order has the same bytes. */
    make_folder("two", true);
    size_t len2;
    char *bytes2 = pack("two", "two.tree", &len2, NULL);
    cr_assert_eq(len, len2);
    cr_assert_eq(memcmp(bytes, bytes2, len), 0);
    free(text);
    free(script);
    free(dest);
    free(bytes2);
    msgpack_unpacked_destroy(&u);
    free(bytes);
}

/* A tree whose entry i has path p (packed by hand, as a damaged object). */
static void hand_tree(msgpack_sbuffer *sb, const char *p1, const char *p2)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    ik_mp_pack_str(&pk, "kind");
    ik_mp_pack_str(&pk, "tree");
    ik_mp_pack_str(&pk, "files");
    msgpack_pack_array(&pk, p2 ? 2 : 1);
    const char *paths[] = {p1, p2};
    for (int i = 0; i < (p2 ? 2 : 1); i++) {
        msgpack_pack_map(&pk, 3);
        ik_mp_pack_str(&pk, "path");
        ik_mp_pack_str(&pk, paths[i]);
        ik_mp_pack_str(&pk, "exec");
        msgpack_pack_false(&pk);
        ik_mp_pack_str(&pk, "data");
        ik_mp_pack_bin(&pk, "x", 1);
    }
}

static void expect_refused(const char *p1, const char *p2, const char *why)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    hand_tree(&sb, p1, p2);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    struct ik_diag d = IK_DIAG_INIT;
    char *dest = ik_xasprintf("%s/out", T.dir);
    cr_assert_eq(ik_tree_write(&u.data, dest, "obj", &d), IK_ECORRUPT, "%s", p1);
    cr_assert_not_null(strstr(ik_diag_message(&d), why), "%s", ik_diag_message(&d));
    cr_assert_not(tc_exists(dest), "nothing written for a bad tree");
    ik_diag_free(&d);
    free(dest);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

Test(cache_tree, damaged_paths_write_nothing)
{
    expect_refused("../escape", NULL, "obj: tree entry 0: expected a relative path");
    expect_refused("/etc/passwd", NULL, "tree entry 0: expected a relative path");
    expect_refused("a/./b", NULL, "tree entry 0");
    expect_refused("a//b", NULL, "tree entry 0");
    expect_refused("b", "a", "tree entry 1: paths out of order or repeated");
    expect_refused("a", "a", "tree entry 1: paths out of order or repeated");
}

Test(cache_tree, symlink_loop_is_refused)
{
    mkdir_in("loop/in");
    char *target = ik_xasprintf("%s/loop", T.dir);
    char *link = ik_xasprintf("%s/loop/in/back", T.dir);
    cr_assert_eq(symlink(target, link), 0);
    char *out = ik_xasprintf("%s/loop.tree", T.dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tree_pack(target, "loop", out, NULL, &d), IK_EVALIDATE);
    cr_assert_not_null(strstr(ik_diag_message(&d), "in/back links back to a folder above it"),
                       "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    free(out);
    free(link);
    free(target);
}

/* --- Glob sets ---------------------------------------------------------------- */

static char *old_file(const char *rel, const char *text)
{
    char *p = tc_write(rel, text, strlen(text));
    tc_set_mtime(p, 3600, 0);
    return p;
}

static struct ik_hash glob_hash(struct ik_srcmemo *m, const char *pattern_rel, int want_rc)
{
    char *pattern = ik_xasprintf("%s/%s", T.dir, pattern_rel);
    struct ik_hash h = {0};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_hash_glob(m, pattern, &h, NULL, &d), want_rc, "%s",
                 ik_diag_message(&d));
    ik_diag_free(&d);
    free(pattern);
    return h;
}

Test(cache_tree, glob_is_a_memoised_set)
{
    mkdir_in("data");
    free(old_file("data/b.txt", "bb\n"));
    free(old_file("data/a.txt", "a\n"));
    free(old_file("data/notes.md", "n\n"));
    struct ik_srcmemo *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_open(T.c, &m, &d), 0);
    struct ik_hash first = glob_hash(m, "data/*.txt", 0);
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 5, "only the matches were read");
    struct ik_hash again = glob_hash(m, "data/*.txt", 0);
    cr_assert(ik_hash_equal(&first, &again));
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 5, "a second expansion read nothing");

    /* The same files under another folder, named the same below it: the same set. */
    mkdir_in("moved");
    free(old_file("moved/a.txt", "a\n"));
    free(old_file("moved/b.txt", "bb\n"));
    struct ik_hash moved = glob_hash(m, "moved/{a,b}.txt", 0);
    cr_assert(ik_hash_equal(&first, &moved), "a set is its names below the fixed folder");

    /* A new match changes the set; nothing matching is an error. */
    free(old_file("data/c.txt", "c\n"));
    struct ik_hash grown = glob_hash(m, "data/*.txt", 0);
    cr_assert_not(ik_hash_equal(&first, &grown));
    glob_hash(m, "data/*.csv", -ENOENT);
    glob_hash(m, "missing/*.txt", -ENOENT);
    ik_srcmemo_close(m);
}

Test(cache_tree, glob_names_are_below_the_fixed_folder)
{
    mkdir_in("runs/r8");
    mkdir_in("runs/r16");
    free(old_file("runs/r8/loss.csv", "1\n"));
    free(old_file("runs/r16/loss.csv", "2\n"));
    char *pattern = ik_xasprintf("%s/runs/r*/loss.csv", T.dir);
    struct ik_glob g;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_glob_expand(pattern, &g, &d), 0);
    cr_assert_eq(g.n, 2);
    cr_assert_str_eq(g.m[0].rel, "r16/loss.csv", "sorted bytewise");
    cr_assert_str_eq(g.m[1].rel, "r8/loss.csv");
    ik_glob_free(&g);
    free(pattern);
}
