/* cache/refs.c - refs/<graph>.mp: the last key of each node of a graph (refs.h).
 *
 * The set is kept as an array with a name index; it is read whole and written
 * whole, atomically, so a reader sees either the old set or the new one. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "cache/cache_int.h"
#include "base/clock.h"
#include "base/file.h"
#include "cache/refs.h"
#include "cache/seal.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/strmap.h"
#include "base/xmalloc.h"

#define REF_FORMAT 2    /* named by graph path: {v, graph, refs} */
#define LEGACY_FORMAT 1 /* named by the graph file's stem: {v, refs} */
#define ID_HEX 16       /* hex digits of SHA-256(identity) in a file name */
#define STEM_MAX 40

struct ik_refset {
    char *graph;
    struct ik_ref *refs; /* graph fields unused: the set's graph is `graph` */
    size_t n, cap;
    struct ik_strmap index; /* node -> position in refs */
    bool dirty;
};

/* A node name must be one harmless, non-empty string. */
static int check_name(const char *what, const char *name, struct ik_diag *d)
{
    if (name == NULL || name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strchr(name, '/') != NULL)
        return ik_diag_set(d, -EINVAL, "invalid %s name '%s' for a ref: expected a non-empty "
                                       "name without '/'", what, name ? name : "");
    return 0;
}

/* A graph identity is a normalised path: relative (no leading '/') or
 * absolute, without empty, "." or ".." components. */
static int check_graph(const char *id, struct ik_diag *d)
{
    bool ok = id != NULL && id[0] != '\0' && strcmp(id, "/") != 0;
    for (const char *p = ok ? (id[0] == '/' ? id + 1 : id) : ""; ok && *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        ok = n > 0 && !(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.');
        p += n + (slash != NULL);
        if (slash != NULL && *p == '\0')
            ok = false; /* a trailing '/' */
    }
    if (!ok)
        return ik_diag_set(d, -EINVAL, "invalid graph name '%s' for a ref: expected a path "
                                       "without empty, '.' or '..' parts", id ? id : "");
    return 0;
}

/* The file name's length without a .yaml / .yml extension. */
static size_t strip_ext(const char *s, size_t n)
{
    if (n > 5 && strncmp(s + n - 5, ".yaml", 5) == 0)
        return n - 5;
    if (n > 4 && strncmp(s + n - 4, ".yml", 4) == 0)
        return n - 4;
    return n;
}

/* refs/<stem>-<16 hex digits of SHA-256(id)>.mp: readable, one file per
 * identity, any identity a safe file name. */
static char *set_path(const struct ik_cache *c, const char *id)
{
    const char *slash = strrchr(id, '/');
    const char *base = slash ? slash + 1 : id;
    size_t n = strip_ext(base, strlen(base));
    char stem[STEM_MAX + 1];
    size_t k = 0;
    for (size_t i = 0; i < n && k < STEM_MAX; i++) {
        char ch = base[i];
        bool safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
        stem[k++] = safe ? ch : '_';
    }
    stem[k] = '\0';
    struct ik_hash h;
    ik_hash_bytes(id, strlen(id), &h);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&h, hex);
    return ik_xasprintf("%s/refs/%s-%.*s.mp", c->root, k ? stem : "graph", ID_HEX, hex);
}

/* True for names set_path makes: <anything>-<16 hex digits>.mp. */
static bool is_set_name(const char *name)
{
    size_t n = strlen(name);
    return n >= ID_HEX + 5 && strcmp(name + n - 3, ".mp") == 0 &&
           name[n - 3 - ID_HEX - 1] == '-' &&
           strspn(name + n - 3 - ID_HEX, "0123456789abcdef") >= ID_HEX;
}

