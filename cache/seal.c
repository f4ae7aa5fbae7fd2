/* cache/seal.c - SHA-256 seals over a record's own bytes (seal.h). */
#include <string.h>

#include "base/hash.h"
#include "cache/seal.h"

void ik_seal_map(struct ik_mp_writer *w)
{
    ik_mp_pack_str(&w->pk, "sum");
    msgpack_pack_bin(&w->pk, IK_HASH_BYTES);
    struct ik_hash h;
    ik_hash_bytes(w->sb.data, w->sb.size, &h);
    msgpack_pack_bin_body(&w->pk, h.b, IK_HASH_BYTES);
}

void ik_seal_array(struct ik_mp_writer *w)
{
    msgpack_pack_bin(&w->pk, IK_SEAL_ENTRY_BYTES);
    struct ik_hash h;
    ik_hash_bytes(w->sb.data, w->sb.size, &h);
    msgpack_pack_bin_body(&w->pk, h.b, IK_SEAL_ENTRY_BYTES);
}

/* True if the last n bytes of data are the first n of SHA-256(data before them). */
static bool digest_matches(const char *data, size_t len, size_t n)
{
    if (len < n)
        return false;
    struct ik_hash h;
    ik_hash_bytes(data, len - n, &h);
    return memcmp(h.b, data + len - n, n) == 0;
}

enum ik_seal_state ik_seal_check_map(const char *data, size_t len, const msgpack_object *root)
{
    if (root->type != MSGPACK_OBJECT_MAP || ik_mp_get(root, "sum") == NULL)
        return IK_SEAL_NONE;
    /* The last value of the whole record is its last bytes: a bin 32 there
     * is the seal only if its key is "sum" and it is the map's last entry. */
    const msgpack_object_kv *last = &root->via.map.ptr[root->via.map.size - 1];
    if (!ik_mp_str_eq(&last->key, "sum") || last->val.type != MSGPACK_OBJECT_BIN ||
        last->val.via.bin.size != IK_HASH_BYTES)
        return IK_SEAL_BAD;
    return digest_matches(data, len, IK_HASH_BYTES) ? IK_SEAL_OK : IK_SEAL_BAD;
}

enum ik_seal_state ik_seal_check_array(const char *data, size_t len, const msgpack_object *root)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size == 0)
        return IK_SEAL_BAD;
    const msgpack_object *last = &root->via.array.ptr[root->via.array.size - 1];
    if (last->type != MSGPACK_OBJECT_BIN || last->via.bin.size != IK_SEAL_ENTRY_BYTES)
        return IK_SEAL_BAD;
    return digest_matches(data, len, IK_SEAL_ENTRY_BYTES) ? IK_SEAL_OK : IK_SEAL_BAD;
}
