/* cache/action.c - action records (actions/ab/<key>): msgpack maps written
 * atomically once a node's outputs are all stored.
 *
 * A record is trusted only after it parses completely and names the key it is
 * stored under; anything else is IK_ECORRUPT, and the node simply re-runs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "cache/action.h"
#include "cache/cache_int.h"
#include "cache/cas.h"
#include "cache/seal.h"
#include "base/file.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"

#define ACTION_FORMAT 1
/* Fields of a record written before records were sealed (cache/seal.h);
 * sealed records have one more, "sum". */
#define ACTION_UNSEALED_FIELDS 11
/* Records are small (a few outputs and counters); a bigger file is damage. */
#define ACTION_MAX_BYTES (16u << 20)

static void pack_hex(msgpack_packer *pk, const struct ik_hash *h)
{
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(h, hex);
    ik_mp_pack_strn(pk, hex, IK_HASH_HEX_LEN);
}

static void stamp_from(const struct stat *st, struct ik_action_stamp *out)
{
    out->ino = (uint64_t)st->st_ino;
    out->size = (uint64_t)st->st_size;
    out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

int ik_action_stamp_of(const struct ik_cache *c, const struct ik_hash *key,
                       struct ik_action_stamp *out)
{
    char *path = ik__fanout_path(c, "actions", key);
    struct stat st;
    int rc = stat(path, &st) == 0 ? 0 : -errno;
    free(path);
    if (rc == 0)
        stamp_from(&st, out);
    return rc;
}

bool ik_action_stamp_equal(const struct ik_action_stamp *a, const struct ik_action_stamp *b)
{
    return a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

int ik_action_put(struct ik_cache *c, struct ik_action *a, struct ik_diag *d)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    msgpack_packer *pk = &w.pk;
    ik_mp_map_begin(&w, ACTION_UNSEALED_FIELDS + 1);
    ik_mp_pack_str(pk, "v");
    msgpack_pack_int(pk, ACTION_FORMAT);
    ik_mp_pack_str(pk, "key");
    pack_hex(pk, &a->key);
    /* The key is the hash of the spec object, so the two names coincide. */
    ik_mp_pack_str(pk, "spec");
    pack_hex(pk, &a->key);
    ik_mp_pack_str(pk, "type");
    ik_mp_pack_str(pk, a->type ? a->type : "");
    ik_mp_pack_str(pk, "version");
    msgpack_pack_int(pk, a->version);
    ik_mp_pack_str(pk, "node");
    ik_mp_pack_str(pk, a->node ? a->node : "");
    ik_mp_pack_str(pk, "outputs");
    ik_mp_array_begin(&w, a->n_outputs);
    for (size_t i = 0; i < a->n_outputs; i++) {
        const struct ik_action_output *o = &a->outputs[i];
        ik_mp_map_begin(&w, 4);
        ik_mp_pack_str(pk, "port");
        ik_mp_pack_str(pk, o->port ? o->port : "");
        ik_mp_pack_str(pk, "hash");
        pack_hex(pk, &o->hash);
        ik_mp_pack_str(pk, "size");
        msgpack_pack_uint64(pk, o->size);
        ik_mp_pack_str(pk, "kind");
        ik_mp_pack_str(pk, o->kind ? o->kind : "");
        ik_mp_map_end(&w);
    }
    ik_mp_array_end(&w);
    ik_mp_pack_str(pk, "log");
    if (a->has_log)
        pack_hex(pk, &a->log);
    else
        msgpack_pack_nil(pk);
    ik_mp_pack_str(pk, "started_ms");
    msgpack_pack_int64(pk, a->started_ms);
    ik_mp_pack_str(pk, "duration_ms");
    msgpack_pack_int64(pk, a->duration_ms);
    ik_mp_pack_str(pk, "counters");
    ik_mp_map_begin(&w, a->n_counters);
    for (size_t i = 0; i < a->n_counters; i++) {
        ik_mp_pack_str(pk, a->counters[i].name ? a->counters[i].name : "");
        msgpack_pack_double(pk, a->counters[i].value);
    }
    ik_mp_map_end(&w);
    ik_seal_map(&w);
    ik_mp_map_end(&w);

    char *path = ik__fanout_path(c, "actions", &a->key);
    char *tmp = ik_cache_path(c, "tmp");
    int rc = ik__fanout_mkdir(c, "actions", &a->key, d);
    if (rc == 0)
        rc = ik_write_atomic(tmp, path, w.sb.data, w.sb.size, 0444, d);
    struct stat st;
    memset(&a->stamp, 0, sizeof a->stamp);
    if (rc == 0 && stat(path, &st) == 0)
        stamp_from(&st, &a->stamp);
    free(tmp);
    free(path);
    ik_mp_writer_free(&w);
    return rc;
}

static bool get_int(const msgpack_object *o, int64_t *out)
{
    if (o == NULL)
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    return false;
}

static bool get_hex(const msgpack_object *o, struct ik_hash *out)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size != IK_HASH_HEX_LEN)
        return false;
    char hex[IK_HASH_HEX_LEN + 1];
    memcpy(hex, o->via.str.ptr, IK_HASH_HEX_LEN);
    hex[IK_HASH_HEX_LEN] = '\0';
    return ik_hash_from_hex(hex, out) == 0;
}

