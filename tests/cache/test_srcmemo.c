/* tests/cache/test_srcmemo.c - source hashes memoised by stat data: hits,
 * misses after a change, folders, persistence, a torn memo tail. */
#include <errno.h>

#include "cache/srcmemo.h"
#include "base/error.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_srcmemo, .init = tc_setup, .fini = tc_teardown);

static struct ik_srcmemo *open_memo(void)
{
    struct ik_srcmemo *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_open(T.c, &m, &d), 0, "%s", ik_diag_message(&d));
    return m;
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
