/* tests/cache/test_lock.c - flock-based cache and key locks, seen from a
 * second process (a forked child opens its own lock file description). */
#include <errno.h>
#include <sys/wait.h>

#include "cache/lock.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_lock, .init = tc_setup, .fini = tc_teardown);

enum { TRY_CACHE_SHARED, TRY_CACHE_EXCLUSIVE, TRY_KEY };

/* Runs one non-blocking lock attempt in a child; returns its result code
 * (0 = got it, else the positive errno). */
static int child_try(int what, const struct ik_hash *key)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct ik_diag d = IK_DIAG_INIT;
        int fd = what == TRY_KEY ? ik_lock_key(T.c, key, false, &d)
                                 : ik_lock_cache(T.c, what == TRY_CACHE_EXCLUSIVE, false, &d);
        _exit(fd >= 0 ? 0 : -fd);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

Test(cache_lock, exclusive_cache_lock_excludes)
{
    struct ik_diag d = IK_DIAG_INIT;
    int fd = ik_lock_cache(T.c, true, false, &d);
    cr_assert_geq(fd, 0, "%s", ik_diag_message(&d));
    cr_assert_eq(child_try(TRY_CACHE_EXCLUSIVE, NULL), EWOULDBLOCK);
    cr_assert_eq(child_try(TRY_CACHE_SHARED, NULL), EWOULDBLOCK);
    ik_unlock(fd);
    cr_assert_eq(child_try(TRY_CACHE_EXCLUSIVE, NULL), 0);
}

Test(cache_lock, shared_cache_locks_coexist)
{
    struct ik_diag d = IK_DIAG_INIT;
    int fd = ik_lock_cache(T.c, false, false, &d);
    cr_assert_geq(fd, 0);
    cr_assert_eq(child_try(TRY_CACHE_SHARED, NULL), 0);
    cr_assert_eq(child_try(TRY_CACHE_EXCLUSIVE, NULL), EWOULDBLOCK);
    ik_unlock(fd);
}

Test(cache_lock, key_lock_excludes_only_that_key)
{
    struct ik_hash k1, k2;
    ik_hash_bytes("k1", 2, &k1);
    ik_hash_bytes("k2", 2, &k2);
    struct ik_diag d = IK_DIAG_INIT;
    int fd = ik_lock_key(T.c, &k1, false, &d);
    cr_assert_geq(fd, 0);
    cr_assert_eq(child_try(TRY_KEY, &k1), EWOULDBLOCK);
    cr_assert_eq(child_try(TRY_KEY, &k2), 0);
    ik_unlock(fd);
    cr_assert_eq(child_try(TRY_KEY, &k1), 0);
    ik_unlock(-1); /* accepted */
}

Test(cache_lock, contention_message)
{
    struct ik_diag d = IK_DIAG_INIT;
    int fd = ik_lock_cache(T.c, true, false, &d);
    cr_assert_geq(fd, 0);
    /* A second open file description in this process conflicts as well. */
    int fd2 = ik_lock_cache(T.c, true, false, &d);
    cr_assert_eq(fd2, -EWOULDBLOCK);
    cr_assert_not_null(strstr(d.text, "the cache is locked by another ikada process"), "%s",
                       d.text);
    ik_unlock(fd);
    ik_diag_free(&d);
}