char *ik_ref_graph_id(const struct ik_cache *c, const char *graph_path)
{
    const char *slash = strrchr(graph_path, '/');
    const char *base = slash ? slash + 1 : graph_path;
    char *dir = slash == graph_path ? ik_xstrdup("/")
                : slash ? ik_xstrndup(graph_path, (size_t)(slash - graph_path)) : ik_xstrdup(".");
    char *real = realpath(dir, NULL);
    free(dir);
    if (real == NULL || base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        free(real);
        return NULL;
    }
    char *abs = ik_xasprintf("%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
    free(real);
    /* Relative to the folder holding the cache (the project, for ./.ikada), so
     * moving the project with its cache keeps the names; else absolute. */
    const char *top = strrchr(c->root, '/');
    size_t n = top ? (size_t)(top - c->root) : 0;
    char *id = NULL;
    if (n == 0)
        id = ik_xstrdup(abs + 1); /* the cache is /.ikada: everything is below / */
    else if (strncmp(abs, c->root, n) == 0 && abs[n] == '/')
        id = ik_xstrdup(abs + n + 1);
    else
        id = ik_xstrdup(abs);
    free(abs);
    return id;
}

int ik_ref_graph_match(const char *id, const char *sel)
{
    if (strcmp(id, sel) == 0)
        return 2;
    size_t ni = strip_ext(id, strlen(id)), ns = strip_ext(sel, strlen(sel));
    if (ns == 0 || ns > ni || strncmp(id + ni - ns, sel, ns) != 0)
        return 0;
    /* "pipeline", "exp1/pipeline", "pipeline.yaml": whole trailing parts */
    return ni == ns || id[ni - ns - 1] == '/' ? 1 : 0;
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

/* Fills rs from a file's bytes and sets *format (REF_FORMAT or
 * LEGACY_FORMAT) and, for REF_FORMAT, *graph (the identity the file names;
 * the caller frees); IK_ECORRUPT with d naming path otherwise. */
static int parse(struct ik_refset *rs, const char *path, const char *data, size_t len,
                 int *format, char **graph, struct ik_diag *d)
{
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    size_t off = 0;
    int rc = 0;
    const msgpack_object *refs = NULL;
    double v = 0;
    *graph = NULL;
    if (msgpack_unpack_next(&un, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len &&
        ik_mp_number(ik_mp_get(&un.data, "v"), &v))
        refs = ik_mp_get(&un.data, "refs");
    /* A format number from the file may be anything: only small ones convert. */
    *format = v >= 0 && v <= 1000 ? (int)v : -1;
    const msgpack_object *g = ik_mp_get(&un.data, "graph");
    /* Format 2 is always sealed (cache/seal.h); format 1 never was. */
    bool sealed = refs != NULL && v == REF_FORMAT &&
                  ik_seal_check_map(data, len, &un.data) == IK_SEAL_OK;
    if (refs != NULL && v == REF_FORMAT && !sealed) {
        msgpack_unpacked_destroy(&un);
        ik_diag_set(d, IK_ECORRUPT, "%s: corrupt refs: their checksum does not match their bytes",
                    ik_display_path(path));
        ik_diag_hint(d, "the next run of the graph rebuilds the file; `ikada cache verify` "
                        "moves it to quarantine/");
        return IK_ECORRUPT;
    }
    if (refs == NULL || refs->type != MSGPACK_OBJECT_MAP ||
        (v != LEGACY_FORMAT && v != REF_FORMAT) ||
        (v == REF_FORMAT && (g == NULL || g->type != MSGPACK_OBJECT_STR)))
        rc = IK_ECORRUPT;
    else if (v == REF_FORMAT)
        *graph = ik_mp_strdup(g);
    for (uint32_t i = 0; rc == 0 && i < refs->via.map.size; i++) {
        const msgpack_object_kv *kv = &refs->via.map.ptr[i];
        const msgpack_object *k = ik_mp_get(&kv->val, "key");
        double updated = 0;
        char hex[IK_HASH_HEX_LEN + 1] = "";
        if (k && k->type == MSGPACK_OBJECT_STR && k->via.str.size == IK_HASH_HEX_LEN)
            memcpy(hex, k->via.str.ptr, IK_HASH_HEX_LEN);
        struct ik_hash h;
        if (kv->key.type != MSGPACK_OBJECT_STR || ik_hash_from_hex(hex, &h) != 0 ||
            !ik_mp_number(ik_mp_get(&kv->val, "updated_ms"), &updated) ||
            !(updated >= 0 && updated < 9.2e18)) /* converting beyond int64 is undefined */
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
        free(*graph);
        *graph = NULL;
        ik_diag_set(d, rc, "%s: corrupt refs: expected {v, graph, refs: {node: {key (64 hex "
                           "digits), updated_ms}}}", ik_display_path(path));
        ik_diag_hint(d, "the next run of the graph rebuilds the file; `ikada cache verify` "
                        "moves it to quarantine/");
    }
    return rc;
}

static struct ik_refset *new_set(const char *graph)
{
    struct ik_refset *rs = ik_xcalloc(1, sizeof *rs);
    rs->graph = ik_xstrdup(graph);
    return rs;
}

/* Reads and parses the file at path into a new set (*out, NULL when the file
 * does not exist). graph: the identity expected (REF_FORMAT), or NULL to take
 * any format (the set's graph is then the file's, or the legacy file's stem). */
static int read_set(const char *path, const char *graph, struct ik_refset **out, int *format,
                    struct ik_diag *d)
{
    char *data = NULL;
    size_t len = 0;
    struct ik_diag ignore = IK_DIAG_INIT;
    int rc = ik_read_file(path, &data, &len, &ignore);
    ik_diag_free(&ignore);
    *out = NULL;
    *format = 0;
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return ik_diag_set(d, rc, "cannot read %s: %s", ik_display_path(path), strerror(-rc));
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *stem = ik_xstrndup(base, strlen(base) - 3);
    struct ik_refset *rs = new_set(stem);
    free(stem);
    char *named = NULL;
    rc = parse(rs, path, data, len, format, &named, d);
    free(data);
    if (rc == 0 && named != NULL) {
        if (graph != NULL && strcmp(named, graph) != 0)
            rc = ik_diag_set(d, IK_ECORRUPT, "%s: corrupt refs: they name graph '%s', not '%s'",
                             ik_display_path(path), named, graph);
        free(rs->graph);
        rs->graph = named;
    }
    if (rc != 0) {
        ik_refset_free(rs);
        return rc;
    }
    *out = rs;
    return 0;
}

int ik_refset_load(const struct ik_cache *c, const char *graph, struct ik_refset **out,
                   struct ik_diag *d)
{
    int rc = check_graph(graph, d);
    if (rc != 0)
        return rc;
    char *path = set_path(c, graph);
    struct ik_refset *rs = NULL;
    int format = 0;
    rc = read_set(path, graph, &rs, &format, d);
    free(path);
    if (rc != 0)
        return rc;
    if (rs != NULL && format != REF_FORMAT) {
        /* An older ikada's file whose stem happens to look like our names: it
         * may be another graph's, so it is not used, and the next save
         * replaces it. */
        ik_refset_free(rs);
        rs = NULL;
    }
    *out = rs ? rs : ik_refset_empty(graph);
    if (rs == NULL && format == 0)
        (*out)->dirty = false; /* no file yet: nothing to write until a ref is set */
    return 0;
}

struct ik_refset *ik_refset_empty(const char *graph)
{
    struct ik_refset *rs = new_set(graph);
    rs->dirty = true;
    return rs;
}

const struct ik_hash *ik_refset_get(const struct ik_refset *rs, const char *node)
{
    int i = ik_strmap_get(&rs->index, node, strlen(node));
    return i < 0 ? NULL : &rs->refs[i].key;
}

void ik_refset_retain(struct ik_refset *rs, bool (*keep)(const char *node, void *arg), void *arg)
{
    size_t kept = 0;
    for (size_t i = 0; i < rs->n; i++) {
        if (keep(rs->refs[i].node, arg)) {
            rs->refs[kept++] = rs->refs[i];
            continue;
        }
        free_outputs(&rs->refs[i]);
        free(rs->refs[i].node);
    }
    if (kept == rs->n)
        return;
    rs->n = kept;
    rs->dirty = true;
    ik_strmap_free(&rs->index); /* positions moved: index them afresh */
    rs->index = (struct ik_strmap)IK_STRMAP_INIT;
    for (size_t i = 0; i < rs->n; i++)
        ik_strmap_put(&rs->index, rs->refs[i].node, strlen(rs->refs[i].node), (int)i);
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
    ik_mp_map_begin(&w, 4);
    ik_mp_pack_str(pk, "v");
    msgpack_pack_int(pk, REF_FORMAT);
    ik_mp_pack_str(pk, "graph");
    ik_mp_pack_str(pk, rs->graph);
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
    ik_seal_map(&w);
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

struct listing {
    struct ik_ref *list;
    size_t n, cap;
};

/* Appends the refs of the set file at path to l, if it is of the kind asked
 * for (legacy or not). */
static int list_one(const char *path, unsigned flags, bool in_legacy_dir, struct listing *l,
                    struct ik_diag *d)
{
    struct ik_refset *rs = NULL;
    int format = 0;
    int rc = read_set(path, NULL, &rs, &format, d);
    if (rc == IK_ECORRUPT && (flags & IK_REF_LIST_SKIP_BAD)) {
        const char *msg = ik_diag_message(d) + strlen("error: ");
        fprintf(stderr, "ikada: warning: %.*s (skipped)\n", (int)strcspn(msg, "\n"), msg);
        ik_diag_free(d);
        return 0;
    }
    bool legacy = in_legacy_dir || format == LEGACY_FORMAT;
    bool want = legacy ? (flags & IK_REF_LIST_LEGACY) != 0 : true;
    for (size_t i = 0; rc == 0 && rs != NULL && want && i < rs->n; i++) {
        l->list = ik_xgrow(l->list, &l->cap, l->n + 1, sizeof *l->list);
        struct ik_ref *r = &l->list[l->n++];
        *r = rs->refs[i];
        r->graph = ik_xstrdup(rs->graph);
        r->node = ik_xstrdup(rs->refs[i].node);
        r->outputs = NULL; /* lists carry names and keys only */
        r->n_outputs = 0;
        r->legacy = legacy;
    }
    ik_refset_free(rs);
    return rc;
}

/* Lists the *.mp files of one folder below refs/ ("" for refs/ itself). */
static int list_dir(const struct ik_cache *c, const char *sub, unsigned flags,
                    struct listing *l, struct ik_diag *d)
{
    char *top = sub[0] ? ik_xasprintf("%s/refs/%s", c->root, sub) : ik_cache_path(c, "refs");
    DIR *dir = opendir(top);
    int rc = 0;
    if (dir == NULL && errno != ENOENT) {
        int e = errno;
        rc = ik_diag_set(d, -e, "cannot list %s: %s", ik_display_path(top), strerror(e));
    }
    struct dirent *e;
    while (rc == 0 && dir != NULL && (e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 3 || strcmp(e->d_name + len - 3, ".mp") != 0)
            continue;
        char *path = ik_xasprintf("%s/%s", top, e->d_name);
        rc = list_one(path, flags, sub[0] != '\0', l, d);
        free(path);
    }
    if (dir != NULL)
        closedir(dir);
    free(top);
    return rc;
}

int ik_ref_list(const struct ik_cache *c, unsigned flags, struct ik_ref **refs, size_t *n,
                struct ik_diag *d)
{
    struct listing l = {0};
    int rc = list_dir(c, "", flags, &l, d);
    if (rc == 0 && (flags & IK_REF_LIST_LEGACY))
        rc = list_dir(c, "legacy", flags, &l, d);
    if (rc != 0) {
        ik_refs_free(l.list, l.n);
        return rc;
    }
    if (l.n > 1)
        qsort(l.list, l.n, sizeof *l.list, cmp_ref);
    *refs = l.list;
    *n = l.n;
    return 0;
}

int ik_refs_check(const struct ik_cache *c, const char *path, struct ik_diag *d)
{
    struct ik_refset *rs = NULL;
    int format = 0;
    int rc = read_set(path, NULL, &rs, &format, d);
    if (rc == 0 && rs != NULL && format == REF_FORMAT) {
        /* A format-2 file is found by its identity's name: elsewhere it would
         * only be listed, under a graph that does not read it. */
        char *want = set_path(c, rs->graph);
        const char *a = strrchr(want, '/'), *b = strrchr(path, '/');
        if (strcmp(a, b ? b : path) != 0)
            rc = ik_diag_set(d, IK_ECORRUPT, "%s: corrupt refs: they name graph '%s', whose "
                                             "refs are %s", ik_display_path(path), rs->graph,
                             a + 1);
        free(want);
    }
    ik_refset_free(rs);
    return rc;
}

void ik_refs_migrate(struct ik_cache *c)
{
    char *top = ik_cache_path(c, "refs");
    DIR *dir = opendir(top);
    struct dirent *e;
    while (dir != NULL && (e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 3 || strcmp(e->d_name + len - 3, ".mp") != 0 ||
            is_set_name(e->d_name))
            continue;
        /* Named by a graph file's stem alone: it may hold another graph's
         * names (exp1/pipeline.yaml and exp2/pipeline.yaml shared one), so it
         * is never read as a graph's refs. gc still keeps what it names. */
        char *from = ik_xasprintf("%s/%s", top, e->d_name);
        char *legacy = ik_xasprintf("%s/legacy", top);
        char *to = NULL;
        struct ik_diag md = IK_DIAG_INIT;
        bool ok = ik_mkdirs(legacy, &md) == 0;
        ik_diag_free(&md);
        for (int i = 0; ok && i < 1000; i++) {
            free(to);
            to = i == 0 ? ik_xasprintf("%s/%s", legacy, e->d_name)
                        : ik_xasprintf("%s/%.*s.%d.mp", legacy, (int)(len - 3), e->d_name, i);
            if (access(to, F_OK) != 0)
                break;
        }
        if (ok && to != NULL && rename(from, to) == 0)
            fprintf(stderr, "ikada: note: %s holds an older ikada's names, by graph file name "
                            "alone (graphs of one name in different folders shared them); moved "
                            "it to %s. Graphs are now named by their path; their results are "
                            "found again by key.\n", ik_display_path(from), ik_display_path(to));
        free(to);
        free(legacy);
        free(from);
    }
    if (dir != NULL)
        closedir(dir);
    free(top);
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
