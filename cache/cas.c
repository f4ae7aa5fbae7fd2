/* cache/cas.c - the content-addressed object store (objects/ab/cdef…).
 *
 * Objects are immutable: written once through a temporary file (base/file.c),
 * chmod 0444, never modified. A put of bytes already stored is a no-op, which
 * is what makes early cutoff and concurrent runs cheap and safe. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "cache/cas.h"
#include "base/file.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/xmalloc.h"


static const unsigned char empty_byte[1];

char *ik_cas_object_path(const struct ik_cache *c, const struct ik_hash *h)
{
    return ik__fanout_path(c, "objects", h);
}

int ik_cas_stat(const struct ik_cache *c, const struct ik_hash *h, uint64_t *size)
{
    char *path = ik_cas_object_path(c, h);
    struct stat st;
    int rc = stat(path, &st) == 0 ? 0 : -errno;
    free(path);
    if (rc == 0 && size)
        *size = (uint64_t)st.st_size;
    return rc;
}

/* True if the object is present with the expected size: a put can be skipped. */
static bool already_stored(const char *path, uint64_t size)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

int ik_cas_put(struct ik_cache *c, const void *data, size_t len, struct ik_hash *out,
               struct ik_diag *d)
{
    struct ik_hash h;
    ik_hash_bytes(data, len, &h);
    char *path = ik_cas_object_path(c, &h);
    int rc = 0;
    if (already_stored(path, len))
        goto out;
    rc = ik__fanout_mkdir(c, "objects", &h, d);
    if (rc != 0)
        goto out;
    char *tmp = ik_cache_path(c, "tmp");
    rc = ik_write_atomic(tmp, path, data, len, 0444, d);
    free(tmp);
out:
    free(path);
    if (rc == 0)
        *out = h;
    return rc;
}

/* Where ik_cas_put_file copies the blocks it hashes. */
struct copy_sink {
    int fd;
    const char *tmp;
    const char *src;
};

static int copy_block(const void *block, size_t len, void *arg, struct ik_diag *d)
{
    const struct copy_sink *cs = arg;
    int rc = ik__write_all(cs->fd, block, len);
    if (rc != 0)
        rc = ik_diag_set(d, rc, "cannot write %s (copying %s): %s", ik_display_path(cs->tmp),
                         ik_display_path(cs->src), strerror(-rc));
    return rc;
}

int ik_cas_put_file(struct ik_cache *c, const char *path, struct ik_hash *out, uint64_t *size,
                    struct ik_diag *d)
{
    return ik_cas_put_file_prefixed(c, NULL, 0, path, out, size, d);
}

int ik_cas_put_file_prefixed(struct ik_cache *c, const void *prefix, size_t plen, const char *path,
                             struct ik_hash *out, uint64_t *size, struct ik_diag *d)
{
    char *tmp_dir = ik_cache_path(c, "tmp");
    char *tmp = NULL, *final = NULL;
    int fd = ik_tmp_create(tmp_dir, tmp_dir, &tmp, d);
    int rc = fd < 0 ? fd : 0;
    if (rc != 0)
        goto out;
    /* One pass: hash while copying, so a large file is read exactly once. */
    struct copy_sink cs = {fd, tmp, path};
    struct ik_hash h;
    uint64_t total = 0;
    rc = ik_hash_file_prefixed(path, prefix, plen, copy_block, &cs, &h, &total, d);
    if (rc != 0) {
        ik_tmp_abort(fd, tmp);
        goto out;
    }
    final = ik_cas_object_path(c, &h);
    if (already_stored(final, total)) {
        ik_tmp_abort(fd, tmp);
    } else {
        rc = ik__fanout_mkdir(c, "objects", &h, d);
        if (rc != 0) {
            ik_tmp_abort(fd, tmp);
            goto out;
        }
        rc = ik_tmp_commit(fd, tmp, final, 0444, d);
        if (rc != 0)
            goto out;
    }
    *out = h;
    if (size)
        *size = total;
out:
    free(final);
    free(tmp);
    free(tmp_dir);
    return rc;
}

