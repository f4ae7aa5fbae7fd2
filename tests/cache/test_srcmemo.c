/* tests/cache/test_srcmemo.c - source hashes memoised by stat data: hits,
 * misses after a change, folders, persistence, a torn memo tail, damaged and
 * unsealed entries. */
#include <errno.h>

#include "cache/srcmemo.h"
#include "base/error.h"
#include "base/mp.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_srcmemo, .init = tc_setup, .fini = tc_teardown);

static struct ik_srcmemo *open_memo(void)
{
    struct ik_srcmemo *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_open(T.c, &m, &d), 0, "%s", ik_diag_message(&d));
    return m;
}

static void count_bad(const char *problem, void *arg)
{
    cr_assert_not_null(strstr(problem, "srcmemo: offset "), "%s", problem);
    (*(int *)arg)++;
}

static struct ik_hash hash_of(struct ik_srcmemo *m, const char *path, uint64_t *size)
{
    struct ik_hash h;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_hash(m, path, &h, size, &d), 0, "%s", ik_diag_message(&d));
    return h;
}

/* An "old" file: its mtime is outside the racy window, so it can be memoised. */
static char *old_file(const char *rel, const char *text)
{
    char *p = tc_write(rel, text, strlen(text));
    tc_set_mtime(p, 3600, 0);
    return p;
}

Test(cache_srcmemo, unchanged_file_is_not_reread)
{
    char *p = old_file("data.jsonl", "{\"q\": 1}\n");
    struct ik_srcmemo *m = open_memo();
    uint64_t size = 0;
    struct ik_hash a = hash_of(m, p, &size);
    cr_assert_eq(size, 9);
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 9);
    struct ik_hash want;
    ik_hash_bytes("{\"q\": 1}\n", 9, &want);
    cr_assert(ik_hash_equal(&a, &want));
    struct ik_hash b = hash_of(m, p, NULL);
    cr_assert(ik_hash_equal(&a, &b));
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 9, "the second lookup read nothing");
    ik_srcmemo_close(m);

    /* The memo persists: a new memo (a later run) reads nothing either. */
    m = open_memo();
    b = hash_of(m, p, NULL);
    cr_assert(ik_hash_equal(&a, &b));
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 0);
    ik_srcmemo_close(m);
    free(p);
}

Test(cache_srcmemo, modified_file_is_rehashed)
{
    char *p = old_file("data.txt", "version one");
    struct ik_srcmemo *m = open_memo();
    struct ik_hash a = hash_of(m, p, NULL);
    /* Same size, new content, new (still old) mtime. */
    free(tc_write("data.txt", "version two", 11));
    tc_set_mtime(p, 1800, 0);
    struct ik_hash b = hash_of(m, p, NULL);
    cr_assert(!ik_hash_equal(&a, &b));
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 22);
    ik_srcmemo_close(m);
    /* The newest entry wins when the memo is loaded again. */
    m = open_memo();
    struct ik_hash c = hash_of(m, p, NULL);
    cr_assert(ik_hash_equal(&b, &c));
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 0);
    ik_srcmemo_close(m);
    free(p);
}

Test(cache_srcmemo, touched_file_is_rehashed)
{
    char *p = old_file("same.txt", "unchanged");
    struct ik_srcmemo *m = open_memo();
    struct ik_hash a = hash_of(m, p, NULL);
    tc_set_mtime(p, 1000, 5); /* touch: only the timestamp changes */
    struct ik_hash b = hash_of(m, p, NULL);
    cr_assert(ik_hash_equal(&a, &b));
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 18, "read twice");
    ik_srcmemo_close(m);
    free(p);
}

Test(cache_srcmemo, fresh_file_is_not_memoised)
{
    /* Written just now: a same-size rewrite could keep the same mtime tick. */
    char *p = tc_write("fresh.txt", "new", 3);
    struct ik_srcmemo *m = open_memo();
    hash_of(m, p, NULL);
    hash_of(m, p, NULL);
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 6);
    ik_srcmemo_close(m);
    free(p);
}

static void make_tree(const char *top, bool reverse)
{
    char *dir = ik_xasprintf("%s/%s", T.dir, top);
    char *sub = ik_xasprintf("%s/sub", dir);
    mkdir(dir, 0777);
    mkdir(sub, 0777);
    const char *names[] = {"a.txt", "sub/b.bin", ".hidden"};
    const char *texts[] = {"alpha", "beta!!", "h"};
    for (int k = 0; k < 3; k++) {
        int i = reverse ? 2 - k : k;
        char *rel = ik_xasprintf("%s/%s", top, names[i]);
        char *p = old_file(rel, texts[i]);
        free(p);
        free(rel);
    }
    free(sub);
    free(dir);
}

