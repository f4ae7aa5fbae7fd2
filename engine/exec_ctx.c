/* engine/exec_ctx.c - the accessors a node type's `run` uses (engine/node.h),
 * implemented over the context that `ikada exec` builds (exec_int.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "cache/artifact.h"
#include "cache/kv.h"
#include "cache/tree.h"
#include "base/file.h"
#include "base/glob.h"
#include "engine/exec_int.h"
#include "base/mp.h"
#include "engine/progress.h"
#include "base/xmalloc.h"

const char *ik_node_name(const struct ik_node_ctx *ctx) { return ctx->name; }

const struct ik_hash *ik_node_key(const struct ik_node_ctx *ctx) { return &ctx->key; }

const char *ik_node_graph_dir(const struct ik_node_ctx *ctx)
{
    (void)ctx;
    const char *dir = getenv("IKADA_GRAPH_DIR"); /* set by the scheduler (sched.c job_env) */
    return dir && *dir ? dir : ".";
}

bool ik_node_stop_requested(const struct ik_node_ctx *ctx)
{
    (void)ctx;
    return ik__exec_stop_requested();
}

const msgpack_object *ik_node_param(const struct ik_node_ctx *ctx, const char *name)
{
    return ik_mp_get(ctx->params, name);
}

const char *ik_node_param_str(const struct ik_node_ctx *ctx, const char *name)
{
    /* The spec's strings are not NUL-terminated; keep a copy alive in the zone
     * of the unpacked spec so the pointer lives as long as the run. */
    const msgpack_object *o = ik_node_param(ctx, name);
    if (o == NULL || o->type != MSGPACK_OBJECT_STR)
        return NULL;
    char *s = msgpack_zone_malloc(ctx->spec.zone, o->via.str.size + 1);
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

int64_t ik_node_param_int(const struct ik_node_ctx *ctx, const char *name)
{
    double v = 0;
    const msgpack_object *o = ik_node_param(ctx, name);
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)o->via.u64;
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    return ik_mp_number(o, &v) ? (int64_t)v : 0;
}

int ik_node_param_int_in(const struct ik_node_ctx *ctx, const char *name, int64_t lo, int64_t hi,
                         int64_t *out, struct ik_diag *d)
{
    int64_t v = ik_node_param_int(ctx, name);
    if (v >= lo && v <= hi) {
        *out = v;
        return 0;
    }
    if (v < lo && hi >= INT32_MAX) /* a bound that only keeps the value in range */
        return ik_diag_set(d, IK_EVALIDATE, "param %s is %lld, expected %lld or more", name,
                           (long long)v, (long long)lo);
    return ik_diag_set(d, IK_EVALIDATE, "param %s is %lld, expected %lld..%lld", name,
                       (long long)v, (long long)lo, (long long)hi);
}

double ik_node_param_float(const struct ik_node_ctx *ctx, const char *name)
{
    double v = 0;
    ik_mp_number(ik_node_param(ctx, name), &v);
    return v;
}

