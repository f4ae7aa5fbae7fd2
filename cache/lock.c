/* cache/lock.c - flock(2) locks on files under root/locks.
 *
 * flock locks belong to the open file description and die with the process,
 * so a kill -9 never leaves a stale lock and no pid files are needed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "base/file.h"
#include "cache/gc.h"
#include "cache/lock.h"
#include "base/xmalloc.h"

static int take(const char *path, const char *what, bool exclusive, bool wait, struct ik_diag *d)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && (errno == EROFS || errno == EACCES))
        fd = open(path, O_RDONLY | O_CLOEXEC); /* a read-only cache can still be locked */
    if (fd < 0 && errno == ENOENT) {
        /* locks/ was removed by hand: recreate it rather than fail the run. */
        char *dir = ik_xstrdup(path);
        *strrchr(dir, '/') = '\0';
        struct ik_diag md = IK_DIAG_INIT;
        if (ik_mkdirs(dir, &md) == 0)
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        ik_diag_free(&md);
        free(dir);
        if (fd < 0)
            errno = ENOENT;
    }
    if (fd < 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open lock file %s: %s", ik_display_path(path),
                           strerror(e));
    }
    int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
    while (flock(fd, op) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return ik_diag_set(d, -EWOULDBLOCK, "%s is locked by another ikada process (%s)",
                               what, ik_display_path(path));
        return ik_diag_set(d, -e, "cannot lock %s: %s", ik_display_path(path), strerror(e));
    }
    return fd;
}

int ik_lock_cache(struct ik_cache *c, bool exclusive, bool wait, struct ik_diag *d)
{
    char *path = ik_cache_path(c, "locks/cache");
    int rc = take(path, "the cache", exclusive, wait, d);
    free(path);
    return rc;
}

int ik_lock_cache_run(struct ik_cache *c, struct ik_diag *d)
{
    struct ik_diag xd = IK_DIAG_INIT;
    int fd = ik_lock_cache(c, true, false, &xd);
    ik_diag_free(&xd);
    if (fd < 0)
        return ik_lock_cache(c, false, true, d);
    size_t removed = 0;
    uint64_t bytes = 0;
    ik_gc_tmp(c, &removed, &bytes);
    /* Converting to shared is not atomic (flock(2)): a gc may slip in between,
     * and then this waits for it, as if the run had started after it. */
    while (flock(fd, LOCK_SH) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        return ik_diag_set(d, -e, "cannot lock the cache %s: %s", ik_display_path(c->root),
                           strerror(e));
    }
    return fd;
}

int ik_lock_key(struct ik_cache *c, const struct ik_hash *key, bool wait, struct ik_diag *d)
{
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(key, hex);
    char *path = ik_xasprintf("%s/locks/%s", c->root, hex);
    char *what = ik_xasprintf("key %.12s", hex);
    int rc = take(path, what, true, wait, d);
    free(what);
    free(path);
    return rc;
}

void ik_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the only descriptor releases the flock */
}
