/* cache/kv.c - durable key -> object-hash entries under kv/<namespace>/ (see
 * kv.h). Each entry is its own atomically written file, so a kill at any
 * moment leaves every entry either absent or complete. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "base/file.h"
#include "cache/kv.h"
#include "base/error.h"
#include "base/xmalloc.h"

static char *area_of(const char *ns) { return ik_xasprintf("kv/%s", ns); }

int ik_kv_put(struct ik_cache *c, const char *ns, const struct ik_hash *key,
              const struct ik_hash *value, struct ik_diag *d)
{
    char *area = area_of(ns);
    char *path = ik__fanout_path(c, area, key);
    char *tmp = ik_cache_path(c, "tmp");
    char hex[IK_HASH_HEX_LEN + 2];
    ik_hash_to_hex(value, hex);
    hex[IK_HASH_HEX_LEN] = '\n';
    int rc = ik__fanout_mkdir(c, area, key, d);
    if (rc == 0)
        rc = ik_mkdirs(tmp, d);
    if (rc == 0)
        rc = ik_write_atomic(tmp, path, hex, IK_HASH_HEX_LEN + 1, 0444, d);
    free(tmp);
    free(path);
    free(area);
    return rc;
}

int ik_kv_del(struct ik_cache *c, const char *ns, const struct ik_hash *key, struct ik_diag *d)
{
    char *area = area_of(ns);
    char *path = ik__fanout_path(c, area, key);
    int rc = 0;
    if (unlink(path) != 0 && errno != ENOENT) {
        int e = errno;
        rc = ik_diag_set(d, -e, "cannot remove %s: %s", path, strerror(e));
    }
    free(path);
    free(area);
    return rc;
}

/* Parses an entry's bytes: 64 hex digits, optionally followed by "\n". */
static int parse_entry(const char *data, size_t len, struct ik_hash *value)
{
    if (len != IK_HASH_HEX_LEN && !(len == IK_HASH_HEX_LEN + 1 && data[IK_HASH_HEX_LEN] == '\n'))
        return IK_ECORRUPT;
    char hex[IK_HASH_HEX_LEN + 1];
    memcpy(hex, data, IK_HASH_HEX_LEN);
    hex[IK_HASH_HEX_LEN] = '\0';
    return ik_hash_from_hex(hex, value) == 0 ? 0 : IK_ECORRUPT;
}

static int read_entry(const char *path, struct ik_hash *value)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[IK_HASH_HEX_LEN + 2];
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? -errno : 0;
    close(fd);
    return err != 0 ? err : parse_entry(buf, (size_t)n, value);
}

int ik_kv_get(const struct ik_cache *c, const char *ns, const struct ik_hash *key,
              struct ik_hash *value, struct ik_diag *d)
{
    char *area = area_of(ns);
    char *path = ik__fanout_path(c, area, key);
    int rc = read_entry(path, value);
    if (rc == IK_ECORRUPT)
        ik_diag_set(d, rc, "%s: expected a 64-digit object hash", ik_display_path(path));
    else if (rc < 0 && rc != -ENOENT)
        ik_diag_set(d, rc, "cannot read %s: %s", ik_display_path(path), strerror(-rc));
    free(path);
    free(area);
    return rc;
}

struct each_ctx {
    const struct ik_cache *c;
    const char *ns;
    char *area;
    int (*fn)(const char *, const struct ik_hash *, const struct ik_hash *, void *);
    void *arg;
};

static int each_entry(const struct ik_hash *key, const struct stat *st, void *arg)
{
    (void)st;
    struct each_ctx *x = arg;
    char *path = ik__fanout_path(x->c, x->area, key);
    struct ik_hash value;
    int rc = read_entry(path, &value);
    free(path);
    return rc == 0 ? x->fn(x->ns, key, &value, x->arg) : 0;
}

int ik_kv_foreach(const struct ik_cache *c,
                  int (*fn)(const char *ns, const struct ik_hash *key,
                            const struct ik_hash *value, void *arg),
                  void *arg)
{
    char *top = ik_cache_path(c, "kv");
    DIR *dir = opendir(top);
    free(top);
    if (dir == NULL)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        struct each_ctx x = {c, de->d_name, area_of(de->d_name), fn, arg};
        rc = ik__foreach_fanout(c, x.area, each_entry, &x);
        free(x.area);
    }
    closedir(dir);
    return rc;
}