bool ik_node_param_bool(const struct ik_node_ctx *ctx, const char *name)
{
    const msgpack_object *o = ik_node_param(ctx, name);
    return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

size_t ik_node_input_count(const struct ik_node_ctx *ctx) { return ctx->inputs->via.map.size; }

const char *ik_node_input_port(const struct ik_node_ctx *ctx, size_t i)
{
    struct ik_node_ctx *c = (struct ik_node_ctx *)ctx;
    if (c->in == NULL) {
        c->n_in = ctx->inputs->via.map.size;
        c->in = ik_xcalloc(c->n_in, sizeof *c->in);
        for (size_t k = 0; k < c->n_in; k++)
            c->in[k].port = ik_mp_strdup(&ctx->inputs->via.map.ptr[k].key);
    }
    return i < c->n_in ? c->in[i].port : NULL;
}

static struct ik_exec_input *find_input(struct ik_node_ctx *ctx, const char *port, size_t *index)
{
    for (size_t i = 0; ik_node_input_port(ctx, i) != NULL; i++)
        if (strcmp(ctx->in[i].port, port) == 0) {
            *index = i;
            return &ctx->in[i];
        }
    return NULL;
}

bool ik_node_has_input(const struct ik_node_ctx *ctx, const char *port)
{
    size_t i;
    return find_input((struct ik_node_ctx *)ctx, port, &i) != NULL;
}

int ik_node_input_hash(const struct ik_node_ctx *ctx, const char *port, struct ik_hash *out,
                       struct ik_diag *d)
{
    size_t i;
    if (find_input((struct ik_node_ctx *)ctx, port, &i) == NULL)
        return ik_diag_set(d, IK_ENOTFOUND, "input '%s' is not connected", port);
    char *hex = ik_mp_strdup(ik_mp_get(&ctx->inputs->via.map.ptr[i].val, "hash"));
    int rc = hex && ik_hash_from_hex(hex, out) == 0
                 ? 0
                 : ik_diag_set(d, IK_ECORRUPT, "input '%s': bad hash in spec", port);
    free(hex);
    return rc;
}

static const struct ik_exec_file *file_source(const struct ik_node_ctx *ctx, const char *port)
{
    for (size_t i = 0; i < ctx->n_files; i++)
        if (strcmp(ctx->files[i].port, port) == 0)
            return &ctx->files[i];
    return NULL;
}

/* Maps the input's object once, checking its hash and recorded size: a node
 * never computes on damaged bytes, so a damaged input cannot leave a wrong
 * result in the cache. */
static int load_object(struct ik_node_ctx *ctx, struct ik_exec_input *in, size_t index,
                       struct ik_diag *d)
{
    if (in->loaded)
        return 0;
    const msgpack_object *desc = &ctx->inputs->via.map.ptr[index].val;
    char *hex = ik_mp_strdup(ik_mp_get(desc, "hash"));
    double size = 0;
    ik_mp_number(ik_mp_get(desc, "size"), &size);
    struct ik_hash h;
    int rc = hex && ik_hash_from_hex(hex, &h) == 0 ? 0 : IK_ECORRUPT;
    if (rc == 0) {
        rc = ik_cas_map_verified(ctx->cache, &h, (uint64_t)size, &in->blob, d);
        if (rc == IK_ECORRUPT) {
            ik_diag_prefix(d, "input '%s': ", in->port);
            ik_diag_hint(d, "the next `ikada run` re-runs the node that made it");
        }
    } else {
        ik_diag_set(d, rc, "input '%s': bad hash in spec", in->port);
    }
    free(hex);
    if (rc == 0)
        in->loaded = true;
    return rc;
}

int ik_node_input_object(struct ik_node_ctx *ctx, const char *port, const msgpack_object **out,
                         struct ik_diag *d)
{
    size_t index;
    struct ik_exec_input *in = find_input(ctx, port, &index);
    if (in == NULL)
        return ik_diag_set(d, IK_ENOTFOUND, "input '%s' is not connected", port);
    const struct ik_exec_file *src = file_source(ctx, port);
    if (src != NULL)
        return ik_diag_set(d, IK_EPARSE, "input '%s' is a %s: source, not an artifact", port,
                           src->glob ? "glob" : "file");
    int rc = load_object(ctx, in, index, d);
    if (rc < 0)
        return rc;
    if (!in->unpacked_ok) {
        msgpack_unpacked_init(&in->unpacked);
        in->unpacked_ok = true;
        rc = ik_artifact_unpack(in->blob.data, in->blob.len, &in->unpacked, port, d);
        if (rc < 0)
            return rc;
    }
    *out = &in->unpacked.data;
    return 0;
}

/* Writes a `file` artifact's payload to scratch/in/<port>/<name>. */
static int materialise_file(struct ik_node_ctx *ctx, struct ik_exec_input *in,
                            const msgpack_object *root, struct ik_diag *d)
{
    const msgpack_object *data = ik_mp_get(root, "data");
    char *name = ik_mp_strdup(ik_mp_get(ik_mp_get(root, "meta"), "name"));
    if (name == NULL || strchr(name, '/') != NULL || name[0] == '.') {
        free(name);
        name = ik_xstrdup(in->port);
    }
    char *dir = ik_xasprintf("%s/in/%s", ctx->scratch, in->port);
    int rc = ik_mkdirs(dir, d);
    in->path = ik_xasprintf("%s/%s", dir, name);
    free(dir);
    free(name);
    if (rc < 0)
        return rc;
    if (data == NULL || data->type != MSGPACK_OBJECT_BIN)
        return ik_diag_set(d, IK_ECORRUPT, "input '%s': file artifact without data", in->port);
    char *tmp = ik_xasprintf("%s/tmp", ctx->scratch);
    rc = ik_mkdirs(tmp, d);
    if (rc == 0)
        rc = ik_write_atomic(tmp, in->path, data->via.bin.ptr, data->via.bin.size, 0644, d);
    free(tmp);
    return rc;
}

/* Recreates a `tree` artifact's files in scratch/in/<port>/<name>/, so the
 * node sees the folder under the name it was made with. */
static int materialise_tree(struct ik_node_ctx *ctx, struct ik_exec_input *in,
                            const msgpack_object *root, struct ik_diag *d)
{
    char *name = ik_mp_strdup(ik_mp_get(ik_mp_get(root, "meta"), "name"));
    if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL || name[0] == '.') {
        free(name);
        name = ik_xstrdup(in->port);
    }
    char *dest = ik_xasprintf("%s/in/%s/%s", ctx->scratch, in->port, name);
    free(name);
    char *what = ik_xasprintf("input '%s'", in->port);
    int rc = ik_tree_write(root, dest, what, d);
    free(what);
    if (rc == 0)
        in->path = dest; /* a half-written folder is never handed out by a later call */
    else
        free(dest);
    return rc;
}

