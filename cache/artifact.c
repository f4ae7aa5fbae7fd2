/* cache/artifact.c - the {kind, schema, meta, …} envelope and common payloads
 * (file captures, tensors).
 *
 * Readers only insist on what every tool needs (a map with a string kind), so
 * artifacts stay forward compatible. */
#include <string.h>

#include "cache/artifact.h"
#include "base/error.h"
#include "base/mp.h"

void ik_artifact_begin(msgpack_packer *pk, const char *kind, int schema, size_t n_payload)
{
    msgpack_pack_map(pk, 3 + n_payload);
    ik_mp_pack_str(pk, "kind");
    ik_mp_pack_str(pk, kind);
    ik_mp_pack_str(pk, "schema");
    msgpack_pack_int(pk, schema);
    ik_mp_pack_str(pk, "meta");
}

void ik_artifact_pack_file(msgpack_packer *pk, const char *name, const void *data, size_t len)
{
    ik_artifact_begin(pk, "file", 1, 1);
    msgpack_pack_map(pk, 1);
    ik_mp_pack_str(pk, "name");
    ik_mp_pack_str(pk, name);
    ik_mp_pack_str(pk, "data");
    ik_mp_pack_bin(pk, data, len);
}

void ik_artifact_pack_tensor(msgpack_packer *pk, const char *dtype, const int64_t *shape,
                             size_t ndim, const void *data, size_t nbytes)
{
    msgpack_pack_map(pk, 3);
    ik_mp_pack_str(pk, "dtype");
    ik_mp_pack_str(pk, dtype);
    ik_mp_pack_str(pk, "shape");
    msgpack_pack_array(pk, ndim);
    for (size_t i = 0; i < ndim; i++)
        msgpack_pack_int64(pk, shape[i]);
    ik_mp_pack_str(pk, "data");
    ik_mp_pack_bin(pk, data, nbytes);
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