static int wrong_size(const char *path, uint64_t size, uint64_t expected, struct ik_diag *d)
{
    ik_diag_set(d, IK_ECORRUPT, "%s: size %llu bytes, expected %llu", ik_display_path(path),
                (unsigned long long)size, (unsigned long long)expected);
    ik_diag_hint(d, "the object was truncated or damaged; `ikada cache verify` quarantines "
                    "it and the node that made it re-runs");
    return IK_ECORRUPT;
}

/* Maps the object at path; *st gets what fstat saw (the inode, for quarantine). */
static int map_path(const char *path, const struct ik_hash *h, uint64_t expected_size,
                    struct stat *st, struct ik_blob *out, struct ik_diag *d)
{
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(h, hex);
        return e == ENOENT ? ik_diag_set(d, -e, "object %s is not in the cache", hex)
                           : ik_diag_set(d, -e, "cannot open %s: %s", ik_display_path(path),
                                         strerror(e));
    }
    if (fstat(fd, st) != 0) {
        int e = errno;
        rc = ik_diag_set(d, -e, "cannot stat %s: %s", ik_display_path(path), strerror(e));
        goto out;
    }
    uint64_t size = (uint64_t)st->st_size;
    if (expected_size != UINT64_MAX && size != expected_size) {
        rc = wrong_size(path, size, expected_size, d);
        goto out;
    }
    if (size == 0) {
        out->data = empty_byte;
        out->len = 0;
        out->map_ = NULL;
        goto out;
    }
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        rc = ik_diag_set(d, -e, "cannot map %s: %s", ik_display_path(path), strerror(e));
        goto out;
    }
    out->data = m;
    out->len = (size_t)size;
    out->map_ = m;
out:
    close(fd);
    return rc;
}

int ik_cas_map(const struct ik_cache *c, const struct ik_hash *h, uint64_t expected_size,
               struct ik_blob *out, struct ik_diag *d)
{
    char *path = ik_cas_object_path(c, h);
    struct stat st;
    int rc = map_path(path, h, expected_size, &st, out, d);
    free(path);
    return rc;
}

/* Moves the corrupt object at path (whose bytes hash to got) to quarantine/
 * and sets d to say so; returns IK_ECORRUPT. With seen non-NULL, only the
 * file that was read is moved: if the name now holds another file (another
 * reader quarantined ours and a run re-created the object), it is left. */
static int quarantine(const struct ik_cache *c, const struct ik_hash *h, const struct ik_hash *got,
                      const char *path, const struct stat *seen, struct ik_diag *d)
{
    char hex[IK_HASH_HEX_LEN + 1], got_hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(h, hex);
    ik_hash_to_hex(got, got_hex);
    int rc = IK_ECORRUPT;
    struct stat now;
    if (seen != NULL && (stat(path, &now) != 0 || now.st_dev != seen->st_dev ||
                         now.st_ino != seen->st_ino)) {
        ik_diag_set(d, rc, "object %s is corrupt: its bytes hash to %s; already moved to "
                           "quarantine/", hex, got_hex);
        return rc;
    }
    char *qdir = ik_cache_path(c, "quarantine");
    struct ik_diag md = IK_DIAG_INIT;
    int mrc = ik_mkdirs(qdir, &md);
    ik_diag_free(&md);
    /* Never overwrite an earlier quarantined copy: each may help a post-mortem. */
    char *dest = NULL;
    for (int i = 0; mrc == 0 && i < 1000; i++) {
        free(dest);
        dest = i == 0 ? ik_xasprintf("%s/%s", qdir, hex)
                      : ik_xasprintf("%s/%s.%d", qdir, hex, i);
        if (access(dest, F_OK) != 0)
            break;
    }
    if (mrc == 0 && dest != NULL && rename(path, dest) == 0) {
        ik_fsync_dir(qdir);
        ik_diag_set(d, rc, "object %s is corrupt: its bytes hash to %s; moved to %s", hex,
                    got_hex, ik_display_path(dest));
    } else {
        int e = mrc != 0 ? -mrc : errno;
        ik_diag_set(d, rc, "object %s is corrupt: its bytes hash to %s; cannot quarantine it: %s",
                    hex, got_hex, strerror(e));
    }
    free(dest);
    free(qdir);
    return rc;
}