/* A glob's matches as one folder, scratch/in/<port>/, of symlinks named as
 * base/glob.h names them: the node sees the set it was keyed by (expanded
 * again here, as a file: source is read again), not the whole folder. */
static int materialise_glob(struct ik_node_ctx *ctx, struct ik_exec_input *in,
                            const char *pattern, struct ik_diag *d)
{
    struct ik_glob g;
    int rc = ik_glob_expand(pattern, &g, d);
    char *dir = ik_xasprintf("%s/in/%s", ctx->scratch, in->port);
    if (rc == 0)
        rc = ik_mkdirs(dir, d);
    for (size_t i = 0; rc == 0 && i < g.n; i++) {
        char *link = ik_xasprintf("%s/%s", dir, g.m[i].rel);
        char *parent = ik_xstrdup(link);
        *strrchr(parent, '/') = '\0';
        rc = ik_mkdirs(parent, d);
        if (rc == 0 && symlink(g.m[i].path, link) != 0) {
            int e = errno;
            rc = ik_diag_set(d, -e, "input '%s': cannot link %s: %s", in->port,
                             ik_display_path(link), strerror(e));
        }
        free(parent);
        free(link);
    }
    ik_glob_free(&g);
    if (rc == 0)
        in->path = dir;
    else
        free(dir);
    return rc;
}

int ik_node_input_path(struct ik_node_ctx *ctx, const char *port, const char **path,
                       struct ik_diag *d)
{
    size_t index;
    struct ik_exec_input *in = find_input(ctx, port, &index);
    if (in == NULL)
        return ik_diag_set(d, IK_ENOTFOUND, "input '%s' is not connected", port);
    const struct ik_exec_file *src = file_source(ctx, port);
    if (src != NULL && !src->glob) {
        *path = src->path;
        return 0;
    }
    if (src != NULL && in->path == NULL) {
        int rc = materialise_glob(ctx, in, src->path, d);
        if (rc < 0)
            return rc;
    }
    if (in->path == NULL) {
        const msgpack_object *root;
        int rc = ik_node_input_object(ctx, port, &root, d);
        if (rc < 0)
            return rc;
        size_t kind_len;
        const char *kind = ik_artifact_kind(root, &kind_len);
        if (kind && kind_len == 4 && memcmp(kind, "file", 4) == 0) {
            rc = materialise_file(ctx, in, root, d);
            if (rc < 0)
                return rc;
        } else if (kind && kind_len == 4 && memcmp(kind, "tree", 4) == 0) {
            rc = materialise_tree(ctx, in, root, d);
            if (rc < 0)
                return rc;
        } else {
            struct ik_hash h;
            char *hex = ik_mp_strdup(ik_mp_get(&ctx->inputs->via.map.ptr[index].val, "hash"));
            ik_hash_from_hex(hex, &h);
            free(hex);
            in->path = ik_cas_object_path(ctx->cache, &h);
        }
    }
    *path = in->path;
    return 0;
}

void ik__exec_inputs_free(struct ik_node_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_in; i++) {
        struct ik_exec_input *in = &ctx->in[i];
        if (in->unpacked_ok)
            msgpack_unpacked_destroy(&in->unpacked);
        if (in->loaded)
            ik_blob_release(&in->blob);
        free(in->port);
        free(in->path);
    }
    free(ctx->in);
    ctx->in = NULL;
    ctx->n_in = 0;
}

