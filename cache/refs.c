/* cache/refs.c - refs/<graph>.mp: the last key of each node of a graph (refs.h).
 *
 * The set is kept as an array with a name index; it is read whole and written
 * whole, atomically, so a reader sees either the old set or the new one. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <msgpack.h>

#include "cache/cache_int.h"
#include "base/clock.h"
#include "base/file.h"
#include "cache/refs.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/strmap.h"
#include "base/xmalloc.h"

#define REF_FORMAT 1

struct ik_refset {
    char *graph;
    struct ik_ref *refs; /* graph fields unused: the set's graph is `graph` */
    size_t n, cap;
    struct ik_strmap index; /* node -> position in refs */
    bool dirty;
};

/* A graph name must be one harmless path component. */
static int check_name(const char *what, const char *name, struct ik_diag *d)
{
    if (name == NULL || name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strchr(name, '/') != NULL)
        return ik_diag_set(d, -EINVAL, "invalid %s name '%s' for a ref: expected a non-empty "
                                       "name without '/'", what, name ? name : "");
    return 0;
}

static char *set_path(const struct ik_cache *c, const char *graph)
{
    return ik_xasprintf("%s/refs/%s.mp", c->root, graph);
}

static void free_outputs(struct ik_ref *r)
{
    memset(&r->rec, 0, sizeof r->rec);
    for (size_t i = 0; i < r->n_outputs; i++) {
        free(r->outputs[i].port);
        free(r->outputs[i].kind);
    }
    free(r->outputs);
    r->outputs = NULL;
    r->n_outputs = 0;
}

static void add(struct ik_refset *rs, const char *node, size_t len, const struct ik_hash *key,
                int64_t updated_ms)
{
    rs->refs = ik_xgrow(rs->refs, &rs->cap, rs->n + 1, sizeof *rs->refs);
    struct ik_ref *r = &rs->refs[rs->n];
    memset(r, 0, sizeof *r);
    r->node = ik_xstrndup(node, len);
    r->key = *key;
    r->updated_ms = updated_ms;
    ik_strmap_put(&rs->index, node, len, (int)rs->n++);
}

static bool get_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = o->via.u64;
    return true;
}

/* [ino, size, mtime_ns] of the action record the outputs were copied from. */
static int parse_rec(struct ik_ref *r, const msgpack_object *rec)
{
    uint64_t mt;
    if (rec == NULL)
        return 0; /* unknown: the outputs are not used */
    if (rec->type != MSGPACK_OBJECT_ARRAY || rec->via.array.size != 3 ||
        !get_u64(&rec->via.array.ptr[0], &r->rec.ino) ||
        !get_u64(&rec->via.array.ptr[1], &r->rec.size) || !get_u64(&rec->via.array.ptr[2], &mt))
        return IK_ECORRUPT;
    r->rec.mtime_ns = (int64_t)mt;
    return 0;
}

