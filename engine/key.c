/* engine/key.c - canonical spec objects and node keys (see key.h). */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "engine/key.h"
#include "base/mp.h"
#include "base/xmalloc.h"

static int input_cmp(const void *a, const void *b)
{
    const struct ik_key_input *x = a, *y = b;
    return strcmp(x->port, y->port);
}

static void pack_inputs(msgpack_packer *pk, const struct ik_key_input *inputs, size_t n)
{
    struct ik_key_input *sorted = ik_xmalloc((n ? n : 1) * sizeof *sorted);
    if (n > 0)
        memcpy(sorted, inputs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, input_cmp);
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(&sorted[i].hash, hex);
        ik_mp_pack_str(pk, sorted[i].port);
        msgpack_pack_map(pk, 2);
        ik_mp_pack_str(pk, "hash");
        ik_mp_pack_str(pk, hex);
        ik_mp_pack_str(pk, "size");
        msgpack_pack_uint64(pk, sorted[i].size);
    }
    free(sorted);
}

void ik_key_spec(const struct ik_graph_node *n, const struct ik_key_input *inputs, char **spec,
                 size_t *spec_len, struct ik_hash *key)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* Keys in bytewise order, so the map itself is canonical. */
    msgpack_pack_map(&pk, 5);
    ik_mp_pack_str(&pk, "inputs");
    pack_inputs(&pk, inputs, n->n_inputs);
    ik_mp_pack_str(&pk, "params");
    msgpack_sbuffer_write(&sb, n->params_mp, n->params_len); /* already canonical */
    ik_mp_pack_str(&pk, "type");
    ik_mp_pack_str(&pk, n->type->name);
    ik_mp_pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    ik_mp_pack_str(&pk, "version");
    msgpack_pack_int(&pk, n->type->version);
    ik_hash_bytes(sb.data, sb.size, key);
    *spec_len = sb.size;
    /* Trim the buffer's 8 KiB default: a plan keeps one spec per node. */
    *spec = ik_xrealloc(msgpack_sbuffer_release(&sb), *spec_len);
}
