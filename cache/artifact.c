/* cache/artifact.c - the {kind, schema, meta, …} envelope and common payloads
 * (file captures, tensors).
 *
 * Readers only insist on what every tool needs (a map with a string kind), so
 * artifacts stay forward compatible. */
#include <string.h>

#include "cache/artifact.h"
#include "base/error.h"
#include "base/mp.h"

void ik__artifact_begin(struct ik_mp_writer *w, const char *kind, int schema, size_t n_payload,
                        const char *file, int line)
{
    msgpack_packer *pk = &w->pk;
    ik__mp_begin(w, 3 + n_payload, true, file, line);
    ik_mp_pack_str(pk, "kind");
    ik_mp_pack_str(pk, kind);
    ik_mp_pack_str(pk, "schema");
    msgpack_pack_int(pk, schema);
    ik_mp_pack_str(pk, "meta");
}

void ik_artifact_pack_file(struct ik_mp_writer *w, const char *name, const void *data,
                           size_t len)
{
    msgpack_packer *pk = &w->pk;
    ik_artifact_begin(w, "file", 1, 1);
    ik_mp_map_begin(w, 1);
    ik_mp_pack_str(pk, "name");
    ik_mp_pack_str(pk, name);
    ik_mp_map_end(w);
    ik_mp_pack_str(pk, "data");
    ik_mp_pack_bin(pk, data, len);
    ik_artifact_end(w);
}

void ik_artifact_pack_tensor(struct ik_mp_writer *w, const char *dtype, const int64_t *shape,
                             size_t ndim, const void *data, size_t nbytes)
{
    msgpack_packer *pk = &w->pk;
    ik_mp_map_begin(w, 3);
    ik_mp_pack_str(pk, "dtype");
    ik_mp_pack_str(pk, dtype);
    ik_mp_pack_str(pk, "shape");
    ik_mp_array_begin(w, ndim);
    for (size_t i = 0; i < ndim; i++)
        msgpack_pack_int64(pk, shape[i]);
    ik_mp_array_end(w);
    ik_mp_pack_str(pk, "data");
    ik_mp_pack_bin(pk, data, nbytes);
    ik_mp_map_end(w);
}

int ik_artifact_unpack(const void *data, size_t len, msgpack_unpacked *result, const char *what,
                       struct ik_diag *d)
{
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(result, data, len, &off);
    if (ur == MSGPACK_UNPACK_CONTINUE || ur == MSGPACK_UNPACK_EXTRA_BYTES ||
        (ur == MSGPACK_UNPACK_SUCCESS && off == 0))
        return ik_diag_set(d, IK_EPARSE, "%s: offset %zu: truncated msgpack (the data ends "
                                         "inside a value)", what, len);
    if (ur != MSGPACK_UNPACK_SUCCESS)
        return ik_diag_set(d, IK_EPARSE, "%s: offset %zu: not msgpack (expected an artifact map)",
                           what, off);
    if (off != len)
        return ik_diag_set(d, IK_EPARSE, "%s: offset %zu: trailing bytes after the artifact map",
                           what, off);
    if (result->data.type != MSGPACK_OBJECT_MAP)
        return ik_diag_set(d, IK_EPARSE, "%s: offset 0: expected an artifact map, found another "
                                         "msgpack value", what);
    const msgpack_object *kind = ik_mp_get(&result->data, "kind");
    if (kind == NULL || kind->type != MSGPACK_OBJECT_STR)
        return ik_diag_set(d, IK_EPARSE, "%s: artifact map has no string field 'kind'", what);
    return 0;
}

const char *ik_artifact_kind(const msgpack_object *root, size_t *len)
{
    const msgpack_object *kind = ik_mp_get(root, "kind");
    if (kind == NULL || kind->type != MSGPACK_OBJECT_STR)
        return NULL;
    *len = kind->via.str.size;
    return kind->via.str.ptr;
}

const msgpack_object *ik_artifact_records(const msgpack_object *root)
{
    const msgpack_object *r = ik_mp_get(root, "records");
    return r != NULL && r->type == MSGPACK_OBJECT_ARRAY ? r : NULL;
}