const char *ik_node_scratch_dir(const struct ik_node_ctx *ctx) { return ctx->scratch; }

static bool is_declared(const struct ik_node_ctx *ctx, const char *port)
{
    for (size_t i = 0; i < ctx->n_declared_outputs; i++)
        if (strcmp(ctx->declared_outputs[i], port) == 0)
            return true;
    return false;
}

/* An output port may be written once, and only a declared one. */
static int check_new_output(const struct ik_node_ctx *ctx, const char *port, struct ik_diag *d)
{
    if (!is_declared(ctx, port))
        return ik_diag_set(d, IK_EVALIDATE, "node type '%s' has no output '%s'", ctx->type->name,
                           port);
    for (size_t i = 0; i < ctx->n_outputs; i++)
        if (strcmp(ctx->outputs[i].port, port) == 0)
            return ik_diag_set(d, IK_EVALIDATE, "output '%s' written twice", port);
    return 0;
}

static void add_output(struct ik_node_ctx *ctx, const char *port, const struct ik_hash *h,
                       uint64_t size, char *kind);

int ik_node_output(struct ik_node_ctx *ctx, const char *port, const void *data, size_t len,
                   struct ik_diag *d)
{
    int rc = check_new_output(ctx, port, d);
    if (rc != 0)
        return rc;
    msgpack_unpacked head;
    msgpack_unpacked_init(&head);
    rc = ik_artifact_unpack(data, len, &head, port, d);
    size_t kind_len = 0;
    const char *kind = rc == 0 ? ik_artifact_kind(&head.data, &kind_len) : NULL;
    char *kind_copy = kind ? ik_xstrndup(kind, kind_len) : NULL;
    msgpack_unpacked_destroy(&head);
    if (rc < 0)
        return rc;
    struct ik_hash h;
    rc = ik_cas_put(ctx->cache, data, len, &h, d);
    if (rc < 0) {
        free(kind_copy);
        return rc;
    }
    add_output(ctx, port, &h, len, kind_copy);
    return 0;
}

/* Records a stored output. */
static void add_output(struct ik_node_ctx *ctx, const char *port, const struct ik_hash *h,
                       uint64_t size, char *kind)
{
    ctx->outputs = ik_xrealloc(ctx->outputs, (ctx->n_outputs + 1) * sizeof *ctx->outputs);
    struct ik_exec_output *o = &ctx->outputs[ctx->n_outputs++];
    o->port = ik_xstrdup(port);
    o->hash = *h;
    o->size = size;
    o->kind = kind;
}

/* The bytes of a file artifact before its data, for a file of len bytes:
 * what ik_artifact_pack_file writes, up to and including the bin header
 * (msgpack-c packs an empty bin as c4 00, which is replaced). */
static void file_artifact_header(struct ik_mp_writer *w, const char *name, uint64_t len)
{
    ik_artifact_pack_file(w, name, "", 0);
    w->sb.size -= 2;
    msgpack_pack_bin(&w->pk, (size_t)len);
}

/* The file is streamed into the store behind its artifact header: a base
 * model GGUF of many GB is never held in memory. */
int ik_node_output_file(struct ik_node_ctx *ctx, const char *port, const char *path,
                        struct ik_diag *d)
{
    int rc = check_new_output(ctx, port, d);
    if (rc != 0)
        return rc;
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return ik_diag_set(d, -e, "output '%s': cannot read %s: %s", port, path, strerror(e));
    }
    if (!S_ISREG(st.st_mode))
        return ik_diag_set(d, IK_EVALIDATE, "output '%s': %s is not a regular file", port, path);
    const char *base = strrchr(path, '/');
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    file_artifact_header(&w, base ? base + 1 : path, (uint64_t)st.st_size);
    struct ik_hash h;
    uint64_t size = 0;
    rc = ik_cas_put_file_prefixed(ctx->cache, w.sb.data, w.sb.size, path, &h, &size, d);
    if (rc == 0 && size != w.sb.size + (uint64_t)st.st_size)
        rc = ik_diag_set(d, IK_ECORRUPT, "output '%s': %s changed size while it was stored", port,
                         path);
    ik_mp_writer_free(&w);
    if (rc == 0)
        add_output(ctx, port, &h, size, ik_xstrdup("file"));
    return rc;
}

/* The folder is packed into a scratch file first: its layout needs every
 * name before the first byte (the files list is sorted), and ik_cas_put_file
 * then hashes and copies it in one pass. */
