/* cache/cache.c - finding, creating and opening the .ikada folder.
 *
 * Discovery works like git's: $IKADA_CACHE, else the nearest `.ikada` in the
 * working directory or a parent, else (when creating) ./.ikada. A VERSION newer
 * than ours is refused and never wiped: the cache may hold paid API answers. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/cache_int.h"
#include "base/file.h"
#include "base/error.h"
#include "base/xmalloc.h"

#define CACHE_FORMAT 1

static const char *const subdirs[] = {"objects", "actions", "refs",      "runs",
                                      "locks",   "tmp",     "quarantine"};

char *ik_cache_path(const struct ik_cache *c, const char *rel)
{
    return ik_xasprintf("%s/%s", c->root, rel);
}

char *ik__fanout_path(const struct ik_cache *c, const char *area, const struct ik_hash *h)
{
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(h, hex);
    return ik_xasprintf("%s/%s/%.2s/%s", c->root, area, hex, hex + 2);
}

int ik__fanout_mkdir(const struct ik_cache *c, const char *area, const struct ik_hash *h,
                     struct ik_diag *d)
{
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(h, hex);
    char *dir = ik_xasprintf("%s/%s/%.2s", c->root, area, hex);
    int rc = 0;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        rc = ik_mkdirs(dir, d); /* the area itself may be missing: recreate it */
    free(dir);
    return rc;
}

/* Reads VERSION: 0 when it is ours, IK_EVERSION / IK_ECORRUPT otherwise,
 * -ENOENT when absent. */
static int check_version(const char *root, struct ik_diag *d)
{
    char *path = ik_xasprintf("%s/VERSION", root);
    char *text = NULL;
    size_t len = 0;
    struct ik_diag tmp = IK_DIAG_INIT;
    int rc = ik_read_file(path, &text, &len, &tmp);
    if (rc == -ENOENT) {
        ik_diag_free(&tmp);
        free(path);
        return -ENOENT;
    }
    if (rc != 0) {
        rc = ik_diag_set(d, rc, "%s", tmp.text + strlen("error: "));
        goto out;
    }
    unsigned long version = 0;
    int used = 0;
    if (sscanf(text, "ikada-cache %lu%n", &version, &used) != 1 || version == 0 ||
        (text[used] != '\n' && text[used] != '\0')) {
        rc = ik_diag_row(d, IK_ECORRUPT, ik_display_path(path), 1,
                         "expected 'ikada-cache <format number>'");
        ik_diag_hint(d, "this folder is not an ikada cache, or its VERSION file was damaged");
        goto out;
    }
    if (version > CACHE_FORMAT) {
        rc = ik_diag_set(d, IK_EVERSION,
                         "the cache %s was written by a newer ikada (cache format %lu; this "
                         "ikada reads format %d)",
                         ik_display_path(root), version, CACHE_FORMAT);
        ik_diag_hint(d, "upgrade ikada, or set IKADA_CACHE to another folder; the cache was "
                        "left untouched");
        goto out;
    }
out:
    ik_diag_free(&tmp);
    free(text);
    free(path);
    return rc;
}

int ik_cache_open_at(const char *root, bool create, struct ik_cache **out, struct ik_diag *d)
{
    struct stat st;
    if (stat(root, &st) != 0) {
        int e = errno;
        if (e != ENOENT)
            return ik_diag_set(d, -e, "cannot open cache %s: %s", root, strerror(e));
        if (!create)
            return ik_diag_set(d, IK_ENOTFOUND, "no cache at %s", root);
        int rc = ik_mkdirs(root, d);
        if (rc != 0)
            return rc;
    } else if (!S_ISDIR(st.st_mode)) {
        return ik_diag_set(d, -ENOTDIR, "cannot open cache %s: %s", root, strerror(ENOTDIR));
    }
    char abs[PATH_MAX];
    if (realpath(root, abs) == NULL) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot open cache %s: %s", root, strerror(e));
    }
    int rc = check_version(abs, d);
    if (rc != 0 && rc != -ENOENT)
        return rc;
    bool have_version = rc == 0;
    if (create) {
        /* Subfolders first, VERSION last: a VERSION file means the layout is complete. */
        for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
            char *sub = ik_xasprintf("%s/%s", abs, subdirs[i]);
            rc = ik_mkdirs(sub, d);
            free(sub);
            if (rc != 0)
                return rc;
        }
        if (!have_version) {
            char *path = ik_xasprintf("%s/VERSION", abs);
            char *tmp = ik_xasprintf("%s/tmp", abs);
            static const char text[] = "ikada-cache 1\n";
            rc = ik_write_atomic(tmp, path, text, sizeof text - 1, 0644, d);
            free(tmp);
            free(path);
            if (rc != 0)
                return rc;
        }
    }
    struct ik_cache *c = ik_xcalloc(1, sizeof *c);
    c->root = ik_xstrdup(abs);
    *out = c;
    return 0;
}

int ik_cache_open(bool create, struct ik_cache **out, struct ik_diag *d)
{
    const char *env = getenv("IKADA_CACHE");
    if (env != NULL && *env != '\0')
        return ik_cache_open_at(env, create, out, d);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL) {
        int e = errno;
        return ik_diag_set(d, -e, "cannot find the working directory: %s", strerror(e));
    }
    /* Walk up from the working directory; the first .ikada folder wins. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", cwd);
    for (;;) {
        char *cand = ik_xasprintf("%s/.ikada", strcmp(dir, "/") == 0 ? "" : dir);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode)) {
            int rc = ik_cache_open_at(cand, create, out, d);
            free(cand);
            return rc;
        }
        free(cand);
        char *slash = strrchr(dir, '/');
        if (slash == NULL || strcmp(dir, "/") == 0)
            break;
        if (slash == dir)
            dir[1] = '\0';
        else
            *slash = '\0';
    }
    if (!create) {
        ik_diag_set(d, IK_ENOTFOUND, "no .ikada cache in %s or any parent folder", cwd);
        ik_diag_hint(d, "run `ikada run GRAPH` to create one, or set IKADA_CACHE");
        return IK_ENOTFOUND;
    }
    char *root = ik_xasprintf("%s/.ikada", strcmp(cwd, "/") == 0 ? "" : cwd);
    int rc = ik_cache_open_at(root, true, out, d);
    free(root);
    return rc;
}

void ik_cache_close(struct ik_cache *c)
{
    if (c == NULL)
        return;
    free(c->root);
    free(c);
}
