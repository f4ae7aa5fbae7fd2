/* cache/tree.c - the `tree` artifact (cache/tree.h): a folder packed into one
 * msgpack map, streamed file by file, and written back out.
 *
 * Packing walks the folder first (names, sizes, modes), sorts, then writes
 * the header and each file's bytes behind its entry header, so the artifact
 * is written in one pass without holding any file in memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/file.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "cache/tree.h"

struct tree_item {
    char *rel;
    uint64_t size;
    bool exec;
};

struct tree_walk {
    const char *top;
    struct tree_item *items;
    size_t n, cap;
};

/* A regular file of the folder (ik_walk_files): into the list. */
static int add_file(void *arg, const char *rel, const char *abs, const struct stat *st,
                    struct ik_diag *d)
{
    struct tree_walk *w = arg;
    if ((uint64_t)st->st_size > UINT32_MAX)
        return ik_diag_set(d, IK_EVALIDATE, "%s: %lld bytes; a file in a folder output "
                           "holds at most 4 GiB", ik_display_path(abs), (long long)st->st_size);
    w->items = ik_xgrow(w->items, &w->cap, w->n + 1, sizeof *w->items);
    w->items[w->n++] = (struct tree_item){ik_xstrdup(rel), (uint64_t)st->st_size,
                                          (st->st_mode & 0111) != 0};
    return 0;
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const struct tree_item *)a)->rel, ((const struct tree_item *)b)->rel);
}

/* Writes what the writer holds to fd and empties it. */
static int flush_writer(int fd, struct ik_mp_writer *w, const char *out_path, struct ik_diag *d)
{
    int rc = ik__write_all(fd, w->sb.data, w->sb.size);
    ik_mp_writer_clear(w);
    if (rc != 0)
        return ik_diag_set(d, rc, "cannot write %s: %s", ik_display_path(out_path),
                           strerror(-rc));
    return 0;
}

/* Copies exactly `size` bytes of the file at abs to fd. */
static int copy_contents(int fd, const char *abs, uint64_t size, const char *out_path,
                         struct ik_diag *d)
{
    int in = open(abs, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot read %s: %s", ik_display_path(abs), strerror(e));
    }
    char buf[65536];
    uint64_t copied = 0;
    int rc = 0;
    while (rc == 0) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            rc = ik_diag_set(d, -e, "cannot read %s: %s", ik_display_path(abs), strerror(e));
        } else if (n == 0) {
            break;
        } else if (copied + (uint64_t)n > size) {
            copied += (uint64_t)n;
            break;
        } else {
            copied += (uint64_t)n;
            rc = ik__write_all(fd, buf, (size_t)n);
            if (rc != 0)
                rc = ik_diag_set(d, rc, "cannot write %s: %s", ik_display_path(out_path),
                                 strerror(-rc));
        }
    }
    close(in);
    if (rc == 0 && copied != size)
        rc = ik_diag_set(d, IK_ECORRUPT, "%s changed size while it was stored (%llu bytes, then "
                         "%s%llu)", ik_display_path(abs), (unsigned long long)size,
                         copied > size ? "more than " : "", (unsigned long long)copied);
    return rc;
}

/* The artifact's head: envelope, meta and the files array's header. Packed
 * directly on pk (not through counted begins): the array's items follow in
 * later writes. */
static void pack_head(struct ik_mp_writer *w, const char *name, const struct tree_walk *t,
                      uint64_t bytes)
{
    msgpack_packer *pk = &w->pk;
    msgpack_pack_map(pk, 4);
    ik_mp_pack_str(pk, "kind");
    ik_mp_pack_str(pk, "tree");
    ik_mp_pack_str(pk, "schema");
    msgpack_pack_int(pk, 1);
    ik_mp_pack_str(pk, "meta");
    msgpack_pack_map(pk, 3);
    ik_mp_pack_str(pk, "name");
    ik_mp_pack_str(pk, name);
    ik_mp_pack_str(pk, "files");
    msgpack_pack_uint64(pk, t->n);
    ik_mp_pack_str(pk, "bytes");
    msgpack_pack_uint64(pk, bytes);
    ik_mp_pack_str(pk, "files");
    msgpack_pack_array(pk, t->n);
}

static int write_tree(int fd, const char *name, const struct tree_walk *t, const char *out_path,
                      struct ik_tree_stats *stats, struct ik_diag *d)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < t->n; i++)
        bytes += t->items[i].size;
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    pack_head(&w, name, t, bytes);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        msgpack_pack_map(&w.pk, 3);
        ik_mp_pack_str(&w.pk, "path");
        ik_mp_pack_str(&w.pk, t->items[i].rel);
        ik_mp_pack_str(&w.pk, "exec");
        (t->items[i].exec ? msgpack_pack_true : msgpack_pack_false)(&w.pk);
        ik_mp_pack_str(&w.pk, "data");
        msgpack_pack_bin(&w.pk, (size_t)t->items[i].size);
        rc = flush_writer(fd, &w, out_path, d);
        if (rc == 0) {
            char *abs = ik_xasprintf("%s/%s", t->top, t->items[i].rel);
            rc = copy_contents(fd, abs, t->items[i].size, out_path, d);
            free(abs);
        }
    }
    if (rc == 0)
        rc = flush_writer(fd, &w, out_path, d);
    ik_mp_writer_free(&w);
    if (rc == 0 && stats)
        *stats = (struct ik_tree_stats){t->n, bytes};
    return rc;
}

