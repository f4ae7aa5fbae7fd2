/* tests/common/tmpcache.h - fixtures shared by the tests that need a store or
 * a scratch folder: a fresh cache in a mkdtemp folder (removed afterwards),
 * bare mkdtemp folders, and small file helpers.
 *
 * Everything is static (inline), so any number of .c files of one test
 * program include it; each gets its own T. Use tc_setup/tc_teardown (or
 * tc_setup_env) as a suite's .init/.fini, or call them from a suite's own. */
#ifndef IK_TESTS_COMMON_TMPCACHE_H
#define IK_TESTS_COMMON_TMPCACHE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache.h"
#include "base/file.h"
#include "base/diag.h"
#include "base/xmalloc.h"

struct tc_fixture {
    char *dir;            /* the mkdtemp folder; the cache is dir/.ikada */
    struct ik_cache *c;
    char cwd[PATH_MAX];   /* restored at teardown */
};

/* unused where a file needs only tc_tmpdir */
static struct tc_fixture T __attribute__((unused));

/* A new empty folder under /tmp (the caller frees the name and removes the
 * folder, e.g. with tc_rmtree). */
static inline char *tc_tmpdir(void)
{
    char *dir = ik_xstrdup("/tmp/ikada-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    return dir;
}

/* Removes dir with everything in it and frees the name; NULL does nothing. */
static inline void tc_rmtree(char *dir)
{
    if (dir != NULL)
        ik_remove_tree(dir);
    free(dir);
}

/* T.dir = a new folder, T.c = a new cache at T.dir/.ikada; the working
 * directory is saved for tc_teardown to restore. */
static inline void tc_setup(void)
{
    T.dir = tc_tmpdir();
    cr_assert_not_null(getcwd(T.cwd, sizeof T.cwd));
    char *root = ik_xasprintf("%s/.ikada", T.dir);
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_cache_open_at(root, true, &T.c, &d);
    cr_assert_eq(rc, 0, "open: %s", ik_diag_message(&d));
    ik_diag_free(&d);
    free(root);
}

/* tc_setup, and IKADA_CACHE names the new cache, for code that opens the
 * cache itself (the CLI verbs). */
static inline void tc_setup_env(void)
{
    tc_setup();
    char *root = ik_xasprintf("%s/.ikada", T.dir);
    setenv("IKADA_CACHE", root, 1);
    free(root);
}

static inline void tc_teardown(void)
{
    ik_cache_close(T.c);
    T.c = NULL;
    if (chdir(T.cwd) != 0)
        perror("chdir");
    tc_rmtree(T.dir);
    T.dir = NULL;
}

/* Writes a file below T.dir (or at an absolute path); returns its path (caller frees). */
static inline char *tc_write(const char *rel, const void *data, size_t len)
{
    char *path = rel[0] == '/' ? ik_xstrdup(rel) : ik_xasprintf("%s/%s", T.dir, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "fopen %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* Sets a file's mtime to `secs_ago` seconds in the past (plus nsec). */
static inline void tc_set_mtime(const char *path, long secs_ago, long nsec)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= secs_ago;
    ts[0].tv_nsec = nsec;
    ts[1] = ts[0];
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Number of entries (other than . and ..) in a folder; -1 if it cannot be read. */
static inline int tc_count_entries(const char *path)
{
    DIR *dir = opendir(path);
    if (dir == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(dir);
    return n;
}

static inline bool tc_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

#endif