int ik_cas_map_verified(const struct ik_cache *c, const struct ik_hash *h,
                        uint64_t expected_size, struct ik_blob *out, struct ik_diag *d)
{
    char *path = ik_cas_object_path(c, h);
    struct stat st;
    /* Size last: a wrong size with the right bytes is the record's fault, not
     * the object's, and must not quarantine a good object. */
    int rc = map_path(path, h, UINT64_MAX, &st, out, d);
    if (rc == 0) {
        struct ik_hash got;
        ik_hash_bytes(out->data, out->len, &got);
        if (!ik_hash_equal(&got, h)) {
            ik_blob_release(out);
            rc = quarantine(c, h, &got, path, &st, d);
        } else if (expected_size != UINT64_MAX && out->len != expected_size) {
            rc = wrong_size(path, out->len, expected_size, d);
            ik_blob_release(out);
        }
    }
    free(path);
    return rc;
}

void ik_blob_release(struct ik_blob *b)
{
    if (b == NULL)
        return;
    if (b->map_ != NULL)
        munmap(b->map_, b->len);
    b->data = NULL;
    b->len = 0;
    b->map_ = NULL;
}

int ik_cas_verify(struct ik_cache *c, const struct ik_hash *h, bool quarantine_it,
                  struct ik_diag *d)
{
    char *path = ik_cas_object_path(c, h);
    struct ik_hash got;
    int rc = ik_hash_file(path, &got, NULL, d);
    if (rc != 0 || ik_hash_equal(&got, h))
        goto out;
    if (quarantine_it) {
        rc = quarantine(c, h, &got, path, NULL, d);
    } else {
        char hex[IK_HASH_HEX_LEN + 1], got_hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(h, hex);
        ik_hash_to_hex(&got, got_hex);
        rc = ik_diag_set(d, IK_ECORRUPT, "object %s is corrupt: its bytes hash to %s", hex,
                         got_hex);
    }
out:
    free(path);
    return rc;
}

int ik__foreach_fanout(const struct ik_cache *c, const char *area,
                          int (*fn)(const struct ik_hash *h, const struct stat *st, void *arg),
                          void *arg)
{
    char *top = ik_cache_path(c, area);
    DIR *dir = opendir(top);
    int rc = 0;
    if (dir == NULL) {
        rc = errno == ENOENT ? 0 : -errno;
        free(top);
        return rc;
    }
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (!ik_hash_is_hex(de->d_name, 2))
            continue;
        int sfd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
            continue;
        DIR *sub = fdopendir(sfd);
        if (sub == NULL) {
            close(sfd);
            continue;
        }
        struct dirent *fe;
        while (rc == 0 && (fe = readdir(sub)) != NULL) {
            if (!ik_hash_is_hex(fe->d_name, IK_HASH_HEX_LEN - 2))
                continue;
            char hex[IK_HASH_HEX_LEN + 1];
            memcpy(hex, de->d_name, 2);
            memcpy(hex + 2, fe->d_name, IK_HASH_HEX_LEN - 2 + 1);
            struct ik_hash h;
            struct stat st;
            if (ik_hash_from_hex(hex, &h) != 0 || fstatat(sfd, fe->d_name, &st, 0) != 0 ||
                !S_ISREG(st.st_mode))
                continue;
            rc = fn(&h, &st, arg);
        }
        closedir(sub);
    }
    closedir(dir);
    free(top);
    return rc;
}

struct foreach_obj_ctx {
    int (*fn)(const struct ik_hash *h, uint64_t size, int64_t mtime_s, void *arg);
    void *arg;
};

static int foreach_obj_cb(const struct ik_hash *h, const struct stat *st, void *arg)
{
    struct foreach_obj_ctx *x = arg;
    return x->fn(h, (uint64_t)st->st_size, (int64_t)st->st_mtim.tv_sec, x->arg);
}