Test(cache_srcmemo, folder_hash_is_memoised_and_tracks_changes)
{
    make_tree("model", false);
    make_tree("model_copy", true);
    char *dir = ik_xasprintf("%s/model", T.dir);
    char *copy = ik_xasprintf("%s/model_copy", T.dir);
    struct ik_srcmemo *m = open_memo();
    uint64_t size = 0;
    struct ik_hash a = hash_of(m, dir, &size);
    cr_assert_eq(size, 12, "5 + 6 + 1 bytes, dot-file included");
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 12);
    struct ik_hash again = hash_of(m, dir, NULL);
    cr_assert(ik_hash_equal(&a, &again));
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 12, "no file was re-read");
    /* Same content created in another order: the same manifest. */
    struct ik_hash c = hash_of(m, copy, NULL);
    cr_assert(ik_hash_equal(&a, &c));
    uint64_t before = ik_srcmemo_hashed_bytes(m);
    /* Change one file: only it is re-read, and the folder hash changes. */
    char *b = ik_xasprintf("%s/sub/b.bin", dir);
    free(tc_write(b, "BETA!!", 6));
    tc_set_mtime(b, 100, 0);
    struct ik_hash changed = hash_of(m, dir, NULL);
    cr_assert(!ik_hash_equal(&a, &changed));
    cr_assert_eq(ik_srcmemo_hashed_bytes(m) - before, 6);
    ik_srcmemo_close(m);
    free(b);
    free(dir);
    free(copy);
}

Test(cache_srcmemo, folder_rename_inside_changes_hash)
{
    make_tree("t", false);
    char *dir = ik_xasprintf("%s/t", T.dir);
    struct ik_srcmemo *m = open_memo();
    struct ik_hash a = hash_of(m, dir, NULL);
    char *from = ik_xasprintf("%s/a.txt", dir), *to = ik_xasprintf("%s/z.txt", dir);
    cr_assert_eq(rename(from, to), 0);
    struct ik_hash b = hash_of(m, dir, NULL);
    cr_assert(!ik_hash_equal(&a, &b), "paths are part of the manifest");
    ik_srcmemo_close(m);
    free(from);
    free(to);
    free(dir);
}

Test(cache_srcmemo, torn_tail_is_ignored_and_cut)
{
    char *p = old_file("x.txt", "content");
    struct ik_srcmemo *m = open_memo();
    hash_of(m, p, NULL);
    ik_srcmemo_close(m);
    char *memo = ik_cache_path(T.c, "srcmemo");
    struct stat st;
    cr_assert_eq(stat(memo, &st), 0);
    off_t good = st.st_size;
    /* A crash mid-append: the start of an array of 6 and a few bytes. */
    FILE *f = fopen(memo, "ab");
    fwrite("\x96\xa5/tmp/", 1, 7, f);
    fclose(f);
    m = open_memo();
    hash_of(m, p, NULL);
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 0, "entries before the tear survive");
    ik_srcmemo_close(m);
    cr_assert_eq(stat(memo, &st), 0);
    cr_assert_eq(st.st_size, good, "the torn record was cut off");
    free(memo);
    free(p);
}

Test(cache_srcmemo, missing_path)
{
    struct ik_srcmemo *m = open_memo();
    struct ik_hash h;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_hash(m, "/nonexistent/ikada/file.jsonl", &h, NULL, &d), -ENOENT);
    cr_assert_str_eq(d.text,
                     "error: cannot open /nonexistent/ikada/file.jsonl: No such file or directory");
    ik_diag_free(&d);
    ik_srcmemo_close(m);
}

Test(cache_srcmemo, symlink_loop_is_refused)
{
    char *dir = ik_xasprintf("%s/loop", T.dir);
    char *link = ik_xasprintf("%s/loop/self", T.dir);
    mkdir(dir, 0777);
    cr_assert_eq(symlink(dir, link), 0);
    struct ik_srcmemo *m = open_memo();
    struct ik_hash h;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_hash(m, dir, &h, NULL, &d), -ELOOP);
    ik_diag_free(&d);
    ik_srcmemo_close(m);
    free(link);
    free(dir);
}