int ik_tree_pack(const char *dir, const char *name, const char *out_path,
                 struct ik_tree_stats *stats, struct ik_diag *d)
{
    struct tree_walk t = {.top = dir};
    struct stat top;
    if (stat(dir, &top) != 0) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot read folder %s: %s", ik_display_path(dir),
                           strerror(e));
    }
    if (!S_ISDIR(top.st_mode))
        return ik_diag_set(d, -ENOTDIR, "%s is not a folder", ik_display_path(dir));
    int rc = ik_walk_files(dir, &top, "store", IK_EVALIDATE, add_file, &t, d);
    if (rc == 0) {
        qsort(t.items, t.n, sizeof *t.items, cmp_item);
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            int e = errno;
            rc = ik_diag_set(d, -e, "cannot create %s: %s", ik_display_path(out_path),
                             strerror(e));
        } else {
            rc = write_tree(fd, name, &t, out_path, stats, d);
            if (close(fd) != 0 && rc == 0) {
                int e = errno;
                rc = ik_diag_set(d, -e, "cannot write %s: %s", ik_display_path(out_path),
                                 strerror(e));
            }
        }
    }
    for (size_t i = 0; i < t.n; i++)
        free(t.items[i].rel);
    free(t.items);
    return rc;
}

/* --- Reading ------------------------------------------------------------------ */

/* A relative path whose components are all real names. */
static bool safe_path(const char *p, size_t n)
{
    if (n == 0 || p[0] == '/' || memchr(p, '\0', n) != NULL)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || (len == 1 && p[start] == '.') ||
            (len == 2 && p[start] == '.' && p[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

static int bad_entry(struct ik_diag *d, const char *what, uint32_t i, const char *why)
{
    return ik_diag_set(d, IK_ECORRUPT, "%s: tree entry %u: %s", what, (unsigned)i, why);
}

int ik_tree_check(const msgpack_object *root, const char *what, struct ik_diag *d)
{
    const msgpack_object *files = ik_mp_get(root, "files");
    if (files == NULL || files->type != MSGPACK_OBJECT_ARRAY)
        return ik_diag_set(d, IK_ECORRUPT, "%s: tree artifact without a files list", what);
    const msgpack_object *prev = NULL;
    for (uint32_t i = 0; i < files->via.array.size; i++) {
        const msgpack_object *e = &files->via.array.ptr[i];
        const msgpack_object *path = ik_mp_get(e, "path");
        const msgpack_object *data = ik_mp_get(e, "data");
        const msgpack_object *exec = ik_mp_get(e, "exec");
        if (path == NULL || path->type != MSGPACK_OBJECT_STR ||
            !safe_path(path->via.str.ptr, path->via.str.size))
            return bad_entry(d, what, i, "expected a relative path without '.', '..' or "
                                         "empty parts");
        if (data == NULL || data->type != MSGPACK_OBJECT_BIN)
            return bad_entry(d, what, i, "expected 'data' bytes");
        if (exec == NULL || exec->type != MSGPACK_OBJECT_BOOLEAN)
            return bad_entry(d, what, i, "expected an 'exec' bool");
        if (prev != NULL) {
            size_t n = prev->via.str.size < path->via.str.size ? prev->via.str.size
                                                                : path->via.str.size;
            int c = memcmp(prev->via.str.ptr, path->via.str.ptr, n);
            if (c > 0 || (c == 0 && prev->via.str.size >= path->via.str.size))
                return bad_entry(d, what, i, "paths out of order or repeated");
        }
        prev = path;
    }
    return 0;
}

static int write_entry(const msgpack_object *e, const char *dest, struct ik_diag *d)
{
    char *rel = ik_mp_strdup(ik_mp_get(e, "path"));
    const msgpack_object *data = ik_mp_get(e, "data");
    bool exec = ik_mp_get(e, "exec")->via.boolean;
    char *path = ik_xasprintf("%s/%s", dest, rel);
    char *parent = ik_xstrdup(path);
    *strrchr(parent, '/') = '\0';
    int rc = ik_mkdirs(parent, d);
    if (rc == 0)
        rc = ik_write_atomic(parent, path, data->via.bin.ptr, data->via.bin.size,
                             exec ? 0755 : 0644, d);
    free(parent);
    free(path);
    free(rel);
    return rc;
}

int ik_tree_write(const msgpack_object *root, const char *dest, const char *what,
                  struct ik_diag *d)
{
    int rc = ik_tree_check(root, what, d);
    if (rc == 0)
        rc = ik_mkdirs(dest, d);
    const msgpack_object *files = ik_mp_get(root, "files");
    for (uint32_t i = 0; rc == 0 && i < files->via.array.size; i++)
        rc = write_entry(&files->via.array.ptr[i], dest, d);
    return rc;
}