/* [[port, hash, size, kind]…] into r->outputs; absent is fine (not recorded). */
static int parse_outputs(struct ik_ref *r, const msgpack_object *outs)
{
    if (outs == NULL)
        return 0;
    if (outs->type != MSGPACK_OBJECT_ARRAY)
        return IK_ECORRUPT;
    r->outputs = ik_xcalloc(outs->via.array.size + 1, sizeof *r->outputs);
    for (uint32_t i = 0; i < outs->via.array.size; i++) {
        const msgpack_object *o = &outs->via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4 ||
            o->via.array.ptr[1].type != MSGPACK_OBJECT_BIN ||
            o->via.array.ptr[1].via.bin.size != IK_HASH_BYTES ||
            o->via.array.ptr[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return IK_ECORRUPT;
        struct ik_action_output *out = &r->outputs[r->n_outputs++];
        out->port = ik_mp_strdup(&o->via.array.ptr[0]);
        memcpy(out->hash.b, o->via.array.ptr[1].via.bin.ptr, IK_HASH_BYTES);
        out->size = o->via.array.ptr[2].via.u64;
        out->kind = ik_mp_strdup(&o->via.array.ptr[3]);
        if (out->port == NULL || out->kind == NULL)
            return IK_ECORRUPT;
    }
    return 0;
}

/* Fills rs from a file's bytes; IK_ECORRUPT with d naming path otherwise. */
static int parse(struct ik_refset *rs, const char *path, const char *data, size_t len,
                 struct ik_diag *d)
{
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    size_t off = 0;
    int rc = 0;
    const msgpack_object *refs = NULL;
    if (msgpack_unpack_next(&un, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        refs = ik_mp_get(&un.data, "refs");
    if (refs == NULL || refs->type != MSGPACK_OBJECT_MAP)
        rc = IK_ECORRUPT;
    for (uint32_t i = 0; rc == 0 && i < refs->via.map.size; i++) {
        const msgpack_object_kv *kv = &refs->via.map.ptr[i];
        const msgpack_object *k = ik_mp_get(&kv->val, "key");
        double updated = 0;
        char hex[IK_HASH_HEX_LEN + 1] = "";
        if (k && k->type == MSGPACK_OBJECT_STR && k->via.str.size == IK_HASH_HEX_LEN)
            memcpy(hex, k->via.str.ptr, IK_HASH_HEX_LEN);
        struct ik_hash h;
        if (kv->key.type != MSGPACK_OBJECT_STR || ik_hash_from_hex(hex, &h) != 0 ||
            !ik_mp_number(ik_mp_get(&kv->val, "updated_ms"), &updated))
            rc = IK_ECORRUPT;
        else
            add(rs, kv->key.via.str.ptr, kv->key.via.str.size, &h, (int64_t)updated);
        if (rc == 0)
            rc = parse_outputs(&rs->refs[rs->n - 1], ik_mp_get(&kv->val, "outputs"));
        if (rc == 0)
            rc = parse_rec(&rs->refs[rs->n - 1], ik_mp_get(&kv->val, "rec"));
    }
    msgpack_unpacked_destroy(&un);
    if (rc != 0) {
        ik_diag_set(d, rc, "%s: corrupt refs: expected {v, refs: {node: {key (64 hex digits), "
                           "updated_ms}}}", ik_display_path(path));
        ik_diag_hint(d, "delete the file; the next run of the graph writes it again");
    }
    return rc;
}

int ik_refset_load(const struct ik_cache *c, const char *graph, struct ik_refset **out,
                   struct ik_diag *d)
{
    int rc = check_name("graph", graph, d);
    if (rc != 0)
        return rc;
    struct ik_refset *rs = ik_xcalloc(1, sizeof *rs);
    rs->graph = ik_xstrdup(graph);
    char *path = set_path(c, graph);
    char *data = NULL;
    size_t len = 0;
    struct ik_diag ignore = IK_DIAG_INIT;
    rc = ik_read_file(path, &data, &len, &ignore);
    ik_diag_free(&ignore);
    if (rc == -ENOENT)
        rc = 0; /* no run of this graph yet */
    else if (rc < 0)
        rc = ik_diag_set(d, rc, "cannot read %s: %s", ik_display_path(path), strerror(-rc));
    else
        rc = parse(rs, path, data, len, d);
    free(data);
    free(path);
    if (rc != 0) {
        ik_refset_free(rs);
        return rc;
    }
    *out = rs;
    return 0;
}

const struct ik_hash *ik_refset_get(const struct ik_refset *rs, const char *node)
{
    int i = ik_strmap_get(&rs->index, node, strlen(node));
    return i < 0 ? NULL : &rs->refs[i].key;
}

void ik_refset_set(struct ik_refset *rs, const char *node, const struct ik_hash *key)
{
    int i = ik_strmap_get(&rs->index, node, strlen(node));
    if (i >= 0 && ik_hash_equal(&rs->refs[i].key, key))
        return;
    if (i >= 0) {
        rs->refs[i].key = *key;
        rs->refs[i].updated_ms = ik_clock_wall_ms();
        free_outputs(&rs->refs[i]); /* they belonged to the old key */
    } else {
        add(rs, node, strlen(node), key, ik_clock_wall_ms());
    }
    rs->dirty = true;
}

/* True if r already holds a's outputs, copied from the same record file. */
static bool same_outputs(const struct ik_ref *r, const struct ik_action *a)
{
    if (r->outputs == NULL || r->n_outputs != a->n_outputs ||
        !ik_action_stamp_equal(&r->rec, &a->stamp))
        return false;
    for (size_t k = 0; k < a->n_outputs; k++) {
        const struct ik_action_output *x = &r->outputs[k], *y = &a->outputs[k];
        if (strcmp(x->port, y->port) != 0 || !ik_hash_equal(&x->hash, &y->hash) ||
            x->size != y->size || strcmp(x->kind, y->kind ? y->kind : "") != 0)
            return false;
    }
    return true;
}

void ik_refset_set_outputs(struct ik_refset *rs, const char *node, const struct ik_action *a)
{
    int i = ik_strmap_get(&rs->index, node, strlen(node));
    if (i < 0 || !ik_hash_equal(&rs->refs[i].key, &a->key) || same_outputs(&rs->refs[i], a))
        return;
    /* Outputs recorded for this key before are replaced, not kept: a --force
     * run writes a new record for the same key, and the graph's next run must
     * plan from what that record says. */
    struct ik_ref *r = &rs->refs[i];
    free_outputs(r);
    r->rec = a->stamp;
    r->outputs = ik_xcalloc(a->n_outputs + 1, sizeof *r->outputs);
    for (size_t k = 0; k < a->n_outputs; k++) {
        r->outputs[k].port = ik_xstrdup(a->outputs[k].port);
        r->outputs[k].hash = a->outputs[k].hash;
        r->outputs[k].size = a->outputs[k].size;
        r->outputs[k].kind = ik_xstrdup(a->outputs[k].kind ? a->outputs[k].kind : "");
    }
    r->n_outputs = a->n_outputs;
    rs->dirty = true;
}

struct ik_action *ik_refset_action(const struct ik_refset *rs, const struct ik_cache *c,
                                   const char *node, const struct ik_hash *key)
{
    int i = ik_strmap_get(&rs->index, node, strlen(node));
    if (i < 0 || !ik_hash_equal(&rs->refs[i].key, key) || rs->refs[i].outputs == NULL)
        return NULL;
    const struct ik_ref *r = &rs->refs[i];
    /* One stat: the outputs are only the record's while the record is the
     * file they were copied from (a --force run elsewhere replaces it). */
    struct ik_action_stamp now;
    static const struct ik_action_stamp unknown;
    if (ik_action_stamp_equal(&r->rec, &unknown) || ik_action_stamp_of(c, key, &now) != 0 ||
        !ik_action_stamp_equal(&r->rec, &now))
        return NULL;
    struct ik_action *a = ik_xcalloc(1, sizeof *a);
    a->key = *key;
    a->node = ik_xstrdup(node);
    a->outputs = ik_xcalloc(r->n_outputs + 1, sizeof *a->outputs);
    for (size_t k = 0; k < r->n_outputs; k++) {
        a->outputs[k].port = ik_xstrdup(r->outputs[k].port);
        a->outputs[k].hash = r->outputs[k].hash;
        a->outputs[k].size = r->outputs[k].size;
        a->outputs[k].kind = ik_xstrdup(r->outputs[k].kind);
    }
    a->n_outputs = r->n_outputs;
    a->stamp = r->rec;
    return a;
}

int ik_refset_save(struct ik_cache *c, struct ik_refset *rs, struct ik_diag *d)
{
    if (!rs->dirty)
        return 0;
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    msgpack_packer *pk = &w.pk;
    ik_mp_map_begin(&w, 2);
    ik_mp_pack_str(pk, "v");
    msgpack_pack_int(pk, REF_FORMAT);
    ik_mp_pack_str(pk, "refs");
    ik_mp_map_begin(&w, rs->n);
    for (size_t i = 0; i < rs->n; i++) {
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(&rs->refs[i].key, hex);
        const struct ik_ref *r = &rs->refs[i];
        ik_mp_pack_str(pk, r->node);
        ik_mp_map_begin(&w, r->outputs ? 4 : 2);
        ik_mp_pack_str(pk, "key");
        ik_mp_pack_str(pk, hex);
        ik_mp_pack_str(pk, "updated_ms");
        msgpack_pack_int64(pk, r->updated_ms);
        if (r->outputs != NULL) {
            ik_mp_pack_str(pk, "outputs");
            ik_mp_array_begin(&w, r->n_outputs);
            for (size_t k = 0; k < r->n_outputs; k++) {
                ik_mp_array_begin(&w, 4);
                ik_mp_pack_str(pk, r->outputs[k].port);
                ik_mp_pack_bin(pk, r->outputs[k].hash.b, IK_HASH_BYTES);
                msgpack_pack_uint64(pk, r->outputs[k].size);
                ik_mp_pack_str(pk, r->outputs[k].kind);
                ik_mp_array_end(&w);
            }
            ik_mp_array_end(&w);
            ik_mp_pack_str(pk, "rec");
            ik_mp_array_begin(&w, 3);
            msgpack_pack_uint64(pk, r->rec.ino);
            msgpack_pack_uint64(pk, r->rec.size);
            msgpack_pack_uint64(pk, (uint64_t)r->rec.mtime_ns);
            ik_mp_array_end(&w);
        }
        ik_mp_map_end(&w);
    }
    ik_mp_map_end(&w);
    ik_mp_map_end(&w);
    char *dir = ik_cache_path(c, "refs");
    char *path = set_path(c, rs->graph);
    char *tmp = ik_cache_path(c, "tmp");
    int rc = ik_mkdirs(dir, d);
    if (rc == 0)
        rc = ik_write_atomic(tmp, path, w.sb.data, w.sb.size, 0644, d);
    if (rc == 0)
        rs->dirty = false;
    free(tmp);
    free(path);
    free(dir);
    ik_mp_writer_free(&w);
    return rc;
}

void ik_refset_free(struct ik_refset *rs)
{
    if (rs == NULL)
        return;
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->refs[i].node);
        free_outputs(&rs->refs[i]);
    }
    free(rs->refs);
    ik_strmap_free(&rs->index);
    free(rs->graph);
    free(rs);
}

int ik_ref_set(struct ik_cache *c, const char *graph, const char *node, const struct ik_hash *key,
               struct ik_diag *d)
{
    int rc = check_name("node", node, d);
    struct ik_refset *rs = NULL;
    if (rc == 0)
        rc = ik_refset_load(c, graph, &rs, d);
    if (rc == 0) {
        ik_refset_set(rs, node, key);
        rc = ik_refset_save(c, rs, d);
    }
    ik_refset_free(rs);
    return rc;
}

int ik_ref_get(const struct ik_cache *c, const char *graph, const char *node,
               struct ik_hash *key, struct ik_diag *d)
{
    struct ik_refset *rs = NULL;
    int rc = ik_refset_load(c, graph, &rs, d);
    if (rc != 0)
        return rc;
    const struct ik_hash *h = ik_refset_get(rs, node);
    if (h)
        *key = *h;
    ik_refset_free(rs);
    return h ? 0 : -ENOENT;
}

static int cmp_ref(const void *a, const void *b)
{
    const struct ik_ref *x = a, *y = b;
    int r = strcmp(x->graph, y->graph);
    return r != 0 ? r : strcmp(x->node, y->node);
}

/* Appends the refs of refs/<file> (a graph's set) to the list. */
static int list_one(const struct ik_cache *c, const char *file, struct ik_ref **list, size_t *n,
                    size_t *cap, struct ik_diag *d)
{
    size_t len = strlen(file);
    if (len <= 3 || strcmp(file + len - 3, ".mp") != 0)
        return 0;
    char *graph = ik_xstrndup(file, len - 3);
    struct ik_refset *rs = NULL;
    int rc = ik_refset_load(c, graph, &rs, d);
    for (size_t i = 0; rc == 0 && i < rs->n; i++) {
        *list = ik_xgrow(*list, cap, *n + 1, sizeof **list);
        struct ik_ref *r = &(*list)[(*n)++];
        *r = rs->refs[i];
        r->graph = ik_xstrdup(graph);
        r->node = ik_xstrdup(rs->refs[i].node);
        r->outputs = NULL; /* lists carry names and keys only */
        r->n_outputs = 0;
    }
    ik_refset_free(rs);
    free(graph);
    return rc;
}

int ik_ref_list(const struct ik_cache *c, struct ik_ref **refs, size_t *n, struct ik_diag *d)
{
    struct ik_ref *list = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    char *top = ik_cache_path(c, "refs");
    DIR *dir = opendir(top);
    if (dir == NULL && errno != ENOENT) {
        int e = errno;
        rc = ik_diag_set(d, -e, "cannot list %s: %s", ik_display_path(top), strerror(e));
    }
    struct dirent *e;
    while (rc == 0 && dir != NULL && (e = readdir(dir)) != NULL)
        rc = list_one(c, e->d_name, &list, &count, &cap, d);
    if (dir != NULL)
        closedir(dir);
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