int ik_cas_foreach(const struct ik_cache *c,
                   int (*fn)(const struct ik_hash *h, uint64_t size, int64_t mtime_s, void *arg),
                   void *arg)
{
    struct foreach_obj_ctx x = {fn, arg};
    return ik__foreach_fanout(c, "objects", foreach_obj_cb, &x);
}

int ik_cas_remove(struct ik_cache *c, const struct ik_hash *h)
{
    char *path = ik_cas_object_path(c, h);
    int rc = unlink(path) == 0 ? 0 : -errno;
    free(path);
    return rc;
}

#define MAX_LISTED 5

struct prefix_ctx {
    const char *prefix; /* lowercase */
    size_t plen;
    struct ik_hash *found;
    size_t n, cap;
};

static void prefix_scan(const struct ik_cache *c, const char *area, struct prefix_ctx *x)
{
    char *dir_path = ik_xasprintf("%s/%s/%.2s", c->root, area, x->prefix);
    DIR *dir = opendir(dir_path);
    free(dir_path);
    if (dir == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (!ik_hash_is_hex(de->d_name, IK_HASH_HEX_LEN - 2) ||
            strncmp(de->d_name, x->prefix + 2, x->plen - 2) != 0)
            continue;
        char hex[IK_HASH_HEX_LEN + 1];
        memcpy(hex, x->prefix, 2);
        memcpy(hex + 2, de->d_name, IK_HASH_HEX_LEN - 2 + 1);
        struct ik_hash h;
        if (ik_hash_from_hex(hex, &h) != 0)
            continue;
        /* A node key names both its action record and its spec object: one match. */
        bool dup = false;
        for (size_t i = 0; i < x->n && !dup; i++)
            dup = ik_hash_equal(&x->found[i], &h);
        if (dup)
            continue;
        x->found = ik_xgrow(x->found, &x->cap, x->n + 1, sizeof *x->found);
        x->found[x->n++] = h;
    }
    closedir(dir);
}

static int cmp_hash(const void *a, const void *b) { return memcmp(a, b, IK_HASH_BYTES); }

int ik_cas_resolve_prefix(const struct ik_cache *c, const char *prefix, struct ik_hash *out,
                          struct ik_diag *d)
{
    size_t plen = strlen(prefix);
    if (plen < 4 || plen > IK_HASH_HEX_LEN || !ik_hash_is_hex(prefix, plen))
        return ik_diag_set(d, IK_EUSAGE,
                           "'%s' is not a hash prefix: expected 4 to 64 hex digits", prefix);
    char lower[IK_HASH_HEX_LEN + 1];
    for (size_t i = 0; i <= plen; i++)
        lower[i] = (char)(prefix[i] >= 'A' && prefix[i] <= 'F' ? prefix[i] + 32 : prefix[i]);
    struct prefix_ctx x = {lower, plen, NULL, 0, 0};
    prefix_scan(c, "objects", &x);
    prefix_scan(c, "actions", &x);
    int rc = 0;
    if (x.n == 0) {
        rc = ik_diag_set(d, IK_ENOTFOUND, "no object or action key starts with '%s'", prefix);
    } else if (x.n == 1) {
        *out = x.found[0];
    } else {
        qsort(x.found, x.n, sizeof *x.found, cmp_hash);
        struct ik_buf b = IK_BUF_INIT;
        for (size_t i = 0; i < x.n && i < MAX_LISTED; i++) {
            char hex[IK_HASH_HEX_LEN + 1];
            ik_hash_to_hex(&x.found[i], hex);
            ik_buf_printf(&b, "\n    %s", hex);
        }
        if (x.n > MAX_LISTED)
            ik_buf_printf(&b, "\n    … and %zu more", x.n - MAX_LISTED);
        rc = ik_diag_set(d, IK_EAMBIGUOUS, "prefix '%s' is ambiguous: %zu matches:%s", prefix,
                         x.n, b.data);
        ik_diag_hint(d, "give more hex digits");
        ik_buf_free(&b);
    }
    free(x.found);
    return rc;
}