/* Flips one bit of the last copy of h's bytes in the memo file. */
static void flip_memo_hash(const struct ik_hash *h)
{
    char *memo = ik_cache_path(T.c, "srcmemo");
    char *data = NULL;
    size_t len = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_read_file(memo, &data, &len, &d), 0);
    char *at = NULL;
    for (char *p = data; (p = memmem(p, len - (size_t)(p - data), h->b, IK_HASH_BYTES)); p++)
        at = p;
    cr_assert_not_null(at, "the hash is not in the memo");
    at[3] ^= 0x10;
    free(tc_write(memo, data, len));
    free(data);
    free(memo);
}

Test(cache_srcmemo, a_flipped_hash_is_not_believed_and_repaired_once)
{
    char *p = old_file("x.txt", "content");
    struct ik_srcmemo *m = open_memo();
    struct ik_hash good = hash_of(m, p, NULL);
    ik_srcmemo_close(m);
    flip_memo_hash(&good);
    m = open_memo();
    struct ik_hash h = hash_of(m, p, NULL);
    cr_assert(ik_hash_equal(&h, &good), "the flipped hash was served");
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 7, "the file was not re-hashed");
    ik_srcmemo_close(m);
    /* The damage is gone from the file: verify finds nothing, a run reads nothing. */
    size_t checked = 0;
    int bad = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_check(T.c, &checked, count_bad, &bad, &d), 0);
    cr_assert_eq(bad, 0);
    cr_assert_eq(checked, 1, "the re-hash's entry (the dropped one is nil bytes now)");
    m = open_memo();
    hash_of(m, p, NULL);
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 0);
    ik_srcmemo_close(m);
    free(p);
}

Test(cache_srcmemo, check_reports_and_repairs_each_bad_entry)
{
    char *p = old_file("x.txt", "content"), *q = old_file("y.txt", "other");
    struct ik_srcmemo *m = open_memo();
    struct ik_hash hp = hash_of(m, p, NULL);
    hash_of(m, q, NULL);
    ik_srcmemo_close(m);
    flip_memo_hash(&hp);
    size_t checked = 0;
    int bad = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_check(T.c, &checked, count_bad, &bad, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(checked, 2);
    cr_assert_eq(bad, 1);
    bad = 0;
    cr_assert_eq(ik_srcmemo_check(T.c, &checked, count_bad, &bad, &d), 0);
    cr_assert_eq(bad, 0, "repaired by the first check");
    m = open_memo();
    hash_of(m, q, NULL);
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 0, "the other entry survives the repair");
    hash_of(m, p, NULL);
    cr_assert_eq(ik_srcmemo_hashed_bytes(m), 7);
    ik_srcmemo_close(m);
    free(p);
    free(q);
}

Test(cache_srcmemo, unsealed_entries_are_not_believed)
{
    /* [path, dev, ino, size, mtime_ns, hash] as written before sums: it
     * cannot vouch for its hash, so the file is hashed again. */
    char *p = old_file("x.txt", "content");
    char *real = realpath(p, NULL);
    struct stat st;
    cr_assert_eq(stat(real, &st), 0);
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_array_begin(&w, 6);
    ik_mp_pack_str(&w.pk, real);
    msgpack_pack_uint64(&w.pk, (uint64_t)st.st_dev);
    msgpack_pack_uint64(&w.pk, (uint64_t)st.st_ino);
    msgpack_pack_uint64(&w.pk, (uint64_t)st.st_size);
    msgpack_pack_uint64(&w.pk, (uint64_t)st.st_mtim.tv_sec * 1000000000ull +
                                   (uint64_t)st.st_mtim.tv_nsec);
    struct ik_hash wrong;
    ik_hash_bytes("not the content", 15, &wrong);
    ik_mp_pack_bin(&w.pk, wrong.b, IK_HASH_BYTES);
    ik_mp_array_end(&w);
    char *memo = ik_cache_path(T.c, "srcmemo");
    free(tc_write(memo, w.sb.data, w.sb.size));
    ik_mp_writer_free(&w);
    struct ik_srcmemo *m = open_memo();
    struct ik_hash h = hash_of(m, p, NULL), want;
    ik_hash_bytes("content", 7, &want);
    cr_assert(ik_hash_equal(&h, &want), "an unsealed entry's hash was served");
    ik_srcmemo_close(m);
    free(memo);
    free(real);
    free(p);
}