int ik_node_output_tree(struct ik_node_ctx *ctx, const char *port, const char *path,
                        struct ik_diag *d)
{
    int rc = check_new_output(ctx, port, d);
    if (rc != 0)
        return rc;
    const char *base = strrchr(path, '/');
    char *dir = ik_xasprintf("%s/tmp", ctx->scratch);
    char *packed = ik_xasprintf("%s/tree-%s", dir, port);
    rc = ik_mkdirs(dir, d);
    if (rc == 0)
        rc = ik_tree_pack(path, base && base[1] ? base + 1 : port, packed, NULL, d);
    struct ik_hash h;
    uint64_t size = 0;
    if (rc == 0)
        rc = ik_cas_put_file(ctx->cache, packed, &h, &size, d);
    if (rc < 0)
        ik_diag_prefix(d, "output '%s': ", port);
    else
        add_output(ctx, port, &h, size, ik_xstrdup("tree"));
    unlink(packed);
    free(packed);
    free(dir);
    return rc;
}

/* The object goes first: a kill between the two writes leaves a loose object
 * (gc takes it), never an entry naming nothing. ctx->cache is the only state
 * read, so concurrent calls from other threads are safe (node.h). */
int ik_node_kv_put(struct ik_node_ctx *ctx, const char *ns, const struct ik_hash *key,
                   const void *value, size_t len, struct ik_diag *d)
{
    struct ik_hash obj;
    int rc = ik_cas_put(ctx->cache, value, len, &obj, d);
    if (rc == 0)
        rc = ik_kv_put(ctx->cache, ns, key, &obj, d);
    return rc;
}

int ik_node_kv_get(struct ik_node_ctx *ctx, const char *ns, const struct ik_hash *key,
                   char **value, size_t *len, struct ik_diag *d)
{
    struct ik_hash obj;
    int rc = ik_kv_get(ctx->cache, ns, key, &obj, d);
    if (rc != 0)
        return rc;
    struct ik_blob b;
    rc = ik_cas_map_verified(ctx->cache, &obj, UINT64_MAX, &b, d); /* corrupt: quarantined */
    if (rc != 0)
        return rc;
    char *copy = ik_xmalloc(b.len + 1);
    memcpy(copy, b.data, b.len);
    copy[b.len] = '\0';
    *value = copy;
    *len = b.len;
    ik_blob_release(&b);
    return 0;
}

int ik_node_kv_del(struct ik_node_ctx *ctx, const char *ns, const struct ik_hash *key,
                   struct ik_diag *d)
{
    return ik_kv_del(ctx->cache, ns, key, d);
}

void ik_node_progress(struct ik_node_ctx *ctx, uint64_t done, uint64_t total, const char *unit)
{
    /* At most ten frames a second, but always the last one. */
    uint64_t t = (uint64_t)ik_clock_monotonic_ms();
    if (t - ctx->last_progress_ms < 100 && done != total)
        return;
    ctx->last_progress_ms = t;
    ik_progress_send_progress(IK_PROGRESS_FD, done, total, unit);
}

void ik_node_counter(struct ik_node_ctx *ctx, const char *name, double value)
{
    (void)ctx;
    ik_progress_send_counter(IK_PROGRESS_FD, name, value);
}

int ik__exec_declared_outputs(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    if (ctx->type->outputs_from_param != NULL) {
        const msgpack_object *m = ik_node_param(ctx, ctx->type->outputs_from_param);
        if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
            return ik_diag_set(d, IK_ECORRUPT, "param '%s' is not a map",
                               ctx->type->outputs_from_param);
        ctx->n_declared_outputs = m->via.map.size;
        ctx->declared_outputs = ik_xcalloc(m->via.map.size, sizeof(char *));
        for (uint32_t i = 0; i < m->via.map.size; i++)
            ctx->declared_outputs[i] = ik_mp_strdup(&m->via.map.ptr[i].key);
        return 0;
    }
    size_t n = 0;
    while (ctx->type->outputs[n].name != NULL)
        n++;
    ctx->declared_outputs = ik_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *port = ctx->type->outputs[i].name;
        const char *when = ik_node_type_output_param(ctx->type, port);
        if (when == NULL || ik_node_param_bool(ctx, when))
            ctx->declared_outputs[ctx->n_declared_outputs++] = ik_xstrdup(port);
    }
    return 0;
}