static bool is_str(const msgpack_object *o) { return o != NULL && o->type == MSGPACK_OBJECT_STR; }

/* Fills a from the record's root object; returns the name of the first bad
 * field, or NULL when the record is well formed. */
static const char *parse_record(const msgpack_object *root, struct ik_action *a)
{
    int64_t v;
    if (root->type != MSGPACK_OBJECT_MAP)
        return "(the record is not a map)";
    if (!get_int(ik_mp_get(root, "v"), &v) || v != ACTION_FORMAT)
        return "v";
    if (!get_hex(ik_mp_get(root, "key"), &a->key))
        return "key";
    if (!is_str(ik_mp_get(root, "type")))
        return "type";
    a->type = ik_mp_strdup(ik_mp_get(root, "type"));
    if (!get_int(ik_mp_get(root, "version"), &v) || v < INT32_MIN || v > INT32_MAX)
        return "version";
    a->version = (int)v;
    if (!is_str(ik_mp_get(root, "node")))
        return "node";
    a->node = ik_mp_strdup(ik_mp_get(root, "node"));
    const msgpack_object *outs = ik_mp_get(root, "outputs");
    if (outs == NULL || outs->type != MSGPACK_OBJECT_ARRAY)
        return "outputs";
    a->outputs = ik_xcalloc(outs->via.array.size, sizeof *a->outputs);
    for (uint32_t i = 0; i < outs->via.array.size; i++) {
        const msgpack_object *o = &outs->via.array.ptr[i];
        struct ik_action_output *out = &a->outputs[i];
        int64_t size;
        if (!is_str(ik_mp_get(o, "port")) || !is_str(ik_mp_get(o, "kind")) ||
            !get_hex(ik_mp_get(o, "hash"), &out->hash) ||
            !get_int(ik_mp_get(o, "size"), &size) || size < 0)
            return "outputs";
        out->port = ik_mp_strdup(ik_mp_get(o, "port"));
        out->kind = ik_mp_strdup(ik_mp_get(o, "kind"));
        out->size = (uint64_t)size;
        a->n_outputs = i + 1;
    }
    const msgpack_object *log = ik_mp_get(root, "log");
    if (log == NULL)
        return "log";
    if (log->type != MSGPACK_OBJECT_NIL) {
        if (!get_hex(log, &a->log))
            return "log";
        a->has_log = true;
    }
    if (!get_int(ik_mp_get(root, "started_ms"), &a->started_ms))
        return "started_ms";
    if (!get_int(ik_mp_get(root, "duration_ms"), &a->duration_ms))
        return "duration_ms";
    const msgpack_object *ctr = ik_mp_get(root, "counters");
    if (ctr == NULL || ctr->type != MSGPACK_OBJECT_MAP)
        return "counters";
    a->counters = ik_xcalloc(ctr->via.map.size, sizeof *a->counters);
    for (uint32_t i = 0; i < ctr->via.map.size; i++) {
        double value;
        if (!is_str(&ctr->via.map.ptr[i].key) || !ik_mp_number(&ctr->via.map.ptr[i].val, &value))
            return "counters";
        a->counters[i].name = ik_mp_strdup(&ctr->via.map.ptr[i].key);
        a->counters[i].value = value;
        a->n_counters = i + 1;
    }
    return NULL;
}

