/* tests/cache/test_cache.c - opening the cache: layout, discovery like git,
 * IKADA_CACHE, and refusing a newer format without touching it. */
#include <errno.h>

#include "cache/cache.h"
#include "base/error.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_open, .init = tc_setup, .fini = tc_teardown);

static char *read_text(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_read_file(path, &data, &len, &d), 0, "%s", ik_diag_message(&d));
    return data;
}

Test(cache_open, creates_layout_and_version)
{
    const char *subs[] = {"objects", "actions", "refs", "runs", "locks", "tmp", "quarantine"};
    for (size_t i = 0; i < 7; i++) {
        char *p = ik_cache_path(T.c, subs[i]);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0, "%s", p);
        cr_assert(S_ISDIR(st.st_mode));
        free(p);
    }
    char *v = ik_cache_path(T.c, "VERSION");
    char *text = read_text(v);
    cr_assert_str_eq(text, "ikada-cache 1\n");
    free(text);
    free(v);
    cr_assert_eq(T.c->root[0], '/', "root is absolute");
}

Test(cache_open, discovers_parent_folder)
{
    unsetenv("IKADA_CACHE");
    char *deep = ik_xasprintf("%s/a/b/c", T.dir);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_mkdirs(deep, &d), 0);
    cr_assert_eq(chdir(deep), 0);
    struct ik_cache *c = NULL;
    cr_assert_eq(ik_cache_open(false, &c, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_str_eq(c->root, T.c->root);
    ik_cache_close(c);
    /* create=true also finds the parent's cache rather than making a new one. */
    cr_assert_eq(ik_cache_open(true, &c, &d), 0);
    cr_assert_str_eq(c->root, T.c->root);
    cr_assert(!tc_exists(".ikada"));
    ik_cache_close(c);
    free(deep);
}

Test(cache_open, creates_in_cwd_or_reports_missing)
{
    unsetenv("IKADA_CACHE");
    char *tmpl = tc_tmpdir();
    cr_assert_eq(chdir(tmpl), 0);
    struct ik_cache *c = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_cache_open(false, &c, &d);
    bool parent_has_cache = rc == 0; /* a stray /tmp/.ikada or /.ikada would be found */
    if (!parent_has_cache) {
        cr_assert_eq(rc, IK_ENOTFOUND);
        cr_assert_not_null(strstr(d.text, "no .ikada cache in"), "%s", d.text);
        cr_assert_eq(ik_cache_open(true, &c, &d), 0, "%s", ik_diag_message(&d));
        char *want = ik_xasprintf("%s/.ikada", tmpl);
        char real[PATH_MAX];
        cr_assert_not_null(realpath(want, real));
        cr_assert_str_eq(c->root, real);
        free(want);
    }
    ik_cache_close(c);
    ik_diag_free(&d);
    tc_rmtree(tmpl);
}

Test(cache_open, ikada_cache_env_overrides)
{
    char *elsewhere = ik_xasprintf("%s/shared-cache", T.dir);
    setenv("IKADA_CACHE", elsewhere, 1);
    cr_assert_eq(chdir(T.dir), 0); /* which has its own .ikada: the variable wins */
    struct ik_cache *c = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cache_open(false, &c, &d), IK_ENOTFOUND);
    cr_assert_eq(ik_cache_open(true, &c, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_str_eq(c->root, elsewhere);
    char *v = ik_xasprintf("%s/VERSION", elsewhere);
    cr_assert(tc_exists(v));
    free(v);
    ik_cache_close(c);
    unsetenv("IKADA_CACHE");
    free(elsewhere);
    ik_diag_free(&d);
}

Test(cache_open, newer_version_is_refused_untouched)
{
    char *v = ik_cache_path(T.c, "VERSION");
    unlink(v);
    free(tc_write(v, "ikada-cache 2\n", 14));
    char *marker = ik_cache_path(T.c, "objects/keep-me");
    free(tc_write(marker, "paid for", 8));
    struct ik_cache *c = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cache_open_at(T.c->root, true, &c, &d), IK_EVERSION);
    cr_assert_null(c);
    cr_assert_not_null(strstr(d.text, "was written by a newer ikada (cache format 2; this ikada "
                                      "reads format 1)"), "%s", d.text);
    cr_assert_not_null(strstr(d.text, "hint: "), "%s", d.text);
    char *text = read_text(v);
    cr_assert_str_eq(text, "ikada-cache 2\n", "VERSION untouched");
    free(text);
    cr_assert(tc_exists(marker), "nothing wiped");
    free(marker);
    free(v);
    ik_diag_free(&d);
}

Test(cache_open, malformed_version_is_corrupt)
{
    char *v = ik_cache_path(T.c, "VERSION");
    unlink(v);
    free(tc_write(v, "hello\n", 6));
    struct ik_cache *c = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cache_open_at(T.c->root, false, &c, &d), IK_ECORRUPT);
    cr_assert_not_null(strstr(d.text, "VERSION:1: error: expected 'ikada-cache <format number>'"),
                       "%s", d.text);
    free(v);
    ik_diag_free(&d);
}
