/* cache/refs.c - refs/<graph>/<node>: the last key of each node of each graph.
 *
 * One small msgpack file per ref, replaced atomically, so a reader sees either
 * the old key or the new one. Names become path components and are checked. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <msgpack.h>

#include "cache/cache_int.h"
#include "cache/fsutil.h"
#include "cache/refs.h"
#include "engine/error.h"
#include "engine/mp.h"
#include "engine/xmalloc.h"

#define REF_FORMAT 1
#define REF_MAX_BYTES 4096

/* A graph or node name must be one harmless path component. */
static int check_name(const char *what, const char *name, struct ik_diag *d)
{
    if (name == NULL || name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strchr(name, '/') != NULL)
        return ik_diag_set(d, -EINVAL, "invalid %s name '%s' for a ref: expected a non-empty "
                                       "name without '/'", what, name ? name : "");
    return 0;
}

int ik_ref_set(struct ik_cache *c, const char *graph, const char *node, const struct ik_hash *key,
               struct ik_diag *d)
{
    int rc = check_name("graph", graph, d);
    if (rc == 0)
        rc = check_name("node", node, d);
    if (rc != 0)
        return rc;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(key, hex);
    msgpack_pack_map(&pk, 3);
    ik_mp_pack_str(&pk, "v");
    msgpack_pack_int(&pk, REF_FORMAT);
    ik_mp_pack_str(&pk, "key");
    ik_mp_pack_str(&pk, hex);
    ik_mp_pack_str(&pk, "updated_ms");
    msgpack_pack_int64(&pk, ik__now_ms());

    char *dir = ik_xasprintf("%s/refs/%s", c->root, graph);
    char *path = ik_xasprintf("%s/%s", dir, node);
    char *tmp = ik_cache_path(c, "tmp");
    rc = ik_mkdirs(dir, d);
    if (rc == 0)
        rc = ik_write_atomic(tmp, path, sb.data, sb.size, 0644, d);
    free(tmp);
    free(path);
    free(dir);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Reads one ref file: 0, -ENOENT, or another failure with d filled. */
static int read_ref(const char *path, struct ik_hash *key, int64_t *updated_ms, struct ik_diag *d)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return e == ENOENT ? -ENOENT
                           : ik_diag_set(d, -e, "cannot read %s: %s", ik__display_path(path),
                                         strerror(e));
    }
    if (st.st_size > REF_MAX_BYTES)
        return ik_diag_set(d, IK_ECORRUPT, "%s: corrupt ref: %lld bytes is too large",
                           ik__display_path(path), (long long)st.st_size);
    char *data = NULL;
    size_t len = 0;
    int rc = ik_read_file(path, &data, &len, d);
    if (rc != 0)
        return rc;
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    size_t off = 0;
    const msgpack_object *k = NULL, *u = NULL;
    if (msgpack_unpack_next(&un, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len) {
        k = ik_mp_get(&un.data, "key");
        u = ik_mp_get(&un.data, "updated_ms");
    }
    char hex[IK_HASH_HEX_LEN + 1] = "";
    if (k != NULL && k->type == MSGPACK_OBJECT_STR && k->via.str.size == IK_HASH_HEX_LEN) {
        memcpy(hex, k->via.str.ptr, IK_HASH_HEX_LEN);
        hex[IK_HASH_HEX_LEN] = '\0';
    }
    if (ik_hash_from_hex(hex, key) != 0 || u == NULL ||
        (u->type != MSGPACK_OBJECT_POSITIVE_INTEGER && u->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)) {
        rc = ik_diag_set(d, IK_ECORRUPT, "%s: corrupt ref: expected a map with 'key' (64 hex "
                                         "digits) and 'updated_ms'", ik__display_path(path));
        ik_diag_hint(d, "delete the file; the next run of the graph writes it again");
    } else if (updated_ms) {
        *updated_ms = u->via.i64;
    }
    msgpack_unpacked_destroy(&un);
    free(data);
    return rc;
}

int ik_ref_get(const struct ik_cache *c, const char *graph, const char *node,
               struct ik_hash *key, struct ik_diag *d)
{
    int rc = check_name("graph", graph, d);
    if (rc == 0)
        rc = check_name("node", node, d);
    if (rc != 0)
        return rc;
    char *path = ik_xasprintf("%s/refs/%s/%s", c->root, graph, node);
    struct ik_hash h;
    rc = read_ref(path, &h, NULL, d);
    free(path);
    if (rc == 0)
        *key = h;
    return rc;
}

static int cmp_ref(const void *a, const void *b)
{
    const struct ik_ref *x = a, *y = b;
    int r = strcmp(x->graph, y->graph);
    return r != 0 ? r : strcmp(x->node, y->node);
}

int ik_ref_list(const struct ik_cache *c, struct ik_ref **refs, size_t *n, struct ik_diag *d)
{
    struct ik_ref *list = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    char *top = ik_cache_path(c, "refs");
    DIR *gdir = opendir(top);
    if (gdir == NULL && errno != ENOENT) {
        int e = errno;
        rc = ik_diag_set(d, -e, "cannot list %s: %s", ik__display_path(top), strerror(e));
    }
    struct dirent *ge;
    while (rc == 0 && gdir != NULL && (ge = readdir(gdir)) != NULL) {
        if (strcmp(ge->d_name, ".") == 0 || strcmp(ge->d_name, "..") == 0)
            continue;
        char *gpath = ik_xasprintf("%s/%s", top, ge->d_name);
        DIR *ndir = opendir(gpath);
        struct dirent *ne;
        while (rc == 0 && ndir != NULL && (ne = readdir(ndir)) != NULL) {
            if (strcmp(ne->d_name, ".") == 0 || strcmp(ne->d_name, "..") == 0)
                continue;
            char *path = ik_xasprintf("%s/%s", gpath, ne->d_name);
            struct ik_ref r = {0};
            rc = read_ref(path, &r.key, &r.updated_ms, d);
            free(path);
            if (rc == -ENOENT) { /* replaced or removed while listing */
                rc = 0;
                continue;
            }
            if (rc != 0)
                break;
            r.graph = ik_xstrdup(ge->d_name);
            r.node = ik_xstrdup(ne->d_name);
            list = ik_xgrow(list, &cap, count + 1, sizeof *list);
            list[count++] = r;
        }
        if (ndir != NULL)
            closedir(ndir);
        free(gpath);
    }
    if (gdir != NULL)
        closedir(gdir);
    free(top);
    if (rc != 0) {
        ik_refs_free(list, count);
        return rc;
    }
    if (count > 1)
        qsort(list, count, sizeof *list, cmp_ref);
    *refs = list;
    *n = count;
    return 0;
}

void ik_refs_free(struct ik_ref *refs, size_t n)
{
    if (refs == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(refs[i].graph);
        free(refs[i].node);
    }
    free(refs);
}