int ik_action_parse(const char *data, size_t len, const char *where, const struct ik_hash *key,
                    struct ik_action **out, struct ik_diag *d)
{
    struct ik_action *a = NULL;
    msgpack_unpacked un;
    msgpack_unpacked_init(&un);
    int rc = 0;
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&un, data, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        rc = ik_diag_set(d, IK_ECORRUPT, "%s: offset %zu: corrupt action record: %s", where, off,
                         ur == MSGPACK_UNPACK_SUCCESS ? "trailing bytes after the record"
                                                      : "not one complete msgpack value");
        goto out;
    }
    a = ik_xcalloc(1, sizeof *a);
    /* Sealed records vouch for every byte; an unsealed one (older ikada) is
     * taken as it is, but only with exactly the fields it had then. */
    enum ik_seal_state seal = ik_seal_check_map(data, len, &un.data);
    if (seal == IK_SEAL_BAD) {
        rc = ik_diag_set(d, IK_ECORRUPT, "%s: corrupt action record: its checksum does not "
                                         "match its bytes", where);
        ik_diag_hint(d, "the next run re-runs the node and rewrites it; `ikada cache verify` "
                        "moves it to quarantine/");
        goto out;
    }
    const char *bad = parse_record(&un.data, a);
    if (bad == NULL && seal == IK_SEAL_NONE && un.data.via.map.size != ACTION_UNSEALED_FIELDS)
        bad = "sum";
    if (bad == NULL && !ik_hash_equal(&a->key, key))
        bad = "key (it names another action)";
    if (bad != NULL) {
        rc = ik_diag_set(d, IK_ECORRUPT, "%s: corrupt action record: field '%s' is missing or "
                                         "malformed", where, bad);
        ik_diag_hint(d, "the next run re-runs the node and rewrites it; `ikada cache verify` "
                        "moves it to quarantine/");
        goto out;
    }
    *out = a;
    a = NULL;
out:
    ik_action_free(a);
    msgpack_unpacked_destroy(&un);
    return rc;
}

int ik_action_get(const struct ik_cache *c, const struct ik_hash *key, struct ik_action **out,
                  struct ik_diag *d)
{
    char *path = ik__fanout_path(c, "actions", key);
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    int rc = 0;
    if (stat(path, &st) != 0) {
        int e = errno;
        rc = e == ENOENT ? -ENOENT
                         : ik_diag_set(d, -e, "cannot read %s: %s", ik_display_path(path),
                                       strerror(e));
        goto out;
    }
    if ((uint64_t)st.st_size > ACTION_MAX_BYTES) {
        rc = ik_diag_set(d, IK_ECORRUPT, "%s: corrupt action record: %llu bytes is too large",
                         ik_display_path(path), (unsigned long long)st.st_size);
        goto out;
    }
    rc = ik_read_file(path, &data, &len, d);
    if (rc == 0)
        rc = ik_action_parse(data, len, ik_display_path(path), key, out, d);
    if (rc == 0)
        stamp_from(&st, &(*out)->stamp);
out:
    free(data);
    free(path);
    return rc;
}

bool ik_action_outputs_present(const struct ik_cache *c, const struct ik_action *a)
{
    for (size_t i = 0; i < a->n_outputs; i++) {
        uint64_t size;
        if (ik_cas_stat(c, &a->outputs[i].hash, &size) != 0 || size != a->outputs[i].size)
            return false;
    }
    return true;
}

const struct ik_action_output *ik_action_output(const struct ik_action *a, const char *port)
{
    for (size_t i = 0; i < a->n_outputs; i++)
        if (a->outputs[i].port != NULL && strcmp(a->outputs[i].port, port) == 0)
            return &a->outputs[i];
    return NULL;
}

struct foreach_ctx {
    const struct ik_cache *c;
    int (*fn)(const struct ik_action *a, void *arg);
    void *arg;
};

static int foreach_cb(const struct ik_hash *h, const struct stat *st, void *arg)
{
    (void)st;
    struct foreach_ctx *x = arg;
    struct ik_action *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    /* A record that does not parse is skipped: it can never be used, and gc or
     * verify are the tools that deal with it. */
    int rc = ik_action_get(x->c, h, &a, &d);
    ik_diag_free(&d);
    if (rc != 0)
        return 0;
    rc = x->fn(a, x->arg);
    ik_action_free(a);
    return rc;
}

int ik_action_foreach(const struct ik_cache *c, int (*fn)(const struct ik_action *a, void *arg),
                      void *arg)
{
    struct foreach_ctx x = {c, fn, arg};
    return ik__foreach_fanout(c, "actions", foreach_cb, &x);
}

int ik_action_remove(struct ik_cache *c, const struct ik_hash *key)
{
    char *path = ik__fanout_path(c, "actions", key);
    int rc = unlink(path) == 0 ? 0 : -errno;
    free(path);
    return rc;
}

void ik_action_free(struct ik_action *a)
{
    if (a == NULL)
        return;
    free(a->type);
    free(a->node);
    for (size_t i = 0; i < a->n_outputs; i++) {
        free(a->outputs[i].port);
        free(a->outputs[i].kind);
    }
    free(a->outputs);
    for (size_t i = 0; i < a->n_counters; i++)
        free(a->counters[i].name);
    free(a->counters);
    free(a);
}
